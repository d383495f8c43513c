"""The statements of a step, compiled once and run on the database driver's cursor.

A user-task step runs about ten small statements. Through SQLAlchemy's `Connection.execute`
each cost about ten times what the driver itself needs (execution context, cache key,
result object); measured on SQLite, 60-80 us against 6 us for a primary-key read. A
`DriverStatement` keeps SQLAlchemy's part that matters, and does it once: the Core statement
is compiled per dialect, and the column types' own bind and result processors (the aware
UTC datetimes of `models.UTCDateTime`, JSON, JSONB) convert the values, so the rows are the
same as `Connection.execute` gives. What is left per call is the driver's `execute`.

The connection and its transaction are SQLAlchemy's: the statement runs in the unit of
work's transaction. Driver errors are raised as SQLAlchemy's `DBAPIError` subclasses, as
`Connection.execute` raises them, so the repositories translate them as before. Listeners of
`before_cursor_execute` and `after_cursor_execute` (the benchmarks' statement counter) still
see every statement.

Only statements without expanding parameters (`IN` lists) qualify; an `INSERT` is compiled
for the parameter names of its first use, which must stay the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ClauseElement

Row = dict[str, Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter order (qmark), or None (named)
    defaults: dict[str, Any]  # literal values bound by the statement itself
    binders: dict[str, Callable[[Any], Any]]
    columns: tuple[str, ...]  # result columns, by key
    readers: tuple[tuple[str, Callable[[Any], Any]], ...]  # the columns that convert, by key


class DriverStatement:
    """A Core statement run on the DB-API cursor of a SQLAlchemy connection (see module)."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[Row]:
        """Run it once; the result rows, as dicts by column key (empty without a result)."""
        compiled = self._compile(connection, params)
        cursor = self._run(connection, compiled, [params], many=False)
        try:
            # A statement with result columns returns rows. Asking the cursor costs more on
            # psycopg, which builds its `description` anew each time (5% of a step's samples).
            if not compiled.columns and cursor.description is None:
                return []
            return [self._row(compiled, values) for values in cursor.fetchall()]
        finally:
            cursor.close()

    def count(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run it once; the number of rows it changed."""
        compiled = self._compile(connection, params)
        cursor = self._run(connection, compiled, [params], many=False)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, connection: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run it once per parameter set, in one `executemany`."""
        if not params:
            return
        compiled = self._compile(connection, params[0])
        self._run(connection, compiled, params, many=len(params) > 1).close()

    def _compile(self, connection: Connection, params: Mapping[str, Any]) -> _Compiled:
        dialect = connection.dialect
        found = self._compiled.get(dialect.name)
        if found is not None:
            return found
        with self._lock:
            compiled: Any = self._statement.compile(dialect=dialect, column_keys=list(params))
            binds = compiled.binds
            binders = {}
            for name, bind in binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    binders[name] = processor
            columns, readers = [], []
            exported = getattr(self._statement, "exported_columns", None)
            for key, column in exported.items() if exported is not None else ():
                columns.append(key)
                impl = column.type.dialect_impl(dialect)
                reader = impl.result_processor(dialect, None)
                if reader is not None:
                    readers.append((key, reader))
            positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
            defaults = {
                name: bind.value
                for name, bind in binds.items()
                if name not in params and bind.callable is None and not bind.required
            }
            found = _Compiled(
                compiled.string, positional, defaults, binders, tuple(columns), tuple(readers)
            )
            self._compiled[dialect.name] = found
        return found

    def _run(
        self,
        connection: Connection,
        compiled: _Compiled,
        params: Sequence[Mapping[str, Any]],
        *,
        many: bool,
    ) -> Any:
        if not connection.in_transaction():
            # As `Connection.execute` would: the unit of work's transaction begins (SQLite:
            # `BEGIN IMMEDIATE`) with its first statement, whichever way that statement runs.
            connection.begin()
        bound = [self._bind(compiled, each) for each in params]
        argument: Any = bound if many else bound[0]
        dbapi_connection: Any = connection.connection.driver_connection
        dispatch = connection.dispatch
        cursor = dbapi_connection.cursor()
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, compiled.sql, argument, None, many)
        try:
            if many:
                cursor.executemany(compiled.sql, argument)
            else:
                cursor.execute(compiled.sql, argument)
        except connection.dialect.loaded_dbapi.Error as err:
            cursor.close()
            raise DBAPIError.instance(
                compiled.sql,
                argument,
                err,
                connection.dialect.loaded_dbapi.Error,
                dialect=connection.dialect,
            ) from err
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, compiled.sql, argument, None, many)
        return cursor

    @staticmethod
    def _bind(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        values = {**compiled.defaults, **params}
        for name, processor in compiled.binders.items():
            if name in values:
                values[name] = processor(values[name])
        if compiled.positional is None:
            return values
        return tuple(values[name] for name in compiled.positional)

    @staticmethod
    def _row(compiled: _Compiled, values: Sequence[Any]) -> Row:
        row = dict(zip(compiled.columns, values, strict=True))
        for key, reader in compiled.readers:
            value = row[key]
            # NULL reads as None through every column type of the store (`models`).
            if value is not None:
                row[key] = reader(value)
        return row
