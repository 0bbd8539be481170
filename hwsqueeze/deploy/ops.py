"""The HW ops a package's ``reference/graph.json`` may contain: the one list every side reads.

Each :class:`HwOp` is one node ``op`` (FINN+'s node type without its ``_hls``/``_rtl`` suffix) and
what each side needs to know about it:

* the build (``compile/to_reference.py``) writes a node only for a FINN+ node type of :data:`NODE_TYPES`
  (``<op>_<backend>`` for each of ``backends``: what FINN+ 1.6's SpecializeLayers picks for our builds,
  ``FireExpand_hls`` being the project's own layer), its inputs at the indices of ``arrays`` as integer
  arrays (``weights.npz`` key ``<node>/<name>``), the others as streams;
* the reader (``graph.py``, ``shapes.py``) refuses any other op or node type, and a node with other
  than ``stream_inputs`` inputs (None: one or more) or, unless ``fork``, more than one output;
* the reference (``reference/engine.py``) and the emulated board (``runtime/hwmodel.py``) each compute
  every op; the emulated board reads an op with ``sources`` from the files code generation wrote
  (``hw/<node>/``), the others from the graph's attributes alone;
* ``hwsqueeze simulate`` runs a node in the simulator of its backend (:data:`SIMULATORS`).

``tests/test_op_registry.py`` fails when a side lacks an op of this list or knows one outside it.
Not here (FINN+ has them, our builds never write them into the package): ``VVAU`` (no depthwise
convolution in SqueezeNet), ``StreamingDataWidthConverter`` and ``StreamingFIFO`` (FINN+ inserts them
while stitching, after the package is written). numpy-free; Python 3.8.
"""
from typing import Dict, NamedTuple, Optional, Tuple

from ..errors import HwsqueezeError

__all__ = ["HwOp", "OPS", "NODE_TYPES", "SIMULATORS", "op_of_node_type"]

SIMULATORS = {"hls": "cppsim", "rtl": "verilator"}  # backend -> what `hwsqueeze simulate` runs it in


class HwOp(NamedTuple):
    name: str
    backends: Tuple[str, ...]  # FINN+ node types "<name>_<backend>" the build writes
    stream_inputs: Optional[int] = 1  # None: one or more
    arrays: Tuple[Tuple[int, str], ...] = ()  # (FINN node input index, array name)
    fork: bool = False  # one or more outputs
    sources: bool = False  # the emulated board computes it from hw/<node>/


_WEIGHTS = ((1, "weights"), (2, "thresholds"))
_ALL = (
    HwOp("MVAU", ("hls", "rtl"), arrays=_WEIGHTS, sources=True),
    HwOp("FireExpand", ("hls",), arrays=((1, "weights1"), (2, "thresholds1"), (3, "weights3"), (4, "thresholds3")),
         sources=True),
    HwOp("Thresholding", ("rtl",), arrays=((1, "thresholds"),), sources=True),
    HwOp("FMPadding", ("rtl",)),
    HwOp("ConvolutionInputGenerator", ("rtl",)),
    HwOp("Pool", ("hls",)),
    HwOp("DuplicateStreams", ("hls",), fork=True),
    HwOp("StreamingConcat", ("hls",), stream_inputs=None),
    HwOp("ElementwiseAdd", ("hls",), stream_inputs=2),  # the simple bypass (models' bypass=True)
    HwOp("GlobalAccPool", ("hls",)),
)
OPS: Dict[str, HwOp] = {op.name: op for op in _ALL}
NODE_TYPES: Dict[str, HwOp] = {f"{op.name}_{b}": op for op in _ALL for b in op.backends}


def op_of_node_type(node_type: str, where: str) -> HwOp:
    """The op of FINN+ node type ``node_type`` (e.g. ``MVAU_rtl``), else one line naming ``where``."""
    op = NODE_TYPES.get(node_type)
    if op is None:
        raise HwsqueezeError(f"{where}: node type {node_type[:60]!r} is not a HW layer a deploy package can hold "
                             f"(hwsqueeze/deploy/ops.py: {', '.join(sorted(NODE_TYPES))})")
    return op
