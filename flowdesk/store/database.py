"""The store's entry point: connect to SQLite or PostgreSQL, migrate, and run units of work.

A `Store` owns one SQLAlchemy engine for writers, and readers get their own: `query_only`
connections to a SQLite file, autocommit connections that run only `SELECT`s on PostgreSQL
(one engine for both in memory). Constructing it brings the schema to the newest Alembic
revision; on a database that is already there this costs one query, so many `Store`s (one per
CLI call, one per test) stay cheap. Concurrent first starts are serialised: PostgreSQL by an
advisory lock, SQLite by its single writer.

SQLite runs in WAL mode so that readers do not block the writer. A unit of work that may
write starts with `BEGIN IMMEDIATE`: it takes the write lock up front (waiting up to
`busy_timeout`) instead of failing when a read transaction later tries to write after
another writer committed, which a deferred `BEGIN` would do. A read-only unit of work starts
a deferred transaction and runs beside the writer.

A unit of work is one Core connection and its transaction. The statements of a step run on
it (many on the driver's cursor, see `repositories.driver_statements`); an ORM session is made
on it only for the repositories' ORM queries.

How durable a SQLite file's commits are is the caller's choice (`sqlite_synchronous`): `FULL`
(the default) syncs the write-ahead log at every commit, so a committed step survives a power
failure; `NORMAL` syncs it only at checkpoints, which makes a commit cheaper and may lose the
last commits (never corrupt the file) when the machine loses power. docs/performance.md
("Durability") compares both with Camunda 7 and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import functools
import select
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from flowdesk import errors
from flowdesk.store import repositories

__all__ = [
    "MIGRATIONS_DIR",
    "SQLITE_SYNCHRONOUS_LEVELS",
    "SqliteSynchronous",
    "Store",
    "UnitOfWork",
    "alembic_config",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed number: the key of the PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK_KEY = 0x666C6F77  # "flow"

# How long a SQLite connection waits for the write lock before failing, in milliseconds.
_SQLITE_BUSY_TIMEOUT_MS = 5000

_READONLY = "flowdesk_readonly"

SqliteSynchronous = Literal["FULL", "NORMAL"]
"""A SQLite file's `PRAGMA synchronous` in WAL mode: what a power failure can take."""

# The levels offered. OFF is left out: an OS crash or power failure can then corrupt the file,
# not only lose commits. EXTRA adds nothing to FULL in WAL mode (it syncs the directory after
# a rollback journal is deleted, and WAL keeps no such journal).
SQLITE_SYNCHRONOUS_LEVELS: tuple[SqliteSynchronous, ...] = ("FULL", "NORMAL")

# `PRAGMA synchronous` reads back as a number.
_SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


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
        external_tasks: External tasks waiting for a worker.
    """

    def __init__(self, transaction: repositories.Transaction) -> None:
        self._after_commit: list[Callable[[], None]] = []
        self.definitions = repositories.DefinitionRepository(transaction)
        self.instances = repositories.InstanceRepository(transaction)
        self.tasks = repositories.UserTaskRepository(transaction)
        self.history = repositories.HistoryRepository(transaction)
        self.jobs = repositories.JobRepository(transaction)
        self.subscriptions = repositories.SubscriptionRepository(transaction)
        self.documents = repositories.DocumentRepository(transaction)
        self.external_tasks = repositories.ExternalTaskRepository(transaction)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this unit of work has committed; never if it rolls back.

        For what must not outlive a failed transaction, such as keeping a workflow that this
        unit of work saved for the next call (`flowdesk.engine.spiff.workflow_cache`).
        """
        self._after_commit.append(callback)


