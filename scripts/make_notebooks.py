"""Write notebooks/*.ipynb (without outputs) from the cell sources below.

The notebooks are generated so that they stay reviewable as Python here and identical in
structure; run `python scripts/make_notebooks.py` after editing and commit the .ipynb files.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

SETUP = '''# Find the deploy package and its numpy-only runtime: next to this notebook on the board,
# or build/pynq-z2/deploy in a hwsqueeze checkout; HWSQUEEZE_DEPLOY overrides both.
import json, os, sys, time
from pathlib import Path
import numpy as np

def find_deploy() -> Path:
    env = os.environ.get("HWSQUEEZE_DEPLOY")
    candidates = [Path(env)] if env else [Path.cwd().parent, Path.cwd(), Path.cwd().parent / "build" / "pynq-z2" / "deploy"]
    for c in candidates:
        if (c / "deploy.json").is_file():
            return c.resolve()
    raise FileNotFoundError("no deploy package found: run `make build` or set HWSQUEEZE_DEPLOY")

DEPLOY = find_deploy()
if (DEPLOY / "hwsqueeze").is_dir() and str(DEPLOY) not in sys.path:
    sys.path.insert(0, str(DEPLOY))
from hwsqueeze.runtime import Accelerator
from hwsqueeze.reference import Reference
from hwsqueeze.deploy import read_meta

META = read_meta(DEPLOY)  # the validated deploy.json
acc = Accelerator.open(DEPLOY)  # the real board when pynq finds one, else the emulated board
print(f"running on: {acc.target.upper()} ({acc.why})")
if acc.target == "emulated":
    print("  (register-level emulation computing from the generated layer files: timings are the host CPU's, not the FPGA's)")
print(f"model {META.model} ({META.quant}) for {META.board}, input {list(META.input.shape_normal)} {META.input.dtype}, "
      f"output {list(META.output.shape_normal)} {META.output.dtype} x {META.output.scale:.4g}")'''

CLASSIFY = [
    new_markdown_cell("# 01 — Classify images on the accelerator\n\nLoads the deploy package and classifies its "
                      "sample images: real test images with their true labels when the build had the dataset "
                      "(each prediction marked right or wrong), otherwise generated images, clearly marked as "
                      "synthetic. The last cell classifies an image file of your own."),
    new_code_cell(SETUP),
    new_code_cell('''import matplotlib.pyplot as plt
CLASSES = [META.class_name(i) for i in range(META.num_outputs)]
images = np.load(DEPLOY / "samples" / "images.npy")[:10]
info = json.loads((DEPLOY / "samples" / "labels.json").read_text())
top, scores = acc.classify(images, k=5)
if info.get("synthetic"):
    print("NOTE: these sample images are SYNTHETIC (generated shapes, not photographs): the build had no dataset, "
          "so the predictions below mean nothing. Rebuild with `hwsqueeze build --samples DATA` for real test images.")
    truth = [None] * len(images)
else:
    names = info.get("classes") or CLASSES
    truth = [names[j] for j in info["labels"][:len(images)]]
    print(f"{len(images)} real test images with their true labels ({info['source']})")
fig, axes = plt.subplots(2, len(images), figsize=(1.9 * len(images), 5))
for i, img in enumerate(images):
    pred = CLASSES[top[i][0]]
    axes[0, i].imshow(img); axes[0, i].axis("off")
    if truth[i] is None:
        title, colour = f"{pred}\\n(synthetic image)", "gray"
    else:
        title, colour = (f"{pred} ✓", "green") if pred == truth[i] else (f"{pred} ✗\\ntrue: {truth[i]}", "red")
    axes[0, i].set_title(title, fontsize=9, color=colour)
    axes[1, i].barh([CLASSES[j] for j in top[i]][::-1], np.asarray(scores[i])[::-1], color="tab:blue")
    axes[1, i].tick_params(labelsize=7)
fig.tight_layout(); plt.show()
for i in range(len(images)):
    mark = "" if truth[i] is None else (" (right)" if CLASSES[top[i][0]] == truth[i] else f" (WRONG, true: {truth[i]})")
    print(i, ", ".join(f"{CLASSES[j]} {s:.2f}" for j, s in zip(top[i], scores[i])) + mark)
if truth[0] is not None:
    right = sum(CLASSES[top[i][0]] == truth[i] for i in range(len(images)))
    print(f"top-1 on these {len(images)} images: {right}/{len(images)} right")'''),
    new_markdown_cell("## Your own image\n\nSet `MY_IMAGE` to a .jpg/.png path. It is resized to the model's input "
                      "size (center crop, then resize). Left as `None`, a sample is written to a PNG and used, so the "
                      "cell always shows the full path from file to classes."),
    new_code_cell('''MY_IMAGE = None  # e.g. "/home/xilinx/cat.jpg"
from PIL import Image
size = META.input.normal[0]
if MY_IMAGE is None:
    import tempfile
    MY_IMAGE = os.path.join(tempfile.mkdtemp(), "sample.png")
    Image.fromarray(np.load(DEPLOY / "samples" / "images.npy")[0]).save(MY_IMAGE)
im = Image.open(MY_IMAGE).convert("RGB")
side = min(im.size)
im = im.crop(((im.width - side) // 2, (im.height - side) // 2, (im.width + side) // 2, (im.height + side) // 2))
x = np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.uint8)[None]
top, scores = acc.classify(x, k=5)
plt.figure(figsize=(6, 2.5))
plt.subplot(1, 2, 1); plt.imshow(x[0]); plt.axis("off"); plt.title(os.path.basename(MY_IMAGE))
plt.subplot(1, 2, 2); plt.barh([CLASSES[j] for j in top[0]][::-1], np.asarray(scores[0])[::-1]); plt.tight_layout(); plt.show()
print("top-5:", ", ".join(CLASSES[j] for j in top[0]))'''),
]

VERIFY = [
    new_markdown_cell("# 02 — Hardware vs the bit-exact reference\n\nRuns images through the accelerator and the "
                      "numpy reference engine and compares the integer outputs exactly. Uses the package's sample "
                      "images, or a labelled dataset when `HWSQUEEZE_DATA` points at one (e.g. the CIFAR-10 test "
                      "set as an image folder, .tar.gz or the python batches; needs the full hwsqueeze package on "
                      "the host). Images are drawn across all classes; every accuracy is printed with its n and "
                      "class coverage."),
    new_code_cell(SETUP),
    new_code_cell('''ref = Reference.from_deploy(DEPLOY)
CLASSES = [META.class_name(i) for i in range(META.num_outputs)]
DATA = os.environ.get("HWSQUEEZE_DATA")
N = int(os.environ.get("HWSQUEEZE_N", "500"))
if DATA:
    from hwsqueeze.data import load_dataset  # host only: decodes image folders / archives
    ds = load_dataset(DATA, "test")
    # N images drawn round-robin over the classes (test sets are often stored class by class)
    rng = np.random.default_rng(0)
    per = [rng.permutation(np.flatnonzero(ds.labels == c)) for c in np.unique(ds.labels)]
    idx = np.sort(np.array([p[r] for r in range(max(map(len, per))) for p in per if r < len(p)][:N]))
    images, labels, names, source = ds.images[idx], ds.labels[idx], list(ds.classes), DATA
else:
    images = np.load(DEPLOY / "samples" / "images.npy")
    info = json.loads((DEPLOY / "samples" / "labels.json").read_text())
    labels = None if info.get("synthetic") else np.asarray(info["labels"])
    names = info.get("classes") or CLASSES
    source = "the package's samples" + (" (SYNTHETIC: no meaningful labels)" if labels is None else "")
hw = np.concatenate([np.asarray(acc.run(images[i:i + 100])).reshape(len(images[i:i + 100]), -1) for i in range(0, len(images), 100)])
sw = np.asarray(ref.run(images)).reshape(len(images), -1)
bad = np.flatnonzero((hw != sw).any(axis=1))
covered = f", {len(np.unique(labels))} of {len(names)} classes" if labels is not None else ""
print(f"{source}: n = {len(images)}{covered}")
print(f"{len(images) - len(bad)}/{len(images)} images bit-exact, {len(bad)} mismatches ({acc.target})")'''),
    new_code_cell('''if len(bad):
    print(f"{'image':>6} {'max |diff|':>10}  hw top-1  sw top-1")
    for i in bad[:20]:
        print(f"{i:6d} {int(np.abs(hw[i].astype(np.int64) - sw[i]).max()):10d}  {hw[i].argmax():8d}  {sw[i].argmax():8d}")
else:
    print("no mismatches")
if labels is not None:
    n_cls = len(np.unique(labels))
    print(f"top-1 accuracy (n = {len(images)}, {n_cls} of {len(names)} classes): hardware {(hw.argmax(1) == labels).mean():.2%}, "
          f"reference {(sw.argmax(1) == labels).mean():.2%}")
    import matplotlib.pyplot as plt
    cm = np.zeros((len(names), len(names)), int)
    np.add.at(cm, (labels, hw.argmax(1)), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(cm, cmap="Blues"); ax.set_xticks(range(len(names))); ax.set_yticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=7); ax.set_yticklabels(names, fontsize=7)
    ax.set_xlabel("hardware prediction"); ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix, n = {len(images)} ({acc.target})")
    for r in range(len(names)):
        for c in range(len(names)):
            if cm[r, c]:
                ax.text(c, r, cm[r, c], ha="center", va="center", fontsize=6)
    fig.tight_layout(); plt.show()
else:
    print(f"top-1 agreement hardware vs reference: {(hw.argmax(1) == sw.argmax(1)).mean():.2%} "
          f"(n = {len(images)}; no accuracy: the samples have no meaningful labels)")'''),
]

THROUGHPUT = [
    new_markdown_cell("# 03 — Throughput and latency\n\nFPS and latency against batch size, where the time goes "
                      "(pack, transfer + compute, unpack), and the board CPU running the reference for comparison. "
                      "On the emulated board the 'hardware' time is the CPU reference, so only the real board "
                      "gives meaningful accelerator figures."),
    new_code_cell(SETUP),
    new_code_cell('''import matplotlib.pyplot as plt
BATCHES = [1, 2, 4, 8, 16, 32, 64]
rows = acc.benchmark(batch_sizes=BATCHES, repeats=3)
print(f"{'batch':>5} {'FPS':>9} {'latency ms':>10}  split (ms/batch)")
for r in rows:
    split = ", ".join(f"{k} {v:.2f}" for k, v in r["split_ms"].items())
    print(f"{r['batch']:5d} {r['fps']:9.1f} {r['latency_ms']:10.2f}  {split}")
fig, ax = plt.subplots(1, 3, figsize=(13, 3.5))
ax[0].plot([r["batch"] for r in rows], [r["fps"] for r in rows], "o-"); ax[0].set_xscale("log", base=2)
ax[0].set_xlabel("batch"); ax[0].set_ylabel("images/s")
ax[0].set_title("throughput (EMULATED: host CPU, not the FPGA)" if acc.target == "emulated" else "throughput (FPGA)")
ax[1].plot([r["batch"] for r in rows], [r["latency_ms"] for r in rows], "o-", color="tab:orange"); ax[1].set_xscale("log", base=2)
ax[1].set_xlabel("batch"); ax[1].set_ylabel("ms per batch"); ax[1].set_title("latency")
keys = list(rows[-1]["split_ms"])
bottom = np.zeros(len(rows))
for k in keys:
    vals = np.array([r["split_ms"][k] / r["batch"] for r in rows])
    ax[2].bar([str(r["batch"]) for r in rows], vals, bottom=bottom, label=k); bottom += vals
ax[2].set_xlabel("batch"); ax[2].set_ylabel("ms per image"); ax[2].legend(fontsize=8); ax[2].set_title("time split")
fig.tight_layout(); plt.show()'''),
    new_code_cell('''ref = Reference.from_deploy(DEPLOY)
x = np.load(DEPLOY / "samples" / "images.npy")
ref.run(x[:2])  # warm-up
t = time.perf_counter(); ref.run(x); dt = time.perf_counter() - t
cpu_fps = len(x) / dt
print(f"reference on this CPU: {1e3 * dt / len(x):.2f} ms/image ({cpu_fps:.1f} images/s)")
best = max(rows, key=lambda r: r["fps"])
if acc.target == "emulated":
    print(f"EMULATED board: {best['fps']:.1f} images/s is the host CPU running the emulation, not the FPGA; "
          "no speedup is claimed. Run this notebook on the board for accelerator figures.")
else:
    print(f"accelerator (FPGA) best: {best['fps']:.1f} images/s at batch {best['batch']} = "
          f"{best['fps'] / cpu_fps:.1f}x the reference on this board's CPU")
est = META.estimates
if est.get("fps"):
    print(f"build estimate: {est['fps']:.0f} images/s at {META.clock_mhz:g} MHz (dataflow steady state, no DMA/host overhead)")'''),
]


def main() -> None:
    out = ROOT / "notebooks"
    for name, cells in (("01_classify", CLASSIFY), ("02_verify", VERIFY), ("03_throughput", THROUGHPUT)):
        nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                "language": "python"}})
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{i}"  # stable ids: regenerating gives identical files
        nbformat.validate(nb)
        nbformat.write(nb, out / f"{name}.ipynb")


if __name__ == "__main__":
    main()
