"""Bit-exact numpy reference of the accelerator (board side: numpy only, Python 3.8+)."""
from .engine import Reference

__all__ = ["Reference"]
