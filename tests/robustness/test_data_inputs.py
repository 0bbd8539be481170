"""Bad datasets through the real CLI: refused in one line, no code run, nothing touched."""
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
from PIL import Image

from helpers import run_cli, write_image_folder
from robustness._util import run_cli_one_error, tree_snapshot

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class Py2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for the official CIFAR-10 batches (protocol 2):
    every str/bytes as a py2 ``str`` (BINSTRING) and numpy's reconstructor under its numpy-1
    name ``numpy.core.multiarray._reconstruct``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        b = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(b) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(b)]) + b)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(b)) + b)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj, name=None):
        if obj is np.zeros(1).__reduce__()[0]:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def py2_pickle(obj) -> bytes:
    f = io.BytesIO()
    Py2Pickler(f, protocol=2).dump(obj)
    return f.getvalue()


def cifar_dir(root, test_batch=None, labels=None, n=10):
    """An official-format cifar-10-batches-py folder; ``test_batch`` replaces that file's bytes."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"batch_label": b"batch", b"labels": labels if labels is not None else [i % 10 for i in range(n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
        (root / name).write_bytes(test_batch if (name == "test_batch" and test_batch) else py2_pickle(d))
    (root / "batches.meta").write_bytes(py2_pickle({b"num_cases_per_batch": n, b"num_vis": 3072,
                                                    b"label_names": [c.encode() for c in CIFAR]}))
    return root


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _Exec:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        import builtins
        return (builtins.exec, (self.code,))


def test_faithful_py2_batches_load_as_pickle_would(tmp_path):
    from hwsqueeze.data import load_dataset

    root = cifar_dir(tmp_path / "c")
    ds = load_dataset(str(root), "test", cache=False)
    with open(root / "test_batch", "rb") as f:
        ref = pickle.load(f, encoding="bytes")  # what the old loader did (on a trusted file)
    assert ds.images.shape == (10, 32, 32, 3) and ds.labels.tolist() == ref[b"labels"]
    assert np.array_equal(ds.images, ref[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


@pytest.mark.parametrize("payload", ["system", "exec"])
def test_malicious_cifar_batch_runs_no_code(tmp_path, payload):
    marker = tmp_path / "pwned"
    evil = _System(f"touch {marker}") if payload == "system" else _Exec(f"open({str(marker)!r}, 'w')")
    root = cifar_dir(tmp_path / "c", test_batch=pickle.dumps({b"data": evil, b"labels": [0]}, protocol=2))
    before = tree_snapshot(tmp_path)
    run_cli_one_error(["eval", "--data", root], 2, "refused global")
    assert not marker.exists()
    assert tree_snapshot(tmp_path) == before


@pytest.mark.parametrize("labels,match", [([10] * 10, "label 10 is out of range 0..9"),
                                          ([[1, 2]] + [0] * 9, "must be a flat list of ints")])
def test_cifar_batch_with_bad_labels(tmp_path, labels, match):
    root = cifar_dir(tmp_path / "c", labels=labels)
    run_cli_one_error(["eval", "--data", root, "--n", "5"], 2, match)


def test_replaced_image_is_not_served_from_the_cache(tmp_path):
    root = write_image_folder(tmp_path / "f", n_per_class=1, classes=CIFAR)
    r = run_cli("eval", "--data", str(root), "--json")
    assert r.returncode == 0, r.stderr
    (root / "test" / "cat" / "0000.png").write_bytes(b"not a png any more")  # same name, in place
    run_cli_one_error(["eval", "--data", root, "--json"], 2, "cannot decode image")


def _png_header_only(w, h) -> bytes:
    """A PNG whose header claims w x h pixels (a decompression bomb needs no more to be refused)."""
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("w,h,match", [(10000, 1000, "is 10000x1000, expected 32x32"),  # from the header
                                       (40000, 40000, "decompression bomb")])  # PIL's own limit
def test_huge_image_refused_from_its_header(tmp_path, w, h, match):
    root = write_image_folder(tmp_path / "f", n_per_class=1, classes=CIFAR)
    (root / "test" / "cat" / "0000.png").write_bytes(_png_header_only(w, h))
    run_cli_one_error(["eval", "--data", root], 2, match)


def test_huge_tar_member_refused_unread(tmp_path):
    tar = tmp_path / "bomb.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        info = tarfile.TarInfo("test/cat/big.png")
        info.size = 17 << 20
        tf.addfile(info, io.BytesIO(b"\x00" * info.size))
    run_cli_one_error(["eval", "--data", tar], 2, "image files over 16 MiB are refused")


def test_tar_with_traversal_and_links_extracts_nothing(tmp_path):
    """Members named ../x or /x, and symlinks, are never written anywhere (nothing is extracted)."""
    src = write_image_folder(tmp_path / "f", n_per_class=1, classes=CIFAR)
    tar = tmp_path / "evil.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(src / "test", arcname="test")
        tf.add(src / "test" / "cat" / "0000.png", arcname="../../escaped.png")
        tf.add(src / "test" / "cat" / "0000.png", arcname=str(tmp_path / "abs.png"))
        link = tarfile.TarInfo("test/cat/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    before = tree_snapshot(tmp_path)
    r = run_cli("eval", "--data", str(tar), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert '"n": 10' in r.stdout  # ten regular images; the link is not read
    assert tree_snapshot(tmp_path) == before and not (tmp_path / "abs.png").exists()


def test_generated_request_too_big_for_memory():
    run_cli_one_error(["eval", "--data", "generated:10000000000"], 2, "generated:10000000000 needs")


def test_board_yaml_runs_no_code(tmp_path, monkeypatch):
    """Board files go through yaml.safe_load: a python/object tag is refused, not run."""
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(f'!!python/object/apply:os.system ["touch {marker}"]\n')
    monkeypatch.setenv("HWSQUEEZE_BOARDS", str(tmp_path))
    r = run_cli("boards")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error:") and "evil.yaml" in r.stderr
    assert not marker.exists()
