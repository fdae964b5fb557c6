"""The sender: arbitration, consent and delivery of due messages (R-SEND; docs/sending.md)."""
