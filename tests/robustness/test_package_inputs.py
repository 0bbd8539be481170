"""A deploy package is untrusted input (issue 23): hostile packages through the real CLI
(`hwsqueeze verify`, with and without --inject-fault) and the board command
(`python -m hwsqueeze.runtime`, run from inside the package as on a PYNQ board). Each is refused
with exit 2 and one ``error:`` line naming the file or field, no traceback, no hang, and a sentinel
folder outside the package (holding files a hostile name or link points at) is byte-identical
afterwards."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import pytest
from helpers import run_cli
from robustness._util import board_cmd, one_error

MVAU = "MVAU_hls_0"  # the first layer of every model the project builds


@pytest.fixture(scope="module")
def clean(built_deploy, tmp_path_factory) -> Path:
    """One copy of the built package (with its board-side code, without notebooks and board tests)."""
    d = tmp_path_factory.mktemp("clean") / "deploy"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("notebooks", "tests", "__pycache__"))
    return d


def _digest(root: Path) -> Dict[str, str]:
    """relative path -> sha256 (files) / 'dir' / 'link:<target>' of everything under ``root``."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _graph(pkg: Path) -> dict:
    return json.loads((pkg / "reference" / "graph.json").read_text())


def _set_graph(pkg: Path, g: dict) -> None:
    (pkg / "reference" / "graph.json").write_text(json.dumps(g))


def _node(g: dict, op: str) -> dict:
    return next(n for n in g["nodes"] if n["op"] == op)


def _rename_first_mvau(pkg: Path, new: str) -> None:
    g = _graph(pkg)
    _node(g, "MVAU")["name"] = new
    _set_graph(pkg, g)


def _edit(path: Path, fn: Callable[[dict], None]) -> None:
    obj = json.loads(path.read_text())
    fn(obj)
    path.write_text(json.dumps(obj))


