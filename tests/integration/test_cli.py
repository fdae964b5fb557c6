"""The `reconnect` command line: exit codes that mean something, and a demo that summarises."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.helpers.attribution import credit_by_rules
from tests.helpers.browser import open_page, screenshot

from reconnect.cli import EXIT_OK, EXIT_USAGE, main
from reconnect.lake.reads import table
from reconnect.lake.tables import BRONZE_EVENTS, GOLD_MESSAGES
from reconnect.settings import load_settings

ARTIFACTS = Path(__file__).parents[2] / "var" / "test-artifacts"


def test_bad_settings_stop_before_any_job_with_the_file_and_field_named(tmp_path, capsys):
    conf = tmp_path / "bad.yaml"
    conf.write_text("spark:\n  shuffle_partitions: 0\nstreaming:\n  trigger: sometimes\n")
    assert main(["ingest", "--conf", str(conf)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(conf) in err
    assert "spark.shuffle_partitions" in err and "streaming.trigger" in err


def test_unknown_settings_key_is_refused(tmp_path, capsys):
    conf = tmp_path / "typo.yaml"
    conf.write_text("paths:\n  landnig: /tmp/x\n")
    assert main(["ingest", "--conf", str(conf)]) == EXIT_USAGE
    assert "paths.landnig" in capsys.readouterr().err


def test_import_of_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["import", "rees46", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_generate_rejects_a_bad_config_naming_the_field(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--events", "0"]) == EXIT_USAGE
    assert "events" in capsys.readouterr().err


def test_every_subcommand_has_help(capsys):
    commands = ("ingest", "generate", "import", "demo", "campaigns", "feeds", "detect", "send",
                "attribute", "models", "report", "serve", "why", "sql")  # fmt: skip
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: reconnect" in capsys.readouterr().out


@pytest.mark.spark
def test_demo_generates_ingests_and_prints_what_each_table_holds(spark, tmp_path, capsys):
    root = tmp_path / "demo"
    # Every delivered message is clicked and bought within its window, so that attribution has
    # an exact count to meet in a shop this small.
    rates = tmp_path / "rates.yaml"
    always = "{open: 1.0, click: 1.0, purchase: 1.0}"
    rates.write_text(f"rates: {always}\nchannels: {{sms: {always}, web_push: {always}, "
                     f"app_push: {always}}}\nlate_purchase_share: 0.0\n")  # fmt: skip
    args = ["--root", str(root), "--events", "5000", "--days", "30", "--rates", str(rates)]
    assert main(["demo", *args]) == EXIT_OK
    out, err = capsys.readouterr()
    for name in (
        "bronze.events",
        "bronze.product_snapshots",
        "bronze.user_snapshots",
        "bronze.subscriptions",
        "bronze.quarantine",
    ):
        assert name in out
    recon = [line for line in out.splitlines() if line.strip().startswith("events ")]
    assert recon and recon[0].rstrip().endswith("ok"), out
    assert "MISMATCH" not in out
    # Every line the generator made malformed is quarantined, and nothing else is.
    malformed = re.search(r"([\d,]+) malformed lines", out)
    rejected = re.search(r"bronze\.quarantine\s+([\d,]+) rejected lines", out)
    assert malformed and rejected and malformed.group(1) == rejected.group(1), out
    assert (Path(root) / "lakehouse" / "bronze" / "events" / "_delta_log").is_dir()
    assert (Path(root) / ".reconnect-demo").is_file()  # the next demo may replace this folder
    # The sender ran to the file provider: sends by channel and suppressions by reason.
    assert "sends by channel:" in out and "messages not sent, by state and reason:" in out
    outbox = list((Path(root) / "lakehouse" / "outbox").rglob("*.jsonl"))
    assert outbox, out
    # This run's counts add up: detection's events and the sender's messages.
    n = r"([\d,]+)"
    events = re.search(rf"{n} buffered before \+ {n} read = {n} applied \+ {n} late \(not "
                       rf"applied\) \+ {n} buffered", out)  # fmt: skip
    assert events, out
    before, read, applied, late, after = (int(g.replace(",", "")) for g in events.groups())
    assert before + read == applied + late + after
    messages = re.search(rf"messages from detection: {n} = {n} settled \+ {n} due after", out)
    assert messages, out
    total, settled, waiting = (int(g.replace(",", "")) for g in messages.groups())
    assert total == settled + waiting and settled > 0
    # The loop closes: each simulated click earns its purchase (R-ATTR-1); the shop's own
    # purchases by the same people inside a click's window are credited too.
    simulated = re.search(rf"{n} delivered messages -> {n} opens, {n} clicks, {n} purchases", out)
    assert simulated, out
    delivered, _, clicks, purchases = (int(g.replace(",", "")) for g in simulated.groups())
    assert delivered > 0 and clicks == purchases == delivered
    credited = re.search(rf"attributed, last_click\s+{n} purchases", out)
    assert credited and int(credited.group(1).replace(",", "")) >= purchases, out
    # Progress: a line per micro-batch with its rows, rate and the watermark detection reached.
    assert re.search(r"detect: batch \d+, [\d,]+ rows read in .* rows/s\), watermark 20\d\d-", err)
    # The example queries of the README and docs/analytics.md run on the demo's tables
    # (registered by the demo's session).
    repo = Path(__file__).parents[2]
    docs = [(repo / f).read_text() for f in ("README.md", "docs/analytics.md")]
    blocks = [b for text in docs for b in re.findall(r"```sql\n(.*?)```", text, re.S)]
    queries = [q for b in blocks for q in b.split(";") if q.strip()]
    assert len(queries) >= 6
    for query in queries:
        spark.sql(query).collect()
    # dbt built the marts (one summary line, not dbt's line per node) and the verdicts; the
    # report opens in headless Chromium.
    assert re.search(r"dbt: \d+ nodes, pass \d+, success \d+", out) and " START " not in out
    assert re.search(r"rpt_variation_winners: \d+ campaign\(s\), winners at 95%", out), out
    page = root / "report.html"
    assert f"the campaign report: {page}" in out
    opened = open_page(page, tmp_path / "profile")
    assert opened.console == [] and 'data-charts="4"' in opened.dom
    screenshot(page, tmp_path / "profile-shot", ARTIFACTS / "demo-report.png")
    # An independent check of the generated month: each report row's purchases and revenue
    # equal R-ATTR-1 applied in plain Python to the raw events and messages.
    settings = load_settings(root / "settings.yaml")
    events = [r.asDict(recursive=True) for r in table(spark, settings, BRONZE_EVENTS).collect()]
    messages = [r.asDict() for r in table(spark, settings, GOLD_MESSAGES).collect()]
    want: dict[tuple, list] = {}
    for row in credit_by_rules(messages, events, lambda _: timedelta(days=7)):
        if row["attribution"] == "last_click":
            key = (row["campaign_id"], row["variation_id"], row["step_name"])
            got = want.setdefault(key, [0, Decimal(0)])
            got[0], got[1] = got[0] + 1, got[1] + row["revenue"]
    report = spark.sql(
        "SELECT campaign_id, variation_id, step_name, purchases, revenue "
        "FROM analytics.rpt_campaign_performance WHERE purchases > 0"
    ).collect()
    assert {(r[0], r[1], r[2]): [r[3], r[4]] for r in report} == want
    assert sum(n for n, _ in want.values()) >= purchases
    # The last lines say where to look next, with a settings file that reads the demo's tables.
    assert "== next" in out and f"--conf {root / 'settings.yaml'}" in out
    assert load_settings(root / "settings.yaml").paths.lakehouse == str(root / "lakehouse")


def test_r_send_3_a_webhook_without_its_url_variable_stops_before_any_job(tmp_path, capsys):
    conf = tmp_path / "hook.yaml"
    conf.write_text(
        "sender:\n  providers:\n    email: {kind: webhook, url_env: RECONNECT_TEST_NO_SUCH_URL}\n"
    )
    assert main(["send", "--conf", str(conf)]) == EXIT_USAGE
    assert "RECONNECT_TEST_NO_SUCH_URL" in capsys.readouterr().err


def test_import_rees46_writes_landing_events_and_reports(shared_data, tmp_path, capsys):
    source = shared_data / "rees46_oct_head" / "2019-Oct_head17k.csv"
    assert main(["import", "rees46", str(source), "--out", str(tmp_path)]) == EXIT_OK
    written = list((tmp_path / "events").glob("*.jsonl"))
    assert len(written) == 1
    assert sum(1 for _ in written[0].open()) == 17_434
    out = capsys.readouterr().out
    # The file's last row is cut off mid-line: it is skipped, named, and the import goes on.
    assert "17,435 rows read, 17,434 used, 1 skipped" in out
    assert "line 17436" in out


def test_campaigns_list_shows_every_shipped_campaign(capsys):
    assert main(["campaigns", "list"]) == EXIT_OK
    out = capsys.readouterr().out
    for campaign_type in (
        "cart_abandonment",
        "product_view",
        "price_drop",
        "product_attribute_change",
        "user_attribute_change",
        "custom",
        "scheduled",
    ):
        assert campaign_type in out


def test_r_trig_2_a_bad_campaign_file_stops_with_file_field_and_range(tmp_path, capsys):
    (tmp_path / "x.yaml").write_text(
        "id: x\ntype: cart_abandonment\nwait: 1m\nchannels: [email]\nsteps: [{name: a}]\n"
    )
    assert main(["campaigns", "validate", "--dir", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{tmp_path / 'x.yaml'} (campaign x): wait: expected a wait from 5m to 90d" in err
