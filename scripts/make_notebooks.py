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
      f"output {list(META.output.shape_normal)} {META.output.dtype} x {META.output.scale:.4g}")
import matplotlib.pyplot as plt
# Figures at most 10 in wide at 100 dpi (they fit a notebook at 100 % unscaled) with 11 pt text.
plt.rcParams.update({"figure.dpi": 100, "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11,
                     "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 10})'''

CLASSIFY = [
    new_markdown_cell("# 01 — Classify images on the accelerator\n\nLoads the deploy package and classifies its "
                      "sample images: real test images with their true labels when the build had the dataset "
                      "(each prediction marked right or wrong), otherwise generated images, clearly marked as "
                      "synthetic. Bars: the top-5 classes' probabilities (softmax of the 10 logits), on one "
                      "scale. The last cell classifies an image file of your own."),
    new_code_cell(SETUP),
    new_code_cell('''from hwsqueeze.deploy.samples import read_samples
CLASSES = [META.class_name(i) for i in range(META.num_outputs)]
samples = read_samples(DEPLOY, 10)  # the package's sample images, labels.json checked
images = samples.images

def probabilities(x):
    """Top-5 class indices and softmax probabilities over all classes, per image."""
    order, logits = acc.classify(x, k=len(CLASSES))  # every class, best first (integer x scale)
    p = np.exp(logits - logits[:, :1]); p /= p.sum(axis=1, keepdims=True)
    return order[:, :5], p[:, :5]

top, prob = probabilities(images)
if samples.synthetic:
    print("NOTE: these sample images are SYNTHETIC (generated shapes, not photographs): the build had no dataset, "
          "so the predictions below mean nothing. Rebuild with `hwsqueeze build --samples DATA` for real test images.")
    truth = [None] * len(images)
else:
    names = samples.classes or CLASSES
    truth = [names[j] for j in samples.labels]
    print(f"{len(images)} real test images with their true labels ({samples.source})")
cols = 2  # image + its bars, twice per row
rows = -(-len(images) // cols)
fig, axes = plt.subplots(rows, 2 * cols, figsize=(10, 1.9 * rows), squeeze=False,
                         gridspec_kw={"width_ratios": [1, 2.2] * cols})
for i in range(rows * cols):
    r, c = divmod(i, cols)
    ax_img, ax_bar = axes[r, 2 * c], axes[r, 2 * c + 1]
    ax_img.axis("off")
    if i >= len(images):
        ax_bar.axis("off"); continue
    pred = CLASSES[top[i][0]]
    ax_img.imshow(images[i])
    if truth[i] is None:
        title, colour = f"{pred}\\n(synthetic)", "dimgray"
    else:
        title, colour = (f"{pred} ✓", "green") if pred == truth[i] else (f"{pred} ✗\\ntrue: {truth[i]}", "firebrick")
    ax_img.set_title(title, color=colour, fontsize=11)
    ax_bar.barh(range(5), prob[i][::-1], color="tab:blue")
    ax_bar.set_yticks(range(5)); ax_bar.set_yticklabels([CLASSES[j] for j in top[i]][::-1])
    ax_bar.set_xlim(0, 1); ax_bar.grid(axis="x", alpha=0.3)
    if r == rows - 1:
        ax_bar.set_xlabel("probability")
    else:
        ax_bar.set_xticklabels([])
fig.suptitle(f"top-5 classes per sample image ({acc.target.upper()} board)", fontsize=13)
fig.tight_layout(); plt.show()
for i in range(len(images)):
    mark = "" if truth[i] is None else (" (right)" if CLASSES[top[i][0]] == truth[i] else f" (WRONG, true: {truth[i]})")
    print(i, ", ".join(f"{CLASSES[j]} {p:.0%}" for j, p in zip(top[i], prob[i])) + mark)
if truth[0] is not None:
    right = sum(CLASSES[top[i][0]] == truth[i] for i in range(len(images)))
    print(f"top-1 on these {len(images)} images: {right}/{len(images)} right")'''),
    new_markdown_cell("## Your own image\n\nSet `MY_IMAGE` to a .jpg/.png path. It is resized to the model's input "
                      "size (center crop, then resize). Left as `None`, a sample is written to a PNG and used, so the "
                      "cell always shows the full path from file to classes."),
    new_code_cell('''MY_IMAGE = None  # e.g. "/home/xilinx/cat.jpg"
from PIL import Image
from hwsqueeze.runtime.testset import decode_image  # centre crop + resize, as for every image the package reads
size = META.input.normal[0]
if MY_IMAGE is None:
    import tempfile
    MY_IMAGE = os.path.join(tempfile.mkdtemp(), "sample.png")
    Image.fromarray(images[0]).save(MY_IMAGE)
x = decode_image(Path(MY_IMAGE).read_bytes(), MY_IMAGE, size)[None]
top, prob = probabilities(x)
fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1, 2.2]})
ax_img.imshow(x[0]); ax_img.axis("off"); ax_img.set_title(os.path.basename(MY_IMAGE))
ax_bar.barh(range(5), prob[0][::-1]); ax_bar.set_yticks(range(5)); ax_bar.set_yticklabels([CLASSES[j] for j in top[0]][::-1])
ax_bar.set_xlim(0, 1); ax_bar.set_xlabel("probability"); ax_bar.grid(axis="x", alpha=0.3)
fig.tight_layout(); plt.show()
print("top-5:", ", ".join(f"{CLASSES[j]} {p:.0%}" for j, p in zip(top[0], prob[0])))'''),
]

VERIFY = [
    new_markdown_cell("# 02 — Hardware vs the bit-exact reference, and accuracy\n\nRuns images through the "
                      "accelerator and the numpy reference engine, compares the integer outputs exactly and computes "
                      "top-1 accuracy. By default it uses the package's sample images. For a real test-set accuracy "
                      "set `DATA` below (or the environment variable `HWSQUEEZE_DATA`) to a labelled test set: a "
                      "folder or archive laid out `test/<class>/<image>` (or `<class>/<image>`), e.g. the CIFAR-10 "
                      "archive `cifar10-jpeg.tar.gz` copied to the board; `N` (`HWSQUEEZE_N`) images are drawn "
                      "across all classes (`all`: the whole test split), the same images `hwsqueeze verify --data "
                      "DATA --n N` uses. The images are read by the package's own numpy/Pillow code "
                      "(`hwsqueeze/runtime/testset.py`): nothing beyond the deploy package is needed. Every accuracy "
                      "is printed with its n and class coverage."),
    new_code_cell(SETUP),
    new_code_cell('''from hwsqueeze.deploy.samples import read_samples
from hwsqueeze.runtime.testset import load_test_images
DATA = os.environ.get("HWSQUEEZE_DATA")  # e.g. "/home/xilinx/cifar10-jpeg.tar.gz"; None: the package's samples
N = os.environ.get("HWSQUEEZE_N", "1000")  # images drawn from DATA across the classes; "all": the whole test split
CLASSES = [META.class_name(i) for i in range(META.num_outputs)]
if DATA:
    t = time.perf_counter()
    test = load_test_images(DATA, META.input.normal[0], META.classes, n=None if N == "all" else int(N))
    images, labels, names = test.images, test.labels, test.classes
    print(f"{DATA}: {test.coverage()} (read and decoded in {time.perf_counter() - t:.1f} s)")
else:
    samples = read_samples(DEPLOY)
    images, names = samples.images, samples.classes or CLASSES
    labels = None if samples.synthetic else samples.labels
    covered = "" if labels is None else f", {len(np.unique(labels))} of {len(names)} classes"
    print(f"the package's samples: n = {len(images)}{covered}" + (" (SYNTHETIC: no meaningful labels)" if labels is None else ""))
t = time.perf_counter()
hw = np.asarray(acc.run(images)).reshape(len(images), -1)
t_hw = time.perf_counter() - t
t = time.perf_counter()
sw = np.asarray(Reference.from_deploy(DEPLOY).run(images)).reshape(len(images), -1)
t_sw = time.perf_counter() - t
bad = np.flatnonzero((hw != sw).any(axis=1))
print(f"{len(images) - len(bad)}/{len(images)} images bit-exact, {len(bad)} mismatches ({acc.target})")
print(f"time: {acc.target.upper()} board {t_hw:.1f} s" + (" (host CPU emulating it, not the FPGA)" if acc.target == "emulated" else "")
      + f", reference on this CPU {t_sw:.1f} s")'''),
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
    cm = np.zeros((len(names), len(names)), int)
    np.add.at(cm, (labels, hw.argmax(1)), 1)
    fig, ax = plt.subplots(figsize=(8, 7))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="images")
    ax.set_xticks(range(len(names))); ax.set_yticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right"); ax.set_yticklabels(names)
    ax.set_xlabel("predicted class (hardware)"); ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix, n = {len(images)}, {n_cls} of {len(names)} classes ({acc.target.upper()} board)")
    for r in range(len(names)):
        for c in range(len(names)):
            if cm[r, c]:  # white on the dark cells, black on the light ones
                ax.text(c, r, cm[r, c], ha="center", va="center", fontsize=10,
                        color="white" if cm[r, c] > cm.max() / 2 else "black")
    fig.tight_layout(); plt.show()
    per_class = [f"{names[c]} {(hw.argmax(1)[labels == c] == c).mean():.0%}" for c in np.unique(labels)]
    print("per class (hardware):", ", ".join(per_class))
else:
    print(f"top-1 agreement hardware vs reference: {(hw.argmax(1) == sw.argmax(1)).mean():.2%} "
          f"(n = {len(images)}; no accuracy: the samples have no meaningful labels)")'''),
]

THROUGHPUT = [
    new_markdown_cell("# 03 — Throughput and latency (FINN's `throughput_test`)\n\nRuns finn-plus-driver's "
                      "`throughput_test` (the same keys, measured the same way: one accelerator run on `batch_size` "
                      "images, then each driver step once) at several batch sizes: images/s, runtime, and where the "
                      "time goes per image. Each result says its `target`. On the **emulated** board every number is "
                      "the host CPU running a register-level emulation, labelled EMULATED, not the FPGA: only the "
                      "board gives accelerator figures."),
    new_code_cell(SETUP),
    new_code_cell('''BATCHES = [1, 2, 4, 8, 16, 32, 64]
EMU = acc.target == "emulated"
TAG = "EMULATED: host CPU, not the FPGA" if EMU else "FPGA"
STEPS = ["fold_input[ms]", "pack_input[ms]", "copy_input_data_to_device[ms]", "copy_output_data_from_device[ms]",
         "unpack_output[ms]", "unfold_output[ms]"]
rows = []
for b in BATCHES:
    acc.batch_size = b  # FINN's driver: every shape and run is for batch_size images
    rows.append(acc.throughput_test())
acc.batch_size = 1
print(f"throughput_test, target = {rows[0]['target']}" + (" (every number below is EMULATED)" if EMU else ""))
print(f"{'batch':>5} {'images/s':>9} {'runtime[ms]':>11}  driver steps [ms per batch]: fold, pack, copy in, copy out, unpack, unfold")
for r in rows:
    print(f"{r['batch_size']:5d} {r['throughput[images/s]']:9.1f} {r['runtime[ms]']:11.2f}  "
          + ", ".join(f"{r[k]:.3f}" for k in STEPS) + (f"  ({r['target']})" if EMU else ""))
fclk = rows[0]["fclk[mhz]"]
print("fclk[mhz]:", fclk if fclk is not None else "none (the emulated board has no FPGA clock)")
fig = plt.figure(figsize=(10, 7.5))
grid = fig.add_gridspec(2, 2)
ax = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])]
batch = [r["batch_size"] for r in rows]
ax[0].plot(batch, [r["throughput[images/s]"] for r in rows], "o-"); ax[0].set_xscale("log", base=2)
ax[0].set_xlabel("batch_size"); ax[0].set_ylabel("images/s"); ax[0].set_title(f"throughput ({'EMULATED' if EMU else 'FPGA'})")
ax[1].plot(batch, [r["runtime[ms]"] for r in rows], "o-", color="tab:orange"); ax[1].set_xscale("log", base=2)
ax[1].set_xlabel("batch_size"); ax[1].set_ylabel("runtime [ms per batch]"); ax[1].set_title(f"accelerator runtime ({'EMULATED' if EMU else 'FPGA'})")
bottom = np.zeros(len(rows))
for k, label in [("runtime[ms]", "accelerator run (execute_on_buffers)")] + [(k, k[:-4]) for k in STEPS]:
    vals = np.array([r[k] / r["batch_size"] for r in rows])
    ax[2].bar([str(b) for b in batch], vals, bottom=bottom, label=label); bottom += vals
