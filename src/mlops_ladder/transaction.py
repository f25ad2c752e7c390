"""All-or-nothing changes to a project: merge in a staging worktree, apply in one journaled step.

A climb or an update runs copier in a detached git worktree kept in the
project's git folder (`.git/mlops-ladder/`), so the project's own files are not
touched while copier renders and merges; copier's temporary folders go there
too. The result is then applied in one short step with SIGINT and SIGTERM held
back: a journal listing every path to write or delete is written first, then the
files, then the index entries of conflicted files, and the journal is removed
last. A process killed inside that step (SIGKILL, power loss) leaves the journal
behind; every later mlops-ladder command in the project sees it and says how to
finish the change (`--continue`) or undo it (`--abort`). Killed before it, the
project is unchanged and the leftovers are removed by the next command.
"""

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TypeVar

from .errors import Cancelled, LadderError
from .gitcmd import git
from .project import Project

STATE = "mlops-ladder"
JOURNAL = "journal.json"
T = TypeVar("T")


@dataclass
class Journal:
    """What an unfinished change writes and deletes, relative to the repository's top."""

    summary: str  # "climb from level 2 to 3"
    command: str  # the command that finishes or undoes it: "climb" or "update"
    head: str
    writes: list[str]
    deletes: list[str]
    unmerged: str  # `git ls-files -u -z` of the staged result: the conflicts' index entries

    def advice(self) -> str:
        return (
            f"an interrupted {self.summary} is unfinished in this project: run "
            f"`mlops-ladder {self.command} --continue` to finish it or "
            f"`mlops-ladder {self.command} --abort` to undo it"
        )


