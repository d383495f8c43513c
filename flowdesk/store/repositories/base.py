"""What every repository shares: the session holder, SQLAlchemy error translation, query helpers."""

from __future__ import annotations

import builtins
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

from sqlalchemy import Connection, Table, delete
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session

from flowdesk import errors
from flowdesk.store import models

_P = ParamSpec("_P")
_R = TypeVar("_R")

# PostgreSQL's SQLSTATE for a number its column type cannot hold (int4 beyond 2**31 - 1).
_NUMERIC_VALUE_OUT_OF_RANGE = "22003"
# Ids per `IN (...)` list: far below SQLite's limit of 32,766 bound parameters per statement.
_IN_BATCH = 1000


def raise_as_flowdesk_error(err: SQLAlchemyError) -> NoReturn:
    """Raise, in place of a SQLAlchemy error, the error a flowdesk caller should see.

    A ValueError or TypeError raised while SQLAlchemy converted a Python value for the database
    (a naive datetime, a variable that is not JSON) is the caller's mistake, not a database
    failure: it is raised as it was; so is a number out of the column's range, as
    `InvalidArgument`. Everything else becomes `StoreError`, with the SQLAlchemy
    error on `__cause__`. The message names the error class and the database's first line,
    never the SQL parameters, which may hold process variables.
    """
    orig = err.orig if isinstance(err, StatementError) else None
    if not isinstance(err, DBAPIError) and isinstance(orig, ValueError | TypeError):
        raise orig from None
    detail = str(orig if orig is not None else err.args[0] if err.args else "").strip()
    first_line = detail.splitlines()[0] if detail else "no detail"
    if getattr(orig, "sqlstate", None) == _NUMERIC_VALUE_OUT_OF_RANGE:
        # PostgreSQL refused a number the caller gave (SQLite's driver: see `_store_errors`).
        raise errors.InvalidArgument(f"a number is out of the database's range: {first_line}")
    raise errors.StoreError(f"database error ({type(err).__name__}): {first_line}") from err


def _store_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Let no SQLAlchemy error out of a repository method (see `raise_as_flowdesk_error`)."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as err:
            raise_as_flowdesk_error(err)
        except OverflowError as err:
            # sqlite3 refuses an integer beyond 64 bits while binding it, before SQLAlchemy
            # sees a database error; PostgreSQL's refusal arrives as 22003 (see above).
            raise errors.InvalidArgument(
                f"a number is out of the database's range: {err}"
            ) from None

    return wrapper


class Transaction:
    """One unit of work's database connection, and an ORM session on it made on first use.

    The statements of a step (the hot path) run on the connection directly: creating and
    closing a `Session` for every unit of work cost more than the statements of a read. The
    session, for the ORM queries of the other calls, joins the connection's transaction; it
    never commits or closes it.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            if not self.connection.in_transaction():
                self.connection.begin()  # the session must join it, not own it
            self._session = Session(
                bind=self.connection,
                autoflush=False,
                expire_on_commit=False,
                join_transaction_mode="rollback_only",
            )
        return self._session

    def close_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


class _Repository:
    """Works inside one unit of work's transaction."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    @property
    def _session(self) -> Session:
        return self._transaction.session

    @property
    def _connection(self) -> Connection:
        return self._transaction.connection


def _first(session: Session, stmt: Any) -> Any:
    """The first entity the statement returns, refreshed from the database, or None."""
    return session.scalars(stmt, execution_options={"populate_existing": True}).first()


def _equal(stmt: Any, model: Any, **filters: object) -> Any:
    """`stmt` narrowed to rows whose columns equal each filter that is not None."""
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, column) == value)
    return stmt


def _all(session: Session, stmt: Any) -> builtins.list[Any]:
    return builtins.list(session.scalars(stmt, execution_options={"populate_existing": True}).all())


def _returning(session: Session, stmt: Any) -> Any:
    """The first entity an UPDATE ... RETURNING gives back, refreshed in the session, or None."""
    rows = _returning_all(session, stmt)
    return rows[0] if rows else None


def _returning_all(session: Session, stmt: Any) -> builtins.list[Any]:
    options = {"populate_existing": True, "synchronize_session": False}
    return builtins.list(session.scalars(stmt, execution_options=options).all())


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count


def _fields(row: Any) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}


def _check_fields(changes: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise TypeError(f"cannot change {what} field(s) {', '.join(unknown)}")


def _delete_by_id(session: Session, model: Any, kind: str, id: str) -> None:
    """Delete one row by primary key; NotFound when there is none."""
    result = session.execute(
        delete(model).where(model.id == id),
        execution_options={"synchronize_session": False},
    )
    if _rowcount(result) == 0:
        raise errors.NotFound(kind, id)


# -- Core statements of the hot path ---------------------------------------------------------
# One step reads and writes these rows a few times; the ORM's loading and identity map cost more
# there than the statements themselves, and the rows leave the store as frozen records anyway.


def _table(model: type[models.Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_INSTANCES = _table(models.Instance)
_TASKS = _table(models.UserTask)
_CANDIDATES = _table(models.TaskCandidate)
_HISTORY = _table(models.HistoryEntry)
