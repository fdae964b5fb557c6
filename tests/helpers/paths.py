"""Where the tests find the checkout and the shared specs and datasets beside it."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"
SPEC_DIR = SHARED_DIR / "spec"
DATA_DIR = Path(os.environ.get("RECONNECT_SHARED_DATA", SHARED_DIR / "data"))