ax[2].set_ylim(0, 1.3 * bottom.max())  # headroom: no bar under the legend
ax[2].set_xlabel("batch_size"); ax[2].set_ylabel("ms per image"); ax[2].legend(ncol=2, loc="upper right")
ax[2].set_title(f"where the time goes per image ({TAG})")
for a in ax[:2]:
    a.set_xticks(batch); a.set_xticklabels([str(b) for b in batch]); a.minorticks_off()
for a in ax:
    a.grid(alpha=0.3)
fig.tight_layout(); plt.show()'''),
    new_code_cell('''ref = Reference.from_deploy(DEPLOY)
x = np.load(DEPLOY / "samples" / "images.npy")
ref.run(x[:2])  # warm-up
t = time.perf_counter(); ref.run(x); dt = time.perf_counter() - t
cpu_fps = len(x) / dt
print(f"reference on this CPU: {1e3 * dt / len(x):.2f} ms/image ({cpu_fps:.1f} images/s)")
best = max(rows, key=lambda r: r["throughput[images/s]"])
if EMU:
    print(f"EMULATED board: {best['throughput[images/s]']:.1f} images/s is the host CPU running the emulation, not the "
          "FPGA; no speedup is claimed. Run this notebook on the board for accelerator figures.")
else:
    print(f"accelerator (FPGA) best: {best['throughput[images/s]']:.1f} images/s at batch_size {best['batch_size']} = "
          f"{best['throughput[images/s]'] / cpu_fps:.1f}x the reference on this board's CPU")
est = META.estimates
if est.get("fps"):
    print(f"build estimate: {est['fps']:.0f} images/s at {META.clock_mhz:g} MHz (dataflow steady state, no DMA/host "
          "overhead; an estimate, not a measurement)")'''),
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