def _top(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--show-toplevel").strip())


def state_dir(path: Path) -> Path:
    common = git(path, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    return Path(common) / STATE


def pending(path: Path) -> Journal | None:
    """The journal of a change that was killed while it was being applied, if any."""
    journal = state_dir(path) / JOURNAL
    if not journal.is_file():
        return None
    try:
        return Journal(**json.loads(journal.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        raise LadderError(
            f"{journal} is damaged: run `git status`, restore the files you need with "
            f"`git checkout -- PATH`, then delete {journal}"
        ) from None


def refuse_if_pending(path: Path) -> None:
    journal = pending(path)
    if journal:
        raise LadderError(journal.advice())


def clean_leftovers(path: Path) -> None:
    """Remove the staging worktree and temporary files of a change that never applied."""
    state = state_dir(path)
    if (state / JOURNAL).exists() or not state.exists():
        return
    shutil.rmtree(state, ignore_errors=True)
    git(path, "worktree", "prune", check=False)


def checkpoint(name: str) -> None:
    """A pause for the interruption tests (MLOPS_LADDER_PAUSE_AT=name); nothing otherwise."""
    if os.environ.get("MLOPS_LADDER_PAUSE_AT") == name:
        Path(os.environ["MLOPS_LADDER_PAUSE_FILE"]).touch()
        time.sleep(2)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends; they are delivered then."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """Send tempfile's folders (copier's renders and clones) to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    before = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = before


@contextmanager
def scratch(project: Project) -> Iterator[None]:
    """Temporary files of a read-only command (a dry run) inside the git folder."""
    clean_leftovers(project.path)
    state = state_dir(project.path)
    try:
        with temporary_files_in(state / "tmp"):
            yield
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _staged_changes(staging: Path, head: str) -> tuple[list[str], list[str]]:
    """Paths the staged result writes and deletes against `head`, relative to the top."""
    names = [
        # Against `head`, not the staging HEAD: the staging copy may hold a commit of its own.
        git(staging, "diff", "--no-renames", "--name-only", "-z", head),
        git(staging, "ls-files", "-z", "--others", "--exclude-standard"),
        # The staging worktree starts with no ignored file: any there now, copier wrote.
        git(staging, "ls-files", "-z", "--others", "--ignored", "--exclude-standard"),
    ]
    writes, deletes = set(), set()
    for name in "\0".join(names).split("\0"):
        if name:
            (writes if os.path.lexists(staging / name) else deletes).add(name)
    return sorted(writes), sorted(deletes)


def _copy(source: Path, target: Path) -> None:
    """Put `source` at `target` in one rename, so a reader never sees half a file."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.mlops-ladder-partial")
    partial.unlink(missing_ok=True)
    if source.is_symlink():
        partial.symlink_to(os.readlink(source))
    else:
        shutil.copyfile(source, partial)
        shutil.copymode(source, partial)
    os.replace(partial, target)


def _delete(top: Path, name: str) -> None:
    path = top / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    parent = path.parent
    while parent != top and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def _write_journal(state: Path, journal: Journal) -> None:
    partial = state / f"{JOURNAL}.partial"
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(asdict(journal), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, state / JOURNAL)


def _apply(top: Path, staging: Path, journal: Journal) -> None:
    for number, name in enumerate(journal.writes):
        _copy(staging / name, top / name)
        if number == len(journal.writes) // 2:
            checkpoint("apply")
    for name in journal.deletes:
        _delete(top, name)
    if journal.unmerged:
        # Mark conflicted files unmerged in the index, as copier does in place,
        # so `git status` lists them as conflicts until the user resolves them.
        # A mode-0 line removes every stage of a path: one per path, before its stages.
        lines, cleared = [], set()
        for entry in filter(None, journal.unmerged.split("\0")):
            _, name = entry.split("\t", 1)
            if name not in cleared:
                cleared.add(name)
                lines.append(f"0 {'0' * 40}\t{name}")
            lines.append(entry)
        git(top, "update-index", "-z", "--index-info", stdin="\0".join(lines) + "\0")


def _finish(top: Path, state: Path, journal: Journal) -> None:
    with signals_held():
        _apply(top, state / "staging", journal)
        (state / JOURNAL).unlink()
    _discard(top, state)


def _discard(top: Path, state: Path) -> None:
    git(top, "worktree", "remove", "--force", str(state / "staging"), check=False)
    shutil.rmtree(state, ignore_errors=True)
    git(top, "worktree", "prune", check=False)


def run_staged(
    project: Project,
    summary: str,
    command: str,
    change: Callable[[Project], T],
    prepare: Callable[[Project], None] | None = None,
    settle: Callable[[Project], None] | None = None,
) -> T:
    """Run `change` on a staging copy of the project, then apply its result all at once.

    `prepare` may commit to the staging copy first (say, to point its answers
    at a template source this machine has); `settle` edits the staged result
    before it is applied. Interrupted before the apply step, the project is
    unchanged; killed inside it, the journal says how to finish or undo it.
    """
    refuse_if_pending(project.path)
    clean_leftovers(project.path)
    top = _top(project.path)
    state = state_dir(project.path)
    staging = state / "staging"
    applied = False
    try:
        state.mkdir(parents=True, exist_ok=True)
        head = git(top, "rev-parse", "HEAD").strip()
        # No hooks: the staging copy is ours, and a post-checkout hook must not run in it.
        git(
            top,
            "-c",
            f"core.hooksPath={os.devnull}",
            "worktree",
            "add",
            "--quiet",
            "--detach",
            str(staging),
            head,
        )
        staged = replace(project, path=staging / project.path.relative_to(top))
        with temporary_files_in(state / "tmp"):
            checkpoint("render")
            if prepare:
                prepare(staged)
            result = change(staged)
            if settle:
                settle(staged)
        writes, deletes = _staged_changes(staging, head)
        unmerged = git(staging, "ls-files", "-u", "-z")
        journal = Journal(summary, command, head, writes, deletes, unmerged)
        with signals_held():
            _write_journal(state, journal)
            applied = True
            _apply(top, staging, journal)
            (state / JOURNAL).unlink()
            checkpoint("applied")
    except KeyboardInterrupt:
        if applied:
            with suppress(KeyboardInterrupt):
                _discard(top, state)
            message = f"interrupted after the {summary} was applied: review `git status`"
            raise Cancelled(message) from None
        _discard(top, state)
        raise Cancelled("cancelled: nothing was changed") from None
    except BaseException:
        if not applied:
            _discard(top, state)
        raise
    with suppress(KeyboardInterrupt):  # the change is complete; the next command tidies up
        _discard(top, state)
    return result


def resume(path: Path) -> str:
    """Finish an unfinished change from its journal; returns its summary."""
    journal = pending(path)
    if journal is None:
        raise LadderError("nothing to continue: no interrupted climb or update in this project")
    top, state = _top(path), state_dir(path)
    if not (state / "staging").is_dir():
        raise LadderError(
            f"the staged result of the {journal.summary} is gone, so it cannot be finished: "
            f"run `mlops-ladder {journal.command} --abort`"
        )
    _finish(top, state, journal)
    return journal.summary


def abort(path: Path) -> str:
    """Undo an unfinished change: every path it touched goes back to the commit it started on."""
    journal = pending(path)
    if journal is None:
        raise LadderError("nothing to abort: no interrupted climb or update in this project")
    top, state = _top(path), state_dir(path)
    if git(top, "rev-parse", "HEAD").strip() != journal.head:
        raise LadderError(
            f"HEAD moved since the {journal.summary} began: check out {journal.head[:12]} "
            "and run --abort again"
        )
    touched = journal.writes + journal.deletes
    tracked = set(
        filter(None, git(top, "ls-tree", "-r", "-z", "--name-only", journal.head).split("\0"))
    )
    with signals_held():
        git(top, "reset", "--quiet")
        restore = [name for name in touched if name in tracked]
        if restore:
            paths = "\0".join(restore) + "\0"
            git(
                top,
                "checkout",
                journal.head,
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
                stdin=paths,
            )
        for name in touched:
            if name not in tracked:
                _delete(top, name)
        (state / JOURNAL).unlink()
    _discard(top, state)
    return journal.summary
