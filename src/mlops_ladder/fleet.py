"""Many projects on one template: status in parallel, and the same climb or update for each.

`fleet climb` and `fleet update` change each project on a branch of its own and
commit there, then switch back, so every project's current branch is untouched
and each change waits for review like a pull request. A project with conflicts
is left on its branch with the conflicts in its working tree.
"""

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from .catalogue import Catalogue, Downgrade, plan_climb
from .errors import LadderError, one_line
from .gitcmd import back_to_clean, git
from .project import load_project
from .render import Outcome, climb, climb_data, newer_version, preflight, update
from .status import project_status


def read_paths(paths: Iterable[Path], from_file: Path | None) -> list[Path]:
    """The projects named on the command line and, one per line, in `from_file`."""
    found = list(paths)
    if from_file is not None:
        if not from_file.is_file():
            raise LadderError(f"list file {from_file} does not exist: give a file of paths")
        for line in from_file.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.append((from_file.parent / line.strip()).resolve())
    if not found:
        raise LadderError("no projects given: name their folders or pass --from-file")
    return found


def _status_row(path: Path, catalogue: Catalogue) -> dict:
    try:
        report = project_status(path, catalogue)
        return report.to_json() | {"uncommitted": report.uncommitted, "error": None}
    except Exception as error:  # one broken project must not hide the others' reports
        return {"project": str(path), "healthy": False, "error": one_line(error)}


def fleet_status(paths: list[Path], catalogue: Catalogue, jobs: int) -> list[dict]:
    """The status of every project, checked `jobs` at a time, in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda path: _status_row(path, catalogue), paths))


@dataclass
class Change:
    """What a fleet climb or update did to one project."""

    project: str
    result: str  # done, conflicts, refused, nothing to do
    branch: str | None
    detail: str


def _on_branch(path: Path, branch: str, apply: Callable[[], Outcome], message: str) -> Change:
    if git(path, "branch", "--list", branch).strip():
        detail = f"branch {branch} already holds this change: review and merge it"
        return Change(str(path), "nothing to do", branch, detail)
    start = git(path, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    if not start:
        raise LadderError("HEAD is detached: switch to a branch first")
    git(path, "switch", "--quiet", "-c", branch)
    try:
        with back_to_clean(path, start):
            outcome = apply()
            if outcome.conflicts:
                detail = f"resolve on {branch}: {', '.join(outcome.conflicts)}"
                return Change(str(path), "conflicts", branch, detail)
            git(path, "add", "--all")
            git(path, "commit", "--quiet", "-m", message)
    except BaseException as error:  # Ctrl-C too: never leave a half-made branch behind
        git(path, "branch", "--quiet", "-D", branch, check=False)
        if not isinstance(error, Exception):
            raise
        return Change(str(path), "refused", None, one_line(error))
    git(path, "switch", "--quiet", start)
    touched = len(outcome.added) + len(outcome.changed) + len(outcome.deleted)
    return Change(str(path), "done", branch, f"{touched} file(s) changed, committed on {branch}")


def _change_one(
    path: Path, kind: str, catalogue: Catalogue, to: int | None, answers: tuple[dict, dict]
) -> Change:
    try:
        project = load_project(path)
        preflight(project)
        if kind == "climb":
            try:
                plan = plan_climb(catalogue, project.level, to)
            except Downgrade:
                return Change(str(path), "nothing to do", None, f"already at level {project.level}")
            return _on_branch(
                path,
                f"mlops-ladder/level-{plan.target}",
                lambda: climb(project, plan.target, climb_data(project, *answers)),
                f"Climb to MLOps level {plan.target} with mlops-ladder",
            )
        newest = newer_version(project.template, project.template_version)
        if newest is None:
            return Change(
                str(path), "nothing to do", None, f"already at {project.template_version}"
            )
        return _on_branch(
            path,
            f"mlops-ladder/template-{newest}",
            lambda: update(project)[1],
            f"Update to mlops-ladder template {newest}",
        )
    except Exception as error:  # one broken project must not hide the others' reports
        return Change(str(path), "refused", None, one_line(error))


def fleet_change(
    paths: list[Path],
    kind: str,
    catalogue: Catalogue,
    *,
    jobs: int,
    to: int | None = None,
    answers: tuple[dict, dict] = ({}, {}),
) -> list[dict]:
    """Climb or update every project on its own branch, `jobs` at a time.

    Each project gets a process of its own: copier changes the working folder
    of the process it runs in, so two renders cannot share one.
    """
    change = partial(_change_one, kind=kind, catalogue=catalogue, to=to, answers=answers)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        return [asdict(result) for result in pool.map(change, paths)]
