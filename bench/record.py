"""Append a benchmark's results to its section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nMeasured results of the benchmarks in bench/, newest last in each section.\n"


def append_to_section(section: str, lines: list[str], path: Path = BENCHMARKS) -> None:
    """Add ``lines`` at the end of ``section`` (a ``## `` heading), creating it if absent."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    block = "\n".join(lines) + "\n"
    if section not in text:
        text = text.rstrip("\n") + f"\n\n{section}\n\n" + block
    else:
        start = text.index(section)
        following = text.find("\n## ", start + len(section))
        end = len(text) if following < 0 else following
        text = text[:end].rstrip("\n") + "\n\n" + block + text[end:]
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
