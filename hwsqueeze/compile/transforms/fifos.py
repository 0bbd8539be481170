"""Fork/join FIFO depths for Fire modules, from the branch latency difference (issue 10).

A Fire module in hardware is ``DuplicateStreams -> {1x1 MVAU || FMPadding -> SWG -> 3x3 MVAU}
-> StreamingConcat``. DuplicateStreams writes both outputs in lock-step and blocks when either
is full; StreamingConcat takes a pixel's words from the 1x1 branch, then the same pixel's words
from the 3x3 branch. The 3x3 branch cannot emit output pixel ``q = (y, x)`` before its sliding
window generator holds input pixel ``(y + K-1-pad_top, x + K-1-pad_left)``; until then every
pixel the fork pushes also enters the 1x1 branch, which must hold them or the fork stops and the
accelerator deadlocks. With stride 1 that lag is the same for every ``q`` away from the borders:

    lag_pixels = (K - 1 - pad_top) * W + (K - 1 - pad_left)          (W: unpadded image width)

(3x3, pad 1: ``W + 1`` pixels; the first window needs ``W + 2`` pixels = (K-1) padded rows + K
padded pixels minus the padding.) The rule sizes ONE FIFO on the 1x1 branch to hold that lag
plus slack, in stream words:

    depth = (lag_pixels + SLACK_PIXELS) * words_per_pixel + SLACK_WORDS

where ``words_per_pixel`` is the folded word count of the stream the FIFO sits on. It is placed
where a pixel costs fewer bits: after the fork (squeeze channels, ``DuplicateStreams``
``outFIFODepths``) or before the join (1x1 expand channels, ``StreamingConcat`` ``inFIFODepths``);
in SqueezeNet the fork side is 4x narrower per pixel. The slack is not needed for correctness
(tests/compile/test_fifos.py simulates every Fire module word by word and finds the smallest
deadlock-free depth below the rule); it keeps the 1x1 branch from stalling the fork while the
3x3 branch's MVAU is still busy with the previous pixel. The other buffers on the branch (MVAU
input buffer, width converters, HLS stream registers) are not counted: the rule holds without
them.

FINN's ``InsertFIFO`` turns these attributes into StreamingFIFO nodes (``max`` of the producer's
``outFIFODepths`` and the consumer's ``inFIFODepths``). FINN's own simulation-based sizing, when
it runs, replaces them; without a simulator, ``force_minimal_fifos`` keeps them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

__all__ = ["SLACK_PIXELS", "SLACK_WORDS", "lag_pixels", "rule_depth", "ForkJoin", "find_fork_joins",
           "SetForkJoinFIFODepths"]

SLACK_PIXELS = 1  # one more pixel than the lag: the 3x3 MVAU may still be computing pixel q-1
SLACK_WORDS = 2  # the fork's and the FIFO's own output registers


def lag_pixels(k: int, pad_top: int, pad_left: int, width: int, height: int, stride: int = 1) -> int:
    """Input pixels the 3x3 branch must consume beyond the 1x1 branch before it emits a pixel.

    Stride 1 (every Fire module): ``(k-1-pad_top) * width + (k-1-pad_left)``, at least 0. Any
    other stride falls back to a whole frame (always safe, never used by SqueezeNet)."""
    if stride != 1:
        return width * height
    return max(0, (k - 1 - pad_top) * width + (k - 1 - pad_left))


def rule_depth(lag: int, words_per_pixel: int) -> int:
    """FIFO depth in stream words for a lag of ``lag`` pixels on a stream of ``words_per_pixel``."""
    return (lag + SLACK_PIXELS) * words_per_pixel + SLACK_WORDS


@dataclass
class ForkJoin:
    """One Fire module's fork/join and where its balancing FIFO goes."""

    fork: str  # DuplicateStreams node
    join: str  # StreamingConcat node
    window: str  # ConvolutionInputGenerator node on the 3x3 branch
    fork_out: int  # fork output index feeding the 1x1 branch
    join_in: int  # join input index fed by the 1x1 branch
    lag: int  # pixels
    place: str  # "fork" (DuplicateStreams outFIFODepths) or "join" (StreamingConcat inFIFODepths)
    depth: int  # words of the stream at ``place``
    width: int  # bits per word of that stream


