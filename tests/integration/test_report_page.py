"""The HTML report opened in headless Chromium: it draws its four charts with no console error,
needs no network, and a screenshot is kept (``var/test-artifacts/report.png``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.helpers.browser import open_page, screenshot

from reconnect.analytics.html import ReportData, render

ARTIFACTS = Path(__file__).parents[2] / "var" / "test-artifacts"


def performance_row(campaign, variation, step, sent, clicks, purchases, revenue, control=False):
    return {
        "campaign_id": campaign, "variation_id": variation, "is_control": control,
        "step_name": step, "users_allocated": 100, "messages_due": sent + 10, "sent": sent,
        "suppressed": 10, "late_cancels": 0, "opens": clicks * 3, "clicks": clicks,
        "ctr": clicks / sent if sent else None, "purchases": purchases,
        "revenue": Decimal(revenue), "revenue_by_currency": {"EUR": Decimal(revenue)},
        "not_sent_frequency_cap_campaign": 2,
        "not_sent_frequency_cap_global": 1,
    }  # fmt: skip


DATA = ReportData(
    generated_at=datetime(2026, 2, 1, 8, 0, tzinfo=UTC),
    lakehouse="/tmp/lake",
    performance=[
        performance_row("cart-reminder", "plain", "reminder", 50, 6, 2, "80.50"),
        performance_row("cart-reminder", "urgency", "reminder", 52, 11, 5, "190.00"),
        performance_row("cart-reminder", "holdout", "reminder", 0, 0, 0, "0", control=True),
        performance_row("price-drop", "default", "alert", 30, 4, 1, "19.99"),
    ],
    daily=[
        {"day": "2026-01-05", "state": "SENT", "reason": None, "messages": 40},
        {"day": "2026-01-05", "state": "SUPPRESSED", "reason": "NOT_OPTED_IN", "messages": 12},
        {"day": "2026-01-06", "state": "SENT", "reason": None, "messages": 35},
        {
            "day": "2026-01-06",
            "state": "SUPPRESSED",
            "reason": "FREQUENCY_CAP_GLOBAL",
            "messages": 3,
        },
    ],
    winners=[
        {
            "campaign_id": "cart-reminder",
            "variation_id": v,
            "metric": "revenue_per_user",
            "threshold": 0.95,
            "status": "winner",
            "winner": "urgency",
            "probability_best": p,
        }
        for v, p in (("plain", 0.01), ("urgency", 0.97), ("holdout", 0.02))
    ],
)


def test_the_report_is_one_page_that_needs_no_network(tmp_path):
    page = render(DATA)
    assert "<script src=" not in page and "http://" not in page.replace("http://www", "")
    assert not re.search(r"""(src|href)=["']https?://""", page)
    assert "Chart.js v4.6.1" in page  # the vendored library, inline
    assert "winner: <b>urgency</b>" in page


def test_r_attr_3_the_report_draws_its_charts_in_headless_chromium_without_errors(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(render(DATA), "utf-8")
    opened = open_page(path, tmp_path / "profile")
    assert opened.console == []
    assert 'data-charts="4"' in opened.dom
    screenshot(path, tmp_path / "profile-shot", ARTIFACTS / "report.png")
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
