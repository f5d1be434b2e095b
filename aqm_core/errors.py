"""The one base of every error a user can fix: :class:`AqmError`.

Each room raises its own subclass (a catalogue line, a CSV row, a setting, a rules file…);
the ``aqm`` command catches :class:`AqmError` once and prints it as one line naming the
file, line and field at fault, with exit status 2 and no traceback. Anything else that
escapes is a fault of aqm itself and keeps its traceback.
"""

from __future__ import annotations

import os


class AqmError(Exception):
    """A problem in input or configuration that the user can fix.

    ``file``, ``line`` and ``field`` say where, when known. Given here, they begin the
    message as ``file:line: field: message``; a subclass that writes them into its own
    message may still set them as attributes for callers to read.
    """

    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __init__(
        self,
        message: str = "",
        *,
        file: str | os.PathLike[str] | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        if file is not None:
            self.file = os.fspath(file)
        if line is not None:
            self.line = line
        if field is not None:
            self.field = field
        given = file is not None or line is not None or field is not None
        super().__init__(located(message, self.file, self.line, self.field) if given else message)


def located(message: str, file: str | None, line: int | None, field: str | None) -> str:
    """``file:line: field: message``, leaving out what is unknown."""
    where = file or ""
    if line is not None:
        where = f"{where}:{line}" if where else f"line {line}"
    return ": ".join(part for part in (where, field, message) if part)
