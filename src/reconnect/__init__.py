"""Reconnect: warehouse-native triggered messaging on Spark Structured Streaming and Delta Lake."""

__version__ = "0.1.0"