def _npy_header_only(path: Path, shape, dtype="|u1") -> None:
    """An .npy whose header declares ``shape`` but holds (almost) no data."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, tuple(shape))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 16)


# Each case: (id, mutate(pkg, outside), words the error line must contain). ``outside`` is the
# sentinel folder beside the package; it holds a copy of the first MVAU's folder and a plain file.
def _abs_name(pkg, out):
    _rename_first_mvau(pkg, str(out / MVAU))


def _dotdot_name(pkg, out):
    _rename_first_mvau(pkg, f"../../{out.name}/{MVAU}")


def _link_layer_dir(pkg, out):
    shutil.rmtree(pkg / "hw" / MVAU)
    (pkg / "hw" / MVAU).symlink_to(out / MVAU)


def _link_memblock(pkg, out):
    (pkg / "hw" / MVAU / "memblock.dat").unlink()
    (pkg / "hw" / MVAU / "memblock.dat").symlink_to(out / MVAU / "memblock.dat")


def _link_hw(pkg, out):
    shutil.move(str(pkg / "hw"), str(out / "hw"))
    (pkg / "hw").symlink_to(out / "hw")


def _link_graph(pkg, out):
    shutil.copy(pkg / "reference" / "graph.json", out / "graph.json")
    (pkg / "reference" / "graph.json").unlink()
    (pkg / "reference" / "graph.json").symlink_to(out / "graph.json")


def _link_dev_zero(pkg, out):
    (pkg / "hw" / MVAU / "memblock.dat").unlink()
    (pkg / "hw" / MVAU / "memblock.dat").symlink_to("/dev/zero")


def _fifo_memblock(pkg, out):
    (pkg / "hw" / MVAU / "memblock.dat").unlink()
    os.mkfifo(pkg / "hw" / MVAU / "memblock.dat")  # reading it would block forever


def _dir_memblock(pkg, out):
    (pkg / "hw" / MVAU / "memblock.dat").unlink()
    (pkg / "hw" / MVAU / "memblock.dat").mkdir()


def _link_top_cpp(pkg, out):
    top = next((pkg / "hw" / MVAU).glob("top_*.cpp"))
    top.unlink()
    top.symlink_to(out / "secret.txt")


def _link_loop(pkg, out):
    shutil.rmtree(pkg / "hw" / MVAU)
    (pkg / "hw" / MVAU).symlink_to(MVAU)  # itself


def _set_attr(op, key, value):
    def mutate(pkg, out):
        g = _graph(pkg)
        _node(g, op)["attrs"][key] = value
        _set_graph(pkg, g)
    return mutate


def _nested_graph(pkg, out):
    (pkg / "reference" / "graph.json").write_text('{"format": "hwsqueeze-reference/1", "x": ' + "[" * 200_000
                                                 + "]" * 200_000 + "}")


def _weights(fn):
    def mutate(pkg, out):
        path = pkg / "reference" / "weights.npz"
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        fn(arrays)
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return mutate


def _npz_bomb(pkg, out):
    import zipfile

    path = pkg / "reference" / "weights.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    tmp = out.parent / "bomb.npy"
    _npy_header_only(tmp, (1 << 40,))
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in arrays.items():
            with zf.open(k + ".npy", "w") as f:
                np.save(f, v)
        zf.write(tmp, "bomb.npy")


def _object_npz(pkg, out):
    path = pkg / "reference" / "weights.npz"
    with open(path, "wb") as f:
        np.savez(f, x=np.array([{"a": 1}], dtype=object))  # a pickle inside


def _hw_text(name, data: bytes):
    def mutate(pkg, out):
        target = next((pkg / "hw" / MVAU).glob(name))
        target.write_bytes(data if not data.startswith(b"+") else target.read_bytes() + data[1:])
    return mutate


def _wide_word(pkg, out):
    """The first memory word 30 M hex digits wide: unpacked to bits, 120 MB for one word."""
    path = pkg / "hw" / MVAU / "memblock.dat"
    lines = path.read_text().split()
    path.write_text("\n".join(["f" * 30_000_000] + lines[1:]) + "\n")


def _huge_threshold(pkg, out):
    t = pkg / "hw" / MVAU / "thresh.h"
    text = t.read_text()
    i = text.index("{", text.index("="))
    j = i + next(k for k, c in enumerate(text[i:]) if c.isdigit() or c == "-")
    end = j + next(k for k, c in enumerate(text[j + 1:], 1) if not c.isdigit())
    t.write_text(text[:j] + "9" * 40 + text[end:])


def _sparse(rel, size):
    def mutate(pkg, out):
        with open(pkg / rel, "r+b") as f:
            f.truncate(size)
    return mutate


def _meta(fn):
    return lambda pkg, out: _edit(pkg / "deploy.json", fn)


def _huge_output(m):
    n = 1_000_000_000
    m["output"].update(shape_normal=[1, n], shape_folded=[1, 1, n], shape_packed=[1, 1, -(-n * 19 // 8)])
    m["classes"] = None


def _other_input(m):  # consistent in itself, not the graph's input
    m["input"].update(shape_normal=[1, 16, 16, 3], shape_folded=[1, 16, 16, 3, 1], shape_packed=[1, 16, 16, 3, 1])


def _samples(fn):
    def mutate(pkg, out):
        fn(pkg / "samples")
    return mutate


CASES = [
    # 1. names used as paths
    ("name-absolute", _abs_name, "field 'name' must be a plain file name"),
    ("name-dotdot", _dotdot_name, "field 'name' must be a plain file name"),
    ("name-dot", lambda p, o: _rename_first_mvau(p, ".."), "field 'name' must be a plain file name"),
    ("name-nul", lambda p, o: _rename_first_mvau(p, "MVAU\x00x"), "field 'name' must be a plain file name"),
    ("name-not-a-string", lambda p, o: _rename_first_mvau(p, ["a"]), "field 'name' must be a str"),
    ("name-duplicate", lambda p, o: _rename_first_mvau(p, _graph(p)["nodes"][0]["name"]), "used by an earlier node"),
    # 2. links
    ("link-layer-dir-out", _link_layer_dir, "leads outside the deploy package"),
    ("link-memblock-out", _link_memblock, "leads outside the deploy package"),
    ("link-hw-out", _link_hw, "leads outside the deploy package"),
    ("link-graph-out", _link_graph, "leads outside the deploy package"),
    ("link-dev-zero", _link_dev_zero, "leads outside the deploy package"),
    ("link-top-cpp-out", _link_top_cpp, "leads outside the deploy package"),
    ("link-loop", _link_loop, "unresolvable path"),
    # 3. corrupt per-layer files
    ("fifo-memblock", _fifo_memblock, "not a regular file"),
    ("dir-memblock", _dir_memblock, "is a folder"),
    ("memblock-not-utf8", _hw_text("memblock.dat", b"\xff\xfe\x00garbage"), "is not UTF-8 text"),
    ("top-cpp-not-utf8", _hw_text("top_*.cpp", b"+\xff\xfe"), "is not UTF-8 text"),
    ("thresh-40-digits", _huge_threshold, "outside [-2**62, 2**62]"),
    ("thresh-5000-digits", _hw_text("thresh.h", b"ThresholdsActivation<" + b"9" * 5000 + b",1,1,x,0,comp::"),
     "no ThresholdsActivation declaration"),
    ("thresh-unterminated-200000", _hw_text("thresh.h", b"ThresholdsActivation<1,1,1," * 200_000),
     "no ThresholdsActivation declaration"),  # was quadratic: each declaration searched to the end of the file
    ("memblock-one-wide-word", _wide_word, "wider than"),
    ("memblock-over-limit", _sparse("hw/MVAU_hls_0/memblock.dat", (64 << 20) + 1), "MiB limit"),
    # 4. graph.json and weights
    ("attr-wrong-type", _set_attr("ConvolutionInputGenerator", "ConvKernelDim", "abc"), "attrs.ConvKernelDim"),
    ("attr-bool", _set_attr("MVAU", "PE", True), "attrs.PE"),
    ("ofmdim-huge", _set_attr("ConvolutionInputGenerator", "OFMDim", [100000, 100000]), "attrs.OFMDim"),
    ("ofmdim-does-not-fit", _set_attr("ConvolutionInputGenerator", "OFMDim", [60000, 60000]), "does not fit"),
    ("padding-negative", _set_attr("FMPadding", "Padding", [-1, 0, 0, 0]), "attrs.Padding"),
    ("mw-mismatch", _set_attr("MVAU", "MW", 54), "array 'weights' has shape"),
    ("unknown-op", lambda p, o: _set_graph(p, {**_graph(p), "nodes": [{**_graph(p)["nodes"][0], "op": "Exec"}]
                                               + _graph(p)["nodes"][1:]}), "not supported by the board side"),
    ("out-shape-lies", lambda p, o: _set_graph(p, {**_graph(p), "nodes": [{**_graph(p)["nodes"][0],
                                                                           "out_shape": [1, 9, 9, 9]}]
                                               + _graph(p)["nodes"][1:]}), "field 'out_shape'"),
    ("graph-nested-200000", _nested_graph, "nested too deeply"),
    ("graph-over-limit", _sparse("reference/graph.json", (64 << 20) + 1), "MiB limit"),
    ("weights-wrong-shape", _weights(lambda a: a.update({f"{MVAU}/weights": a[f"{MVAU}/weights"][:, :1]})),
     "array 'weights' has shape"),
    ("weights-out-of-range", _weights(lambda a: a.update({f"{MVAU}/weights": a[f"{MVAU}/weights"].astype(np.int64)
                                                          * 1000})), "outside INT"),
    ("weights-nan", _weights(lambda a: a.update({f"{MVAU}/weights": a[f"{MVAU}/weights"] * np.nan})),
     "non-integer values"),
    ("weights-bomb", _npz_bomb, "MiB limit"),
    ("weights-pickle", _object_npz, "not a numeric array"),
    # 5. deploy.json sizes and agreement with graph.json
    ("output-1e9-channels", _meta(_huge_output), "more than the limit"),
    ("input-1e9-channels", _meta(lambda m: m["input"].update(shape_normal=[1, 10 ** 9], shape_folded=[1, 1, 10 ** 9],
                                                             shape_packed=[1, 1, 10 ** 9])), "more than the limit"),
    ("input-not-the-graphs", _meta(_other_input), "does not match"),
    ("classes-duplicate", _meta(lambda m: m.update(classes=["a"] * len(m["classes"] or [0] * 10))),
     "field 'classes'"),
    ("class-name-terminal-escape", _meta(lambda m: m.update(classes=[f"\x1b[2Jc{i}" for i in range(10)])),
     "field 'classes'"),
    ("string-with-newline", _meta(lambda m: m.update(board="pynq\nerror: all fine")), "field 'board'"),
    ("bitfile-outside", _meta(lambda m: m.update(bitfile="../x.bit")), "field 'bitfile'"),
    ("dma-not-a-name", _meta(lambda m: m["input"].update(dma="__class__")), "field 'input.dma'"),
    ("dma-an-attribute", _meta(lambda m: m["input"].update(dma="hang")), "is not a DMA with registers"),
    ("deploy-json-a-folder", lambda p, o: ((p / "deploy.json").unlink(), (p / "deploy.json").mkdir()), "is a folder"),
    ("clock-1e400", lambda p, o: (p / "deploy.json").write_text((p / "deploy.json").read_text().replace(
        '"clock_mhz": 100.0', '"clock_mhz": 1e400')), "field 'clock_mhz'"),
    # more of graph.json and the weights
    ("graph-a-list", lambda p, o: (p / "reference" / "graph.json").write_text("[]"), "not a JSON object"),
    ("graph-nodes-empty", lambda p, o: _set_graph(p, {**_graph(p), "nodes": []}), "field 'nodes'"),
    ("attr-huge-int", _set_attr("ConvolutionInputGenerator", "OFMDim", [10 ** 30, 1]), "attrs.OFMDim"),
    ("attr-newline", _set_attr("Pool", "Function", "Max\nPool\x1b[2J"), "attrs.Function"),
    ("pool-window-huge", _set_attr("Pool", "KernelSize", [4096, 4096]), "attrs.KernelSize"),
    ("array-ref-not-a-string", lambda p, o: _set_graph(p, {**_graph(p), "nodes": [
        {**n, "arrays": {"weights": ["x"]}} if n["op"] == "MVAU" else n for n in _graph(p)["nodes"]]}), "needs array"),
    ("thresholds-70000-steps", _weights(lambda a: a.update({f"{MVAU}/thresholds": np.zeros((1, 70000), np.int16)})),
     "thresholds per channel"),
    ("weights-not-a-zip", lambda p, o: (p / "reference" / "weights.npz").write_bytes(b"PK\x03\x04 junk"), "is corrupt"),
    # 6. sample files
    ("labels-nested", _samples(lambda s: (s / "labels.json").write_text("[" * 200_000 + "]" * 200_000)),
     "nested too deeply"),
    ("labels-strings", _samples(lambda s: (s / "labels.json").write_text(json.dumps(
        {"labels": ["cat"] * 16, "synthetic": False}))), "field 'labels'"),
    ("expected-0d", _samples(lambda s: np.save(s / "expected_outputs.npy", np.int64(3))), "expected integer outputs"),
    ("expected-16x20", _samples(lambda s: np.save(s / "expected_outputs.npy", np.zeros((16, 20), np.int64))),
     "expected integer outputs"),
    ("images-1e8-declared", _samples(lambda s: _npy_header_only(s / "images.npy", (10 ** 8, 32, 32, 3))),
     "declares shape"),
    ("images-fifo", _samples(lambda s: ((s / "images.npy").unlink(), os.mkfifo(s / "images.npy"))),
     "not a regular file"),
]


def _hostile(clean: Path, tmp_path: Path, mutate) -> tuple:
    pkg, outside = tmp_path / "pkg" / "deploy", tmp_path / "outside"
    shutil.copytree(clean, pkg, symlinks=True)
    outside.mkdir()
    shutil.copytree(clean / "hw" / MVAU, outside / MVAU)
    (outside / "secret.txt").write_text("the user's own file\n")
    mutate(pkg, outside)
    return pkg, outside, _digest(outside)


@pytest.mark.parametrize("mutate,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_package_is_refused_everywhere(clean, tmp_path, mutate, needle):
    pkg, outside, before = _hostile(clean, tmp_path, mutate)
    one_error(run_cli("verify", "--deploy", str(pkg), "--emulated", "--n", "2", timeout=120), needle)
    one_error(run_cli("verify", "--deploy", str(pkg), "--emulated", "--n", "2", "--inject-fault", timeout=120), needle)
    one_error(board_cmd(pkg, "--emulated", "verify", "--n", "2"), needle)
    assert _digest(outside) == before


def test_inject_fault_copy_never_follows_links(clean, tmp_path):
    """Links the emulator never reads (a loop up to the package, /dev/zero) in what the fault
    injection copies: refused before anything is copied or flipped. A link inside the package is
    copied as the file it names, so the flipped bit lands in the copy only."""
    pkg, outside, before = _hostile(clean, tmp_path, lambda p, o: (p / "hw" / "up").symlink_to(".."))
    one_error(run_cli("verify", "--deploy", str(pkg), "--emulated", "--n", "2", "--inject-fault"), "already copied")
    (pkg / "hw" / "up").unlink()
    (pkg / "hw" / "zero").symlink_to("/dev/zero")
    one_error(run_cli("verify", "--deploy", str(pkg), "--emulated", "--n", "2", "--inject-fault"),
               "leads outside the deploy package")
    (pkg / "hw" / "zero").unlink()
    layer = pkg / "hw" / MVAU
    (layer / "memblock.dat").rename(layer / "weights.hex")
    (layer / "memblock.dat").symlink_to("weights.hex")
    mine = _digest(pkg)
    res = run_cli("verify", "--deploy", str(pkg), "--emulated", "--n", "4", "--inject-fault")
    assert res.returncode == 5 and "fault injected" in res.stdout, res.stdout + res.stderr
    assert _digest(pkg) == mine and _digest(outside) == before


@pytest.mark.parametrize("args,needle", [
    (("benchmark", "--batch", "-1"), "batch size must be an integer from 1"),
    (("benchmark", "--batch", "99999999"), "batch size must be an integer from 1"),
    (("benchmark", "--batch", "many"), "invalid int value"),
    (("verify", "--n", "0"), "--n must be at least 1"),
    (("frobnicate",), "invalid choice"),
    (("classify", "missing.png"), "not a readable image"),
])
def test_board_command_bad_options(clean, args, needle):
    one_error(board_cmd(clean, "--emulated", *args), needle)


def _png_header(path: Path, w: int, h: int) -> None:
    """A PNG that declares w x h pixels (IHDR and one tiny IDAT): decoding it would allocate w*h*3."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [30000, 9000])  # a decompression bomb, and one just over our own limit
