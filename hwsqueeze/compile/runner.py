"""Runs the step table (:mod:`.pipeline`): resume with provenance checks, per-step files, checks.

``build/<board>/`` after a run: ``intermediate/NN_<step>.onnx`` (open with netron),
``build_state.json`` (what every step found and its provenance), ``build.log`` (FINN+'s own
output), the reports and ``deploy/``; ``build.json`` appears only when the build finished.
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from ..errors import MISSING_TOOL, HwsqueezeError
from ..logs import to_file
from ..fsutil import LOCK, folder_lock, sha256_file
from .config import BuildConfig, BuildState, StepRecord, provenance
from .pipeline import DESIGN_KEYS, STEPS, Step, first_stale, intermediate_path, overlapping, remove_stale, step_index, written
from .steps.vivado import MissingTools
from .verify import compare, execute

__all__ = ["BuildContext", "BuildResult", "run_build"]


@dataclass
class BuildResult:
    status: str  # "bitstream", "no-bitstream" or "estimate-only"
    out_dir: Path
    summary: dict
    message: str = ""


@dataclass
class BuildContext:
    """What a step sees: the configuration, the state so far, FINN's environment, the log."""

    cfg: BuildConfig
    state: BuildState
    env: object
    log: Callable[[str], None]

    def path(self, *parts: str) -> Path:
        return self.cfg.out_dir.joinpath(*parts)

    def intermediate(self, name: str) -> Path:
        return intermediate_path(self.cfg.out_dir, name)

    @property
    def design_keys(self) -> Tuple[str, ...]:
        """The provenance keys a bitstream depends on (the table's; steps cannot import it)."""
        return DESIGN_KEYS


def _check_out_dir(out: Path) -> None:
    """Never build into (and so never replace files in) a folder this tool did not create."""
    if out.is_file():
        raise HwsqueezeError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(p.name != LOCK for p in out.iterdir()) and not (out / "build_state.json").is_file():
        raise HwsqueezeError(f"--out {out} is not empty and holds no earlier hwsqueeze build; "
                             "choose a new or empty folder (nothing was changed)")


# BuildState fields the runner itself keeps; every other field belongs to the steps whose rows'
# ``sets`` name it, and a step that changes a field its row does not name is refused.
_RUNNER_FIELDS = ("board", "tools", "versions", "provenance", "steps", "checks")


def _step_fields(state: BuildState) -> Dict[str, str]:
    return {f.name: json.dumps(getattr(state, f.name), sort_keys=True, default=str)
            for f in fields(state) if f.name not in _RUNNER_FIELDS}


def _check_sets(step: Step, before: Dict[str, str], state: BuildState) -> None:
    changed = [k for k, v in _step_fields(state).items() if before[k] != v and k not in step.sets]
    if changed:  # a bug in the step or in its table row, not a user error
        raise RuntimeError(f"step '{step.name}' changed the build state's {', '.join(changed)}, which its row in "
                           "pipeline.STEPS does not list in `sets`")


def _drop_stale(cfg: BuildConfig, earlier: List[str], state: BuildState, log: Callable[[str], None]) -> List[str]:
    """Steps of the earlier build that were invalidated and did not run again: their files go
    (pipeline.remove_stale), so nothing stale looks current; kept ones are named in the log and
    returned (build.json lists them under ``stale``)."""
    stale = [n for n in earlier if n not in state.steps]
    removed, kept = remove_stale(cfg.out_dir, stale)
    if removed:
        log(f"  removed the earlier build's now-stale {', '.join(removed)} (steps {', '.join(stale)} did not rerun)")
    if kept:
        log(f"  kept from the earlier build, now stale: {', '.join(kept)} (rerun with --from-step {stale[0]} "
            "to refresh)")
    return kept


def _check_input_file(cfg: BuildConfig, state: BuildState, start: int) -> Path:
    prev = STEPS[start - 1]
    rec = state.steps[prev.name]
    path = cfg.out_dir / rec.output if rec.output else None
    if path is None or not path.is_file():
        raise HwsqueezeError(f"cannot resume from '{STEPS[start].name}': the output of step '{prev.name}' "
                             f"({rec.output}) is missing; rerun from '{prev.name}' or earlier")
    if sha256_file(path) != rec.output_sha256:
        raise HwsqueezeError(f"cannot resume from '{STEPS[start].name}': {rec.output} changed after step "
                             f"'{prev.name}' wrote it (sha256 differs); rerun from '{prev.name}' or earlier")
    return path


