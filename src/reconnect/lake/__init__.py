"""Shared lake I/O: tables and their DDL, reads, writes, streams, the landing layout, feed state."""
