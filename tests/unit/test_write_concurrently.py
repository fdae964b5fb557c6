"""sinks.write_concurrently: a micro-batch's independent table writes run at once.

Detection's writes (step eligibility, journeys, state, buffer, feed syncs, late events) go to
their own tables; the batch's progress row is appended only after all of them have ended.
"""

from __future__ import annotations

import threading
import time

import pytest

from reconnect.lake.writes import write_concurrently


def test_the_writes_run_at_the_same_time() -> None:
    # Each write waits for all the others: run one after another, they would time out.
    barrier = threading.Barrier(3, timeout=10)
    done: list[str] = []

    def write(name: str):
        def run() -> None:
            barrier.wait()
            done.append(name)

        return run

    write_concurrently("test", [(n, write(n)) for n in ("messages", "journeys", "state")])
    assert sorted(done) == ["journeys", "messages", "state"]


def test_a_failed_write_is_raised_only_after_every_other_write_has_ended() -> None:
    ended = threading.Event()

    def slow() -> None:
        time.sleep(0.5)
        ended.set()

    def failing() -> None:
        raise RuntimeError("MERGE failed")

    with pytest.raises(RuntimeError, match="MERGE failed"):
        write_concurrently("test", [("journeys", failing), ("state", slow)])
    # A retried micro-batch must not find a write of its failed attempt still running.
    assert ended.is_set()


def test_of_several_failures_the_first_listed_is_raised() -> None:
    def fail(message: str):
        def run() -> None:
            raise ValueError(message)

        return run

    with pytest.raises(ValueError, match="first"):
        write_concurrently("test", [("a", fail("first")), ("b", fail("second"))])


def test_a_single_write_runs_in_the_calling_thread() -> None:
    seen: list[threading.Thread] = []
    write_concurrently("test", [("buffer", lambda: seen.append(threading.current_thread()))])
    assert seen == [threading.current_thread()]


def test_each_write_time_is_logged_under_the_label(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="reconnect.lake.writes")
    write_concurrently("detect", [("messages", lambda: None), ("journeys", lambda: None)])
    logged = sorted(r.getMessage().split()[1] for r in caplog.records)
    assert logged == ["journeys", "messages"]
    assert all(r.getMessage().startswith("detect:   ") for r in caplog.records)
