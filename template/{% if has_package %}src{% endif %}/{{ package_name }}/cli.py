"""The project's one command line: its subcommands are named after the make targets.

The Makefile calls it, `python -m` on the package runs it too, and `--help` lists
the subcommands this project has: each exists once its level brings its module.
"""

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from .errors import handle

# subcommand -> (the module whose main() runs it, what it does)
COMMANDS = {
    "score": ("score", "score a CSV of rows with the trained model"),
    "train": ("pipeline", "run the training steps, or one of them (make train: via dvc repro)"),
    "promote": ("registry", "move the champion alias to the challenger if it is as good"),
    "validate": ("gate", "the release gate: challenger against champion on held-out rows"),
    "bundle": ("bundle", "copy the champion and challenger into models/serving/"),
    "serve": ("service", "serve the bundled models over HTTP on a local port"),
    "ab-report": ("ab", "compare the variants the service answered with"),
    "release-record": ("release", "link image, model versions, data and commit in one record"),
    "monitor": ("drift", "compare recent traffic with the training data"),
    "retrain": ("loop", "retrain, gate, promote and re-bundle when drift says so"),
}


def available() -> dict[str, tuple[str, str]]:
    """The subcommands whose modules this project holds."""
    return {
        name: (module, summary)
        for name, (module, summary) in COMMANDS.items()
        if importlib.util.find_spec(f"{__package__}.{module}") is not None
    }


def program() -> str:
    """How the user called this: the console script's name, or `python -m <package>`."""
    name = Path(sys.argv[0]).name
    return f"python -m {__package__}" if name == "__main__.py" else name


def parser(commands: dict[str, tuple[str, str]]) -> argparse.ArgumentParser:
    lines = [f"  {name:<15} {summary}" for name, (_, summary) in commands.items()]
    parse = argparse.ArgumentParser(
        prog=program(),
        description=__doc__.splitlines()[0],
        epilog="commands:\n" + "\n".join(lines) + "\n\n<command> --help shows its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("command", choices=commands, metavar="command", help="one of those below")
    parse.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parse


def main(argv: list[str] | None = None) -> int:
    commands = available()
    parse = parser(commands)
    args = parse.parse_args(sys.argv[1:] if argv is None else argv)
    module = importlib.import_module(f"{__package__}.{commands[args.command][0]}")
    if argv is None:  # run from the shell: the command's usage line reads "<program> <command>"
        sys.argv[0] = f"{parse.prog} {args.command}"
    return handle(module.main, args.args)


if __name__ == "__main__":
    sys.exit(main())
