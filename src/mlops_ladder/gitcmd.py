"""Every git command mlops-ladder runs, with one error type and one rollback.

A failing command raises GitError (a LadderError) carrying git's first error
line; `check=False` returns the output whatever the exit status.
"""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import GitError

# mlops-ladder's own commits (the embedded template, a staging copy) need no user identity.
OWN_IDENTITY = (
    "-c",
    "user.name=mlops-ladder",
    "-c",
    "user.email=mlops-ladder@localhost",
    "-c",
    "commit.gpgsign=false",
)


def git(
    path: Path,
    *args: str,
    check: bool = True,
    stdin: str | None = None,
    timeout: float | None = None,
) -> str:
    """Run `git -C path args...` and return its standard output."""
    try:
        result = subprocess.run(
            ["git", "-C", str(path), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=os.environ | {"GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git {' '.join(args)} failed in {path}: {error}") from None
    if check and result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()] or ["no message"]
        reason = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0])
        raise GitError(f"git {' '.join(args)} failed in {path}: {reason}")
    return result.stdout


def succeeds(path: Path, *args: str) -> bool:
    """Whether `git -C path args...` exits 0 (for questions such as `check-ignore`)."""
    result = subprocess.run(["git", "-C", str(path), *args], capture_output=True, check=False)
    return result.returncode == 0


def is_git_repo(path: Path) -> bool:
    return git(path, "rev-parse", "--is-inside-work-tree", check=False).strip() == "true"


def is_ignored(path: Path) -> bool:
    """Whether the repository around folder `path` ignores it (as mlops-ladder's demo/ is)."""
    return succeeds(path.parent, "check-ignore", "-q", f"{path.name}/")


def uncommitted(path: Path) -> list[str]:
    """Changed, staged and untracked paths (ignored files do not count)."""
    entries = git(path, "status", "--porcelain", "-z", "--untracked-files=all").split("\0")
    return [entry[3:] for entry in entries if entry.strip()]


def remote_tags(source: str) -> tuple[str, ...] | None:
    """The tags of a repository path or URL; None when it cannot be reached."""
    try:
        listing = git(Path.cwd(), "ls-remote", "--tags", "--refs", source, timeout=10)
    except GitError:
        return None
    return tuple(line.split("refs/tags/")[-1] for line in listing.splitlines())


@contextmanager
def back_to_clean(path: Path, start: str) -> Iterator[None]:
    """On any failure or interrupt, put a tree that was clean on branch `start` back as it was."""
    try:
        yield
    except BaseException:
        git(path, "reset", "--quiet", "--hard", check=False)
        git(path, "clean", "--quiet", "-d", "--force", check=False)
        git(path, "switch", "--quiet", start, check=False)
        raise
