"""A word-level model of one Fire module's fork/join, to check FIFO depths for deadlock.

Independent of ``hwsqueeze.compile.transforms.fifos`` (it never imports it): each block moves
stream words as the hardware does, and only the FIFO capacities come from outside.

* DuplicateStreams (HLS): one word in, the same word to both outputs in the same step
  (lock-step); blocks while either output is full.
* 1x1 MVAU (HLS ``Matrix_Vector_Activate_Batch``): reads a pixel's input words (during the first
  neuron fold), then writes MH/PE output words; the next pixel is read only after that.
* FMPadding: per padded pixel, either reads the pixel's words and writes them, or writes zeros.
* ConvolutionInputGenerator_rtl (``swg_template_default.sv``): a circular buffer of
  ``((K-1)*W + K) * C/SIMD`` elements; it reads element ``n`` only while
  ``n - BUF < min(First_elem_next_window, Current_elem)`` and fetches window element ``e`` only
  once ``e`` was read, in the RTL's order (rows, columns, kernel rows, kernel columns, channel
  folds), into a one-word output register.
* 3x3 MVAU: reads K*K*C/SIMD words per pixel, then writes MH/PE words.
* StreamingConcat (HLS): per pixel, all of input 0's words, then all of input 1's.

A stream without a FIFO has room for ONE word (an AXI register); more room never creates a
deadlock, so this is the pessimistic case. Blocks move words in order; only counts matter.
``run`` executes frames until every block finished (True) or no block can move (deadlock).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple


@dataclass(frozen=True)
class FireGeometry:
    height: int
    width: int  # unpadded image width (both branches' output width)
    k: int
    pads: Tuple[int, int, int, int]  # top, left, bottom, right
    fork_wpp: int  # words per pixel of the fork's streams
    e1_out_wpp: int  # 1x1 MVAU output words per pixel (concat input 0)
    swg_cf: int  # SWG channel folds per pixel (IFMChannels / SIMD)
    e3_out_wpp: int  # 3x3 MVAU output words per pixel (concat input 1)


class _Chan:
    __slots__ = ("occ", "cap")

    def __init__(self, cap: Optional[int]) -> None:
        self.occ, self.cap = 0, cap

    def free(self) -> int:
        return 1 << 60 if self.cap is None else self.cap - self.occ


def _ops_process(chans: Dict[str, _Chan], ops: Iterator[tuple]):
    """A sequential block: ops are ("r", chan, n) or ("w", (chans...), n) moved word by word
    (a multi-channel write moves a word into all of them at once: lock-step)."""
    cur: Optional[list] = None

    def step() -> Tuple[bool, bool]:  # (moved anything, finished)
        nonlocal cur
        moved = False
        while True:
            if cur is None:
                nxt = next(ops, None)
                if nxt is None:
                    return moved, True
                cur = list(nxt)
            kind, names, left = cur
            if kind == "r":
                n = min(left, chans[names].occ)
                chans[names].occ -= n
            else:
                n = min([left] + [chans[c].free() for c in names])
                for c in names:
                    chans[c].occ += n
            cur[2] -= n
            moved |= n > 0
            if cur[2] > 0:
                return moved, False
            cur = None
    return step


def _swg_process(chans: Dict[str, _Chan], g: FireGeometry, frames: int, src: str, dst: str):
    k, cf = g.k, g.swg_cf
    wp, hp = g.width + g.pads[1] + g.pads[3], g.height + g.pads[0] + g.pads[2]
    oh, ow = hp - k + 1, wp - k + 1
    buf = ((k - 1) * wp + k) * cf
    per_window = k * k * cf
    total_in, total_out = hp * wp * cf, oh * ow * per_window

    # the RTL's fetch order: output rows, columns, kernel rows, kernel columns, channel folds
    elems = [((y + ky) * wp + x + kx) * cf + c for y in range(oh) for x in range(ow)
             for ky in range(k) for kx in range(k) for c in range(cf)]
    elems.append(total_in)  # sentinel: nothing left to fetch

    def first(win: int) -> int:
        y, x = divmod(win, ow)
        return (y * wp + x) * cf

    state = {"frame": 0, "nread": 0, "j": 0, "fenw": 0}

    def step() -> Tuple[bool, bool]:
        s, cin, cout = state, chans[src], chans[dst]
        moved = False
        while s["frame"] < frames:
            j0, n0 = s["j"], s["nread"]
            j, nread, fenw = s["j"], s["nread"], s["fenw"]
            room = cout.free()
            while room > 0 and elems[j] < nread:  # fetch: element already buffered (sentinel stops)
                if j % per_window == 0:
                    win = j // per_window
                    fenw = first(win + 1) if win + 1 < oh * ow else first(win) + buf - 1
                j += 1
                room -= 1
            cout.occ += j - s["j"]
            # read: element n only while n - BUF < min(First_elem_next_window, Current_elem)
            n = max(0, min(cin.occ, total_in - nread, min(fenw, elems[j]) + buf - nread))
            cin.occ -= n
            nread += n
            s.update(j=j, nread=nread, fenw=fenw)
            if j == total_out and nread == total_in:  # frame done: the RTL resets
                s.update(frame=s["frame"] + 1, nread=0, j=0, fenw=0)
            elif (j, nread) == (j0, n0):
                return moved, False
            moved = True
        return moved, True
    return step


def run(g: FireGeometry, fork_fifo: int = 0, join_fifo: int = 0, frames: int = 2) -> bool:
    """Simulate ``frames`` frames; True if everything drained, False on deadlock.

    ``fork_fifo``/``join_fifo``: extra FIFO words after the fork's 1x1 output / before the
    concat's 1x1 input, counted without the stream register (0: none, the register only)."""
    caps = {"in": 1, "f0": max(1, fork_fifo), "f1": 1, "e1": max(1, join_fifo), "pad": 1, "win": 1, "e3": 1}
    chans = {name: _Chan(cap) for name, cap in caps.items()}
    pixels = g.height * g.width
    hp, wp = g.height + g.pads[0] + g.pads[2], g.width + g.pads[1] + g.pads[3]

    def source():
        for _ in range(frames):
            yield ("w", ("in",), pixels * g.fork_wpp)

    def fork():
        for _ in range(frames * pixels * g.fork_wpp):
            yield ("r", "in", 1)
            yield ("w", ("f0", "f1"), 1)

    def mvau(src, dst, n_in, n_out):
        for _ in range(frames * pixels):
            yield ("r", src, n_in)
            yield ("w", (dst,), n_out)

    def padding():
        for _ in range(frames):
            for y in range(hp):
                for x in range(wp):
                    real = g.pads[0] <= y < hp - g.pads[2] and g.pads[1] <= x < wp - g.pads[3]
                    if real:
                        yield ("r", "f1", g.fork_wpp)
                    yield ("w", ("pad",), g.swg_cf)

    def concat():
        for _ in range(frames * pixels):
            yield ("r", "e1", g.e1_out_wpp)
            yield ("r", "e3", g.e3_out_wpp)

    blocks: List = [_ops_process(chans, source()), _ops_process(chans, fork()),
                    _ops_process(chans, mvau("f0", "e1", g.fork_wpp, g.e1_out_wpp)),
                    _ops_process(chans, padding()), _swg_process(chans, g, frames, "pad", "win"),
                    _ops_process(chans, mvau("win", "e3", g.k * g.k * g.swg_cf, g.e3_out_wpp)),
                    _ops_process(chans, concat())]
    done = [False] * len(blocks)
    while not all(done):
        any_moved = False
        for i, blk in enumerate(blocks):
            if not done[i]:
                moved, done[i] = blk()
                any_moved |= moved
        if not any_moved and not all(done):
            return False
    return True


def min_depth(g: FireGeometry, place: str, hi: int) -> int:
    """Smallest FIFO depth (words) at ``place`` ("fork" or "join") that does not deadlock,
    by bisection below ``hi`` (which must not deadlock)."""
    def ok(d: int) -> bool:
        return run(g, fork_fifo=d) if place == "fork" else run(g, join_fifo=d)

    assert ok(hi), f"{g}: depth {hi} at the {place} deadlocks"
    lo = 0
    if ok(lo):
        return 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi
