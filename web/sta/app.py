"""The Starlette application: resource paths, entity documents, paging and errors."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import quote, urlencode

import orjson
import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from aqm_core.errors import AqmError
from web.sta.entities import ENTITY_SETS, EntitySet, IdError, Row
from web.sta.options import Expansion, OptionError, QueryOptions, parse_query
from web.sta.sqlbuild import Condition, count_query, make_token, select_query

CONFORMANCE: Final = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
)

Connection = AsyncConnection[Any]

# Entities in one response, expanded ones included: $top bounds a page, this bounds what
# nested $expand can multiply it into.
MAX_ENTITIES: Final = 10_000


class NotFoundError(AqmError, LookupError):
    """The path names no entity; the message says which part."""


class JSONResponse(Response):
    """JSON encoded by orjson: the same compact UTF-8 text as Starlette's JSONResponse,
    written in a fraction of the time a page of 1,000 entities takes the json module."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# ---- resource paths ----------------------------------------------------------------------

_SEGMENT = re.compile(r"([A-Za-z$][A-Za-z0-9_]*)(?:\((?:'((?:[^']|'')*)'|(\d+))\))?")


@dataclass(frozen=True)
class Segment:
    name: str
    key: str | None


def parse_path(path: str) -> list[Segment]:
    """``Things('BN01')/Datastreams`` as its segments; raises NotFoundError for other text."""
    segments: list[Segment] = []
    rest = path.strip("/")
    while rest:
        match = _SEGMENT.match(rest)
        if match is None or (match.end() < len(rest) and rest[match.end()] != "/"):
            raise NotFoundError(f"cannot read the resource path {path!r} near {rest[:40]!r}")
        quoted, number = match.group(2), match.group(3)
        key = quoted.replace("''", "'") if quoted is not None else number
        segments.append(Segment(match.group(1), key))
        rest = rest[match.end() + 1 :]
    return segments


_URL_SAFE_ID = re.compile(r"[A-Za-z0-9_.:~@-]*")


def id_literal(entity_id: str) -> str:
    if _URL_SAFE_ID.fullmatch(entity_id):  # every id aqm makes: no quoting needed
        return f"'{entity_id}'"
    return "'" + quote(entity_id.replace("'", "''"), safe="':.-_~@+") + "'"


# ---- reading rows -------------------------------------------------------------------------


async def _fetch(conn: Connection, query: Any, params: Sequence[Any]) -> list[dict[str, Any]]:
    # rows in binary: times and numbers load without parsing text (every column the entity
    # sets read has a standard type, so each loads as the same Python value as from text)
    async with conn.cursor(row_factory=dict_row, binary=True) as cur:
        await cur.execute(query, params)
        return list(await cur.fetchall())


async def fetch_one(
    conn: Connection, entity: EntitySet, conditions: Sequence[Condition]
) -> dict[str, Any] | None:
    query = select_query(entity, conditions, QueryOptions(top=1))
    rows = await _fetch(conn, query.text, query.params)
    return rows[0] if rows else None


def id_condition(entity: EntitySet, entity_id: str) -> Condition:
    try:
        return Condition(entity.key, entity.decode_id(entity_id))
    except IdError as exc:
        raise NotFoundError(f"no {entity.name} with id {entity_id!r}: {exc}") from None


@dataclass(frozen=True)
class Target:
    """What a path names: a collection (with conditions), one entity, or a property."""

    entity: EntitySet
    conditions: tuple[Condition, ...] = ()
    row: dict[str, Any] | None = None
    property: str | None = None
    raw_value: bool = False


async def resolve(conn: Connection, segments: Sequence[Segment]) -> Target:
    if not segments:
        raise NotFoundError("the resource path names no entity set")
    first = segments[0]
    entity = ENTITY_SETS.get(first.name)
    if entity is None:
        sets = ", ".join(ENTITY_SETS)
        raise NotFoundError(f"no entity set {first.name!r}; this service has {sets}")
    target = Target(entity)
    if first.key is not None:
        target = await _entity(conn, target, first.key)
    for segment in segments[1:]:
        if target.property is not None:
            if segment.name == "$value" and not target.raw_value:
                target = replace(target, raw_value=True)
                continue
            raise NotFoundError(f"nothing under the property {target.property!r}")
        if target.row is None:
            raise NotFoundError(f"{segment.name!r} follows a collection; name one entity by its id")
        current = target.entity
        navigation = current.navigation.get(segment.name)
        if navigation is not None:
            nav_target = ENTITY_SETS[navigation.target]
            condition = Condition(navigation.columns, navigation.values(target.row))
            target = Target(nav_target, (condition,))
            if not navigation.many:
                row = await fetch_one(conn, nav_target, (condition,))
                if row is None:
                    raise NotFoundError(f"no {segment.name}")
                target = Target(nav_target, row=row)
            if segment.key is not None:
                if not navigation.many:
                    raise NotFoundError(f"{segment.name} is one entity; it takes no id")
                target = await _entity(conn, target, segment.key)
            continue
        if segment.key is None and segment.name in ("id", "@iot.id", *current.json_names):
            target = replace(target, property=segment.name)
            continue
        raise NotFoundError(
            f"{current.name} have no property or navigation {segment.name!r}; "
            f"navigation: {', '.join(current.navigation)}"
        )
    return target


