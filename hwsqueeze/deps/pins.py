"""The pins (FINN+'s own ``external_dependencies.yaml``), the cache folder and FINN's FINN_DEPS layout.

FINN+ owns the pins: we read its definitions file (``$FINN_DEPS_DEFINITIONS``, FINN's own setting,
else the one in the installed finn-plus wheel) and never copy a commit. Where each dependency lands
under FINN_DEPS follows ``finn/interface/manage_deps.py`` (FINN+ 1.6.1) exactly, because FINN+'s
TCL and code read those paths: git deps at ``<name>/``; board-file repos' ``subdirectory`` copied to
``board_files/<last part>/`` (its contents when ``.``); direct downloads unpacked into their
``target_directory`` (``pynq-z2.zip`` -> ``board_files/pynq-z2/``, ``json.tar.xz`` -> ``nlohmann_json/json/``).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urlparse

from ..errors import BAD_INPUT, MISSING_TOOL, HwsqueezeError

__all__ = ["Pin", "load_pins", "pins_file", "cache_dir", "finn_version", "BOARD_DEPS", "default_names",
           "ARCHIVE_SUFFIXES", "CACHE_ENV", "FROM_ENV", "PINS_ENV"]

PINS_ENV = "FINN_DEPS_DEFINITIONS"  # FINN+'s own setting for another definitions file
CACHE_ENV = "HWSQUEEZE_CACHE"  # cache root (default ~/.cache/hwsqueeze); deps go to finn-deps/<finn version>/
FROM_ENV = "HWSQUEEZE_DEPS_FROM"  # default for `deps fetch --from`
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar", ".zip")

# FINN board name -> (dependency, folder under board_files/) for the board part FINN+'s Zynq shell
# TCL sets (make_zynq_proj.py / templates.py: `set_property board_part <vendor>:<board>:...`).
# None: Vivado ships that board's files itself (Xilinx evaluation boards).
BOARD_DEPS: Dict[str, Optional[tuple]] = {
    "Pynq-Z2": ("pynq-z2", "pynq-z2"), "Pynq-Z1": ("pynq-z1", "pynq-z1"),
    "KV260_SOM": ("kv260-som-bdf", "kv260_som"), "Ultra96-V2": ("avnet-bdf", "ultra96v2"),
    "Ultra96": ("avnet-bdf", "ultra96v1"), "RFSoC2x2": ("xil-bdf", "rfsoc2x2"),
    "RFSoC4x2": ("rfsoc4x2-bdf", "rfsoc4x2"), "AUP-ZU3_8GB": ("aupzu3-8gb-bdf", "aup-zu3-8gb"),
    "ZCU104": None, "ZCU102": None,
}
# Always needed for a Vivado build: HLS includes (every HLS layer's TCL adds both folders) and the
# JSON library of FINN+'s RTL-simulation FIFO sizing. AuroraFlow is for multi-FPGA builds only.
_CORE = ("finn-hlslib", "attention-hlslib", "nlohmann-json")


@dataclass(frozen=True)
class Pin:
    """One dependency as FINN+ defines it."""

    name: str
    kind: str  # "git" | "boardfile" | "download"
    url: str
    commit: Optional[str] = None  # git and boardfile
    subdirectory: str = "."  # boardfile: folder of the repo that holds the board files
    target_directory: str = ""  # download: folder under FINN_DEPS it unpacks into
    unpack: bool = True

    @property
    def archive_name(self) -> str:
        """File name of a direct download (the URL's last part)."""
        return Path(urlparse(self.url).path).name

    @property
    def target(self) -> str:
        """Where it lands, relative to FINN_DEPS (FINN's layout; see the module docstring)."""
        if self.kind == "git":
            return self.name
        if self.kind == "boardfile":
            sub = Path(self.subdirectory).name
            return f"board_files/{sub}" if sub and self.subdirectory not in (".", "") else "board_files"
        name = self.archive_name
        if self.unpack:
            for suf in ARCHIVE_SUFFIXES:
                if name.endswith(suf):
                    name = name[: -len(suf)]
                    break
        return f"{self.target_directory}/{name}"


def finn_version() -> str:
    try:
        return metadata.version("finn-plus")
    except metadata.PackageNotFoundError:
        raise HwsqueezeError("finn-plus is not installed; run `make venv`", MISSING_TOOL) from None


def pins_file() -> Path:
    """FINN+'s dependency definitions: ``$FINN_DEPS_DEFINITIONS`` or the installed wheel's file."""
    env = os.environ.get(PINS_ENV)
    if env:
        return Path(env).expanduser()
    spec = importlib.util.find_spec("finn")  # without importing finn (slow, and it needs Vivado stubs)
    for loc in (spec.submodule_search_locations or []) if spec else []:
        cand = Path(loc) / "interface" / "external_dependencies.yaml"
        if cand.is_file():
            return cand
    raise HwsqueezeError("FINN+'s external_dependencies.yaml not found (is finn-plus installed?)", MISSING_TOOL)


def load_pins(path: Optional[Path] = None) -> Dict[str, Pin]:
    """Every dependency FINN+ defines, by name."""
    import yaml

    path = Path(path) if path else pins_file()
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise HwsqueezeError(f"{path}: cannot read FINN's dependency definitions ({e})", BAD_INPUT) from None
    pins: Dict[str, Pin] = {}
    try:
        for name, d in (raw.get("git_deps") or {}).items():
            pins[name] = Pin(name, "git", str(d["url"]), commit=str(d["commit"]))
        for name, d in (raw.get("boardfile_deps") or {}).items():
            pins[name] = Pin(name, "boardfile", str(d["url"]), commit=str(d["commit"]),
                             subdirectory=str(d.get("subdirectory", ".")))
        for name, d in (raw.get("direct_download_deps") or {}).items():
            pins[name] = Pin(name, "download", str(d["url"]), target_directory=str(d["target_directory"]),
                             unpack=bool(d.get("do_unzip", True)))
    except (AttributeError, KeyError, TypeError) as e:
        raise HwsqueezeError(f"{path}: malformed dependency definition ({type(e).__name__}: {e})", BAD_INPUT) from None
    return pins


def cache_dir() -> Path:
    """``$HWSQUEEZE_CACHE/finn-deps/<finn-plus version>`` (default ``~/.cache/hwsqueeze/...``): the FINN_DEPS we own."""
    root = os.environ.get(CACHE_ENV) or "~/.cache/hwsqueeze"
    return Path(root).expanduser().resolve() / "finn-deps" / finn_version()


def default_names(pins: Dict[str, Pin], finn_boards: Optional[List[str]] = None) -> List[str]:
    """What a Vivado build of hwsqueeze needs: the core deps and the board files of ``finn_boards``
    (default: every shipped board's FINN board)."""
    if finn_boards is None:
        from ..compile.boards import list_boards

        finn_boards = [b.finn_board for b in list_boards()]
    names = [n for n in _CORE if n in pins]
    for fb in finn_boards:
        dep = BOARD_DEPS.get(fb)
        if dep and dep[0] in pins and dep[0] not in names:
            names.append(dep[0])
    return names
