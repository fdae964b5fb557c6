"""`reconnect import` says which rows it skipped and exits by the documented contract.

The real console script: a malformed row is skipped, named with its line and counted, and the
import goes on (exit 0); a file that is not the dataset stops with exit 2 (docs/adapters.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RECONNECT = str(Path(sys.executable).parent / "reconnect")
HEADER = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
)
ROW = "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,s1"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RECONNECT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_malformed_row_is_skipped_named_and_counted(tmp_path):
    csv = tmp_path / "oct.csv"
    csv.write_text("\n".join([HEADER, ROW, ROW.rsplit(",", 1)[0], ROW]) + "\n")
    done = run("import", "rees46", str(csv), "--out", str(tmp_path / "landing"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 rows read, 2 used, 1 skipped" in done.stdout
    assert "skipped, not imported: oct.csv line 3: 8 columns, expected 9" in done.stdout


def test_a_file_that_is_not_the_dataset_stops_with_exit_2(tmp_path):
    csv = tmp_path / "other.csv"
    csv.write_text("a,b,c\n1,2,3\n")
    done = run("import", "rees46", str(csv), "--out", str(tmp_path / "landing"), cwd=tmp_path)
    assert done.returncode == 2
    assert "other.csv" in done.stderr and "Traceback" not in done.stderr