def _verify(ctx: BuildContext, step: Step, model) -> None:
    """Outputs of ``model`` on the sample images against the export's or the streamlined logits
    (a step whose ``check`` names another step compares with the logits that step's table row
    ``writes``; a step that writes ``verify/<its name>_logits.npy`` keeps its outputs there)."""
    v = ctx.path("verify")
    images = np.load(v / "input.npy")
    truth = STEPS[step_index(step.check)]
    ref = np.load(ctx.path(next(w for w in truth.writes if w.endswith("_logits.npy"))))
    got = execute(model, images) * float(ctx.state.output.get("scale", 1.0))
    rec = compare(step.name, got, ref, vs_export=step.check == "export")
    ctx.state.checks[step.name] = rec.to_dict()
    ctx.log(rec.summary())
    mine = f"verify/{step.name}_logits.npy"
    if mine in step.writes:
        np.save(ctx.path(mine), got)


def run_build(cfg: BuildConfig) -> BuildResult:
    """Run the build steps in order (from ``cfg.from_step`` if it still holds) and write build.json.

    Progress is logged to ``hwsqueeze.build`` (and always to ``build.log``); configure logging to see it.
    """
    wanted = step_index(cfg.from_step) if cfg.from_step else 0
    stop = step_index(cfg.stop_step) if cfg.stop_step else len(STEPS) - 1
    if stop < wanted:
        raise HwsqueezeError(f"--stop-step {cfg.stop_step} comes before --from-step {cfg.from_step}")
    cfg.out_dir = Path(cfg.out_dir).resolve()
    try:
        _check_out_dir(cfg.out_dir)
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a parent that is a file, a read-only or virtual file system ...
        raise HwsqueezeError(f"--out {cfg.out_dir}: cannot create the folder ({e.strerror or e})") from None
    # one build per folder: a second one into the same --out is refused until the first ends
    with folder_lock(cfg.out_dir, "a build"), to_file(cfg.out_dir / "build.log"):
        return _run_steps(cfg, wanted, stop)


def _run_steps(cfg: BuildConfig, wanted: int, stop: int) -> BuildResult:
    from ..fsutil import write_json
    from .finn_env import activate, versions

    summary_path, state_path = cfg.out_dir / "build.json", cfg.out_dir / "build_state.json"
    log = logging.getLogger("hwsqueeze.build").info
    vers = versions()
    prov = provenance(cfg, vers)
    state, model, start, earlier = BuildState(), None, 0, []
    if wanted > 0:
        state = BuildState.load(state_path)
        start, why = first_stale(state.steps, prov, cfg.out_dir, wanted)
        if why:
            log(f"  provenance: {why}: rebuilding from step '{STEPS[start].name}' instead of '{STEPS[wanted].name}'")
        earlier = list(state.steps)
        if start > 0:
            from qonnx.core.modelwrapper import ModelWrapper

            model = ModelWrapper(str(_check_input_file(cfg, state, start)))
    elif state_path.is_file():  # a fresh build over an earlier one: what it finished may go stale
        with contextlib.suppress(HwsqueezeError):
            earlier = list(BuildState.load(state_path).steps)
    if summary_path.exists():
        summary_path.unlink()  # a build in progress or failed must not look complete
    write_json(cfg.out_dir / "build_config.json", cfg.to_json())  # what `build --replay` rebuilds from
    env = activate(cfg.out_dir)
    state.board, state.tools, state.versions, state.provenance = cfg.board.name, env.tools, vers, prov
    fresh = BuildState()
    for later in STEPS[start:]:  # what the rerun steps decide must not survive from the earlier build
        state.steps.pop(later.name, None)
        state.checks.pop(later.name, None)
        for name in later.sets:
            setattr(state, name, getattr(fresh, name))
    ctx = BuildContext(cfg=cfg, state=state, env=env, log=log)
    ctx.path("intermediate").mkdir(exist_ok=True)
    finn_name = ctx.path("intermediate_models")  # where FINN's builder puts them: same files
    if not finn_name.exists() and not finn_name.is_symlink():
        finn_name.symlink_to("intermediate")
    try:
        status, message = _run_from(ctx, model, start, stop, prov)
    finally:
        stale = _drop_stale(cfg, earlier, state, log)
    from .report import write_time_per_step

    write_time_per_step(cfg.out_dir, state.timings_s)
    summary = {"status": status, "message": message, "stale": stale, **state.to_dict()}
    if status == "no-bitstream" and cfg.require_bitstream:
        raise HwsqueezeError(message + " (--require-bitstream)", exit_code=MISSING_TOOL)
    write_json(summary_path, summary)
    return BuildResult(status=status, out_dir=cfg.out_dir, summary=summary, message=message)


