"""``python -m hiddenpool`` runs the command line."""

import sys

from hiddenpool.cli.main import main

sys.exit(main())