def _chain_to_fork(model: ModelWrapper, tensor: str, max_hops: int = 8) -> Tuple[Optional[object], List]:
    """Walk producers from ``tensor`` back to a DuplicateStreams; returns (fork, nodes passed)."""
    passed = []
    node = model.find_producer(tensor)
    while node is not None and len(passed) < max_hops:
        if node.op_type.startswith("DuplicateStreams"):
            return node, passed
        passed.append(node)
        node = model.find_producer(node.input[0])
    return None, passed


def _words(shape) -> int:
    n = 1
    for d in shape[:-1]:
        n *= int(d)
    return n


def find_fork_joins(model: ModelWrapper) -> List[ForkJoin]:
    """Every two-branch fork/join whose one branch has a sliding window, with its rule depth."""
    from qonnx.custom_op.registry import getCustomOp

    found = []
    for join in model.graph.node:
        if not join.op_type.startswith("StreamingConcat") or len(join.input) != 2:
            continue
        chains = [_chain_to_fork(model, t) for t in join.input]
        if chains[0][0] is None or chains[1][0] is None or chains[0][0].name != chains[1][0].name:
            continue
        windows = [[n for n in nodes if n.op_type.startswith("ConvolutionInputGenerator")] for _, nodes in chains]
        if sum(bool(w) for w in windows) != 1:
            continue
        direct = 0 if not windows[0] else 1
        fork = chains[0][0]
        swg_node = windows[1 - direct][0]
        swg = getCustomOp(swg_node)
        pads = [0, 0, 0, 0]
        pad_node = next((n for n in chains[1 - direct][1] if n.op_type.startswith("FMPadding")), None)
        if pad_node is not None:
            pads = list(getCustomOp(pad_node).get_nodeattr("Padding"))
        k = int(swg.get_nodeattr("ConvKernelDim")[0])
        stride = int(swg.get_nodeattr("Stride")[0])
        h_pad, w_pad = (int(d) for d in swg.get_nodeattr("IFMDim"))
        height, width = h_pad - pads[0] - pads[2], w_pad - pads[1] - pads[3]
        lag = lag_pixels(k, pads[0], pads[1], width, height, stride)
        pixels = height * width
        # The branch's first node after the fork reads fork output ``fork_out``.
        first = chains[direct][1][-1] if chains[direct][1] else join
        fork_out = list(fork.output).index(first.input[0])
        f_op, j_op = getCustomOp(fork), getCustomOp(join)
        options = []
        for place, op, shape, width_bits in (
                ("fork", f_op, f_op.get_folded_output_shape(fork_out), f_op.get_outstream_width(fork_out)),
                ("join", j_op, j_op.get_folded_input_shape(direct), j_op.get_instream_width(direct))):
            wpp = max(1, _words(shape) // max(1, pixels))
            depth = rule_depth(lag, wpp)
            options.append((depth * int(width_bits), place, depth, int(width_bits)))
        _, place, depth, width_bits = min(options)  # fewer bits; ties keep the fork side
        found.append(ForkJoin(fork=fork.name, join=join.name, window=swg_node.name, fork_out=fork_out,
                              join_in=direct, lag=lag, place=place, depth=depth, width=width_bits))
    return found


def _raise_entry(op, attr: str, n: int, index: int, depth: int) -> bool:
    # InsertFIFO reads entry min(i, len-1): a one-entry list would size EVERY output/input, so
    # the list is expanded to one entry per stream before the chosen one is raised.
    cur = list(op.get_nodeattr(attr))
    vals = [int(cur[min(i, len(cur) - 1)]) if cur else 2 for i in range(n)]
    new = vals.copy()
    new[index] = max(vals[index], depth)
    if new != cur:
        op.set_nodeattr(attr, new)
        return True
    return False


class SetForkJoinFIFODepths(Transformation):
    """Set the Fire fork/join FIFO depth of every module by the documented rule (module docstring).

    Raises, never lowers, an existing depth, so it is a fixed point after one application and
    leaves depths from FINN's sizing or a user's config alone when they are larger."""

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        from qonnx.custom_op.registry import getCustomOp

        changed = False
        for fj in find_fork_joins(model):
            if fj.place == "fork":
                op = getCustomOp(model.get_node_from_name(fj.fork))
                changed |= _raise_entry(op, "outFIFODepths", int(op.get_num_output_streams()), fj.fork_out, fj.depth)
            else:
                op = getCustomOp(model.get_node_from_name(fj.join))
                changed |= _raise_entry(op, "inFIFODepths", int(op.get_n_inputs()), fj.join_in, fj.depth)
        return model, changed