def _run_from(ctx: BuildContext, model, start: int, stop: int, prov: Dict[str, str]):
    """Run steps ``start``..``stop``, saving each one's graph, files' digests and record; (status, message)."""
    cfg, state, log = ctx.cfg, ctx.state, ctx.log
    state_path = cfg.out_dir / "build_state.json"
    status, message = "bitstream", ""
    for i in range(start, len(STEPS)):
        step = STEPS[i]
        if i > stop:
            if cfg.estimate_only:
                status, message = "estimate-only", ("estimate-only build: stopped after the estimates (no code "
                                                    f"generation, no deploy package); continue with --from-step "
                                                    f"{step.name}")
            else:
                status = "stopped"
                message = (f"stopped after step '{STEPS[stop].name}' (--stop-step); continue with "
                           f"--from-step {step.name}")
            break
        log(f"[{i:02d}] {step.name}: {step.doc}")
        t0 = time.time()
        try:
            with open(cfg.out_dir / "build.log", "a", buffering=1) as flog, contextlib.redirect_stdout(flog), \
                    contextlib.redirect_stderr(flog):
                print(f"==== [{i:02d}] {step.name} {time.strftime('%Y-%m-%d %H:%M:%S')}")
                missing = ctx.env.missing_tools() if step.needs_tools else []
                if missing:  # the table's needs_tools, checked here for every step that declares it
                    raise MissingTools(missing)
                before = _step_fields(state)
                model = step.run(ctx, model)
                _check_sets(step, before, state)
                if step.check:
                    _verify(ctx, step, model)
        except MissingTools as e:
            status = "no-bitstream"
            message = (f"no bitstream was built: step '{step.name}' needs {' and '.join(e.tools)}, which "
                       f"{'is' if len(e.tools) == 1 else 'are'} not on PATH. Every Vivado-free stage is complete; "
                       f"install Vivado/Vitis 2022.2+ and rerun with --from-step {step.name}.")
            break
        except HwsqueezeError:
            state.save(state_path)
            raise
        except Exception as e:  # a FINN/qonnx failure: name the step, keep the traceback in the log
            state.save(state_path)
            first = str(e).splitlines()[0] if str(e) else ""
            raise HwsqueezeError(f"step '{step.name}' failed: {type(e).__name__}: {first} "
                                 f"(details in {cfg.out_dir / 'build.log'})") from e
        out = ctx.intermediate(step.name)
        model.save(str(out))
        files = written(cfg.out_dir, step.name)
        if missing := [w for w, h in files.items() if h is None]:
            raise RuntimeError(f"step '{step.name}' did not write {', '.join(missing)}, which its row in "
                               "pipeline.STEPS lists in `writes`")
        state.steps[step.name] = StepRecord(inputs={k: prov[k] for k in step.depends},
                                            output=str(out.relative_to(cfg.out_dir)),
                                            output_sha256=sha256_file(out), seconds=round(time.time() - t0, 2),
                                            files=files)
        for other in overlapping(step.name):  # it wrote into their files: their records follow
            if other in state.steps:
                state.steps[other].files = written(cfg.out_dir, other)
        state.save(state_path)
    return status, message
