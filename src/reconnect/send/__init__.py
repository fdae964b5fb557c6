"""The sender: arbitration, consent and delivery of due messages (R-SEND; docs/sending.md).

Entry points, in :mod:`reconnect.send.pipeline`: ``run_send``, ``check_providers`` and
``summarize`` (README.md in this folder says which module does what).
"""
