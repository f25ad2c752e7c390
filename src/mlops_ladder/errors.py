"""The errors mlops-ladder expects, and the one place that turns any error into a line."""

import yaml


class LadderError(Exception):
    """A refusal or failure the user can fix; the CLI prints it as one line (exit 2)."""


class GitError(LadderError):
    """A git command failed; the message carries git's own first error line."""


class Cancelled(Exception):
    """The user interrupted (Ctrl-C, SIGTERM); the message says what state things are in."""


def one_line(error: BaseException) -> str:
    """An error's message on one line: its lines joined, or its type's name."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines) or type(error).__name__


def report(error: BaseException) -> tuple[str, int] | None:
    """The line to print and the exit code for an expected error; None for a bug."""
    if isinstance(error, Cancelled):
        return f"mlops-ladder: {error}", 130
    if isinstance(error, KeyboardInterrupt):
        return "mlops-ladder: cancelled: nothing was changed", 130
    if isinstance(error, LadderError | OSError | yaml.YAMLError):
        return f"mlops-ladder: error: {one_line(error)}", 2
    return None
