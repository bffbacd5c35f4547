"""``python -m bayescale``: the command line (:mod:`bayescale.cli`)."""

import sys

from bayescale.cli import main

sys.exit(main())
