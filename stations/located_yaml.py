"""YAML documents that remember where each value was written.

The station catalogue is edited by hand, so every complaint about it must name the line
at fault. The file is read as YAML 1.2 (ruamel.yaml's safe loader: ``on``, ``0020`` and
``5:00`` are text or decimal numbers, as they look, not YAML 1.1's booleans, octals and
base-60 numbers); this module composes the node tree first, refuses duplicate keys, and
keeps the tree so a validation error's location (``("stations", 2, "latitude")``) can
be turned back into a line number.

Anchors and aliases stay allowed (the catalogue shares fields between stations with
``<<: *anchor``), but an alias inside the value it names is refused, and so is a file
whose aliases repeat more than :data:`MAX_ALIAS_EXPANSION` values: nested aliases
multiply (the "billion laughs"), and every consumer that walks the data would pay for
each repetition. A plain scalar YAML cannot turn into the type it looks like (an
impossible date such as ``2021-02-30``, an integer of thousands of digits) is a located
error, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, NodeEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from aqm_core.errors import AqmError

# How many values aliases may repeat in one file, counting each alias as the whole value
# it names (nested aliases included). Sharing a dozen fields among a few hundred
# stations stays far below it; ten levels of ten nested aliases exceed it at once.
MAX_ALIAS_EXPANSION = 100_000

# What the safe constructor raises, undecorated, on text that matches a type's
# pattern but is not a value of it: date(2021, 2, 30), int() past Python's digit limit,
# an explicit ``!!bool maybe`` (KeyError), ``!!int ''`` (IndexError), ``!!timestamp x``
# (AttributeError).
_UNREADABLE = (ValueError, ArithmeticError, LookupError, AttributeError, TypeError)

_TYPE_NAMES = {
    "timestamp": "a date",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
}


class YamlSourceError(AqmError, ValueError):
    """The file is not well-formed YAML, or repeats a key; carries the line at fault.

    ``location`` is the path of keys and indices to the value at fault when there is one
    (``("stations", 0, "installed_on")``), and ``root`` the node tree composed so far,
    so a caller can describe the place in its own terms.
    """

    def __init__(self, path: Path, line: int | None, message: str,
                 location: Sequence[str | int] = (), root: Node | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        self.location = tuple(location)
        self.root = root
        where = f"{path}:{line}" if line is not None else str(path)
        field = dotted(self.location)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def dotted(location: Iterable[str | int]) -> str:
    """``stations[2].latitude`` for ``("stations", 2, "latitude")``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True)
class LocatedDocument:
    """A parsed YAML document and the node tree it was built from."""

    path: Path
    data: object
    root: Node | None

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """The 1-based line of the deepest node ``location`` reaches.

        ``location`` is a path of mapping keys and sequence indices, as pydantic reports
        it. A key is located at its key (the line that names the field); a path that
        leaves the tree (a missing field) stops at the nearest existing parent.
        """
        return self._walk(location)[1]

    def node_at(self, location: Sequence[str | int]) -> Node | None:
        """The node holding the value at ``location``, or None if the path leaves the tree.

        A scalar node keeps the text as written (``node.value``), its resolved YAML tag
        and its quoting (``node.style`` is None for a plain scalar).
        """
        node, _, complete = self._walk(location)
        return node if complete else None

    def _walk(self, location: Sequence[str | int]) -> tuple[Node | None, int | None, bool]:
        node = self.root
        if node is None:
            return None, None, False
        line = node.start_mark.line + 1
        for step in location:
            child: Node | None = None
            if isinstance(node, MappingNode):
                # The last of equal keys: once merge keys (``<<: *shared``) are resolved a
                # mapping lists the merged pairs first, and its own keys override them.
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode) and key_node.value == str(step):
                        line = key_node.start_mark.line + 1
                        child = value_node
            elif (isinstance(node, SequenceNode) and isinstance(step, int)
                  and 0 <= step < len(node.value)):
                child = node.value[step]
                line = child.start_mark.line + 1
            if child is None:
                return node, line, False
            node = child
        return node, line, True


class _UnreadableScalar(Exception):  # noqa: N818 - internal signal, never escapes
    def __init__(self, node: Node, error: BaseException) -> None:
        super().__init__(str(error))
        self.node = node
        self.error = error


class _RecursiveAlias(Exception):  # noqa: N818 - internal signal, never escapes
    def __init__(self, anchor: str, line: int, named: int) -> None:
        super().__init__(anchor)
        self.anchor, self.line, self.named = anchor, line, named


class _Composer(Composer):
    """The composer, refusing recursive aliases and noting where each alias is used."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.open_anchors: set[str] = set()
        # (anchor, 1-based line of the alias, the node it names), in document order
        self.alias_uses: list[tuple[str, int, Node]] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            anchor = str(event.anchor)
            line = event.start_mark.line + 1
            if anchor in self.open_anchors:
                raise _RecursiveAlias(anchor, line, self.anchors[anchor].start_mark.line + 1)
            node = super().compose_node(parent, index)
            if node is not None:
                self.alias_uses.append((anchor, line, node))
            return node
        anchor_or_none = event.anchor if isinstance(event, NodeEvent) else None
        if anchor_or_none is None:
            return super().compose_node(parent, index)
        self.open_anchors.add(anchor_or_none)
        try:
            return super().compose_node(parent, index)
        finally:
            self.open_anchors.discard(anchor_or_none)


class _Constructor(SafeConstructor):
    """The safe constructor, naming the node a scalar that cannot be built came from."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except _UNREADABLE as exc:
            raise _UnreadableScalar(node, exc) from exc
        except ConstructorError as exc:  # an explicit tag on text it cannot take (!!timestamp x)
            if not isinstance(node, ScalarNode):
                raise
            raise _UnreadableScalar(node, exc) from exc


