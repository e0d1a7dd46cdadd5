"""The layers import only downward (spec <- hdl <- sim <- boards <- host <- cli):
import-linter's contracts in ``pyproject.toml``, checked on the package as
setuptools lays it out, and shown to fail on a wrong import."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _package_tree(target):
    """Lay out the import package under ``target`` as ``package-dir`` maps the folders
    (import-linter reads modules from disk, which the editable install does not map)."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in settings["packages"]:
        top = max((p for p in settings["package-dir"] if package == p or package.startswith(p + ".")),
                  key=len)
        source = ROOT / settings["package-dir"][top] / Path(*package[len(top):].split(".")[1:])
        dest = target / Path(*package.split("."))
        dest.mkdir(parents=True, exist_ok=True)
        for module in source.glob("*.py"):
            shutil.copyfile(module, dest / module.name)
    return target


def _lint(tree):
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                           "lint_imports_command()", str(ROOT / "pyproject.toml"),
                           "--no-cache"], cwd=tree, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return _package_tree(tmp_path_factory.mktemp("layers"))


def test_every_contract_is_kept(tree):
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("amaradar/hdl/formats.py", "from ..sim import chain", "amaradar.hdl.formats -> amaradar.sim.chain"),
    ("amaradar/sim/chain.py", "from ..boards import build", "amaradar.sim.chain -> amaradar.boards.build"),
    ("amaradar/spec/records.py", "import amaranth", "amaradar.spec.records -> amaranth"),
])
def test_a_wrong_import_breaks_a_contract(tmp_path, module, line, broken):
    tree = _package_tree(tmp_path)
    with open(tree / module, "a") as f:
        f.write(f"\n{line}\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "1 broken" in result.stdout and broken in result.stdout, result.stdout
