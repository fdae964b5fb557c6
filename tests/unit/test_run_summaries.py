"""Each stage's summary states this run's counts in a form that adds up (pure: no Spark)."""

from __future__ import annotations

from datetime import datetime

from reconnect.detect.summary import DetectSummary, RunCounts
from reconnect.send.summary import SendSummary


def test_r_exit_2_detection_accounts_for_every_event_it_read_this_run():
    run = RunCounts(batches=3, buffered_before=10, read=96_168, applied=86_875, late=7,
                    buffered_after=9_296)  # fmt: skip
    assert run.buffered_before + run.read == run.applied + run.late + run.buffered_after
    summary = DetectSummary(batches=5, watermark=datetime(2026, 1, 14, 23, 50), run=run)
    lines = summary.describe().splitlines()
    assert lines[0] == "detect: 3 micro-batch(es) this run; watermark 2026-01-14 23:50:00Z"
    assert lines[1] == (
        "  events this run: 10 buffered before + 96,168 read = 86,875 applied + 7 late "
        "(not applied) + 9,296 buffered (ahead of the watermark)"
    )


def test_the_sender_says_how_many_messages_wait_for_the_watermark():
    summary = SendSummary(
        batches=4, horizon=datetime(2026, 1, 14, 23, 50), run_batches=2, run_settled=5_346,
        by_state_reason={("SENT", ""): 5_000, ("SUPPRESSED", "NOT_OPTED_IN"): 346},
        from_detection=5_796, waiting=450,
    )  # fmt: skip
    lines = summary.describe().splitlines()
    assert lines[0] == (
        "send: 2 micro-batch(es) this run, 5,346 messages settled; settled up to "
        "2026-01-14 23:50:00Z"
    )
    assert lines[1] == (
        "  messages from detection: 5,796 = 5,346 settled + 450 due after the watermark "
        "(settled by a later run)"
    )
