"""`reconnect campaigns validate` takes a file or a folder and names every problem of a file.

Each case runs the real console script (docs/campaigns.md; rule IDs from spec/RULES.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RECONNECT = str(Path(sys.executable).parent / "reconnect")
GOOD = "id: cart\ntype: cart_abandonment\nchannels: [email]\nsteps:\n  - name: reminder\n"


def validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RECONNECT, "campaigns", "validate", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_one_file_is_validated(tmp_path):
    (tmp_path / "cart.yaml").write_text(GOOD)
    done = validate(str(tmp_path / "cart.yaml"), cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (
        0,
        f"1 campaign valid in {tmp_path / 'cart.yaml'}",
    )


def test_an_empty_folder_is_an_error_not_zero_campaigns(tmp_path):
    done = validate(str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert f"{tmp_path}: no campaign files (*.yaml, *.yml) in this folder" in done.stderr


def test_r_type_a_wrong_type_does_not_hide_the_files_other_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: cart\ntype: cart_abandonmnet\nchannels: [email, fax]\nwait: 3h\n"
                   "steps:\n  - name: reminder\n")  # fmt: skip
    done = validate(str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert "type: expected one of cart_abandonment, product_view" in done.stderr
    assert "got 'cart_abandonmnet'" in done.stderr
    assert "channels[1]: expected one of email, sms, web_push, app_push (R-CHAN-1); got 'fax'" in (
        done.stderr
    )
    assert "wait" not in done.stderr  # a field some type has: not reported without the type


def test_a_misspelt_steps_is_hinted_with_steps(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("steps:", "step:"))
    done = validate(str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert "step: unknown field; expected one of id, name, type," in done.stderr
    assert ", steps, variations" in done.stderr
    assert "steps: required; missing" in done.stderr


def test_a_yaml_syntax_error_points_at_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: cart\n  type: [\n")
    done = validate(str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert f"in {bad}, line 2" in done.stderr
    assert "<unicode string>" not in done.stderr
