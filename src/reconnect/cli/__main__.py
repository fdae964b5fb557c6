"""``python -m reconnect.cli``: the ``reconnect`` command."""

import sys

from reconnect.cli import main

sys.exit(main())
