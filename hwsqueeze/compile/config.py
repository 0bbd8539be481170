"""Typed build configuration, the build's recorded state, and the provenance that resuming checks.

``BuildConfig`` is what the user asked for; ``BuildState`` is what the steps found and decided
(written to ``build/<board>/build_state.json`` after every step); ``provenance(cfg)`` fingerprints
everything a step's output depends on, so ``--from-step`` can prove that the files it reuses
were made from the same checkpoint, board, options and tool versions.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..errors import HwsqueezeError
from ..fsutil import sha256_file, write_json
from .boards import MARGIN, Board

__all__ = ["BuildConfig", "BuildState", "StepRecord", "provenance", "VERIFY_N", "FOLDING_SEARCHES", "ESTIMATE_LAST"]

VERIFY_N = 8
ESTIMATE_LAST = "estimates"  # --estimate-only is --stop-step estimates
FOLDING_SEARCHES = ("layerwise", "setfolding")  # compile.layerwise, or FINN's SetFolding (compile.folding)


@dataclass
class BuildConfig:
    """What to build, for which board, how (the CLI's options)."""

    board: Board
    out_dir: Path
    checkpoint: Optional[Path] = None  # None: the shipped default model (unless model_name / onnx)
    model_name: Optional[str] = None  # build an untrained registry model instead (estimates)
    onnx: Optional[Path] = None  # or start from an existing QONNX export
    target_fps: Union[float, str] = "auto"
    folding_config: Optional[Path] = None  # a FINN folding config instead of the folding search
    folding_search: str = "layerwise"  # FOLDING_SEARCHES: per-layer optimizer, or FINN's SetFolding
    margin: float = MARGIN
    use_dsps: bool = True
    fuse_fire: bool = False  # fused FireExpand layers instead of the Fire expand fork/join
    standalone_thresholds: bool = False  # thresholds as their own layers, MVAUs as DSP-packed RTL MVUs
    estimate_only: bool = False  # = (stop_step == ESTIMATE_LAST): one fact, normalized at construction
    require_bitstream: bool = False
    from_step: Optional[str] = None
    stop_step: Optional[str] = None  # stop after this step
    samples: Optional[str] = None  # dataset for the package's sample images (default: the checkpoint's)
    verify_n: int = VERIFY_N

    def __post_init__(self) -> None:
        if self.estimate_only:
            if self.stop_step not in (None, ESTIMATE_LAST):
                raise HwsqueezeError(f"--estimate-only stops after '{ESTIMATE_LAST}'; it cannot be combined with "
                                     f"--stop-step {self.stop_step}")
            self.stop_step = ESTIMATE_LAST
        self.estimate_only = self.stop_step == ESTIMATE_LAST

    def to_json(self) -> Dict[str, Any]:
        """The config as ``build_config.json`` holds it (paths absolute, the board in full)."""
        d = asdict(self)
        for k in _PATHS:
            d[k] = str(Path(d[k]).resolve()) if d[k] is not None else None
        return d

    @classmethod
    def from_json(cls, d: Any, where: str) -> "BuildConfig":
        """The config a ``build_config.json`` (``where``) recorded, each field checked; one error
        line naming the field otherwise."""
        from .boards import _validate

        if not isinstance(d, dict) or set(d) != {f.name for f in fields(cls)}:
            raise HwsqueezeError(f"{where}: not a build config (expected the fields of BuildConfig)")

        def bad(key: str, why: str) -> HwsqueezeError:
            return HwsqueezeError(f"{where}: {key} = {str(d[key])[:60]!r} {why}")
        for k in _PATHS + ("model_name", "from_step", "stop_step", "samples"):
            if d[k] is not None and (not isinstance(d[k], str) or not d[k]):
                raise bad(k, "must be a non-empty string or null")
        if k := next((k for k in _FLAGS if type(d[k]) is not bool), None):
            raise bad(k, "must be true or false")
        fps = d["target_fps"]
        if fps != "auto" and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < 1e9):
            raise bad("target_fps", "must be 'auto' or a positive number")
        if isinstance(d["margin"], bool) or not isinstance(d["margin"], (int, float)) or not 0.1 <= d["margin"] <= 1:
            raise bad("margin", "must be a number in [0.1, 1]")
        if d["folding_search"] not in FOLDING_SEARCHES:
            raise bad("folding_search", f"must be one of {', '.join(FOLDING_SEARCHES)}")
        if type(d["verify_n"]) is not int or not 1 <= d["verify_n"] <= 1024:
            raise bad("verify_n", "must be an integer in 1..1024")
        paths = {k: Path(d[k]) if d[k] is not None else None for k in _PATHS}
        return cls(**{**d, **paths, "board": _validate(Path(where), d["board"])})


_PATHS = ("out_dir", "checkpoint", "onnx", "folding_config")
_FLAGS = ("use_dsps", "fuse_fire", "standalone_thresholds", "estimate_only", "require_bitstream")


@dataclass
class StepRecord:
    """What one finished step consumed and produced (its provenance)."""

    inputs: Dict[str, str]  # provenance keys this step depends on -> their fingerprints
    output: Optional[str] = None  # its intermediate file, relative to the build dir
    output_sha256: Optional[str] = None
    seconds: float = 0.0
    files: Dict[str, Optional[str]] = field(default_factory=dict)  # its row's ``writes`` -> sha256 (None: absent)


