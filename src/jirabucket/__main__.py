"""``python -m jirabucket``: the same as the ``jirabucket`` command."""

import sys

from jirabucket.cli import main

sys.exit(main())
