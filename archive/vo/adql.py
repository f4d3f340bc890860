"""ADQL queries: translated to PostgreSQL by queryparser, checked, run read-only.

queryparser-python3 turns ADQL into PostgreSQL with pgSphere geometry and reports the tables,
columns and functions a query uses; those are checked against the column specification
(archive.vo.schema) and an allow-list of functions. The query then runs in a READ ONLY
transaction (always rolled back) with a statement timeout, through a server-side cursor that
fetches at most MAXREC + 1 rows (the extra row only says the result overflowed).

Who sees which rows is decided by ``ivoa.obscore`` itself from three transaction-local settings
this module sets from archive.access: the day, the programmes whose proprietary rows the client
may read, and whether it reads every row (staff).
"""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from queryparser.adql import ADQLQueryTranslator  # type: ignore[import-untyped]
from queryparser.exceptions import (  # type: ignore[import-untyped]
    QueryError as ParserQueryError,
)
from queryparser.exceptions import QuerySyntaxError  # type: ignore[import-untyped]
from queryparser.postgresql import PostgreSQLQueryProcessor  # type: ignore[import-untyped]

from archive.access import privileged_q, readable_q, today
from archive.models import ArchiveFile
from archive.vo.schema import TABLES, table_named
from archive.vo.votable import Field
from dataflow.permissions import AnyUser

DEFAULT_MAXREC = 10_000
HARD_MAXREC = 100_000
SYNC_TIMEOUT_MS = 30_000
ASYNC_TIMEOUT_MS = 600_000

# What a query may call: ADQL's functions as queryparser writes them, pgSphere's constructors
# and operators' helpers, aggregates. Anything else (pg_sleep, pg_read_file, ...) is refused.
FUNCTIONS = {
    "abs", "ceiling", "ceil", "degrees", "exp", "floor", "log", "ln", "log10", "mod", "pi",
    "power", "radians", "sqrt", "random", "round", "trunc", "acos", "asin", "atan", "atan2",
    "cos", "sin", "tan", "cot", "count", "sum", "avg", "min", "max", "lower", "upper",
    "coalesce", "nullif", "spoint", "scircle", "spoly", "sbox", "area", "long", "lat",
    "center", "spoint_dwithin", "char_length", "length", "substring", "trim", "cast",
}  # fmt: skip


class AdqlError(Exception):
    """A query refused or failed: the message is for the client."""


@dataclass(frozen=True)
class Translated:
    sql: str
    # Display name → (table, column) of the specification, where the column is a plain one.
    sources: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Result:
    fields: list[Field]
    rows: list[tuple[Any, ...]]
    overflow: bool


def syntax_message(error: QuerySyntaxError) -> str:
    places = "; ".join(
        f"line {line}, column {col}, near '{near}'" for line, col, near in error.syntax_errors
    )
    return f"ADQL syntax error: {places}" if places else "ADQL syntax error"


