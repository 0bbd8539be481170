"""The record of what is installed in the deps cache, and its status.

``<cache>/manifest.json`` holds one entry per installed dependency: where it came from, the commit
FINN+ pins and the one installed (``status`` "pinned"; "substitute" when a local archive of another
commit was taken on purpose; "recorded" for a direct download, which FINN+ pins by URL only: its
sha256 is recorded on first fetch and checked on every reuse, unless the user pinned one), the
sha256 of the archive (kept under ``archives/``), the installed paths and any patches. An entry is
written only after its files are complete, so nothing half-installed ever looks installed.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import BAD_INPUT, HwsqueezeError
from ..fsutil import sha256_file, write_json
from .pins import BOARD_DEPS, Pin, cache_dir, load_pins

__all__ = ["read", "record", "git_head", "entry_state", "status", "installed_root",
           "board_files_dir", "fingerprint", "MANIFEST"]

MANIFEST = "manifest.json"


def git_head(repo: Path) -> Optional[str]:
    """``git rev-parse HEAD`` of ``repo`` (None when it is not a git work tree)."""
    if not (repo / ".git").exists():
        return None
    r = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def read(root: Path) -> Dict[str, dict]:
    """The manifest's entries by name ({} when there is none or it is unreadable as JSON); one error
    line naming the field when it parses but is malformed (hand-edited, or another tool's file)."""
    path = Path(root) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return {}
    deps = data.get("deps", {}) if isinstance(data, dict) else {}
    fix = "; delete it and run `hwsqueeze deps fetch` again"
    if not isinstance(deps, dict):
        raise HwsqueezeError(f"{path}: field 'deps' must be an object of entries by name{fix}", BAD_INPUT)
    for name, e in deps.items():
        paths = e.get("paths", []) if isinstance(e, dict) else None
        if not isinstance(paths, list) or not all(
                isinstance(p, str) and p and not Path(p).is_absolute() and ".." not in Path(p).parts for p in paths):
            raise HwsqueezeError(f"{path}: field 'deps.{name[:40]}' must be an object whose 'paths' are folders "
                                 f"inside the cache{fix}", BAD_INPUT)
    return deps


def record(root: Path, entry: dict) -> None:
    """Add or replace ``entry`` (atomically: a crash leaves the old manifest)."""
    deps = read(root)
    deps[entry["name"]] = entry
    write_json(Path(root) / MANIFEST, {"schema": "hwsqueeze-finn-deps/1", "deps": deps})


def entry_state(root: Path, entry: dict) -> tuple:
    """(ok, detail): are the entry's files there and do they still match what was recorded?"""
    missing = [p for p in entry.get("paths", []) if not (root / p).exists()]
    if missing or not entry.get("paths"):
        return False, f"files missing ({', '.join(missing) or 'none recorded'})"
    if entry.get("git_clone"):
        head = git_head(root / entry["paths"][0])
        if head != entry.get("commit"):
            return False, f"clone is at {head}, recorded {entry.get('commit')}"
    if entry.get("archive"):
        arch = root / "archives" / entry["archive"]
        if not arch.is_file():
            return False, f"archive {arch.name} missing (cannot re-verify its sha256)"
        got = sha256_file(arch)
        if got != entry.get("sha256"):
            return False, f"archive {arch.name} sha256 {got[:12]} != recorded {str(entry.get('sha256'))[:12]}"
    return True, ""


def status(root: Optional[Path] = None, names: Optional[List[str]] = None,
           pins: Optional[Dict[str, Pin]] = None) -> List[dict]:
    """One row per dependency: installed or not, pinned / substitute / recorded, commits, detail."""
    pins = pins or load_pins()
    root = Path(root) if root else cache_dir()
    entries = read(root)
    rows = []
    for name in names or list(pins):
        pin, e = pins[name], entries.get(name)
        row = {"name": name, "kind": pin.kind, "pin": pin.commit, "url": pin.url, "path": str(root / pin.target),
               "installed": False, "state": "missing", "commit": None, "sha256": None, "source": None,
               "patches": [], "detail": ""}
        if e:
            ok, detail = entry_state(root, e)
            row.update(installed=ok, state=e.get("status", "?") if ok else "broken", commit=e.get("commit"),
                       sha256=e.get("sha256"), source=e.get("source"), patches=e.get("patches", []),
                       detail=detail or e.get("note", ""))
            if ok and pin.commit and e.get("commit") != pin.commit and e.get("status") == "pinned":
                row.update(installed=False, state="outdated", detail=f"FINN+ now pins {pin.commit}")
        rows.append(row)
    return rows


def installed_root() -> Optional[Path]:
    """The deps cache when something is installed there (what FINN_DEPS should point at), else None."""
    try:
        root = cache_dir()
    except Exception:  # finn-plus not installed: nothing to point at
        return None
    return root if read(root) else None


def fingerprint() -> str:
    """Which FINN_DEPS a build will use and what it holds (a build input: FINN+ writes the folder's
    path into every HLS layer's TCL at code generation, so a change must redo code generation)."""
    import os

    user = os.environ.get("FINN_DEPS")
    if user:
        return f"FINN_DEPS {user}"
    root = installed_root()
    if root is None:
        return "none (no hwsqueeze deps cache)"
    return f"deps cache {root} #{sha256_file(root / MANIFEST)[:16]}"


def board_files_dir(root: Path, finn_board: str) -> Optional[Path]:
    """The installed board-file folder for a FINN board (None when absent; ``root`` itself when
    Vivado ships the board's files)."""
    dep = BOARD_DEPS.get(finn_board)
    if dep is None:
        return root
    folder = root / "board_files" / dep[1]
    return folder if any(folder.rglob("board.xml")) else None