@dataclass
class BuildState:
    """Everything the steps found and decided; ``build_state.json`` is this, as JSON."""

    board: str = ""
    source: Dict[str, Any] = field(default_factory=dict)  # checkpoint / model / onnx it came from
    checks: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # stage -> verification record
    output: Dict[str, Any] = field(default_factory=dict)  # CPU tail: scale, cpu_ops, logits_shape
    folding: Dict[str, Any] = field(default_factory=dict)
    estimate: Dict[str, Any] = field(default_factory=dict)
    measured: Dict[str, Any] = field(default_factory=dict)  # Vivado's post-route utilisation (bitfile step)
    timing: Dict[str, Any] = field(default_factory=dict)  # Vivado's routed timing summary (bitfile step)
    tools: Dict[str, Optional[str]] = field(default_factory=dict)
    versions: Dict[str, str] = field(default_factory=dict)
    provenance: Dict[str, str] = field(default_factory=dict)
    steps: Dict[str, StepRecord] = field(default_factory=dict)

    @property
    def timings_s(self) -> Dict[str, float]:
        return {name: rec.seconds for name, rec in self.steps.items()}

    @property
    def resources(self) -> Dict[str, Any]:
        """The design's totals, labelled: Vivado's measurement once the bitfile step ran, else the estimate."""
        if self.measured:
            return dict(self.measured)
        if not self.estimate.get("totals"):
            return {}
        return {"source": "estimate (FINN+ analytical estimates + hwsqueeze's overheads; Vivado replaces them "
                          "after the bitfile step)", **self.estimate["totals"]}

    @property
    def cpu_ops(self) -> List[str]:
        """The ops left on the CPU (the float tail convert_to_hw folded into one output scale)."""
        return list(self.output.get("cpu_ops", []))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["timings_s"] = self.timings_s
        d["cpu_ops"] = self.cpu_ops
        d["resources"] = self.resources
        return d

    def save(self, path: Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> "BuildState":
        """Read ``build_state.json``; a corrupt or foreign file is one clear error."""
        try:
            raw = json.loads(Path(path).read_text())
            known = {f.name for f in fields(cls)}
            state = cls(**{k: v for k, v in raw.items() if k in known})
            state.steps = {k: StepRecord(**v) for k, v in raw.get("steps", {}).items()}
            for name, rec in state.steps.items():
                if not (isinstance(rec.inputs, dict) and all(isinstance(v, str) for v in rec.inputs.values())
                        and isinstance(rec.output, (str, type(None)))
                        and isinstance(rec.output_sha256, (str, type(None)))
                        and isinstance(rec.files, dict)
                        and all(isinstance(v, (str, type(None))) for v in rec.files.values())):
                    raise ValueError(f"step record '{name}' is malformed")
            for name in ("source", "checks", "output", "folding", "estimate", "measured", "provenance"):
                if not isinstance(getattr(state, name), dict):
                    raise ValueError(f"field '{name}' must be an object")
        except FileNotFoundError:
            raise HwsqueezeError(f"no earlier build in {Path(path).parent} ({Path(path).name} missing)") from None
        except (ValueError, TypeError, AttributeError) as e:
            raise HwsqueezeError(f"{path} is corrupt ({type(e).__name__}: {str(e)[:100]}); rebuild without "
                                 "--from-step") from None
        return state


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def provenance(cfg: BuildConfig, versions: Dict[str, str]) -> Dict[str, str]:
    """Fingerprints of every build input, by key (see ``pipeline.STEPS`` for who depends on what).

    Values are short human-readable descriptions followed by a digest, so an error can say what
    changed: ``board`` -> ``"pynq-z2 #1a2b..."``.
    """
    from ..deps.manifest import fingerprint as deps_fingerprint
    from ..train.shipped import checkpoint_path

    if cfg.onnx is not None:
        source = f"onnx {Path(cfg.onnx).name} #{sha256_file(Path(cfg.onnx))[:16]}"
    elif cfg.model_name:
        source = f"untrained {cfg.model_name} (seed 0)"
    else:
        ck = checkpoint_path(cfg.checkpoint)
        if not ck.is_file():
            raise HwsqueezeError(f"checkpoint not found: {ck}")
        source = f"checkpoint {ck.name} #{sha256_file(ck)[:16]}"
    b = cfg.board
    return {
        "source": source,
        "verify_n": str(cfg.verify_n),
        "versions": "hwsqueeze {} finn-plus {} #{}".format(versions.get("hwsqueeze"), versions.get("finn-plus"),
                                                           _digest(versions)),
        "mapping": ("standalone thresholds (RTL MVUs)" if cfg.standalone_thresholds
                    else "thresholds inside the MVAUs"),
        "board": f"{b.name} ({b.part}, {b.clock_mhz:g} MHz) #{_digest(asdict(b))}",
        "finn_deps": deps_fingerprint(),  # FINN+ writes the FINN_DEPS path into the HLS TCL at codegen
        "samples": f"samples from {cfg.samples}" if cfg.samples else "samples: the checkpoint's dataset if present",
        "folding": (f"folding config {Path(cfg.folding_config).name} #{sha256_file(Path(cfg.folding_config))[:16]}"
                    if cfg.folding_config else f"target_fps={cfg.target_fps} margin={cfg.margin:g} dsps={cfg.use_dsps} "
                                               f"search={cfg.folding_search}")
                    + (" fuse_fire" if cfg.fuse_fire else ""),
    }
