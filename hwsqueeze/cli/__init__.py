"""The ``hwsqueeze`` command: one click group, each subcommand in its own module.

Subcommands are imported only when invoked (torch, brevitas and FINN+ are slow to import, and
board-side commands must not need them at all). To add a command, write ``cli/<module>.py``
with a click command and register it in ``COMMANDS``.
"""
from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Dict, List, Tuple

import click

from ..errors import EXIT_CODES

# name -> (module under hwsqueeze.cli, attribute, one-line help)
COMMANDS: Dict[str, Tuple[str, str, str]] = {
    "models": ("models", "models", "List the registered models with parameter counts and MACs."),
    "size": ("models", "size", "Exact weight storage: float32, dense low-bit, sparse estimate."),
    "train": ("train", "train", "Train a model (float pretraining or QAT), resumable."),
    "eval": ("train", "evaluate", "Top-1/top-5 of a checkpoint (default: the shipped model)."),
    "export": ("export", "export", "Export a checkpoint to QONNX and check it against Brevitas."),
    "build": ("build", "build", "Compile a model with FINN+ for a board (see `boards`)."),
    "boards": ("build", "boards", "List the supported boards and their resources."),
    "verify": ("verify", "verify", "Run images through the accelerator and the bit-exact reference."),
    "doctor": ("doctor", "doctor", "Which tools the full flow needs, which are here, which stages can run."),
    "deps": ("deps", "deps", "FINN+'s external dependencies for a Vivado build: fetch into the cache, status."),
    "simulate": ("simulate", "simulate", "Simulate the generated HLS C++ (g++) and RTL (Verilator), bit-exact."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> List[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str):
        if name not in COMMANDS:
            return None
        mod, attr, _ = COMMANDS[name]
        try:
            module = importlib.import_module(f"hwsqueeze.cli.{mod}")
        except ModuleNotFoundError as e:  # a stage not installed / not written yet
            raise click.ClickException(f"`{name}` is unavailable: {e}") from None
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text without importing every command module.
        with formatter.section("Commands"):
            formatter.write_dl([(n, COMMANDS[n][2]) for n in self.list_commands(ctx)])


@click.group(cls=LazyGroup)
@click.version_option(package_name="hwsqueeze")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error (also HWSQUEEZE_DEBUG=1).")
def main(debug: bool) -> None:
    """hwsqueeze: quantized SqueezeNet on small FPGAs (Brevitas -> QONNX -> FINN+ -> PYNQ)."""
    import logging

    from ..logs import to_console

    to_console(logging.DEBUG if debug else logging.INFO)  # library progress (hwsqueeze.* loggers) as plain lines


# the exit-code list of --help, from the one table of them (errors.EXIT_CODES)
main.help = (main.help or "") + "\n\nExit codes: " + ", ".join(
    f"{code} {what}" for code, what in sorted(EXIT_CODES.items()) if code != 1) + ", 130 interrupted."


def _debug() -> bool:
    return "--debug" in sys.argv[1:] or os.environ.get("HWSQUEEZE_DEBUG") == "1"


def run() -> None:
    """Entry point: one clear error line and a class-specific exit code, never a traceback
    (unless ``--debug``)."""
    from hwsqueeze.errors import BAD_INPUT, failure

    try:
        main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:  # usage errors too: one line, pointing at --help
        ctx = getattr(e, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if isinstance(e, click.UsageError) and ctx else ""
        click.echo(f"error: {e.format_message()}{hint}", err=True)
        sys.exit(BAD_INPUT)
    except BrokenPipeError:  # `hwsqueeze ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        sys.exit(0)
    except Exception as e:  # ours (HwsqueezeError), out of memory, or a bug: one line, the traceback on request
        if _debug() and not isinstance(e, MemoryError):
            traceback.print_exc()
        line, code = failure(e)
        click.echo(line, err=True)
        sys.exit(code)
