"""The deploy package format — the one contract between the build and the board.

Its only owner: file layout and ``deploy.json`` (:mod:`.package`), the reference graph files
(:mod:`.graph`), the bitstream record and package README (:mod:`.bitstream`), datatype names (:mod:`.datatypes`), DMA bit packing (:mod:`.packing`),
FINN's driver settings ``driver/settings.json`` (:mod:`.finn_settings`) and the IODMA register map (:mod:`.iodma`). The build writes packages through it; the runtime, the
emulated board, the reference engine, ``verify``, notebooks and tests read them through it.
numpy only, Python 3.8+: it ships to the board inside every package.
"""
from .datatypes import dtype_bits, dtype_range
from .graph import GRAPH_FORMAT, check_images, read_graph, write_graph
from .bitstream import set_bitfile
from .package import FORMAT, DeployMeta, StreamSpec, read_json, read_meta, write_meta
from .packing import pack, packed_width, unpack

__all__ = ["FORMAT", "GRAPH_FORMAT", "DeployMeta", "StreamSpec", "read_meta", "write_meta", "set_bitfile",
           "read_graph", "write_graph", "read_json", "check_images", "dtype_range", "dtype_bits", "pack", "unpack",
           "packed_width"]
