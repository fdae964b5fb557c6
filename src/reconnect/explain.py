"""Why a person did (or did not) get a campaign's messages, from the tables (``reconnect why``).

Pure: the tables as DataFrames in, lines of text out. A person is named by a ``user_id`` (a
device) or a ``cuid``; their journeys (what triggered each, how it ended), each step's outcome in
the sender (SENT, or the reason it was not sent) or, before the sender settled it, in detection,
and the input lines of theirs that were quarantined.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def _whose(person: str) -> Column:
    return (F.col("user_id") == person) | (F.col("cuid") == person)


def _ts(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "-"


def _why(state: str, reason: str | None, by: str | None) -> str:
    return state + (f" {reason}" if reason else "") + (f" (by {by})" if by else "")


def explain(
    person: str,
    campaign: str | None,
    journeys: DataFrame,
    eligibility: DataFrame,
    messages: DataFrame,
    quarantine: DataFrame,
) -> list[str]:
    """Lines answering "why did ``person`` (not) get ``campaign``" (every campaign if None).

    ``journeys``: silver.journeys; ``eligibility``: gold.step_eligibility; ``messages``:
    gold.messages; ``quarantine``: bronze.quarantine (a line names the person when its raw
    text holds their id as ``user_id`` or ``cuid``).
    """
    mine = _whose(person)
    if campaign is not None:
        mine = mine & (F.col("campaign_id") == campaign)
    sent = {r["message_id"]: r for r in messages.where(mine).collect()}
    steps: dict[str, list[Any]] = {}
    for r in eligibility.where(mine).orderBy("step_number").collect():
        steps.setdefault(r["journey_id"], []).append(r)
    lines: list[str] = []
    for j in journeys.where(mine).orderBy("trigger_time", "journey_id").collect():
        variation = j["variation_id"] + (", control" if j["is_control"] else "")
        lines.append(
            f"{j['campaign_id']} ({j['campaign_type']}, variation {variation}): triggered at "
            f"{_ts(j['trigger_time'])} by {j['trigger_id']}; journey "
            f"{_why(j['state'], j['reason'], j['ended_by'])}"
        )
        for step in steps.get(j["journey_id"], []):
            m = sent.get(step["message_id"])
            if m is not None:
                where = f" by {m['channel']}" if m["channel"] else ""
                outcome = f"{_why(m['state'], m['reason'], m['decided_by'])}{where}"
                when = f"send time {_ts(m['send_at'])}"
            else:
                outcome = _why(step["state"], step["reason"], step["decided_by"])
                pending = step["state"] == "PENDING"
                outcome += " (not yet settled by the sender)" if pending else " (detection)"
                when = f"due {_ts(step['due_at'])}"
            lines.append(f"  step {step['step_number']} {step['step_name']}: {outcome}; {when}")
    if not lines:
        scope = f" of campaign {campaign}" if campaign else ""
        lines.append(f"no journey{scope} names {person} (as user_id or cuid)")
    named = F.col("raw").contains(f'"user_id":"{person}"') | F.col("raw").contains(
        f'"cuid":"{person}"'
    )
    for q in quarantine.where(named).orderBy("source_file", "source_line").collect():
        field = f" {q['field']}" if q["field"] else ""
        lines.append(
            f"quarantined, never applied: {q['source_file']} line {q['source_line']}: "
            f"{q['reason']}{field}: {q['detail']}"
        )
    return lines
