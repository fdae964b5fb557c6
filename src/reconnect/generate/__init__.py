"""A deterministic synthetic shop that writes clickstream and feed files into a landing zone.

``generate_shop(GeneratorConfig(events=1_000_000), Path("var/landing"))`` writes, per
``spec/DATA.md``: ``events/part-NNNNN.jsonl`` in event-time order (with a configured share of
malformed lines and duplicates interspersed), one product-feed and one user-feed CSV snapshot per
day boundary, and e-mail and SMS subscriber lists per day boundary.
"""

from reconnect.generate.config import MALFORMED_KINDS, GenerationSummary, GeneratorConfig
from reconnect.generate.shop import generate_shop

__all__ = ["MALFORMED_KINDS", "GenerationSummary", "GeneratorConfig", "generate_shop"]
