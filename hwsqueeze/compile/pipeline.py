"""The build as data: FINN-builder-style ordered steps, what each depends on, writes and is checked against.

Every step is ``run(ctx, model) -> model``; the runner (:mod:`.runner`) saves its model as
``intermediate/NN_<name>.onnx``, verifies it when ``check`` says so (:mod:`.verify`) and records
its provenance: the fingerprints of the inputs named in ``depends`` (see ``config.provenance``),
the hash of the graph it saved and of every file its row ``writes``. The rerun rules live here
(:func:`first_stale`, :func:`remove_stale`, ``DESIGN_KEYS``), and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

from .config import ESTIMATE_LAST
from .steps.dataflow import (
    step_convert_to_hw,
    step_dataflow_partition,
    step_estimates,
    step_folding,
    step_hw_codegen,
    step_minimize_bit_width,
    step_specialize_layers,
)
from .steps.deploy import step_deploy
from .steps.frontend import step_export, step_lower_to_nhwc, step_qonnx_to_finn, step_streamline
from .steps.vivado import step_bitfile, step_fifo_depths, step_hw_ipgen

__all__ = ["Step", "STEPS", "ESTIMATE_LAST", "DESIGN_KEYS", "intermediate_path", "step_names", "step_index",
           "step", "first_stale", "remove_stale", "written", "overlapping"]


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable
    depends: Tuple[str, ...]  # provenance keys whose change makes this step's output stale
    check: Optional[str] = None  # verify the output against "export" or "streamline" logits
    writes: Tuple[str, ...] = ()  # files/folders ("x/") besides intermediate/NN_<name>.onnx; hashed
    needs_tools: bool = False  # vitis_hls + vivado (the runner checks them before the step runs)
    sets: Tuple[str, ...] = ()  # BuildState fields this step decides (reset when it reruns; the runner
    #                             refuses a step that changes any other field)
    keep_stale: bool = False  # outputs left in place when stale (hours of Vivado; see remove_stale)

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0]


_SOURCE = ("source", "versions", "verify_n")  # the model, the tool versions, the verification images
_MAPPING = _SOURCE + ("mapping",)  # + how layers map to FINN HW layers (standalone thresholds or not)
_BOARD = _MAPPING + ("board",)
_FOLD = _BOARD + ("folding",)

STEPS: List[Step] = [
    Step("export", step_export, _SOURCE, writes=("verify/input.npy", "verify/expected_logits.npy"),
         sets=("source",)),
    Step("qonnx_to_finn", step_qonnx_to_finn, _SOURCE, check="export"),
    Step("streamline", step_streamline, _SOURCE, check="export", writes=("verify/streamline_logits.npy",)),
    Step("lower_to_nhwc", step_lower_to_nhwc, _SOURCE, check="streamline"),
    Step("convert_to_hw", step_convert_to_hw, _MAPPING, check="streamline", sets=("output",)),
    Step("dataflow_partition", step_dataflow_partition, _MAPPING),
    Step("specialize_layers", step_specialize_layers, _BOARD),
    Step("folding", step_folding, _FOLD, writes=("folding_config.json",), sets=("folding",)),
    Step("minimize_bit_width", step_minimize_bit_width, _FOLD, check="streamline"),
    Step("estimates", step_estimates, _FOLD, writes=("estimates.json", "estimates.md", "estimates.png",
                                                     "report/estimate_layer_cycles.json",
                                                     "report/estimate_layer_resources.json",
                                                     "report/estimate_network_performance.json",
                                                     "report/resources.json"),
         sets=("estimate",)),
    Step("hw_codegen", step_hw_codegen, _FOLD + ("finn_deps",), writes=("hw/",)),
    # the package is replaced whole and atomically; a bitstream in it is carried over (assemble)
    Step("deploy", step_deploy, _FOLD + ("samples",), writes=("deploy/",), keep_stale=True),
    Step("hw_ipgen", step_hw_ipgen, _FOLD, needs_tools=True, keep_stale=True),
    Step("fifo_depths", step_fifo_depths, _FOLD, needs_tools=True, keep_stale=True),
    Step("bitfile", step_bitfile, _FOLD, writes=("deploy/bitfile/", "deploy/deploy.json",
                                                 "report/post_route_timing.rpt", "report/post_synth_report.xml",
                                                 "report/resources.json"),
         needs_tools=True, sets=("timing", "measured"), keep_stale=True),
]
assert ESTIMATE_LAST in [s.name for s in STEPS]

# What a bitstream depends on: a deploy rerun keeps one only if these hold (assemble._keep_bitstream).
DESIGN_KEYS = next(s for s in STEPS if s.name == "bitfile").depends


def intermediate_path(build_dir: Union[str, Path], step: str) -> Path:
    """The graph file step ``step`` leaves in ``build_dir`` (``intermediate/NN_<step>.onnx``): the
    one place that names it, so inserting a step renumbers every user at once."""
    return Path(build_dir) / "intermediate" / f"{step_index(step):02d}_{step}.onnx"


def step_names() -> List[str]:
    return [s.name for s in STEPS]


def step_index(name: str) -> int:
    """Index of step ``name``; an unknown name is an error listing the steps."""
    from ..errors import HwsqueezeError

    names = step_names()
    if name not in names:
        raise HwsqueezeError(f"unknown step '{name}' (steps: {', '.join(names)})")
    return names.index(name)


def step(name: str) -> Step:
    """The table row of step ``name``."""
    return STEPS[step_index(name)]


def _inside(a: str, b: str) -> bool:
    """Table path ``a`` is ``b`` or lies in folder ``b`` ("x/")."""
    return a == b or (b.endswith("/") and a.startswith(b))


def _overlap(a: str, b: str) -> bool:
    return _inside(a, b) or _inside(b, a)


def _digest(path: Path) -> Optional[str]:
    """sha256 of a file, or of a folder by relative names and contents (the provenance's own
    ``source_digest``: Python caches left out, e.g. from running a package's tests); None when absent."""
    from ..fsutil import sha256_file
    from .finn_env import source_digest

    if path.is_file():
        return sha256_file(path)
    return source_digest(path) if path.is_dir() else None


def written(build_dir: Union[str, Path], name: str) -> Dict[str, Optional[str]]:
    """Digest of every file or folder step ``name``'s row ``writes`` (None: not there), for its record."""
    return {w: _digest(Path(build_dir) / w.rstrip("/")) for w in step(name).writes}


def overlapping(name: str) -> List[str]:
    """Steps whose ``writes`` overlap step ``name``'s (e.g. bitfile writes into deploy/): when
    ``name`` runs, their records of those files are refreshed, not left to look tampered with."""
    mine = step(name).writes
    return [s.name for s in STEPS if s.name != name and any(_overlap(a, b) for a in mine for b in s.writes)]


def first_stale(records: Mapping[str, object], prov: Mapping[str, str], build_dir: Union[str, Path],
                wanted: int) -> Tuple[int, str]:
    """The rerun rule. Resuming at step ``wanted``, the first step that must run (and why, or "").

    A step reruns when an input it ``depends`` on changed, when a file its row ``writes`` changed or
    went missing since it wrote it, or when an earlier step reruns. ``records`` maps step names to
    their ``StepRecord`` (``inputs``, ``files``)."""
    from ..errors import HwsqueezeError

    for i, s in enumerate(STEPS[:wanted]):
        rec = records.get(s.name)
        if rec is None:
            raise HwsqueezeError(f"cannot resume from '{STEPS[wanted].name}': step '{s.name}' never finished "
                                 "in the earlier build; rerun without --from-step")
        changed = [k for k in s.depends if rec.inputs.get(k) != prov[k]]
        if changed:
            k = changed[0]
            return i, f"{k} changed since the earlier build (was '{rec.inputs.get(k)}', now '{prov[k]}')"
        now = written(build_dir, s.name)
        touched = [w for w, h in (rec.files or {}).items() if now.get(w) != h]
        if touched:
            return i, f"{touched[0]} changed or went missing after step '{s.name}' wrote it"
    return wanted, ""


def remove_stale(build_dir: Union[str, Path], stale: List[str]) -> Tuple[List[str], List[str]]:
    """Remove the files of the steps named in ``stale`` — steps that had finished in the earlier
    build, whose records a rerun dropped and that did not run again (``--stop-step`` came first) —
    so nothing stale looks current. A ``keep_stale`` step's files stay (a bitstream costs hours;
    the deploy step replaces the package whole and carries a bitstream over, or into
    ``bitfile/stale/`` when the design changed), and so does anything inside them. Returns
    (removed, kept) paths, relative to ``build_dir``."""
    import shutil

    root = Path(build_dir)
    kept = [w for n in stale if step(n).keep_stale for w in step(n).writes if (root / w.rstrip("/")).exists()]
    removed: List[str] = []

    def rm(rel: str) -> None:
        path = root / rel.rstrip("/")
        if not path.exists() or any(_inside(rel, k) for k in kept):
            return  # absent, or inside something kept
        inner = [k for k in kept if _inside(k, rel)]
        if not inner:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed.append(rel)
            return
        for child in sorted(path.iterdir()):  # a folder with kept files inside: everything else goes
            rm(f"{rel}{child.name}{'/' if child.is_dir() else ''}")

    for n in stale:
        if not step(n).keep_stale:
            for w in step(n).writes:
                rm(w)
    return removed, kept
