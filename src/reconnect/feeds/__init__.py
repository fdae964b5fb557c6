"""Feed changes: the diff of each product / user feed sync against the feed's previous sync."""