class Store:
    """A flowdesk database: SQLite (a file, or in memory) or PostgreSQL through psycopg 3.

    Args:
        url: A SQLAlchemy URL. `sqlite:///path/flowdesk.db` for a file, `sqlite://` for an
            in-memory database shared by the whole process (tests, demos),
            `postgresql+psycopg://user@host/db` for PostgreSQL; a bare `postgresql://` means
            psycopg 3. Every kind may be used from several threads; on an in-memory database
            their units of work run one at a time (it has one connection).
        sqlite_synchronous: `"FULL"` (the default) or `"NORMAL"`, set on every connection to
            a SQLite file (case does not matter). It has no effect on PostgreSQL, whose
            server decides durability (`synchronous_commit`), nor on an in-memory database.

    Raises:
        ValueError: The URL is malformed, or names another database or driver, or
            `sqlite_synchronous` is not one of `SQLITE_SYNCHRONOUS_LEVELS`.
        StoreError: The database cannot be reached or migrated, or its schema is newer than
            this flowdesk.
    """

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        synchronous = _synchronous_level(sqlite_synchronous)
        self._url = _normalise_url(url)
        try:
            backend, driver = self._url.get_backend_name(), self._url.get_driver_name()
        except ArgumentError:  # NoSuchModuleError: a scheme SQLAlchemy has no dialect for
            backend, driver = self._url.get_backend_name(), None
        # An in-memory SQLite database lives in one connection that every thread shares, and
        # one connection holds one transaction: its units of work take turns.
        self._one_at_a_time: threading.RLock | None = None
        if (backend, driver) == ("sqlite", "pysqlite"):
            if self._url.database in (None, "", ":memory:"):
                self._one_at_a_time = threading.RLock()
            self._engine = _sqlite_engine(self._url, synchronous)
        elif (backend, driver) == ("postgresql", "psycopg"):
            self._engine = _postgresql_engine(self._url)
        else:
            raise ValueError(
                "flowdesk supports sqlite:// and postgresql+psycopg://, "
                f"not {self._url.drivername}://"
            )
        if backend == "sqlite" and not _in_memory(self._url):
            # Its own pool of connections that stay `query_only`: switching one connection
            # between reading and writing cost two PRAGMAs per unit of work.
            self._readonly_engine = _sqlite_engine(self._url, synchronous, readonly=True)
            self._separate_readonly = True
        elif backend == "postgresql":
            self._readonly_engine = _postgresql_readonly_engine(self._url)
            self._separate_readonly = True
        else:
            self._separate_readonly = False
            self._readonly_engine = self._engine.execution_options(**{_READONLY: True})
        try:
            with self._naming_errors():
                try:
                    _upgrade_to_head(self._engine, self._readonly_engine)
                except SQLAlchemyError as err:
                    repositories.raise_as_flowdesk_error(err)
        except errors.StoreError:
            self.dispose()
            raise

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

    @property
    def name(self) -> str:
        """The database as errors name it: a SQLite file's absolute path, "SQLite in
        memory", or the URL with its password hidden."""
        if self._url.get_backend_name() == "sqlite":
            database = self._url.database
            if database in (None, "", ":memory:"):
                return "SQLite in memory"
            return str(Path(str(database)).resolve())
        return self._url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def _naming_errors(self) -> Iterator[None]:
        """`StoreError`s raised inside end with the database's name (see `name`)."""
        try:
            yield
        except errors.StoreError as err:
            if err.database is not None:
                raise
            named = errors.StoreError(str(err), database=self.name)
            raise named.with_traceback(err.__traceback__) from err.__cause__

    @property
    def sqlite_synchronous(self) -> str | None:
        """The `PRAGMA synchronous` in effect on the store's connections to a SQLite file,
        read back from one of them ("FULL" or "NORMAL"); None on PostgreSQL and in memory.

        Raises:
            StoreError: The database failed.
        """
        if self.dialect != "sqlite" or _in_memory(self._url):
            return None
        try:
            with self._readonly_engine.connect() as connection:
                level = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
        except SQLAlchemyError as err:
            repositories.raise_as_flowdesk_error(err)
        return _SYNCHRONOUS_NAMES.get(int(level), str(level))

    @contextlib.contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        """Run one transaction: commit on normal exit, roll back on any exception.

        Args:
            readonly: The caller promises not to write. The store enforces it (PostgreSQL:
                it runs only `SELECT`s, each a transaction of its own; a SQLite file:
                `query_only`), and on a SQLite file the transaction then runs beside a
                writer instead of waiting for it. In
                memory, where readers and writers share one connection, a write is found
                when the unit of work ends: it is rolled back with `StoreError`.

        Yields:
            The repositories of this transaction.

        Raises:
            StoreError: The database failed, including at commit; the message names the
                database (`name`).
            ConcurrencyConflict: An optimistic lock was lost; nothing was saved.
        """
        engine = self._readonly_engine if readonly else self._engine
        with self._naming_errors(), self._one_at_a_time or contextlib.nullcontext():
            try:
                connection = engine.connect()
            except SQLAlchemyError as err:
                repositories.raise_as_flowdesk_error(err)
            transaction = repositories.Transaction(connection)
            try:
                # In memory: switching the shared connection's `query_only` at each unit of
                # work made SQLite prepare every cached statement again (15-20 us each).
                written = _rows_written(connection) if readonly and self._one_at_a_time else None
                uow = UnitOfWork(transaction)
                yield uow
                if written is not None and _rows_written(connection) != written:
                    raise errors.StoreError("a read-only unit of work wrote to the database")
                transaction.close_session()
                connection.commit()
            except SQLAlchemyError as err:
                _roll_back(transaction)
                repositories.raise_as_flowdesk_error(err)
            except BaseException:
                _roll_back(transaction)
                raise
            finally:
                connection.close()
        for callback in uow._after_commit:
            callback()

    def dispose(self) -> None:
        """Close every pooled connection.

        The store can still be used afterwards: it reconnects. An in-memory SQLite database
        (`sqlite://`) lives in its one connection, so disposing of it loses its content.
        """
        self._engine.dispose()
        if self._separate_readonly:
            self._readonly_engine.dispose()


