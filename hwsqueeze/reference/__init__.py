"""Bit-exact numpy reference of the accelerator (board side: numpy only, Python 3.8+)."""
from .engine import FORMAT, Reference, dtype_range, load_graph

__all__ = ["Reference", "load_graph", "dtype_range", "FORMAT"]
