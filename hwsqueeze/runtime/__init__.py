"""Board runtime: the accelerator via PYNQ, and the register-level emulated board (numpy only)."""
from .accelerator import Accelerator, board_available

__all__ = ["Accelerator", "board_available"]
