"""``python -m peerflow.cli``: the same command line as ``peerflow``."""

import sys

from peerflow.cli._entry import main

sys.exit(main())
