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

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any, NamedTuple, cast

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
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


class _Pipelined(NamedTuple):
    sql: str
    names: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # each placeholder's name and bind processor
    constants: dict[str, Any]  # the values the statement itself carries (literal comparisons)


# Per statement (held: the steps are module-level constants) and parameter names.
_PIPELINED: dict[tuple[ClauseElement, tuple[str, ...]], _Pipelined] = {}


def pipelined(conn: Connection, steps: Sequence[tuple[ClauseElement, Mapping[str, Any] | Sequence[Mapping[str, Any]]]]) -> list[list[tuple[Any, ...]]]:
    """Run ``steps`` (a statement and its parameters, or a list of parameter sets for several
    executions) one after the other in ``conn``'s transaction; the rows each returned (none for a
    statement that returns none). On PostgreSQL (psycopg) they are sent at once in pipeline mode,
    past SQLAlchemy: one round trip for all, while the server still runs each after the one before
    it ended (so in read committed a statement sees what a lock taken by an earlier one waited
    for); one statement alone is sent without the pipeline, whose entry and sync cost more than
    it saves then. The statements must be module-level constants (compiled once per parameter
    names) with no expanding parameters. Elsewhere they run through SQLAlchemy."""
    if conn.dialect.name != "postgresql" or not conn.in_transaction():
        out: list[list[tuple[Any, ...]]] = []
        for statement, params in steps:
            result = conn.execute(cast(Executable, statement), params if isinstance(params, Mapping) else list(params))
            out.append([tuple(row) for row in result] if result.returns_rows else [])
        return out
    driver: Any = conn.connection.driver_connection
    assert driver is not None  # an open connection
    error = conn.dialect.loaded_dbapi.Error
    cursors: list[Any] = []
    sql = ""
    try:
        with driver.pipeline() if len(steps) > 1 else nullcontext():
            for statement, params in steps:
                sets = [params] if isinstance(params, Mapping) else list(params)
                compiled = _pipelined(conn, statement, tuple(sets[0]))
                sql = compiled.sql
                values = [
                    {**compiled.constants, **{name: one[name] if process is None else process(one[name]) for name, process in compiled.names}}
                    for one in sets
                ]
                cursor = driver.cursor()
                if len(values) == 1:
                    cursor.execute(compiled.sql, values[0])
                else:
                    cursor.executemany(compiled.sql, values)
                cursors.append(cursor)
        # Whether a statement returned rows from its result's field count (none after several
        # executions): ``description`` would make a column object of each field first.
        return [
            [tuple(row) for row in cursor.fetchall()] if (result := cursor.pgresult) is not None and result.nfields else []
            for cursor in cursors
        ]
    except error as exc:
        # Named after the last statement sent (the server may have refused an earlier one).
        raise DBAPIError.instance(sql, None, exc, error, hide_parameters=True, dialect=conn.dialect) from exc
    finally:
        for cursor in cursors:
            cursor.close()


def _pipelined(conn: Connection, statement: ClauseElement, keys: tuple[str, ...]) -> _Pipelined:
    entry = _PIPELINED.get((statement, keys))
    if entry is not None:
        return entry
    dialect = conn.dialect
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.positional or any(bind.expanding for bind in compiled.binds.values()):
        raise ValueError(f"{compiled.string!r}: give every column with a Python-side default, no expanding parameter, named placeholders")
    given = set(keys)
    names = tuple(
        (name, bind.type.dialect_impl(dialect).bind_processor(dialect)) for name, bind in compiled.binds.items() if name in given
    )
    constants = {name: value for name, value in compiled.construct_params(_check=False).items() if name not in given}
    entry = _PIPELINED[(statement, keys)] = _Pipelined(compiled.string, names, constants)
    return entry
