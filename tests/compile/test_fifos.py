"""Issue 10: the Fire fork/join FIFO rule against a word-level model of the hardware.

``forkjoin_sim`` (tests/) moves stream words through DuplicateStreams, the MVAUs,
FMPadding, the RTL sliding window generator (its real read/fetch conditions) and
StreamingConcat with bounded FIFOs, and never imports the rule. For every Fire module of the
shipped model's geometry and of the tiny model: the rule's depth drains two frames, and a depth
three pixels short of the lag deadlocks (so the tests can fail). The pass itself is checked on the
real FINN graph: FINN's own InsertFIFO must create the FIFO where the pass put the depth.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from forkjoin_graph import check_graph
from forkjoin_sim import FireGeometry, min_depth, run

from hwsqueeze.compile.transforms.fifos import SLACK_PIXELS, SLACK_WORDS, lag_pixels, rule_depth

ROOT = Path(__file__).resolve().parents[2]


def _fire_geometries(name: str):
    """(fire index, H=W, squeeze, e1, e3) of every Fire module of a registered CIFAR model."""
    from hwsqueeze.models.registry import ARCHS

    arch = ARCHS[name]
    size, out, idx = arch.input_size // arch.stem_stride, [], 2
    for item in arch.body:
        if item == "pool":
            size //= arch.pool_stride  # CIFAR pools are exact 2x2/2
        else:
            out.append((idx, size, *item))
            idx += 1
    return out


def _geometry(size, sq, e1, e3, fold) -> FireGeometry:
    # fold=1: one channel per word everywhere (PE=SIMD=1, most words per pixel);
    # fold=0: a whole pixel per word (fully parallel streams).
    def wpp(ch):
        return ch if fold else 1
    return FireGeometry(height=size, width=size, k=3, pads=(1, 1, 1, 1), fork_wpp=wpp(sq), e1_out_wpp=wpp(e1),
                        swg_cf=wpp(sq), e3_out_wpp=wpp(e3))


def test_rule_by_hand():
    # 3x3, pad 1, 16 px wide: window (y, x) needs input pixel (y+1, x+1): 16 + 1 pixels ahead.
    assert lag_pixels(3, 1, 1, 16, 16) == 17
    assert lag_pixels(1, 0, 0, 16, 16) == 0  # no window, no lag
    assert lag_pixels(3, 0, 0, 8, 8) == 2 * 8 + 2  # valid 3x3: two rows and two pixels
    assert rule_depth(17, 16) == (17 + 1) * 16 + 2 == 290
    assert SLACK_PIXELS >= 0 and SLACK_WORDS >= 0


SHIPPED = _fire_geometries("squeezenet1_1-cifar10")
TINY = _fire_geometries("squeezenet-tiny-cifar10")


@pytest.mark.parametrize("fold", [1, 0], ids=["PE1", "parallel"])
@pytest.mark.parametrize("model,fire", [("shipped", f) for f in SHIPPED] + [("tiny", f) for f in TINY],
                         ids=lambda v: f"fire{v[0]}" if isinstance(v, tuple) else v)
def test_rule_depth_drains_and_a_shallower_fifo_deadlocks(model, fire, fold):
    _, size, sq, e1, e3 = fire
    g = _geometry(size, sq, e1, e3, fold)
    lag = lag_pixels(3, 1, 1, size, size)
    for place, wpp in (("fork", g.fork_wpp), ("join", g.e1_out_wpp)):
        kw = "fork_fifo" if place == "fork" else "join_fifo"
        assert run(g, **{kw: rule_depth(lag, wpp)}), f"rule depth deadlocks at the {place}"
        # The rest of the branch holds at most two pixels (the 1x1 MVAU's input pixel, one-word
        # stream registers): three pixels less than the lag must deadlock.
        assert not run(g, **{kw: (lag - 3) * wpp}), f"{place}: a FIFO well below the rule did not deadlock"


def test_smallest_safe_depth_is_below_the_rule_on_fire2():
    """Bisection over the model: the rule leaves slack but not much (fire2, one word per pixel:
    the 1x1 MVAU and the one-word stream register each hold a pixel, so lag - 2 suffices)."""
    _, size, sq, e1, e3 = SHIPPED[0]
    g = _geometry(size, sq, e1, e3, 0)
    lag = lag_pixels(3, 1, 1, size, size)
    rule = rule_depth(lag, g.fork_wpp)
    assert min_depth(g, "fork", rule) == lag - 2 < rule == lag + 1 + 2


def _current_build() -> str:
    """Why build/pynq-z2 cannot be used, or "" when it was built from this checkout's sources."""
    import json

    from hwsqueeze.compile.finn_env import versions

    state = ROOT / "build" / "pynq-z2" / "build_state.json"
    if not state.is_file():
        return "no build/pynq-z2 (make build BOARD=pynq-z2 makes it; CI does before make test)"
    built = json.loads(state.read_text()).get("versions", {}).get("hwsqueeze-source")
    if built != versions().get("hwsqueeze-source"):
        return "build/pynq-z2 was built from other sources than this checkout's (rebuild it)"
    return ""


@pytest.mark.skipif(bool(_current_build()), reason=_current_build() or "-")
def test_pass_on_the_shipped_build():
    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.pipeline import intermediate_path

    path = intermediate_path(ROOT / "build" / "pynq-z2", "minimize_bit_width")
    check_graph(ModelWrapper(str(path)), len(SHIPPED))
