"""Errors a new user meets name the thing to fix, in one line each, with no stack trace.

Each case runs the real console script; none of them gets as far as starting Spark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RECONNECT = str(Path(sys.executable).parent / "reconnect")


def reconnect(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RECONNECT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def settings(tmp_path: Path, text: str) -> str:
    path = tmp_path / "conf.yaml"
    path.write_text(text)
    return str(path)


def test_a_bad_setting_is_named_with_the_value_given(tmp_path):
    conf = settings(tmp_path, "spark:\n  shuffle_partitions: abc\n")
    done = reconnect("ingest", "--conf", conf, cwd=tmp_path)
    assert done.returncode == 2
    assert "spark.shuffle_partitions: expected a valid integer" in done.stderr
    assert "got 'abc'" in done.stderr


def test_an_unknown_setting_lists_the_keys_allowed_there(tmp_path):
    conf = settings(tmp_path, "spark:\n  mastr: local[2]\n")
    done = reconnect("ingest", "--conf", conf, cwd=tmp_path)
    assert done.returncode == 2
    assert "spark.mastr: unknown key; expected one of master, app_name," in done.stderr


def test_a_data_folder_under_a_file_is_a_usage_error_in_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    conf = settings(tmp_path, f"paths:\n  lakehouse: {tmp_path / 'afile' / 'lake'}\n")
    done = reconnect("ingest", "--conf", conf, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"reconnect ingest: paths.lakehouse = {tmp_path / 'afile' / 'lake'}: expected a folder; "
        f"{tmp_path / 'afile'} is a file"
    )


def test_a_generator_option_is_named_as_the_option(tmp_path):
    done = reconnect("generate", "--events", "-5", "--out", str(tmp_path / "l"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "reconnect generate: --events: expected an integer >= 1, got -5"


def test_a_bad_start_date_says_what_format_is_expected(tmp_path):
    done = reconnect(
        "generate", "--start", "2026-13-01", "--out", str(tmp_path / "l"), cwd=tmp_path
    )
    assert done.returncode == 2
    assert "--start 2026-13-01: expected a date YYYY-MM-DD (month must be in 1..12)" in done.stderr
    assert not (tmp_path / "l").exists()


def test_ingest_with_no_landing_folder_warns_and_creates_nothing(tmp_path):
    conf = settings(
        tmp_path, f"paths:\n  landing: {tmp_path / 'none'}\n  lakehouse: {tmp_path / 'lake'}\n"
    )
    done = reconnect("ingest", "--conf", conf, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr.strip() == (
        f"reconnect ingest: no landing folder at {tmp_path / 'none'} (paths.landing): nothing to "
        "ingest; nothing was run"
    )
    assert not (tmp_path / "none").exists() and not (tmp_path / "lake").exists()


def test_ingest_of_an_empty_landing_zone_says_where_it_looked(tmp_path):
    (tmp_path / "landing" / "events").mkdir(parents=True)
    conf = settings(tmp_path, f"paths:\n  landing: {tmp_path / 'landing'}\n")
    done = reconnect("ingest", "--conf", conf, "--source", "events", cwd=tmp_path)
    assert done.returncode == 0
    assert f"no files under {tmp_path / 'landing'} in events/: nothing to ingest" in done.stderr
