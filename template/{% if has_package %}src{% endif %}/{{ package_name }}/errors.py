"""The project's expected failures, and the one place that reports them.

Raise a `ProjectError` (or a subclass) for anything the user can fix: a missing
file, a bad value in params.yaml, a model that is not trained yet. `handle` runs
a command and turns such a failure into one line on stderr and exit code 2; any
other exception is a bug and keeps its traceback.
"""

import sys
from collections.abc import Callable

Command = Callable[[list[str] | None], int]


class ProjectError(Exception):
    """A failure the user can fix; its message says how."""


def handle(command: Command, argv: list[str] | None = None) -> int:
    """Run `command(argv)`; an expected failure prints one line and returns 2."""
    try:
        return command(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if not expected(error):
            raise
        print(f"error: {error}".splitlines()[0], file=sys.stderr)
        return 2


def expected(error: Exception) -> bool:
    """A project error, an unreadable file or bad data in it, or a tracking store error."""
    if isinstance(error, ProjectError | OSError | ValueError):
        return True
    # Only a command that loaded MLflow can have raised its errors; the others never import it.
    mlflow_errors = sys.modules.get("mlflow.exceptions")
    return mlflow_errors is not None and isinstance(error, mlflow_errors.MlflowException)
