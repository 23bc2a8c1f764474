"""The layer contract of pyproject.toml ([tool.importlinter]), checked by import-linter.

import-linter (grimp) finds a package's modules by walking its folder, but model/, dse/, hls/ and
host/ live beside zynqyolo/ and are mapped under it by ``[tool.setuptools] package-dir``. So the
test lays the package out as it is installed, in a temporary folder of links to the sources, and
runs ``lint-imports`` on that tree with the repository's own configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml with tomllib")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def source_dir(package: str, package_dir: dict[str, str]) -> Path:
    if package in package_dir:
        return ROOT / package_dir[package]
    parent, _, leaf = package.rpartition(".")
    return source_dir(parent, package_dir) / leaf


def installed_tree(dest: Path) -> Path:
    """``dest`` holding every package of pyproject.toml at its import path, its .py files linked."""
    setup = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]
    for package in setup["packages"]:
        target = dest / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for py in source_dir(package, setup["package-dir"]).glob("*.py"):
            (target / py.name).symlink_to(py)
    return dest


def lint(tree: Path, config: Path = PYPROJECT) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([exe, str(config), "--no-cache"], cwd=tree, env=env, capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return installed_tree(tmp_path_factory.mktemp("installed"))


def test_the_tree_holds_every_module(tree):
    """The linked tree is the installed package: every source module of every mapped folder is there."""
    for folder, package in (("model", "model"), ("dse", "dse"), ("hls", "hls"), ("host", "host"),
                            ("zynqyolo/commands", "commands")):
        sources = {p.name for p in (ROOT / folder).glob("*.py")}
        linked = {p.name for p in (tree / "zynqyolo" / package).glob("*.py")}
        assert sources and sources == linked, folder


def test_layer_contract_holds(tree):
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_layer_violation_is_reported(tree, tmp_path):
    """The contract can fail: a model module that imports the host driver breaks it."""
    bad = tmp_path / "bad"
    shutil.copytree(tree, bad, symlinks=True)
    (bad / "zynqyolo" / "model" / "zz_violation.py").write_text("def f():\n    from zynqyolo.host import driver\n")
    result = lint(bad)
    assert result.returncode != 0
    assert "zynqyolo.model.zz_violation -> zynqyolo.host.driver" in result.stdout
