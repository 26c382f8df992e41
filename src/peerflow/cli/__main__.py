"""``python -m peerflow.cli``: the same command line as ``peerflow``."""

import sys

from peerflow.cli._main import main

sys.exit(main())
