"""``python -m dashboards [--check]``: regenerate (or verify) provisioning/grafana/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dashboards.provisioning import PROVISIONING_DIR, stale_files, write_all


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards",
        description=(
            "Generate the Grafana provisioning files (data sources, dashboard provider, "
            f"dashboards JSON, alert rules) under {PROVISIONING_DIR} from dashboards/*.py "
            "and the AQI tables of aqi/."
        ),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the files that differ from a fresh generation",
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for rel in stale:
            print(f"{PROVISIONING_DIR / rel}: stale (run python -m dashboards)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