def load_located(path: Path) -> LocatedDocument:
    """Parse one YAML document from ``path`` with the safe loader, keeping its node tree."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise YamlSourceError(path, None, "file not found") from exc
    except UnicodeDecodeError as exc:
        raise YamlSourceError(path, None, f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise YamlSourceError(path, None, exc.strerror or str(exc)) from exc
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    constructor, parser = yaml.get_constructor_parser(text)
    composer: _Composer = constructor.composer
    root: Node | None = None
    try:
        root = composer.get_single_node()
        if root is None:
            return LocatedDocument(path, None, None)
        _refuse_alias_bombs(path, composer.alias_uses)
        _refuse_duplicate_keys(path, root)
        data = constructor.construct_document(root)
    except _RecursiveAlias as exc:
        raise YamlSourceError(path, exc.line,
                              f"recursive alias *{exc.anchor}: it is inside the value "
                              f"&{exc.anchor} names (line {exc.named}); a value "
                              "cannot contain itself") from exc
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlSourceError(path, line, f"invalid YAML: {problem}") from exc
    except YAMLError as exc:
        raise YamlSourceError(path, None, f"invalid YAML: {exc}") from exc
    except _UnreadableScalar as exc:
        assert root is not None
        raise YamlSourceError(path, exc.node.start_mark.line + 1,
                              _unreadable_message(exc.node, exc.error),
                              _location_of(root, exc.node), root) from exc.error
    except RecursionError as exc:
        raise YamlSourceError(path, int(yaml.reader.line) + 1,
                              "nested too deeply to read") from exc
    finally:
        parser.dispose()
    return LocatedDocument(path, data, root)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _refuse_alias_bombs(path: Path, alias_uses: Sequence[tuple[str, int, Node]]) -> None:
    # Each alias counts as the whole value it names, fully expanded; sizes are memoised
    # per node, so this costs one pass over the distinct nodes however deep the nesting.
    sizes: dict[int, int] = {}
    repeated = 0
    for anchor, line, node in alias_uses:
        repeated += _expanded_size(path, node, sizes)
        if repeated > MAX_ALIAS_EXPANSION:
            raise YamlSourceError(
                path, line,
                f"alias *{anchor}: aliases repeat more than {MAX_ALIAS_EXPANSION} values "
                "in this file (nested aliases multiply); write the values out, or share "
                "fewer of them",
            )


def _expanded_size(path: Path, node: Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for once every alias under it is expanded."""
    in_progress: set[int] = set()
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if key in sizes:
            continue
        children = _children(current)
        if children_done:
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            in_progress.discard(key)
            continue
        if key in in_progress:  # the composer refuses cycles; never loop if one slips by
            raise YamlSourceError(path, current.start_mark.line + 1, "recursive alias")
        in_progress.add(key)
        stack.append((current, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(node)]


def _refuse_duplicate_keys(path: Path, node: Node) -> None:
    # A repeated key is almost always a copy-paste slip; YAML loaders keep the last one
    # and nobody notices which station lost its coordinates. A node reached through
    # several aliases is checked once.
    visited: set[int] = set()
    pending: list[Node] = [node]
    while pending:
        current = pending.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        if isinstance(current, MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in current.value:
                if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    line = key_node.start_mark.line + 1
                    if key_node.value in seen:
                        first = seen[key_node.value]
                        raise YamlSourceError(
                            path, line, f"key {key_node.value!r} repeats the one on line {first}"
                        )
                    seen[key_node.value] = line
                pending.append(value_node)
        elif isinstance(current, SequenceNode):
            pending.extend(current.value)


def _location_of(root: Node, target: Node) -> tuple[str | int, ...]:
    """The path of keys and indices by which ``target`` is first reached from ``root``."""
    visited: set[int] = set()
    pending: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    while pending:
        current, location = pending.pop()
        if current is target:
            return location
        if id(current) in visited:
            continue
        visited.add(id(current))
        steps: list[tuple[Node, tuple[str | int, ...]]] = []
        if isinstance(current, MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, ScalarNode) else "?"
                steps.append((value_node, (*location, str(key))))
        elif isinstance(current, SequenceNode):
            steps.extend((item, (*location, index)) for index, item in enumerate(current.value))
        pending.extend(reversed(steps))  # document order
    return ()


def _unreadable_message(node: Node, error: BaseException) -> str:
    kind = str(node.tag).rsplit(":", 1)[-1]
    raw = node.value if isinstance(node, ScalarNode) and isinstance(node.value, str) else None
    shown = "this value" if raw is None else raw or "''"
    if raw is not None and len(raw) > 40:
        shown = f"{raw[:20]}… ({len(raw)} characters)"
    message = f"{shown} is not {_TYPE_NAMES.get(kind, f'a valid !!{kind} value')}"
    if kind == "timestamp" and isinstance(error, ValueError):
        message += f" ({error})"  # "day is out of range for month"
    elif kind == "int" and isinstance(error, ValueError) and "digits" in str(error):
        message += " (too many digits)"
    return message
