"""The campaign report as one self-contained HTML page (pure: plain values in, text out).

The page needs no network: Chart.js (vendored from its npm package, ``vendor/``) and the data
are inlined, and every chart is drawn in the browser from the JSON in the page. Sections: the
winners, the funnel per campaign and step, sends and suppressions by reason over time, the caps
hit, attributed revenue per variation with each one's probability to be best, and a table of
``rpt_campaign_performance``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any

CHART_JS = "chart.umd.min.js"  # Chart.js 4.6.1, MIT (vendor/chart.js-LICENSE.md)


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows, as plain values (rows are mappings of column -> value)."""

    generated_at: datetime
    lakehouse: str
    #: rpt_campaign_performance rows (campaign, variation, step)
    performance: Sequence[Mapping[str, Any]]
    #: one row per (day, state, reason): ``day``, ``state``, ``reason``, ``messages``
    daily: Sequence[Mapping[str, Any]]
    #: one row per (campaign, variation): winner verdict and probability to be best
    winners: Sequence[Mapping[str, Any]] = field(default_factory=list)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in r.items()} for r in rows]


def chart_data(data: ReportData) -> dict[str, Any]:
    """The JSON the page's script draws from."""
    return {
        "performance": _rows(data.performance),
        "daily": _rows(data.daily),
        "winners": _rows(data.winners),
    }


_TABLE_COLUMNS = (
    "campaign_id", "variation_id", "is_control", "step_name", "users_allocated", "messages_due",
    "sent", "suppressed", "late_cancels", "opens", "clicks", "ctr", "purchases", "revenue",
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape(str(value))


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    columns = [c for c in _TABLE_COLUMNS if any(c in r for r in rows)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")  # fmt: skip


def _winners(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<p>No campaign has two variations to compare yet.</p>"
    by_campaign: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_campaign.setdefault(str(r["campaign_id"]), []).append(r)
    items = []
    for campaign, arms in sorted(by_campaign.items()):
        first = arms[0]
        winner = first.get("winner")
        status = str(first.get("status", "no winner")).replace("_", " ")
        verdict = f"winner: <b>{html.escape(str(winner))}</b>" if winner else html.escape(status)
        chances = ", ".join(
            f"{html.escape(str(a['variation_id']))} "
            + (f"{a['probability_best']:.1%}" if a.get("probability_best") is not None else "n/a")
            for a in arms
        )
        items.append(
            f"<li><b>{html.escape(campaign)}</b> ({html.escape(str(first.get('metric', '')))}, "
            f"threshold {float(first.get('threshold') or 0):.0%}): {verdict}; "
            f"probability to be best: {chances}</li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


_SCRIPT = """
const data = JSON.parse(document.getElementById('report-data').textContent);
const sum = (rows, key) => rows.reduce((a, r) => a + (Number(r[key]) || 0), 0);
const groups = (rows, keyOf) => {
  const m = new Map();
  for (const r of rows) { const k = keyOf(r); if (!m.has(k)) m.set(k, []); m.get(k).push(r); }
  return m;
};
const perf = data.performance;
const steps = groups(perf, r => r.campaign_id + ' / ' + r.step_name);
new Chart(document.getElementById('funnel'), {
  type: 'bar',
  data: {
    labels: [...steps.keys()],
    datasets: ['messages_due', 'sent', 'opens', 'clicks', 'purchases'].map(k => (
      {label: k, data: [...steps.values()].map(rows => sum(rows, k))}))
  },
  options: {animation: false, responsive: false}
});
const days = [...new Set(data.daily.map(r => r.day))].sort();
const outcome = r => r.state === 'SENT' ? 'SENT' : (r.reason || r.state);
const outcomes = [...new Set(data.daily.map(outcome))].sort();
new Chart(document.getElementById('daily'), {
  type: 'bar',
  data: {
    labels: days,
    datasets: outcomes.map(o => ({label: o, data: days.map(d => sum(
      data.daily.filter(r => r.day === d && outcome(r) === o), 'messages'))}))
  },
  options: {animation: false, responsive: false,
            scales: {x: {stacked: true}, y: {stacked: true}}}
});
const campaigns = groups(perf, r => r.campaign_id);
const caps = ['not_sent_frequency_cap_campaign', 'not_sent_frequency_cap_global'];
new Chart(document.getElementById('caps'), {
  type: 'bar',
  data: {
    labels: [...campaigns.keys()],
    datasets: caps.map(k => ({label: k.replace('not_sent_', ''),
                              data: [...campaigns.values()].map(rows => sum(rows, k))}))
  },
  options: {animation: false, responsive: false}
});
const variations = groups(perf, r => r.campaign_id + ' / ' + r.variation_id);
const best = new Map(data.winners.map(w => [w.campaign_id + ' / ' + w.variation_id,
                                            w.probability_best]));
new Chart(document.getElementById('revenue'), {
  data: {
    labels: [...variations.keys()],
    datasets: [
      {type: 'bar', label: 'attributed revenue (last click)', yAxisID: 'y',
       data: [...variations.values()].map(rows => sum(rows, 'revenue'))},
      {type: 'line', label: 'probability to be best', yAxisID: 'p',
       data: [...variations.keys()].map(k => best.has(k) ? best.get(k) : null)}
    ]
  },
  options: {animation: false, responsive: false,
            scales: {y: {position: 'left'}, p: {position: 'right', min: 0, max: 1}}}
});
document.body.dataset.charts = String(Object.keys(Chart.instances).length);
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f3f3f3; }
canvas { margin-bottom: 1.5em; }
.wide { overflow-x: auto; max-width: 100%; }
"""


def render(data: ReportData) -> str:
    """The whole page."""
    script = (resources.files("reconnect.analytics") / "vendor" / CHART_JS).read_text("utf-8")
    payload = json.dumps(chart_data(data), sort_keys=True).replace("</", "<\\/")
    title = "Reconnect campaign report"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{title}</h1>
<p>Lake {html.escape(data.lakehouse)}; built {data.generated_at:%Y-%m-%d %H:%M:%S} UTC from
<code>analytics.rpt_campaign_performance</code>, <code>analytics.fct_messages</code> and
<code>analytics.rpt_variation_winners</code>.</p>
<h2>Winners (R-ATTR-3)</h2>
{_winners(data.winners)}
<h2>Funnel per campaign and step</h2>
<canvas id="funnel" width="1100" height="380"></canvas>
<h2>Sends and suppressions by reason, per day</h2>
<canvas id="daily" width="1100" height="380"></canvas>
<h2>Caps hit, per campaign</h2>
<canvas id="caps" width="1100" height="300"></canvas>
<h2>Attributed revenue and probability to be best, per variation</h2>
<canvas id="revenue" width="1100" height="380"></canvas>
<h2>Campaign performance (one row per campaign, variation and step)</h2>
{_table(data.performance)}
<script>{script}</script>
<script type="application/json" id="report-data">{payload}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
