"""The build as data: FINN-builder-style ordered steps, what each depends on, writes and is checked against.

Every step is ``run(ctx, model) -> model``; the runner (:mod:`.runner`) saves its model as
``intermediate/NN_<name>.onnx``, verifies it when ``check`` says so (:mod:`.verify`) and records
its provenance: the fingerprints of the inputs named in ``depends`` (see ``config.provenance``)
and the hash of the file it wrote. ``--from-step`` resumes only where those still hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

from .config import DESIGN_KEYS
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

__all__ = ["Step", "STEPS", "ESTIMATE_LAST", "intermediate_path", "step_names", "step_index"]


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable
    depends: Tuple[str, ...]  # provenance keys whose change makes this step's output stale
    check: Optional[str] = None  # verify the output against "export" or "streamline" logits
    writes: Tuple[str, ...] = ()  # files besides intermediate/NN_<name>.onnx
    needs_tools: bool = False  # vitis_hls + vivado
    sets: Tuple[str, ...] = ()  # BuildState fields this step decides (reset when it reruns)

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0]


_SOURCE = ("source", "versions", "verify_n")  # the model, the tool versions, the verification images
_MAPPING = _SOURCE + ("mapping",)  # + how layers map to FINN HW layers (standalone thresholds or not)
_BOARD = _MAPPING + ("board",)
_FOLD = DESIGN_KEYS  # = _BOARD + ("folding",)

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
    Step("estimates", step_estimates, _FOLD, writes=("estimates.json", "estimates.md", "estimates.png", "report/"),
         sets=("estimate", "resources")),
    Step("hw_codegen", step_hw_codegen, _FOLD + ("finn_deps",), writes=("hw/",)),
    Step("deploy", step_deploy, _FOLD + ("samples",), writes=("deploy/",)),
    Step("hw_ipgen", step_hw_ipgen, _FOLD, needs_tools=True),
    Step("fifo_depths", step_fifo_depths, _FOLD, needs_tools=True),
    Step("bitfile", step_bitfile, _FOLD, writes=("deploy/bitfile/", "report/post_route_timing.rpt",
                                                 "report/post_synth_report.xml", "report/resources.json"),
         needs_tools=True, sets=("timing",)),
]
ESTIMATE_LAST = "estimates"  # --estimate-only stops after this step


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
