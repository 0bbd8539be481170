"""Progress of a long run: images/s, ETA of the whole run and the running accuracy.

A tqdm bar when attached to a terminal (``progress``); otherwise (``--quiet``, logs, batch jobs)
one log line every ``every`` seconds. Only the main process reports.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

__all__ = ["Progress", "fmt_duration"]


def fmt_duration(s: float) -> str:
    """``1h02m``, ``3m05s``, ``42s``."""
    s = int(max(0.0, s))
    h, m = divmod(s // 60, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s % 60:02d}s" if m else f"{s}s"


class Progress:
    """Counts steps of ``epochs`` epochs of ``steps`` steps from ``first_epoch``; ``world``
    processes each see the images this one sees (for the run's img/s)."""

    def __init__(self, steps: int, epochs: int, first_epoch: int, bar: bool,
                 log: Optional[Callable[[str], None]], every: float = 60.0, world: int = 1) -> None:
        self.steps, self.epochs, self.world, self.every, self.log = steps, epochs, world, every, log
        self.left = (epochs - first_epoch) * steps  # steps still to run in this process
        self.use_bar = bar and log is not None
        self.t_run = time.time()
        self.done = 0
        self._bar = None

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.t0, self.t_last = epoch, time.time(), time.time()
        self.seen = self.correct = self.k = 0
        self.loss_sum = 0.0
        if self.use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                             mininterval=1.0, dynamic_ncols=True)

    def eta(self) -> float:
        """Seconds left for the whole run at this run's pace so far (evaluation included)."""
        return (time.time() - self.t_run) / max(1, self.done) * (self.left - self.done)

    def step(self, n: int, loss_sum: float, correct: int) -> None:
        self.done += 1
        self.k += 1
        self.seen += n
        self.correct += correct
        self.loss_sum += loss_sum
        now = time.time()
        ips = self.seen * self.world / max(now - self.t0, 1e-9)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{self.loss_sum / self.seen:.3f}", acc=f"{self.correct / self.seen:.3f}",
                                  ips=f"{ips:.0f}", eta=fmt_duration(self.eta()), refresh=False)
            self._bar.update(1)
        elif self.log is not None and now - self.t_last >= self.every:
            self.t_last = now
            self.log(f"epoch {self.epoch + 1}/{self.epochs} step {self.k}/{self.steps}: "
                     f"loss {self.loss_sum / self.seen:.3f} acc {self.correct / self.seen:.4f} "
                     f"{ips:.0f} img/s, ETA {fmt_duration(self.eta())}")

    def end_epoch(self) -> float:
        """Seconds this epoch's training steps took."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        return time.time() - self.t0
