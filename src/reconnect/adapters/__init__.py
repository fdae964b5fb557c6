"""Adapters that turn public datasets into the landing-zone contracts of spec/DATA.md."""

# Relative imports inside this package: src/reconnect has no __init__.py, so an absolute
# self-import would make mypy see each module under two names ("adapters.x", "reconnect...x").
from .rees46 import import_rees46
from .summary import ImportSummary
from .uci_retail import import_uci_retail

__all__ = ["ImportSummary", "import_rees46", "import_uci_retail"]
