"""JSON objects that remember a key given twice.

RFC 8259 §4 leaves a repeated name's meaning to the parser, and Python's ``json`` keeps
the last value silently: ``{"pm25": 10, "pm25": 500}`` would store 500, and a repeated
``units`` key would decide a conversion by position. aqm never resolves such a conflict:
the object is parsed with ``object_pairs_hook`` and a repeated key is found again by
:func:`repeated_key`, so the decoder can reject the one observation or record holding it
(``malformed_record``, naming the key) and keep the others of the message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class RepeatedKeys(dict[str, Any]):
    """A JSON object in which at least one key was given more than once.

    Keeps the first value of each key (never a later one a station might have slipped
    in); ``repeated`` is the first key given twice, in document order.
    """

    __slots__ = ("repeated", "repeated_keys")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        repeated: list[str] = []
        for key, value in pairs:
            if key in self:
                repeated.append(key)
            else:
                self[key] = value
        self.repeated = repeated[0]
        self.repeated_keys = frozenset(repeated)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    return obj if len(obj) == len(pairs) else RepeatedKeys(pairs)


def loads(text: str, parse_constant: Callable[[str], Any]) -> tuple[Any, bool]:
    """``json.loads`` whose objects are dicts, or :class:`RepeatedKeys` where a key
    repeats; and whether any key repeats anywhere (most documents: no, and then the
    decoders need not look for one)."""
    repeats = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeats
        obj = _object(pairs)
        repeats = repeats or type(obj) is RepeatedKeys
        return obj

    document = json.loads(text, object_pairs_hook=hook, parse_constant=parse_constant)
    return document, repeats


def _label(key: str) -> str:
    # A path names keys as written when they are plain words, quoted otherwise: a hostile
    # key (control characters, a lone surrogate) never reaches a message unescaped.
    return key if key.isascii() and key.isidentifier() and len(key) <= 32 else repr(key[:32])


def repeated_key(node: Any) -> str | None:
    """Where the first key given twice in ``node`` (objects and arrays within) is, or None.

    ``"'pm25' is given twice in values"``, ``"'ts' is given twice"`` for the outer object;
    keys are quoted with ``repr`` so an unprintable key stays printable.
    """
    stack: list[tuple[Any, str]] = [(node, "")]
    while stack:
        current, path = stack.pop()
        if isinstance(current, RepeatedKeys):
            where = f" in {path}" if path else ""
            return f"key {current.repeated[:64]!r} is given twice{where}"
        if isinstance(current, dict):
            children = [
                (value, f"{path}.{_label(key)}" if path else _label(key))
                for key, value in current.items()
            ]
        elif isinstance(current, list):
            children = [(value, f"{path}[{i}]") for i, value in enumerate(current)]
        else:
            continue
        # Reversed onto the stack, so the first child is looked at first: document order.
        stack.extend(c for c in reversed(children) if isinstance(c[0], dict | list))
    return None
