"""The board notebooks, executed headless from inside a deploy package (emulated board), exactly
as a user runs them there; a failing cell fails the test."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Optional

import pytest
from conftest import CIFAR_ARCHIVE

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_committed_without_outputs():
    import nbformat

    assert NOTEBOOKS == ["01_classify.ipynb", "02_verify.ipynb", "03_throughput.ipynb"]
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name} has outputs"


# Test kernels see no hwsqueeze but the deploy package's copy: the venv's editable install of the
# checkout (a meta-path finder from a .pth file) is removed before the notebook runs.
_SITECUSTOMIZE = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if not str(getattr(f, "__module__", "")).startswith("__editable__")]
"""
# Appended to each notebook run: where hwsqueeze came from, and that the checkout's is out of reach.
_WHERE = """import importlib.util, json
import hwsqueeze
print("WHERE " + json.dumps({"hwsqueeze": hwsqueeze.__file__, "host_only": [m for m in ("hwsqueeze.data",
      "hwsqueeze.compile", "hwsqueeze.cli") if importlib.util.find_spec(m) is not None]}))
"""


def _run_notebook(built_deploy: Path, tmp_path: Path, name: str, env: Optional[Dict[str, str]] = None):
    """Execute notebook ``name`` inside a copy of the package, in a kernel with a clean environment
    (PATH, HOME, the thread limit and ``env``) that cannot import the checkout's hwsqueeze; returns
    (the executed notebook, the copy)."""
    import json

    import nbformat
    from nbclient import NotebookClient

    deploy = tmp_path / "deploy"
    shutil.copytree(built_deploy, deploy)  # a user's copy; the notebook must find it unaided
    nb_path = deploy / "notebooks" / name
    assert nb_path.is_file(), "the deploy package must ship the notebooks"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "OMP_NUM_THREADS")
    kernel_env = {k: os.environ[k] for k in keep if k in os.environ}
    kernel_env.update(PYTHONPATH=str(site), **(env or {}))  # no HWSQUEEZE_DEPLOY; no MPLBACKEND: Jupyter's inline
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_WHERE))
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(nb_path.parent)}}).execute(env=kernel_env)
    where = json.loads(_text(nb).split("WHERE ", 1)[1].splitlines()[0])
    assert deploy.resolve() in Path(where["hwsqueeze"]).resolve().parents and not where["host_only"], where
    return nb, deploy


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_deploy_package(built_deploy, tmp_path, name):
    """Each notebook from a copy of the package, the checkout's hwsqueeze out of reach; 02 on 100
    real test images from the CIFAR-10 archive when it is here (the package's samples otherwise)."""
    env = {"HWSQUEEZE_DATA": str(CIFAR_ARCHIVE), "HWSQUEEZE_N": "100"} if name.startswith("02") and \
        CIFAR_ARCHIVE.is_file() else None
    nb, deploy = _run_notebook(built_deploy, tmp_path, name, env)
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "running on: EMULATED" in first
    _check_what_the_user_sees(name, nb, deploy, env)


@pytest.mark.slow
@pytest.mark.cifar
def test_verify_notebook_on_1000_test_images(built_deploy, tmp_path, cifar_archive):
    """Notebook 02 computes accuracy on 1,000 CIFAR-10 test images from the package alone."""
    env = {"HWSQUEEZE_DATA": str(cifar_archive), "HWSQUEEZE_N": "1000"}
    nb, deploy = _run_notebook(built_deploy, tmp_path, "02_verify.ipynb", env)
    _check_what_the_user_sees("02_verify.ipynb", nb, deploy, env)


def _text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _pngs(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _check_what_the_user_sees(name: str, nb, deploy: Path, env: Optional[Dict[str, str]] = None) -> None:
    """The figures a user reads, checked against the package's own files and the host's own loader
    and reference (not the notebook)."""
    import json
    import re

    import numpy as np

    text = _text(nb)
    info = json.loads((deploy / "samples" / "labels.json").read_text())
    real = not info["synthetic"]
    if name.startswith("01"):
        assert _pngs(nb) >= 2  # the sample grid and the own-image cell
        if real:
            assert "real test images with their true labels" in text and "top-1 on these 10 images:" in text
            assert ("(right)" in text) or ("(WRONG, true:" in text)
        else:
            assert "SYNTHETIC" in text and "top-1 on these" not in text
    elif name.startswith("02") and env:
        n = int(env["HWSQUEEZE_N"])
        assert f"n = {n} of 10000 test images, 10 of 10 classes" in text
        assert f"{n}/{n} images bit-exact, 0 mismatches (emulated)" in text and _pngs(nb) == 1
        assert "host CPU emulating it, not the FPGA" in text
        from hwsqueeze.data import load_dataset  # the host's loader and reference, independent of the notebook
        from hwsqueeze.data.sampling import balanced_indices
        from hwsqueeze.reference import Reference

        ds = load_dataset(env["HWSQUEEZE_DATA"], "test")
        idx = balanced_indices(ds.labels, n)
        acc = (Reference.from_deploy(deploy).run(ds.images[idx]).reshape(n, -1).argmax(1) == ds.labels[idx]).mean()
        assert f"top-1 accuracy (n = {n}, 10 of 10 classes): hardware {acc:.2%}, reference {acc:.2%}" in text, acc
    elif name.startswith("02"):
        n = len(np.load(deploy / "samples" / "images.npy"))
        assert f"n = {n}" in text and f"{n}/{n} images bit-exact, 0 mismatches (emulated)" in text
        if real:
            k = len(set(info["labels"]))
            assert f"{k} of 10 classes" in text and f"top-1 accuracy (n = {n}, {k} of 10 classes)" in text
            assert _pngs(nb) == 1  # the confusion matrix
        else:
            assert "no accuracy: the samples have no meaningful labels" in text
    else:
        assert "no speedup is claimed" in text and not re.search(r"\d(\.\d+)?x the", text) and _pngs(nb) == 1
        table = [ln for ln in text.splitlines() if re.match(r"\s*\d+ +\d+\.\d +\d+\.\d\d ", ln)]
        assert len(table) == 7 and all(ln.endswith("(emulated)") for ln in table), table  # every number labelled
        assert "throughput_test, target = emulated (every number below is EMULATED)" in text
        assert "fclk[mhz]: none (the emulated board has no FPGA clock)" in text


def test_install_on_pynq_script(built_deploy, tmp_path):
    """The package's install step copies everything (notebooks included) to the folder given."""
    import subprocess

    dest = tmp_path / "jupyter_notebooks" / "hwsqueeze"
    res = subprocess.run(["sh", str(built_deploy / "install-on-pynq.sh"), str(dest)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (dest / "notebooks" / "01_classify.ipynb").is_file() and (dest / "deploy.json").is_file()
    assert (dest / "hwsqueeze" / "runtime" / "__main__.py").is_file() and "installed in" in res.stdout
