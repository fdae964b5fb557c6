"""Detection: campaign triggers into journeys and step eligibility (docs/detection.md)."""
