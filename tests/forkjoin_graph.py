"""The Fire fork/join FIFO pass on a real folded HW graph, checked with FINN's own InsertFIFO and
the word-level model in ``forkjoin_sim`` (used by tests/compile/test_fifos.py and
test_estimates.py, which hold the graphs)."""
from __future__ import annotations

from forkjoin_sim import FireGeometry, run

from hwsqueeze.compile.transforms.fifos import lag_pixels


def _fork_join_geometry(model, fj) -> FireGeometry:
    """The model's geometry read from FINN's own nodes (not from the rule's bookkeeping)."""
    from qonnx.custom_op.registry import getCustomOp

    fork, join, swg = (getCustomOp(model.get_node_from_name(n)) for n in (fj.fork, fj.join, fj.window))
    h, w = (int(d) - 2 for d in swg.get_nodeattr("IFMDim"))
    e1_shape = join.get_folded_input_shape(fj.join_in)
    e3_shape = join.get_folded_input_shape(1 - fj.join_in)
    fork_shape = fork.get_folded_output_shape(fj.fork_out)
    return FireGeometry(height=h, width=w, k=int(swg.get_nodeattr("ConvKernelDim")[0]), pads=(1, 1, 1, 1),
                        fork_wpp=int(fork_shape[-2]), e1_out_wpp=int(e1_shape[-2]),
                        swg_cf=int(swg.get_nodeattr("IFMChannels")) // int(swg.get_nodeattr("SIMD")),
                        e3_out_wpp=int(e3_shape[-2]))


def check_graph(model, n_fires: int) -> None:
    """The pass on a real folded HW graph: FINN's InsertDWC + InsertFIFO create a FIFO of the
    rule depth after each fork (or before each join), and that depth drains in the model."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.transforms.fifos import SetForkJoinFIFODepths, find_fork_joins

    fjs = find_fork_joins(model)
    assert len(fjs) == n_fires
    m2, changed = SetForkJoinFIFODepths().apply(model)
    assert changed and not SetForkJoinFIFODepths().apply(m2)[1]  # a fixed point after one application
    fifos = m2.transform(InsertDWC()).transform(InsertFIFO())  # FINN's default: only FIFOs deeper than 2
    for fj in fjs:
        g = _fork_join_geometry(model, fj)
        if fj.place == "fork":
            out = m2.get_node_from_name(fj.fork).output[fj.fork_out]
            node = fifos.find_consumer(out)
        else:
            node = fifos.find_producer(m2.get_node_from_name(fj.join).input[fj.join_in])
        assert node is not None and node.op_type == "StreamingFIFO", (fj, node)
        depth = int(getCustomOp(node).get_nodeattr("depth"))
        assert depth == fj.depth
        kw = "fork_fifo" if fj.place == "fork" else "join_fifo"
        assert run(g, **{kw: depth}), fj
        wpp = g.fork_wpp if fj.place == "fork" else g.e1_out_wpp
        assert not run(g, **{kw: (lag_pixels(3, 1, 1, g.width, g.height) - 3) * wpp}), fj
    others = [n for n in fifos.graph.node if n.op_type == "StreamingFIFO"]
    assert len(others) == n_fires  # the other fork output and every other stream keep FINN's default
