"""The query options of a SensorThings request, parsed into plain data.

``$filter``, ``$orderby``, ``$select`` and ``$expand`` are parsed by one lark grammar
(OData's URL conventions as SensorThings API v1.1 uses them, the subset aqm serves);
the result is a syntax tree of the dataclasses below, checked against the entity later.
Every error is an :class:`OptionError` naming the option at fault.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.exceptions import VisitError

from aqm_core.errors import AqmError

DEFAULT_TOP: Final = 100
MAX_TOP: Final = 1000

COMPARISONS: Final = ("eq", "ne", "gt", "ge", "lt", "le")

_GRAMMAR = r"""
?filter: expr

?expr: expr "or" and_expr       -> or_
     | and_expr
?and_expr: and_expr "and" not_expr  -> and_
     | not_expr
?not_expr: "not" not_expr      -> not_
     | comparison
?comparison: operand COMPOP operand  -> compare
     | "(" expr ")"
?operand: PATH      -> path
     | STRING       -> string
     | DATETIME     -> datetime
     | NUMBER       -> number
     | "null"       -> null
     | "true"       -> true
     | "false"      -> false

orderby: order_item ("," order_item)*
order_item: PATH DIRECTION?

select: PATH ("," PATH)*

expand: expand_item ("," expand_item)*
expand_item: PATH ("(" expand_option (";" expand_option)* ")")?
?expand_option: "$filter" "=" expr       -> opt_filter
     | "$orderby" "=" orderby            -> opt_orderby
     | "$select" "=" select              -> opt_select
     | "$expand" "=" expand              -> opt_expand
     | "$top" "=" INT                    -> opt_top
     | "$skip" "=" INT                   -> opt_skip
     | "$count" "=" BOOLEAN              -> opt_count

COMPOP: "eq" | "ne" | "gt" | "ge" | "lt" | "le"
DIRECTION: "asc" | "desc"
BOOLEAN: "true" | "false"
PATH.0: STEP ("/" STEP)*
STEP: /@?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
STRING: /'([^']|'')*'/
DATETIME.2: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})/
NUMBER.1: /-?\d+(\.\d+)?([eE][+-]?\d+)?/
INT: /\d+/

