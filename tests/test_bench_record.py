"""Benchmarks append their results to their own section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

from bench.record import HEADER, append_to_section


def test_results_go_to_the_end_of_their_section_and_a_new_section_is_added(
    tmp_path: Path,
) -> None:
    path = tmp_path / "docs" / "benchmarks.md"
    append_to_section("## A", ["first"], path)
    append_to_section("## B", ["b"], path)
    append_to_section("## A", ["second"], path)
    assert path.read_text(encoding="utf-8") == HEADER + "\n## A\n\nfirst\n\nsecond\n\n## B\n\nb\n"
