"""The shape of the code: no import cycles, the board side needs only numpy (and never the compile
side), modules stay small, and a wheel carries everything a build reads."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hwsqueeze"
BOARD_SIDE = ("hwsqueeze.deploy", "hwsqueeze.reference", "hwsqueeze.runtime", "hwsqueeze.errors", "hwsqueeze.fsutil",
              "hwsqueeze")
MAX_LINES = 300
LONGER = {}  # module -> why it may exceed MAX_LINES (none today)


def _imports() -> Dict[str, Set[str]]:
    """module -> every module it imports (absolute names; relative imports resolved)."""
    mods: Dict[str, Set[str]] = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else name.rsplit(".", 1)[0]
        deps: Set[str] = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                mod = ".".join(base + ([node.module] if node.module else []))
                deps.add(mod)
                deps |= {f"{mod}.{a.name}" for a in node.names}
        mods[name] = deps
    return mods


def test_no_import_cycles():
    mods = _imports()
    edges = {m: {d for d in ds if d in mods and d != m and not m.startswith(d + ".")} for m, ds in mods.items()}
    state: Dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for d in edges[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in mods:
        if m not in state:
            visit(m, [m])


def test_board_side_imports_only_numpy_and_itself():
    mods = _imports()
    allowed_third_party = {"numpy", "pynq", "pytest", "PIL"}  # PIL: only `classify IMAGE` (PYNQ images ship it)
    for m, deps in mods.items():
        if not (m in BOARD_SIDE or m.startswith(BOARD_SIDE[:3])):
            continue
        for d in deps:
            top = d.split(".")[0]
            if top == "hwsqueeze":
                assert d in BOARD_SIDE or d.startswith(tuple(b + "." for b in BOARD_SIDE[:3])) or \
                    d.rsplit(".", 1)[0] in BOARD_SIDE, f"board-side {m} imports {d}"
            else:
                assert top in allowed_third_party or top in sys.stdlib_module_names, f"board-side {m} imports {d}"


def test_modules_stay_small():
    for f in PKG.rglob("*.py"):
        n = len(f.read_text().splitlines())
        rel = str(f.relative_to(ROOT))
        assert n <= MAX_LINES or rel in LONGER, f"{rel} has {n} lines (> {MAX_LINES}): split it or state why in LONGER"


@pytest.mark.slow
def test_wheel_carries_data_and_builds_outside_the_checkout(tmp_path):
    """`pip wheel .` -> a wheel with the boards, notebooks, board tests and shipped models; installed
    (into a bare folder, dependencies from this venv) it builds from outside the checkout."""
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    wheel = next(tmp_path.glob("hwsqueeze-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    from hwsqueeze.train.shipped import SHIPPED

    for need in ("hwsqueeze/boards/pynq-z2.yaml", "hwsqueeze/notebooks/01_classify.ipynb",
                 "hwsqueeze/board_tests/test_hw_vs_sw.py", "hwsqueeze/deploy/package.py",
                 "hwsqueeze/compile/steps/frontend.py",
                 *(f"hwsqueeze/default_model/{n}.{ext}" for n in SHIPPED for ext in ("pt", "json"))):
        assert need in names, need
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "import sys, hwsqueeze.cli; sys.argv[0] = 'hwsqueeze'; hwsqueeze.cli.run()"
    res = subprocess.run([sys.executable, "-c", code, "build", "--model", "squeezenet-tiny-cifar10", "--target-fps",
                          "1000", "--out", "b", "--quiet"], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (elsewhere / "b" / "deploy" / "notebooks" / "01_classify.ipynb").is_file()
    assert (elsewhere / "b" / "deploy" / "tests" / "test_hw_vs_sw.py").is_file()
    check = subprocess.run([sys.executable, "-c", "import hwsqueeze; print(hwsqueeze.__file__)"], cwd=elsewhere,
                           env=env, capture_output=True, text=True)
    assert check.stdout.startswith(str(site)), check.stdout


def test_atomic_dir_never_replaces_a_folder_with_user_files(tmp_path):
    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.fsutil import MANIFEST, atomic_dir

    d = tmp_path / "deploy"
    with atomic_dir(d) as t:
        (t / "a.txt").write_text("1")
    assert (d / MANIFEST).read_text().split() == ["a.txt"]
    with atomic_dir(d) as t:  # our own files: replaced
        (t / "b.txt").write_text("2")
    assert sorted(p.name for p in d.iterdir()) == [MANIFEST, "b.txt"]
    (d / "mine.ipynb").write_text("user's work")
    with pytest.raises(HwsqueezeError, match="holds files hwsqueeze did not write \\(mine.ipynb\\)"):
        with atomic_dir(d) as t:
            (t / "c.txt").write_text("3")
    assert (d / "mine.ipynb").read_text() == "user's work" and (d / "b.txt").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["deploy"]  # no temporary folder left
    with pytest.raises(RuntimeError):  # a failing writer leaves the old folder and no temp folder
        with atomic_dir(tmp_path / "other") as t:
            raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["deploy"]
