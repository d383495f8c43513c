"""The store's entry point: connect to SQLite or PostgreSQL, migrate, and run units of work.

A `Store` owns one SQLAlchemy engine. Constructing it brings the schema to the newest Alembic
revision; on a database that is already there this costs one query, so many `Store`s (one per
CLI call, one per test) stay cheap. Concurrent first starts are serialised: PostgreSQL by an
advisory lock, SQLite by its single writer.

SQLite runs in WAL mode so that readers do not block the writer. A unit of work that may
write starts with `BEGIN IMMEDIATE`: it takes the write lock up front (waiting up to
`busy_timeout`) instead of failing when a read transaction later tries to write after
another writer committed, which a deferred `BEGIN` would do. A read-only unit of work starts
a deferred transaction and runs beside the writer.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from flowdesk import errors
from flowdesk.store import repositories

__all__ = ["MIGRATIONS_DIR", "Store", "UnitOfWork", "alembic_config"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed number: the key of the PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK_KEY = 0x666C6F77  # "flow"

# How long a SQLite connection waits for the write lock before failing, in milliseconds.
_SQLITE_BUSY_TIMEOUT_MS = 5000

_READONLY = "flowdesk_readonly"


class UnitOfWork:
    """One database transaction and the repositories that work inside it.

    Attributes:
        definitions: Deployed processes and decisions.
        instances: Process instances.
        tasks: User tasks.
        history: History events.
        jobs: Timers and other deferred work.
        subscriptions: Message and signal subscriptions.
        documents: Documents rendered for instances.
    """

    def __init__(self, session: Session) -> None:
        self.definitions = repositories.DefinitionRepository(session)
        self.instances = repositories.InstanceRepository(session)
        self.tasks = repositories.UserTaskRepository(session)
        self.history = repositories.HistoryRepository(session)
        self.jobs = repositories.JobRepository(session)
        self.subscriptions = repositories.SubscriptionRepository(session)
        self.documents = repositories.DocumentRepository(session)


class Store:
    """A flowdesk database: SQLite (a file, or in memory) or PostgreSQL through psycopg 3.

    Args:
        url: A SQLAlchemy URL. `sqlite:///path/flowdesk.db` for a file, `sqlite://` for an
            in-memory database shared by the whole process (tests, demos),
            `postgresql+psycopg://user@host/db` for PostgreSQL; a bare `postgresql://` means
            psycopg 3.

    Raises:
        ValueError: The URL is malformed, or names another database or driver.
        StoreError: The database cannot be reached or migrated, or its schema is newer than
            this flowdesk.
    """

    def __init__(self, url: str) -> None:
        self._url = _normalise_url(url)
        try:
            backend, driver = self._url.get_backend_name(), self._url.get_driver_name()
        except ArgumentError:  # NoSuchModuleError: a scheme SQLAlchemy has no dialect for
            backend, driver = self._url.get_backend_name(), None
        if (backend, driver) == ("sqlite", "pysqlite"):
            self._engine = _sqlite_engine(self._url)
        elif (backend, driver) == ("postgresql", "psycopg"):
            # pre_ping: a long-running worker survives a database restart.
            self._engine = create_engine(self._url, pool_pre_ping=True)
        else:
            raise ValueError(
                "flowdesk supports sqlite:// and postgresql+psycopg://, "
                f"not {self._url.drivername}://"
            )
        readonly_options: dict[str, Any] = {_READONLY: True}
        if backend == "postgresql":
            readonly_options["postgresql_readonly"] = True
        self._readonly_engine = self._engine.execution_options(**readonly_options)
        try:
            _upgrade_to_head(self._engine, self._readonly_engine)
        except errors.StoreError:
            self._engine.dispose()
            raise
        except SQLAlchemyError as err:
            self._engine.dispose()
            repositories.raise_as_flowdesk_error(err)

    @property
    def dialect(self) -> str:
        """Which database this is: "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL, normalised (`postgresql+psycopg://`), password included."""
        return self._url.render_as_string(hide_password=False)

    def __repr__(self) -> str:
        return f"Store({self._url.render_as_string(hide_password=True)!r})"

    @contextlib.contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        """Run one transaction: commit on normal exit, roll back on any exception.

        Args:
            readonly: The caller promises not to write. The database enforces it (PostgreSQL
                `READ ONLY` transaction, SQLite `query_only`), and on SQLite the transaction
                then runs beside a writer instead of waiting for it.

        Yields:
            The repositories of this transaction.

        Raises:
            StoreError: The database failed, including at commit.
            ConcurrencyConflict: An optimistic lock was lost; nothing was saved.
        """
        engine = self._readonly_engine if readonly else self._engine
        with Session(engine, autoflush=False, expire_on_commit=False) as session:
            try:
                yield UnitOfWork(session)
                session.commit()
            except SQLAlchemyError as err:
                session.rollback()
                repositories.raise_as_flowdesk_error(err)
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection.

        The store can still be used afterwards: it reconnects. An in-memory SQLite database
        (`sqlite://`) lives in its one connection, so disposing of it loses its content.
        """
        self._engine.dispose()


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """An Alembic configuration for flowdesk's migrations; no alembic.ini is needed.

    Args:
        connection: Migrate over this connection (inside its transaction).
        url: Otherwise connect to this URL (`FLOWDESK_DB` if neither is given).

    Example, to write a new migration from a changed `models.py`::

        cfg = alembic_config(url="sqlite:///scratch.db")
        command.upgrade(cfg, "head")
        command.revision(cfg, message="add x", autogenerate=True, rev_id="0002")
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", _normalise_url(url).render_as_string(False))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _normalise_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise ValueError(f"not a database URL: {err}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One connection for the process: every Session sees the same in-memory database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event start transactions, not the sqlite3 module, which
        # would start them late (before the first write) and always DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL waits for the lock like any write.
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                _enable_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_READONLY):
            connection.exec_driver_sql("PRAGMA query_only=ON")
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("PRAGMA query_only=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _enable_wal(cursor: Any) -> None:
    # Switching a new database file to WAL fails at once with "database is locked" when another
    # connection is switching it at the same moment: SQLite (3.40) calls no busy handler here.
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS_DIR))


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade_to_head(engine: Engine, readonly_engine: Engine) -> None:
    scripts = _scripts()
    head = scripts.get_current_head()
    with readonly_engine.connect() as connection:
        if _current_revision(connection) == head:
            return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(CAST(:key AS BIGINT))"),
                {"key": _MIGRATION_LOCK_KEY},
            )
        current = _current_revision(connection)
        if current == head:
            return
        if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
            raise errors.StoreError(
                f"the database schema is at revision {current!r}, which this version of "
                "flowdesk does not know; upgrade flowdesk"
            )
        command.upgrade(alembic_config(connection), "head")
