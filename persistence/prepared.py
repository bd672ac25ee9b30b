"""Statements of the registration path, compiled once and run on the driver's cursor on SQLite.

A registration runs a handful of small INSERTs, and SQLAlchemy's work around each one (execution
context, parameter processing, result set-up, events) cost several times what SQLite spends
running it. A :class:`Prepared` statement is the same Core statement the repositories would
execute (so the tables in ``models.py`` stay the one source of truth for columns and types),
compiled once per dialect and parameter set; on SQLite it runs straight on the DBAPI connection
with the column types' own bind processors (dates and times stored exactly as SQLAlchemy stores
them, booleans as 0/1), and a driver error is raised as SQLAlchemy's, without the parameters (as
``Database`` asks of the engine). Other databases run it through SQLAlchemy as usual.

Only for INSERTs whose parameters name every column that has a Python-side default (the compiler
would otherwise compute those defaults per execution, which this path does not do): compiling one
that leaves such a column out raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]  # the parameters, in the order of the statement's placeholders
    processors: tuple[Callable[[Any], Any] | None, ...]  # each one's bind processor
    returns_rows: bool
    error: type[Exception]  # the driver's base exception


class Prepared:
    """``statement`` (an INSERT, optionally with RETURNING), run with :meth:`execute`."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run the statement with ``params`` in ``conn``'s transaction; its first row when it
        returns rows (RETURNING), else None."""
        # SQLAlchemy begins a transaction at a connection's first statement (autobegin); one that
        # has not begun yet gets this statement through SQLAlchemy, so that it is inside one.
        if conn.dialect.name != "sqlite" or not conn.in_transaction():
            result = conn.execute(self.statement, dict(params))
            row = result.first() if result.returns_rows else None
            return None if row is None else tuple(row)
        keys = tuple(params)
        compiled = self._compiled.get(keys) or self._compile(conn, keys)
        values = [value if process is None else process(value) for value, process in zip(map(params.__getitem__, compiled.names), compiled.processors)]
        driver = conn.connection.driver_connection
        assert driver is not None  # an open connection
        try:
            cursor = driver.execute(compiled.sql, values)
            try:
                rows = cursor.fetchall() if compiled.returns_rows else None
            finally:
                cursor.close()
        except compiled.error as exc:
            raise DBAPIError.instance(compiled.sql, None, exc, compiled.error, hide_parameters=True, dialect=conn.dialect) from exc
        return tuple(rows[0]) if rows else None

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled:
        dialect = conn.dialect
        compiled: Any = self.statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.insert_prefetch or not compiled.positional:
            raise ValueError(f"{compiled.string!r}: give every column with a Python-side default, and compile for a positional dialect")
        names = tuple(compiled.positiontup)
        processors = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        entry = self._compiled[keys] = _Compiled(compiled.string, names, processors, bool(compiled.returning), dialect.loaded_dbapi.Error)
        return entry
