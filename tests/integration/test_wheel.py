"""The wheel works on its own: DDL and default campaigns are package data (no checkout needed).

A wheel built from this tree is installed into a fresh virtual environment outside the repo. The
test venv reuses this environment's installed dependencies (a ``.pth`` line to its
site-packages, whose editable hook for the checkout is not run from there) so nothing is
downloaded, but the product itself comes from the wheel only (pip installs it with
``--ignore-installed``: the shared site-packages already lists the editable checkout).
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.paths import REPO_ROOT

pytestmark = pytest.mark.spark  # starts its own Spark in a separate process (the demo)


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel; its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(work)],
        cwd=REPO_ROOT)  # fmt: skip
    (wheel,) = work.glob("reconnect-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    (purelib,) = venv.glob("lib/python3.*/site-packages")
    (purelib / "shared-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
    run([*pip, "--ignore-installed", str(wheel)], cwd=work)
    return venv / "bin"


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RECONNECT_CONF")}


def test_the_product_is_imported_from_the_wheel_not_the_checkout(installed, tmp_path):
    where = run([str(installed / "python"), "-c", "import reconnect; print(reconnect.__file__)"],
                cwd=tmp_path, env=clean_env())  # fmt: skip
    assert where.strip().startswith(str(installed.parent))


def test_campaigns_validate_reads_the_packaged_default_campaigns(installed, tmp_path):
    out = run(
        [str(installed / "reconnect"), "campaigns", "validate"], cwd=tmp_path, env=clean_env()
    )
    assert "7 campaigns valid" in out


PARSE_THE_PACKAGED_DBT_PROJECT = """
import sys
from dbt.cli.main import dbtRunner
from reconnect.analytics.dbt import PROJECT_DIR
out = sys.argv[1]
res = dbtRunner().invoke(["parse", "--project-dir", str(PROJECT_DIR), "--profiles-dir",
                          str(PROJECT_DIR), "--target-path", out + "/target", "--log-path",
                          out + "/logs", "--no-send-anonymous-usage-stats", "--quiet"])
nodes = res.result.nodes.values() if res.success else []
print(PROJECT_DIR)
print(sum(n.resource_type == "model" for n in nodes), sum(n.resource_type == "test" for n in nodes))
"""


def test_the_wheel_carries_the_dbt_project_and_dbt_parses_it(installed, tmp_path):
    out = run([str(installed / "python"), "-c", PARSE_THE_PACKAGED_DBT_PROJECT, str(tmp_path)],
              cwd=tmp_path, env=clean_env())  # fmt: skip
    where, counts = out.strip().splitlines()[-2:]
    assert where.startswith(str(installed.parent)), where
    models, tests = map(int, counts.split())
    layers = ("staging", "intermediate", "marts")
    in_the_checkout = sum(len(list((REPO_ROOT / "models" / d).glob("*.sql"))) for d in layers)
    assert models == in_the_checkout > 20 and tests > 50, counts


def test_a_small_demo_runs_from_a_folder_without_a_checkout(installed, tmp_path):
    out = run(
        [str(installed / "reconnect"), "demo", "--root", "demo", "--events", "3000", "--days", "2"],
        cwd=tmp_path,
        env=clean_env(),
    )
    assert "== summary" in out
    assert (tmp_path / "demo" / "lakehouse" / "gold").is_dir()
