"""Shared by the robustness tests (``from robustness._util import ...``): small and generic."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

from helpers import run_cli


def one_error(r: subprocess.CompletedProcess, contains: str, exit_code: int = 2) -> str:
    """Assert ``r`` exited ``exit_code`` with exactly one stderr line, starting with ``error:`` and
    containing ``contains``, and no traceback. Returns that line."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == exit_code, (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert contains in lines[0], (contains, lines[0])
    return lines[0]


def run_cli_one_error(args: Iterable[str], exit_code: int, contains: str, cwd: Optional[Path] = None):
    """Run the real CLI and check it as :func:`one_error`. Returns the CompletedProcess."""
    kw = {"cwd": cwd} if cwd is not None else {}
    r = run_cli(*[str(a) for a in args], **kw)
    one_error(r, contains, exit_code)
    return r


def board_cmd(pkg: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The board command as on a PYNQ board: from inside the package, with the package's own code."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "hwsqueeze.runtime", *args], cwd=pkg, capture_output=True,
                          text=True, timeout=timeout, env=env)


def tree_snapshot(path: Path) -> Dict[str, Tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file under ``path``; folders as (-1, 0) (their
    mtime moves when anything probes them, which touches no file)."""
    path = Path(path)
    out = {}
    for p in sorted(path.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(path))] = (-1, 0) if p.is_dir() else (st.st_size, st.st_mtime_ns)
    return out
