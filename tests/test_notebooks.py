"""The board notebooks, executed headless from inside a deploy package (emulated board), exactly
as a user runs them there; a failing cell fails the test."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_deploy_package(built_deploy, tmp_path, name, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    deploy = tmp_path / "deploy"
    shutil.copytree(built_deploy, deploy)  # a user's copy; the notebook must find it unaided
    nb_path = deploy / "notebooks" / name
    assert nb_path.is_file(), "the deploy package must ship the notebooks"
    monkeypatch.delenv("HWSQUEEZE_DEPLOY", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # Jupyter's inline backend: figures become PNG outputs
    nb = nbformat.read(nb_path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(nb_path.parent)}}).execute()
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "running on: EMULATED" in first
    _check_what_the_user_sees(name, nb, deploy)


def _text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _pngs(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _check_what_the_user_sees(name: str, nb, deploy: Path) -> None:
    """The figures a user reads, checked against the package's own files (not the notebook)."""
    import json

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
        import re

        assert "no speedup is claimed" in text and not re.search(r"\d(\.\d+)?x the", text) and _pngs(nb) == 1


def test_install_on_pynq_script(built_deploy, tmp_path):
    """The package's install step copies everything (notebooks included) to the folder given."""
    import subprocess

    dest = tmp_path / "jupyter_notebooks" / "hwsqueeze"
    res = subprocess.run(["sh", str(built_deploy / "install-on-pynq.sh"), str(dest)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (dest / "notebooks" / "01_classify.ipynb").is_file() and (dest / "deploy.json").is_file()
    assert (dest / "hwsqueeze" / "runtime" / "__main__.py").is_file() and "installed in" in res.stdout