def test_board_command_refuses_huge_images(clean, tmp_path, side):
    _png_header(tmp_path / "big.png", side, side)
    one_error(board_cmd(clean, "--emulated", "classify", str(tmp_path / "big.png")), "pixels")


def test_board_command_debug_shows_the_traceback(clean):
    res = board_cmd(clean, "--emulated", "--debug", "benchmark", "--batch", "-1")
    assert res.returncode == 2 and "Traceback" in res.stderr and res.stderr.strip().endswith(
        "(a 256 MiB batch of images), got -1")


def test_fire_expand_weight_words_are_bounded_before_parsing():
    """A params.h word of a million hex digits would be shifted once per SIMD lane (a hang)."""
    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.runtime.hwfire import read_fixed_point_weights

    text = 'FixedPointWeights<4, ap_int<4>, 1, 1> weights1 = {{"0x' + "f" * 1_000_000 + '"}};'
    with pytest.raises(HwsqueezeError, match="wider than SIMD 4 x 4 bits"):
        read_fixed_point_weights(text, "weights1", "params.h", (1, 1, 4))


def test_dma_buffers_are_bounded_in_bytes(clean, monkeypatch):
    """max_batch images per DMA transfer, but never more bytes than MAX_BATCH_BYTES: a package with
    huge (valid) ports gets smaller transfers, not an allocation the board cannot hold."""
    import hwsqueeze.runtime.accelerator as accelerator
    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.runtime import Accelerator

    per_image = int(np.prod(json.loads((clean / "deploy.json").read_text())["input"]["shape_packed"]))
    monkeypatch.setattr(accelerator, "MAX_BATCH_BYTES", 5 * per_image)
    with Accelerator.emulated(clean) as acc:
        assert acc.max_batch == 4  # input and output of 4 images fit 5 inputs' bytes
        assert acc.run(np.zeros((9,) + acc.in_shape, np.uint8)).shape[0] == 9  # in chunks of 4
        acc.batch_size = 4  # FINN's batch: the same bound
        with pytest.raises(HwsqueezeError, match=r"batch_size must be an integer from 1 to 4 .*, got 5$"):
            acc.batch_size = 5


def test_relative_package_paths_work(clean, monkeypatch):
    """The containment checks resolve paths; a package given relative to the current folder (as the
    board command and notebooks do) reads the same as an absolute one."""
    from hwsqueeze.runtime import Accelerator
    from hwsqueeze.runtime.hwsources import read_mvau_folding

    monkeypatch.chdir(clean.parent)
    assert read_mvau_folding(Path(clean.name) / "hw" / MVAU)["MW"] > 0
    with Accelerator.emulated(clean.name) as acc:
        assert acc.run(np.zeros((1,) + acc.in_shape, np.uint8)).shape[0] == 1
