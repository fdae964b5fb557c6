"""The closed list of reasons an input line is quarantined (``bronze.quarantine.reason``).

Documented for users in ``docs/ingest.md``; a new reason is added here and there together.
"""

from __future__ import annotations

from enum import StrEnum


class QuarantineReason(StrEnum):
    """Why an input line was not accepted. ``field`` and ``detail`` say more."""

    NOT_JSON = "NOT_JSON"
    """The line is not one JSON object."""
    MALFORMED_CSV = "MALFORMED_CSV"
    """The CSV record does not have as many fields as the header."""
    MISSING_FIELD = "MISSING_FIELD"
    """A required field is absent, null or empty."""
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    """``event_time`` is not ISO-8601 with an offset or ``Z``."""
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    """``event_type`` is not one of the types of DATA.md."""
    WRONG_TYPE = "WRONG_TYPE"
    """A field has the wrong JSON type (text where a number, array or object is expected)."""
    INVALID_VALUE = "INVALID_VALUE"
    """The type is right but the value is not allowed (negative quantity, unknown channel...)."""
    BAD_PATH = "BAD_PATH"
    """The file sits where no contract expects it (e.g. a feed file outside ``sync_time=``)."""
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    """A feed file whose extension is not .csv, .jsonl / .json or .parquet."""
