"""YAML documents that remember where each value was written.

The station catalogue is edited by hand, so every complaint about it must name the line
at fault. PyYAML's plain ``safe_load`` forgets positions and silently keeps the last of
two equal keys; this module composes the node tree first, refuses duplicate keys, and
keeps the tree so a validation error's location (``("stations", 2, "latitude")``) can
be turned back into a line number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class YamlSourceError(ValueError):
    """The file is not well-formed YAML, or repeats a key; carries the line at fault."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


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
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for step in location:
            child: Node | None = None
            if isinstance(node, MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode) and key_node.value == str(step):
                        line = key_node.start_mark.line + 1
                        child = value_node
                        break
            elif (isinstance(node, SequenceNode) and isinstance(step, int)
                  and 0 <= step < len(node.value)):
                child = node.value[step]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


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
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return LocatedDocument(path, None, None)
        _refuse_duplicate_keys(path, root)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlSourceError(path, line, f"invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise YamlSourceError(path, None, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return LocatedDocument(path, data, root)


def _refuse_duplicate_keys(path: Path, node: Node) -> None:
    # A repeated key is almost always a copy-paste slip; YAML loaders keep the last one
    # and nobody notices which station lost its coordinates.
    pending: list[Node] = [node]
    while pending:
        current = pending.pop()
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
