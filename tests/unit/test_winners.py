"""Each campaign's verdict from its variation statistics (R-ATTR-3), as the job writes it."""

from __future__ import annotations

import pytest

from reconnect.analytics.winners import WINNER_COLUMNS, verdict_rows


def stats(campaign, variation, metric, users, converting, sends=0, clicked=0, control=False,
          revenue=0.0, squares=0.0):  # fmt: skip
    return {"campaign_id": campaign, "variation_id": variation, "is_control": control,
            "primary_metric": metric, "users_allocated": users, "converting_users": converting,
            "sends": sends, "clicked_sends": clicked, "revenue_sum": revenue,
            "revenue_sum_squares": squares}  # fmt: skip


def by_variation(rows):
    return {r["variation_id"]: r for r in rows}


def test_r_attr_3_purchases_per_user_compares_the_control_by_in_window_conversion():
    rows = verdict_rows([
        stats("cart", "plain", "purchases_per_user", 1000, 100),
        stats("cart", "urgency", "purchases_per_user", 1000, 200),
        stats("cart", "holdout", "purchases_per_user", 1000, 90, control=True),
    ])  # fmt: skip
    got = by_variation(rows)
    assert set(got) == {"plain", "urgency", "holdout"}
    assert got["urgency"]["status"] == "winner" and got["urgency"]["winner"] == "urgency"
    assert got["urgency"]["probability_best"] > 0.999
    assert sum(r["probability_best"] for r in rows) == pytest.approx(1.0, abs=1e-6)
    assert all(set(r) == set(WINNER_COLUMNS) for r in rows)


def test_r_attr_3_ctr_leaves_the_control_out_since_it_sends_nothing():
    rows = verdict_rows([
        stats("c", "a", "ctr", 500, 0, sends=400, clicked=40),
        stats("c", "b", "ctr", 500, 0, sends=400, clicked=41),
        stats("c", "ctl", "ctr", 100, 0, control=True),
    ])  # fmt: skip
    assert set(by_variation(rows)) == {"a", "b"}
    assert {r["status"] for r in rows} == {"no_winner"}


def test_r_attr_3_revenue_per_user_reads_the_per_user_sums():
    # a: 1000 users, 100 spent 50 each; b: 1000 users, 100 spent 80 each.
    rows = verdict_rows([
        stats("c", "a", "revenue_per_user", 1000, 100, revenue=5000.0, squares=100 * 50.0**2),
        stats("c", "b", "revenue_per_user", 1000, 100, revenue=8000.0, squares=100 * 80.0**2),
    ])  # fmt: skip
    got = by_variation(rows)
    assert got["b"]["winner"] == "b" and got["a"]["observed"] == pytest.approx(5.0)


def test_r_attr_3_a_campaign_with_one_variation_declares_nothing():
    rows = verdict_rows([stats("browse", "default", "purchases_per_user", 300, 12)])
    assert [(r["status"], r["winner"]) for r in rows] == [("single_variation", None)]


def test_r_attr_3_the_threshold_is_the_settings():
    arms = [stats("c", "a", "purchases_per_user", 1000, 100),
            stats("c", "b", "purchases_per_user", 1000, 121)]  # fmt: skip
    assert {r["winner"] for r in verdict_rows(arms, 0.95)} == {None}
    assert {r["winner"] for r in verdict_rows(arms, 0.90)} == {"b"}
