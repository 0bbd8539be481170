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
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(nb_path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(nb_path.parent)}}).execute()
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "running on: EMULATED" in first