async def _entity(conn: Connection, target: Target, entity_id: str) -> Target:
    entity = target.entity
    conditions = (*target.conditions, id_condition(entity, entity_id))
    row = await fetch_one(conn, entity, conditions)
    if row is None:
        raise NotFoundError(f"no {entity.name} with id {entity_id!r}")
    return Target(entity, row=row)


# ---- documents ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # called for every entity of a page with the same items
def _merge_expansions(expansions: tuple[Expansion, ...]) -> tuple[Expansion, ...]:
    """``Datastreams/Sensor,Datastreams/Thing`` as one Datastreams item with both."""
    merged: dict[str, Expansion] = {}
    for item in expansions:
        earlier = merged.get(item.navigation)
        if earlier is None:
            merged[item.navigation] = item
            continue
        bare = replace(item.options, expand=())
        earlier_bare = replace(earlier.options, expand=())
        if bare != QueryOptions() and earlier_bare != QueryOptions() and bare != earlier_bare:
            raise OptionError(
                f"$expand: {item.navigation} given twice with different options; give it once"
            )
        options = earlier_bare if earlier_bare != QueryOptions() else bare
        expand = (*earlier.options.expand, *item.options.expand)
        merged[item.navigation] = Expansion(item.navigation, replace(options, expand=expand))
    return tuple(merged.values())


def check_options(entity: EntitySet, options: QueryOptions) -> None:
    """Every name in the options exists (so an error is found before any row is read,
    and also when no row would have been expanded)."""
    select_query(entity, (), options)  # $filter and $orderby
    allowed = {"id", "@iot.id", "@iot.selfLink", *entity.json_names, *entity.navigation}
    for name in options.select:
        if name not in allowed:
            raise OptionError(
                f"$select: {entity.name} have no property {name!r}; "
                f"use one of {', '.join(sorted(allowed))}"
            )
    for item in _merge_expansions(options.expand):
        navigation = entity.navigation.get(item.navigation)
        if navigation is None:
            raise OptionError(
                f"$expand: {entity.name} have no navigation property {item.navigation!r}; "
                f"they have {', '.join(entity.navigation)}"
            )
        check_options(ENTITY_SETS[navigation.target], item.options)


