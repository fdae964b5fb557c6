"""`reconnect demo` never loses a user's files: everything is checked before a file is touched,
and only a folder a demo made (it holds `.reconnect-demo`) is ever deleted without `--force`.

Each case runs the real console script and fails before Spark would start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RECONNECT = str(Path(sys.executable).parent / "reconnect")


def reconnect(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RECONNECT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def users_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n")
    return folder


def bad_campaigns_settings(tmp_path: Path) -> Path:
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "cart.yaml").write_text(
        "id: cart\ntype: cart_abandonment\nwait: 1m\nchannels: [email]\nsteps: [{name: a}]\n"
    )
    conf = tmp_path / "conf.yaml"
    conf.write_text(f"paths:\n  campaigns: {campaigns}\n")
    return conf


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("a settings file that does not exist", ["--conf", "/nonexistent.yaml"]),
        ("a generator option out of range", ["--events", "-5"]),
        ("a campaign file with a problem", ["--conf", "BAD_CAMPAIGNS"]),
        ("a folder a demo did not make", []),
    ],
)
def test_a_failing_demo_leaves_the_users_folder_as_it_was(case, extra, users_folder, tmp_path):
    extra = [str(bad_campaigns_settings(tmp_path)) if a == "BAD_CAMPAIGNS" else a for a in extra]
    done = reconnect("demo", "--root", str(users_folder), *extra, cwd=tmp_path)
    assert done.returncode == 2, (case, done.stderr)
    assert sorted(p.name for p in users_folder.iterdir()) == ["notes.txt"], case
    assert (users_folder / "notes.txt").read_text() == "keep me\n"
    assert "Traceback" not in done.stderr


def test_a_folder_a_demo_did_not_make_is_refused_with_what_to_do(users_folder, tmp_path):
    done = reconnect("demo", "--root", str(users_folder), cwd=tmp_path)
    assert done.returncode == 2
    assert f"{users_folder}: not empty and not a previous demo's folder" in done.stderr
    assert "--force" in done.stderr


def test_a_file_is_not_a_demo_folder(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    done = reconnect("demo", "--root", str(target), cwd=tmp_path)
    assert done.returncode == 2
    assert f"{target}: expected a folder for the demo; it is a file" in done.stderr
    assert target.read_text() == "x"
