"""``python -m dashboards [--check]``: the same as ``aqm grafana generate [--check]``."""

from __future__ import annotations

import sys

from aqm.cli import main

if __name__ == "__main__":
    sys.exit(main(["grafana", "generate", *sys.argv[1:]]))
