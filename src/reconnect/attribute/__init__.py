"""Attribution: opens and clicks checked against their messages, purchases credited (R-ATTR-1).

See README.md in this folder and docs/analytics.md.
"""