# Numbers in ADQL (outside quotes and names), abstracted before translating: queryparser's
# pure-Python ANTLR parsers take ~0.6 s a query, so a query's shape is translated and checked
# once (cached) and its numbers put back into the SQL. A sentinel appears in the SQL exactly
# as a number does (queryparser may write 1 as 1.0); anything unexpected falls back to a full
# translation of the query as sent.
_QUOTED_OR_NUMBER = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|(?<![\w.])(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)(?![\w.])"""
)
_SENTINEL = 987654321000
_SENTINEL_IN_SQL = re.compile(r"9876543210(\d\d)(?:\.0)?(?![\d.])")


def _abstract(adql: str) -> tuple[str, list[str]]:
    numbers: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None or match.group(2) in {"0", "1"}:
            return match.group(0)  # strings; 0 and 1 (CONTAINS(...) = 1 must stay literal)
        numbers.append(match.group(2))
        return str(_SENTINEL + len(numbers) - 1)

    return _QUOTED_OR_NUMBER.sub(replace, adql), numbers


def translate(adql: str) -> Translated:
    """ADQL → PostgreSQL, checked against the allow-lists (:class:`AdqlError` if refused)."""
    template, numbers = _abstract(adql)
    if len(numbers) <= 99 and "9876543210" not in adql:
        try:
            shape = _translate_cached(template)
        except AdqlError:
            shape = None  # report the error as the query was written
        if shape is not None:
            seen: list[int] = []

            def put_back(match: re.Match[str]) -> str:
                seen.append(int(match.group(1)))
                return numbers[int(match.group(1))]

            sql = _SENTINEL_IN_SQL.sub(put_back, shape.sql)
            if sorted(seen) == list(range(len(numbers))):
                return Translated(sql=sql, sources=shape.sources)
    return _translate(adql)


@functools.lru_cache(maxsize=1024)
def _translate_cached(adql: str) -> Translated:
    return _translate(adql)


def _translate(adql: str) -> Translated:
    try:
        sql = ADQLQueryTranslator(adql).to_postgresql()
    except QuerySyntaxError as error:
        raise AdqlError(syntax_message(error)) from error
    except Exception as error:  # the translator raises bare errors on odd input
        raise AdqlError(f"Could not translate the query: {error}") from error
    processor = PostgreSQLQueryProcessor()
    try:
        processor.set_query(sql)
        processor.process_query()
    except QuerySyntaxError as error:
        raise AdqlError(syntax_message(error)) from error
    except (ParserQueryError, Exception) as error:
        raise AdqlError(f"Could not analyse the query: {error}") from error
    for schema, table_name in processor.tables:
        if schema is None or table_named(f"{schema}.{table_name}") is None:
            raise AdqlError(
                f"Unknown table {schema}.{table_name}: this service has "
                + ", ".join(t.name for t in TABLES)
            )
    for schema, table_name, column in processor.columns:
        if column is None or column == "*":
            continue  # COUNT(*), constants
        table = table_named(f"{schema}.{table_name}")
        if table is None or table.column(column) is None:
            raise AdqlError(f"Unknown column {column} in {schema}.{table_name}")
    for function in processor.functions:
        if function is not None and function.lower() not in FUNCTIONS:
            raise AdqlError(f"Function {function} is not available")
    sources: dict[str, tuple[str, str]] = {}
    for display, path in processor.display_columns:
        if len(path) == 3 and path[2] not in {"*", None} and None not in path:
            sources[display] = (f"{path[0]}.{path[1]}", path[2])
    return Translated(sql=sql.strip().rstrip(";"), sources=sources)


def visibility(user: AnyUser) -> tuple[bool, list[int]]:
    """(every row, the programmes whose proprietary rows ``user`` reads) from archive.access."""
    if readable_q(user) is None:
        return True, []
    if not user.is_authenticated:
        return False, []
    proposals = (
        ArchiveFile.objects.filter(privileged_q(user))
        .exclude(proposal=None)
        .values_list("proposal_id", flat=True)
        .distinct()
    )
    return False, sorted(p for p in proposals if p is not None)


# PostgreSQL type codes → VOTable datatypes, for columns that are expressions.
OID_TYPES = {16: "boolean", 20: "long", 21: "short", 23: "int", 700: "float", 701: "double",
             1700: "double", 1082: "char", 1114: "char", 1184: "char"}  # fmt: skip


def result_fields(translated: Translated, description: Any) -> list[Field]:
    fields = []
    for column in description:
        name, oid = column.name, column.type_code
        source = translated.sources.get(name)
        spec = None
        if source is not None and (table := table_named(source[0])) is not None:
            spec = table.column(source[1])
        if spec is None:
            # SELECT *: the column of that name in a table of the query.
            spec = next(
                (
                    c
                    for t in TABLES
                    for c in t.columns
                    if c.name == name and _selected(t.name, translated)
                ),
                None,
            )
        if spec is not None:
            fields.append(Field.of(spec, name=name))
            continue
        datatype = OID_TYPES.get(oid, "char")
        xtype = "timestamp" if oid in {1082, 1114, 1184} else ""
        arraysize = "*" if datatype == "char" else ""
        fields.append(Field(name=name, datatype=datatype, arraysize=arraysize, xtype=xtype))
    return fields


def _selected(table_name: str, translated: Translated) -> bool:
    return table_name.lower() in translated.sql.lower()


def run(
    translated: Translated, *, user: AnyUser, maxrec: int, timeout_ms: int = SYNC_TIMEOUT_MS
) -> Result:
    """Run a checked query read-only for ``user``; at most ``maxrec`` rows."""
    every_row, proposals = visibility(user)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Read-only may be set at any point of a transaction (and is undone with it).
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true),"
                " set_config('dataflow.vo_today', %s, true),"
                " set_config('dataflow.vo_proposals', %s, true),"
                " set_config('dataflow.vo_all', %s, true)",
                [
                    str(timeout_ms),
                    today().isoformat(),
                    "{" + ",".join(str(p) for p in proposals) + "}",
                    "on" if every_row else "off",
                ],
            )
        raw = connection.connection
        assert raw is not None
        # A server-side cursor: only the rows fetched leave the database.
        named = raw.cursor(name=f"tap_{uuid.uuid4().hex}")
        try:
            named.execute(translated.sql)
            rows = named.fetchmany(maxrec + 1) if maxrec > 0 else named.fetchmany(1)
            description = named.description
        except DatabaseError as error:
            raise AdqlError(_pg_message(error)) from error
        except Exception as error:  # psycopg2's own errors (not wrapped by Django here)
            raise AdqlError(_pg_message(error)) from error
        finally:
            # After a failed statement the transaction already dropped the cursor.
            with contextlib.suppress(Exception):
                named.close()
            transaction.set_rollback(True)
    overflow = len(rows) > maxrec
    fields = result_fields(translated, description or [])
    return Result(fields=fields, rows=[tuple(r) for r in rows[:maxrec]], overflow=overflow)


def _pg_message(error: Exception) -> str:
    text = getattr(error, "pgerror", None) or str(error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first.removeprefix("ERROR:").strip()


def parse_maxrec(value: str | None) -> int:
    if value in (None, ""):
        return DEFAULT_MAXREC
    try:
        maxrec = int(value)
    except ValueError as error:
        raise AdqlError(f"MAXREC must be a non-negative integer, not {value!r}") from error
    if maxrec < 0:
        raise AdqlError(f"MAXREC must be a non-negative integer, not {value!r}")
    return min(maxrec, HARD_MAXREC)
