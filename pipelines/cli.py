"""The ``veerkracht`` console script: ``run``, ``plan``, ``validate``, ``serve``, ``ui``.

A thin click group over the two argument parsers that already exist, so every option is defined
once: ``run``, ``plan``, ``validate`` and ``ui`` take the options of ``python -m pipelines``
(:func:`pipelines.__main__.main`, which stays), ``serve`` those of
``python -m veerkracht.publish.serve``. ``veerkracht <command> --help`` shows each one's options
with their defaults.
"""

from __future__ import annotations

import sys

import click

from pipelines.__main__ import ENV_HELP, _version, exit_now
from pipelines.__main__ import main as pipelines_main

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


# "\b" keeps click from re-wrapping the table of variables.
@click.group(
    epilog="\n\n".join("\b\n" + part for part in ENV_HELP.split("\n\n")),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(_version(), prog_name="veerkracht")
def cli() -> None:
    """Open veerkracht (resilience) maps of the Netherlands from CBS neighbourhood statistics.

    Quick start: `veerkracht run` builds every embedded year into the output folder
    ($VEERKRACHT_OUTPUT_DIR); `veerkracht serve` shows the web map. `veerkracht COMMAND
    --help` lists a command's options with their defaults.
    """


@cli.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(args: tuple[str, ...]) -> None:
    """Build the maps (as python -m pipelines). --help: options."""
    exit_now(pipelines_main(list(args), prog="veerkracht run"))


@cli.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def plan(args: tuple[str, ...]) -> None:
    """What `run` would run and why; writes nothing."""
    exit_now(pipelines_main(list(args), prog="veerkracht plan", mode="plan"))


@cli.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def validate(args: tuple[str, ...]) -> None:
    """The validation report from the build warehouse."""
    exit_now(pipelines_main(list(args), prog="veerkracht validate", mode="validate"))


@cli.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def ui(args: tuple[str, ...]) -> None:
    """The Dagster UI (dagster dev), same instance and settings."""
    sys.exit(pipelines_main([*args, "--ui"], prog="veerkracht ui"))


@cli.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    """Serve the web map on http://127.0.0.1:8000/."""
    from veerkracht.publish.serve import main as serve_main

    serve_main(list(args), prog="veerkracht serve")


if __name__ == "__main__":
    cli()
