"""The analysts' half: the dbt project's runner, the campaign catalog tables and the A/B winner.

See README.md in this folder and docs/analytics.md.
"""