class Documents:
    """Builds the JSON of entities and collections for one request."""

    def __init__(self, conn: Connection, base: str) -> None:
        self.conn = conn
        self.base = base
        self._one_cache: dict[tuple[object, ...], dict[str, Any] | None] = {}
        self.entities = 0

    def _count(self, n: int) -> None:
        self.entities += n
        if self.entities > MAX_ENTITIES:
            raise OptionError(
                f"$expand: the response would hold more than {MAX_ENTITIES:,} entities; "
                "ask for fewer with $top inside $expand, or follow the navigation links"
            )

    def builder(self, entity: EntitySet, options: QueryOptions) -> Callable[[Row], dict[str, Any]]:
        """The document of one ``entity`` row without expansions: its id, links and
        properties, cut to ``$select``. Made once per collection, called for every row."""
        prefix = f"{self.base}/{entity.name}("
        id_of, to_json = entity.id_of, entity.to_json
        links = _NAVIGATION_LINKS[entity.name]

        def build(row: Row) -> dict[str, Any]:
            entity_id = id_of(row)
            link = f"{prefix}{id_literal(entity_id)})"
            body = {"@iot.id": entity_id, "@iot.selfLink": link, **to_json(row)}
            for key, suffix in links:
                body[key] = link + suffix
            return body

        if not options.select:
            return build
        wanted = {"@iot.id" if n == "id" else n for n in options.select}
        keep = wanted | {k for k, _ in links if k.removesuffix("@iot.navigationLink") in wanted}

        def build_selected(row: Row) -> dict[str, Any]:
            return {k: v for k, v in build(row).items() if k in keep}

        return build_selected

    async def entity(
        self, entity: EntitySet, row: dict[str, Any], options: QueryOptions
    ) -> dict[str, Any]:
        self._count(1)
        body = self.builder(entity, options)(row)
        await self._expand(entity, row, body, options)
        return body

    async def _expand(
        self, entity: EntitySet, row: Row, body: dict[str, Any], options: QueryOptions
    ) -> None:
        for item in _merge_expansions(options.expand):
            navigation = entity.navigation[item.navigation]
            target = ENTITY_SETS[navigation.target]
            condition = Condition(navigation.columns, navigation.values(row))
            if navigation.many:
                page = await self.collection(target, (condition,), item.options, link=None)
                body[item.navigation] = page["value"]
                if "@iot.count" in page:
                    body[f"{item.navigation}@iot.count"] = page["@iot.count"]
            else:
                found = await self._one(target, condition)
                body[item.navigation] = (
                    None if found is None else await self.entity(target, found, item.options)
                )

    async def _one(self, entity: EntitySet, condition: Condition) -> dict[str, Any] | None:
        cache_key = (entity.name, condition.columns, condition.values)
        if cache_key not in self._one_cache:
            self._one_cache[cache_key] = await fetch_one(self.conn, entity, (condition,))
        return self._one_cache[cache_key]

    async def collection(
        self,
        entity: EntitySet,
        conditions: Sequence[Condition],
        options: QueryOptions,
        *,
        link: tuple[str, Mapping[str, list[str]]] | None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """A page of ``entity``; ``link`` (path and query) makes the ``@iot.nextLink``."""
        body: dict[str, Any] = {}
        if options.count:
            count_text, count_params = count_query(entity, conditions, options)
            body["@iot.count"] = (await _fetch(self.conn, count_text, count_params))[0]["n"]
        query = select_query(entity, conditions, options, token)
        rows = await _fetch(self.conn, query.text, query.params)
        more = len(rows) > options.top
        rows = rows[: options.top]
        if more and link is not None and rows:
            path, query_params = link
            kept = {k: v for k, v in query_params.items() if k not in ("$skip", "$skiptoken")}
            if query.keyset:
                kept["$skiptoken"] = [make_token(query.sort, rows[-1])]
            else:  # a $skiptoken never comes with mixed directions
                kept["$skip"] = [str(options.skip + options.top)]
            body["@iot.nextLink"] = f"{self.base}/{path}?" + urlencode(
                kept, doseq=True, safe="$,'()/:;=@", quote_via=quote
            )
        self._count(len(rows))
        build = self.builder(entity, options)
        values = [build(row) for row in rows]
        if options.expand:
            for row, value in zip(rows, values, strict=True):
                await self._expand(entity, row, value, options)
        body["value"] = values
        return body


_NAVIGATION_LINKS: Final = {
    name: tuple((f"{nav}@iot.navigationLink", f"/{nav}") for nav in entity.navigation)
    for name, entity in ENTITY_SETS.items()
}

# ---- the application ---------------------------------------------------------------------


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "type": "error", "message": message}, status_code=status)


def create_sta_app(pool: AsyncConnectionPool[Any], *, base_url: str | None = None) -> Starlette:
    """The SensorThings API v1.1 (read-only Sensing part) over ``pool``, which should
    connect as ``aqm_reader``. ``base_url`` (e.g. ``https://aqm.example.vn/sta/v1.1``)
    begins every link; by default the address the request came to."""

    def base_of(request: Request) -> str:
        if base_url:
            return base_url.rstrip("/")
        # root_path: where this app is mounted (and any prefix of the server's own)
        mounted = request.url.replace(path=request.scope.get("root_path", ""), query="")
        return str(mounted).rstrip("/")

    async def landing(request: Request) -> Response:
        base = base_of(request)
        return JSONResponse({
            "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
            "serverSettings": {"conformance": list(CONFORMANCE)},
        })  # fmt: skip

    async def resource(request: Request) -> Response:
        path = request.path_params["path"]
        params = {k: request.query_params.getlist(k) for k in request.query_params}
        try:
            segments = parse_path(path)
            options, token = parse_query(params)
            async with pool.connection() as conn:
                return await _respond(
                    conn, base_of(request), path, params, segments, options, token
                )
        except OptionError as exc:
            return _error(400, str(exc))
        except NotFoundError as exc:
            return _error(404, str(exc))
        except psycopg.errors.QueryCanceled:
            return _error(503, "the query took too long; narrow it with $filter or a smaller $top")

    return Starlette(
        routes=[
            Route("/", landing, methods=["GET"]),
            Route("/{path:path}", resource, methods=["GET"]),
        ]
    )


async def _respond(
    conn: Connection,
    base: str,
    path: str,
    params: Mapping[str, list[str]],
    segments: Sequence[Segment],
    options: QueryOptions,
    token: str | None,
) -> Response:
    target = await resolve(conn, segments)
    documents = Documents(conn, base)
    check_options(target.entity, options)
    if target.property is not None:
        assert target.row is not None
        document = await documents.entity(target.entity, target.row, QueryOptions())
        key = "@iot.id" if target.property == "id" else target.property
        value = document.get(key)
        if target.raw_value:
            return PlainTextResponse("" if value is None else str(value))
        return JSONResponse({target.property: value})
    if target.row is not None:
        return JSONResponse(await documents.entity(target.entity, target.row, options))
    page = await documents.collection(
        target.entity, target.conditions, options, link=(path.strip("/"), params), token=token
    )
    return JSONResponse(page)
