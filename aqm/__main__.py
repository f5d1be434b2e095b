"""``python -m aqm``: the same as the ``aqm`` command."""

import sys

from aqm.cli import main

sys.exit(main())
