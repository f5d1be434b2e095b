"""Parameterised SQL for a SensorThings request: the entity set's fixed query, wrapped
with conditions, order and limits. Values from a request only ever travel as parameters;
the SQL text is built from the entity descriptions' own column names.

Paging is by key where it can be (``$skiptoken`` carries the sort values of a page's last
row, so the next page starts with an index range instead of skipping rows); with sort
directions mixed it falls back to ``$skip``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from psycopg import sql

from web.sta.entities import EntitySet, IdError, Property, parse_time
from web.sta.options import And, Compare, Expr, Literal, Not, OptionError, Or, Path, QueryOptions

_SQL_OPS: Final = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_MIRRORED: Final = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


@dataclass(frozen=True)
class Condition:
    """``columns`` equal ``values`` (a navigation from a parent, or an id)."""

    columns: tuple[str, ...]
    values: tuple[object, ...]


@dataclass(frozen=True)
class SortColumn:
    column: str
    descending: bool


@dataclass(frozen=True)
class Query:
    text: sql.Composed
    params: list[Any]
    sort: tuple[SortColumn, ...]
    keyset: bool  # the next page can start after the last row's sort values


def _columns(names: Sequence[str]) -> sql.Composable:
    if len(names) == 1:
        return sql.SQL("e.") + sql.Identifier(names[0])
    return sql.SQL("({})").format(
        sql.SQL(", ").join(sql.SQL("e.") + sql.Identifier(n) for n in names)
    )


def _placeholders(count: int) -> sql.Composable:
    if count == 1:
        return sql.Placeholder()
    return sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * count))


def constants(conditions: Sequence[Condition]) -> dict[str, object]:
    """The columns the conditions hold constant, and their values."""
    return {
        column: value
        for condition in conditions
        for column, value in zip(condition.columns, condition.values, strict=True)
    }


def condition_sql(condition: Condition, params: list[Any]) -> sql.Composable:
    params.extend(condition.values)
    return sql.SQL("{} = {}").format(
        _columns(condition.columns), _placeholders(len(condition.values))
    )


# ---- $filter ---------------------------------------------------------------------------


def _property(entity: EntitySet, name: str, option: str) -> Property:
    prop = entity.property(name)
    if prop is None:
        known = sorted({*entity.properties, *entity.filters})
        raise OptionError(
            f"{option}: {entity.name} have no property {name!r} this service can "
            f"{'sort' if option == '$orderby' else 'filter'} by; use one of {', '.join(known)}"
        )
    return prop


def _value(name: str, prop: Property, literal: Literal) -> tuple[object, ...]:
    value = literal.value
    if prop.decode is not None:
        try:
            return prop.decode(value)
        except IdError as exc:
            raise OptionError(f"$filter: {name}: {exc}") from None
    if prop.kind == "time":
        if isinstance(value, str):
            try:
                value = parse_time(value)
            except IdError as exc:
                raise OptionError(f"$filter: {name}: {exc}") from None
        if not isinstance(value, dt.datetime):
            raise OptionError(
                f"$filter: {name} compares with a time like 2025-01-01T00:00:00Z, not {value!r}"
            )
        return (value,)
    if prop.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OptionError(f"$filter: {name} compares with a number, not {value!r}")
        return (float(value),)
    if not isinstance(value, str):
        raise OptionError(f"$filter: {name} compares with a string in quotes, not {value!r}")
    return (value,)


def _compare_sql(entity: EntitySet, node: Compare, params: list[Any]) -> sql.Composable:
    left, op, right = node.left, node.op, node.right
    if isinstance(left, Literal) and isinstance(right, Path):
        left, op, right = right, _MIRRORED[op], left
    if not (isinstance(left, Path) and isinstance(right, Literal)):
        raise OptionError(
            "$filter: each comparison needs a property on one side and a value on the other"
        )
    prop = _property(entity, left.name, "$filter")
    if right.value is None:
        if op not in ("eq", "ne") or len(prop.columns) != 1:
            raise OptionError(f"$filter: {left.name} can only be compared with null by eq or ne")
        test = "IS NULL" if op == "eq" else "IS NOT NULL"
        return sql.SQL("{} {}").format(_columns(prop.columns), sql.SQL(test))
    values = _value(left.name, prop, right)
    params.extend(values)
    return sql.SQL("{} {} {}").format(
        _columns(prop.columns), sql.SQL(_SQL_OPS[op]), _placeholders(len(values))
    )


def filter_sql(entity: EntitySet, expr: Expr, params: list[Any]) -> sql.Composable:
    if isinstance(expr, Compare):
        return _compare_sql(entity, expr, params)
    if isinstance(expr, Not):
        return sql.SQL("NOT ({})").format(filter_sql(entity, expr.operand, params))
    joiner = "AND" if isinstance(expr, And) else "OR"
    assert isinstance(expr, And | Or)
    left = filter_sql(entity, expr.left, params)
    right = filter_sql(entity, expr.right, params)
    return sql.SQL("({} {} {})").format(left, sql.SQL(joiner), right)


# ---- order and pages ---------------------------------------------------------------------


def sort_columns(
    entity: EntitySet, options: QueryOptions, fixed: Sequence[Condition]
) -> tuple[SortColumn, ...]:
    """``$orderby``, then the key columns as tie-breakers; columns a condition holds
    constant are left out (they order nothing, and leaving them lets the index serve)."""
    constant = {c for cond in fixed for c in cond.columns}
    sort: list[SortColumn] = []
    for item in options.orderby:
        prop = _property(entity, item.path, "$orderby")
        sort.extend(SortColumn(c, item.descending) for c in prop.columns)
    last = sort[-1].descending if sort else False
    for column in entity.key:
        sort.append(SortColumn(column, last))
    seen: set[str] = set()
    unique = []
    for s in sort:
        if s.column not in seen and s.column not in constant:
            seen.add(s.column)
            unique.append(s)
    return tuple(unique)


def _token_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    return value


def _from_token_value(value: object) -> object:
    if isinstance(value, dict) and "t" in value:
        return dt.datetime.fromisoformat(str(value["t"]))
    return value


def _signature(sort: Sequence[SortColumn]) -> str:
    return ",".join(f"{s.column}{' desc' if s.descending else ''}" for s in sort)


def make_token(sort: Sequence[SortColumn], row: dict[str, Any]) -> str:
    payload = {"o": _signature(sort), "v": [_token_value(row[s.column]) for s in sort]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: str, sort: Sequence[SortColumn]) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        values = [_from_token_value(v) for v in payload["v"]]
        signature = payload["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise OptionError(
            "$skiptoken is not one this service wrote; follow @iot.nextLink"
        ) from None
    if signature != _signature(sort) or len(values) != len(sort):
        raise OptionError("$skiptoken belongs to another $orderby; follow @iot.nextLink as given")
    return values


def select_query(
    entity: EntitySet,
    conditions: Sequence[Condition],
    options: QueryOptions,
    token: str | None = None,
) -> Query:
    """Rows of ``entity`` for ``options``: ``$top + 1`` rows, the extra one telling that a
    next page exists."""
    params: list[Any] = []
    where: list[sql.Composable] = [condition_sql(c, params) for c in conditions]
    if options.filter is not None:
        where.append(filter_sql(entity, options.filter, params))
    sort = sort_columns(entity, options, conditions)
    keyset = len({s.descending for s in sort}) == 1
    skip = options.skip
    if token is not None:
        if not keyset:
            raise OptionError("$skiptoken cannot page this $orderby; use $skip")
        values = read_token(token, sort)
        op = "<" if sort[0].descending else ">"
        params.extend(values)
        where.append(sql.SQL("{} {} {}").format(
            _columns([s.column for s in sort]), sql.SQL(op), _placeholders(len(values))
        ))  # fmt: skip
        skip = 0
    order = sql.SQL(", ").join(
        sql.SQL("e.{} {}").format(sql.Identifier(s.column), sql.SQL("DESC" if s.descending else ""))
        for s in sort
    )
    order_by = sql.SQL(" ORDER BY ") + order if sort else sql.SQL("")
    branches = entity.branches_for(constants(conditions))
    rows_needed = options.top + 1
    if len(branches) == 1:
        source = branches[0]
    else:
        # The first rows of the union are among the first rows of each branch: each branch
        # reads only those, in order from its own index where it has one, instead of the
        # whole union being sorted.
        where_params = list(params)
        params.clear()
        parts = []
        for branch in branches:
            parts.append(
                sql.SQL("(SELECT e.* FROM ({branch}) AS e{where}{order} LIMIT {limit})").format(
                    branch=branch, where=_where(where), order=order_by, limit=sql.Placeholder()
                )
            )
            params.extend([*where_params, rows_needed + skip])
        source = sql.SQL("\n    UNION ALL\n").join(parts)
        where = []
    text = sql.SQL("SELECT e.* FROM ({source}) AS e{where}{order} LIMIT {limit}").format(
        source=source, where=_where(where), order=order_by, limit=sql.Placeholder()
    )
    params.append(rows_needed)
    if skip:
        text += sql.SQL(" OFFSET {}").format(sql.Placeholder())
        params.append(skip)
    if entity.page_columns is not None:
        # the page first, then what costs per row, for its rows only
        text = sql.SQL("SELECT e.*, {columns} FROM ({page}) AS e{order}").format(
            columns=entity.page_columns, page=text, order=order_by
        )
    return Query(text, params, sort, keyset)


def count_query(
    entity: EntitySet, conditions: Sequence[Condition], options: QueryOptions
) -> tuple[sql.Composed, list[Any]]:
    params: list[Any] = []
    where: list[sql.Composable] = [condition_sql(c, params) for c in conditions]
    if options.filter is not None:
        where.append(filter_sql(entity, options.filter, params))
    text = sql.SQL("SELECT count(*) AS n FROM ({source}) AS e{where}").format(
        source=entity.source_for(constants(conditions)), where=_where(where)
    )
    return text, params


def _where(parts: Sequence[sql.Composable]) -> sql.Composable:
    if not parts:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts)
