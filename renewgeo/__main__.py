"""``python -m renewgeo`` runs the command line."""

import sys

from renewgeo.cli import main

sys.exit(main())