def _rows_written(connection: Connection) -> int:
    """How many rows the SQLite connection has inserted, updated or deleted since it opened."""
    driver: Any = connection.connection.driver_connection
    return int(driver.total_changes)


def _roll_back(transaction: repositories.Transaction) -> None:
    # A failed rollback (the connection is gone) must not hide the error that caused it;
    # closing the connection then discards it from the pool.
    with contextlib.suppress(SQLAlchemyError):
        transaction.close_session()
        transaction.connection.rollback()


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


def _synchronous_level(value: object) -> SqliteSynchronous:
    for level in SQLITE_SYNCHRONOUS_LEVELS:
        if isinstance(value, str) and value.upper() == level:
            return level
    raise ValueError(
        f"sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)}, not {value!r}"
    )


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _sqlite_engine(url: URL, synchronous: SqliteSynchronous, *, readonly: bool = False) -> Engine:
    """An engine for a SQLite database, committing with `synchronous`; `readonly`: for a
    file, one whose connections are always `query_only` and begin deferred transactions
    (read-only units of work)."""
    in_memory = _in_memory(url)
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
                # Per connection, not stored in the file: every connection sets it.
                cursor.execute(f"PRAGMA synchronous={synchronous}")
            if readonly:
                cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # On the driver's connection: SQLAlchemy's statement machinery costs more than BEGIN.
        driver: Any = connection.connection.driver_connection
        if readonly:
            _begin_on_driver(driver, "BEGIN DEFERRED")
        elif not in_memory:
            _begin_on_driver(driver, "BEGIN IMMEDIATE")
        elif connection.get_execution_options().get(_READONLY):
            # In memory, readers and writers share the one connection (`Store.unit_of_work`
            # checks that a reader wrote nothing).
            _begin_on_driver(driver, "BEGIN DEFERRED")
        else:
            _begin_on_driver(driver, "BEGIN IMMEDIATE")

    return engine


def _postgresql_engine(url: URL, **options: Any) -> Engine:
    """An engine for PostgreSQL whose pool lends only connections the server has not closed,
    so that a long-running worker goes on without an error after a database restart."""
    engine = create_engine(url, **options)

    @event.listens_for(engine, "checkout")
    def _check_open(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # SQLAlchemy's `pool_pre_ping` asks the server, one round trip per call (a quarter of
        # a read's). A server that closed the connection (restarted, or an administrator
        # ended it) left its last message or the end of the stream on the socket, where an
        # idle connection has nothing to read. The pool replaces a connection refused here.
        if _closed_by_server(dbapi_connection):
            raise DisconnectionError("PostgreSQL closed this pooled connection")

    return engine


def _closed_by_server(connection: Any) -> bool:
    """Whether a psycopg connection, idle in the pool, is known broken or has something to
    read (see `_postgresql_engine`); a false alarm only costs a new connection."""
    if connection.closed or connection.broken:
        return True
    try:
        descriptor = connection.fileno()
        if hasattr(select, "poll"):  # any descriptor number; select() stops at 1024
            poller = select.poll()
            poller.register(descriptor, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([descriptor], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


def _postgresql_readonly_engine(url: URL) -> Engine:
    """An engine for read-only units of work on PostgreSQL: autocommit connections, on which
    flowdesk runs nothing but `SELECT`s.

    Each statement is then a transaction of its own, without the `BEGIN` and `COMMIT` round
    trips a read transaction adds (two of a `tasks()` call's four). Readers see nothing less
    consistent: at PostgreSQL's default READ COMMITTED every statement of a transaction takes
    its own snapshot anyway. The server cannot be told that such a statement only reads
    without a session setting, which transaction-mode PgBouncer would hand to other clients
    (docs/scaling.md), so flowdesk refuses any other statement before it is sent.
    """
    engine = _postgresql_engine(url, isolation_level="AUTOCOMMIT")

    @event.listens_for(engine, "before_cursor_execute")
    def _selects_only(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Per statement of every read: look at the first word only, without copying the SQL.
        if statement.lstrip()[:6].upper() != "SELECT":
            first = statement.split(None, 1)[0] if statement.strip() else ""
            raise errors.StoreError(f"a read-only unit of work may only read, not run {first!r}")

    return engine


def _begin_on_driver(driver: Any, statement: str) -> None:
    """Run BEGIN on the sqlite3 connection; its error (a lock held too long) is wrapped as
    SQLAlchemy wraps a statement's, so the unit of work turns it into `StoreError`."""
    try:
        driver.execute(statement)
    except sqlite3.Error as err:
        raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err


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