%import common.WS
%ignore WS
"""

_PARSER = Lark(
    _GRAMMAR,
    start=["filter", "orderby", "select", "expand"],
    parser="lalr",
    lexer="contextual",
)


class OptionError(AqmError, ValueError):
    """A query option that cannot be served; the message names the option."""


# ---- the syntax tree -------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """A property (``result``, ``@iot.id``) or a path through a navigation property."""

    name: str


@dataclass(frozen=True)
class Literal:
    value: str | float | int | bool | dt.datetime | None


@dataclass(frozen=True)
class Compare:
    left: Path | Literal
    op: str
    right: Path | Literal


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr = Compare | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    path: str
    descending: bool = False


@dataclass(frozen=True)
class QueryOptions:
    """What a request (or one ``$expand`` item) asks for."""

    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    filter: Expr | None = None
    orderby: tuple[OrderItem, ...] = ()
    select: tuple[str, ...] = ()
    expand: tuple[Expansion, ...] = ()


@dataclass(frozen=True)
class Expansion:
    navigation: str
    options: QueryOptions = field(default_factory=QueryOptions)


# ---- from text to tree -----------------------------------------------------------------


def _parse_datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@v_args(inline=True)
class _ToTree(Transformer[Token, object]):
    def or_(self, left: Expr, right: Expr) -> Or:
        return Or(left, right)

    def and_(self, left: Expr, right: Expr) -> And:
        return And(left, right)

    def not_(self, operand: Expr) -> Not:
        return Not(operand)

    def compare(self, left: Path | Literal, op: Token, right: Path | Literal) -> Compare:
        return Compare(left, str(op), right)

    def path(self, token: Token) -> Path:
        return Path(str(token))

    def string(self, token: Token) -> Literal:
        return Literal(str(token)[1:-1].replace("''", "'"))

    def datetime(self, token: Token) -> Literal:
        return Literal(_parse_datetime(str(token)))

    def number(self, token: Token) -> Literal:
        text = str(token)
        if any(c in text for c in ".eE"):
            return Literal(float(text))
        return Literal(int(text))

    def null(self) -> Literal:
        return Literal(None)

    def true(self) -> Literal:
        return Literal(True)

    def false(self) -> Literal:
        return Literal(False)

    def orderby(self, *items: OrderItem) -> tuple[OrderItem, ...]:
        return items

    def order_item(self, path: Token, direction: Token | None = None) -> OrderItem:
        return OrderItem(str(path), direction is not None and str(direction) == "desc")

    def select(self, *paths: Token) -> tuple[str, ...]:
        return tuple(str(p) for p in paths)

    def expand(self, *items: Expansion) -> tuple[Expansion, ...]:
        return items

    def expand_item(self, path: Token, *options: tuple[str, object]) -> Expansion:
        values: dict[str, object] = {}
        for name, value in options:
            if name in values:
                raise OptionError(f"$expand: {name} given twice for {path}")
            values[name] = value
        expansion = Expansion(str(path).split("/")[-1], _options(values))
        # Datastreams/Observations is Datastreams($expand=Observations)
        for step in reversed(str(path).split("/")[:-1]):
            expansion = Expansion(step, QueryOptions(expand=(expansion,)))
        return expansion

    def opt_filter(self, expr: Expr) -> tuple[str, object]:
        return "$filter", expr

    def opt_orderby(self, items: tuple[OrderItem, ...]) -> tuple[str, object]:
        return "$orderby", items

    def opt_select(self, names: tuple[str, ...]) -> tuple[str, object]:
        return "$select", names

    def opt_expand(self, items: tuple[Expansion, ...]) -> tuple[str, object]:
        return "$expand", items

    def opt_top(self, token: Token) -> tuple[str, object]:
        return "$top", int(token)

    def opt_skip(self, token: Token) -> tuple[str, object]:
        return "$skip", int(token)

    def opt_count(self, token: Token) -> tuple[str, object]:
        return "$count", str(token) == "true"


def _parse(option: str, text: str, start: str) -> object:
    if not text.strip():
        raise OptionError(f"{option} is empty")
    try:
        tree = _PARSER.parse(text, start=start)
        return _ToTree().transform(tree)
    except UnexpectedInput as exc:
        column = getattr(exc, "column", "?")
        snippet = exc.get_context(text, span=20).splitlines()[0].strip()
        raise OptionError(
            f"{option}: cannot read {text!r} at character {column} (near {snippet!r})"
        ) from None
    except VisitError as exc:  # raised inside the transformer: a bad datetime, a repeat
        cause = exc.orig_exc
        if isinstance(cause, OptionError):
            raise cause from None
        if isinstance(cause, ValueError):
            raise OptionError(f"{option}: {cause}") from None
        raise


def parse_filter(text: str) -> Expr:
    return _parse("$filter", text, "filter")  # type: ignore[return-value]


def parse_orderby(text: str) -> tuple[OrderItem, ...]:
    return _parse("$orderby", text, "orderby")  # type: ignore[return-value]


def parse_select(text: str) -> tuple[str, ...]:
    return _parse("$select", text, "select")  # type: ignore[return-value]


def parse_expand(text: str) -> tuple[Expansion, ...]:
    return _parse("$expand", text, "expand")  # type: ignore[return-value]


def _non_negative(option: str, text: str) -> int:
    if not text.isdigit():
        raise OptionError(f"{option} must be a whole number ≥ 0, not {text!r}")
    return int(text)


def _options(values: Mapping[str, object]) -> QueryOptions:
    top = values.get("$top", DEFAULT_TOP)
    assert isinstance(top, int)
    skip = values.get("$skip", 0)
    assert isinstance(skip, int)
    return QueryOptions(
        top=min(top, MAX_TOP),
        skip=skip,
        count=bool(values.get("$count", False)),
        filter=values.get("$filter"),  # type: ignore[arg-type]
        orderby=values.get("$orderby", ()),  # type: ignore[arg-type]
        select=values.get("$select", ()),  # type: ignore[arg-type]
        expand=values.get("$expand", ()),  # type: ignore[arg-type]
    )


KNOWN_OPTIONS: Final = (
    "$top", "$skip", "$count", "$filter", "$orderby", "$select", "$expand", "$skiptoken",
)  # fmt: skip


def parse_query(params: Mapping[str, list[str]]) -> tuple[QueryOptions, str | None]:
    """The options of a request's query string, and its ``$skiptoken`` if any.

    ``params`` maps each query parameter to its values (a parameter may repeat).
    Parameters not starting with ``$`` are left to other layers (OData custom options).
    """
    values: dict[str, object] = {}
    for name, given in params.items():
        if not name.startswith("$"):
            continue
        if name not in KNOWN_OPTIONS:
            raise OptionError(
                f"{name} is not a query option this service supports; "
                f"supported: {', '.join(KNOWN_OPTIONS)}"
            )
        if len(given) > 1:
            raise OptionError(f"{name} given {len(given)} times; give it once")
        text = given[0]
        if name in ("$top", "$skip"):
            values[name] = _non_negative(name, text)
        elif name == "$count":
            if text not in ("true", "false"):
                raise OptionError(f"$count must be true or false, not {text!r}")
            values[name] = text == "true"
        elif name == "$filter":
            values[name] = parse_filter(text)
        elif name == "$orderby":
            values[name] = parse_orderby(text)
        elif name == "$select":
            values[name] = parse_select(text)
        elif name == "$expand":
            values[name] = parse_expand(text)
        else:
            values[name] = text
    token = values.pop("$skiptoken", None)
    return _options(values), token if isinstance(token, str) else None
