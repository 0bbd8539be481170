"""FINN+'s own PYNQ driver settings for the deploy package, made without Vivado.

``step_make_driver`` in FINN+'s builder runs ``MakePYNQDriver`` on the model that ``ZynqBuild``
returns. Here the Vivado-free part of ``ZynqBuild`` (IODMAs, width converters, floorplan,
partitions) runs on a copy of the graph, the DMA partitions get the instance names that
``MakeZYNQProject`` gives them in the block design (``idma0``, ``odma0``), and then FINN+'s own
``MakePYNQDriver`` writes ``settings.json`` (and ``runtime_weights/`` when a layer has any). So
finn-plus-driver reads the same file it would get from a FINN build, and ``deploy.json``'s I/O is
taken from that file: both drivers see one truth.
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Dict

from ..deploy.finn_settings import parse_finn_settings

__all__ = ["make_finn_driver", "io_from_settings", "DRIVER_TYPE"]

DRIVER_TYPE = "FINNDMAOverlay"  # what step_make_driver picks without instrumentation


def _partitioned(model, board, work_dir: Path):
    """The parent model ``ZynqBuild`` builds its kernels from, with the IODMA partitions named."""
    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from finn.transformation.fpgadataflow.floorplan import Floorplan
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_iodma import InsertIODMA
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.util.basic import pynq_native_port_width
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames

    m = ModelWrapper(copy.deepcopy(model.model))
    width = pynq_native_port_width.get(board.finn_board, 64)  # what ZynqBuild uses for this board
    for t in (InsertIODMA(width), InsertDWC(), SpecializeLayers(board.part), Floorplan(),
              CreateDataflowPartition(partition_model_dir=str(work_dir))):
        m = m.transform(t).transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    # MakeZYNQProject's naming (make_zynq_proj.py): in node order, a partition fed by no node is
    # idma<i>, one feeding no node odma<i>, any other keeps its node name.
    counts = {"idma": 0, "odma": 0}
    for node in m.get_nodes_by_op_type("StreamingDataflowPartition"):
        producer = m.find_producer(node.input[0]) if node.input else None
        kind = "idma" if producer is None else "odma" if not m.find_consumers(node.output[0]) else None
        name = node.name
        if kind:
            name, counts[kind] = f"{kind}{counts[kind]}", counts[kind] + 1
        getCustomOp(node).set_nodeattr("instance_name", name)
    return m


def make_finn_driver(model, board, work_dir: Path) -> Path:
    """Run FINN+'s ``MakePYNQDriver`` (platform zynq-iodma, ``FINNDMAOverlay``, the board's clock)
    on the partitioned copy of ``model``; returns the folder holding ``settings.json``."""
    from finn.transformation.fpgadataflow.make_driver import MakePYNQDriver

    m = _partitioned(model, board, work_dir)
    m = m.transform(MakePYNQDriver("zynq-iodma", DRIVER_TYPE, clk_period_ns=board.clk_ns))
    return Path(m.get_metadata_prop("pynq_driver_dir"))


def io_from_settings(driver_dir: Path) -> Dict[str, dict]:
    """deploy.json's ``input``/``output`` (without scale) from the ``settings.json`` that
    :func:`make_finn_driver` wrote, parsed by the deploy format's reader (one owner of its fields)."""
    path = Path(driver_dir) / "settings.json"
    s = parse_finn_settings(json.loads(path.read_text()), path)
    return {"input": asdict(s.input), "output": asdict(s.output)}
