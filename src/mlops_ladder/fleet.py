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

from .catalogue import Catalogue
from .errors import LadderError
from .project import check_health, git, is_git_repo, load_project, uncommitted
from .render import Outcome, climb, climb_data, newer_version, preflight, update
from .transaction import pending


def status_report(path: Path, catalogue: Catalogue) -> dict:
    """Level, template version, newer version and the level doctor of one project."""
    project = load_project(path)
    health = check_health(project, catalogue)
    journal = pending(project.path) if is_git_repo(project.path) else None
    return {
        "project": str(project.path),
        "level": project.level,
        "level_name": catalogue.level(project.level).name,
        "template": project.template,
        "template_version": project.template_version,
        "newer_version": newer_version(project.template, project.template_version),
        "healthy": health.ok and journal is None,
        "unfinished": journal.advice() if journal else None,
        "checked": {"files": health.checked_files, "make_targets": health.checked_targets},
        "missing": [
            {
                "kind": f.kind,
                "name": f.name,
                "capability": f.capability.id,
                "level": f.capability.level,
            }
            for f in health.findings
        ],
    }


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
        report = status_report(path, catalogue)
        report["uncommitted"] = len(uncommitted(path)) if is_git_repo(path) else None
        report["error"] = None
    except Exception as error:  # one broken project must not hide the others' reports
        report = {"project": str(path), "healthy": False, "error": _one_line(error)}
    return report


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


def _one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _on_branch(path: Path, branch: str, apply: Callable[[], Outcome], message: str) -> Change:
    if git(path, "branch", "--list", branch).strip():
        detail = f"branch {branch} already holds this change: review and merge it"
        return Change(str(path), "nothing to do", branch, detail)
    start = git(path, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    if not start:
        raise LadderError("HEAD is detached: switch to a branch first")
    git(path, "switch", "--quiet", "-c", branch)
    try:
        outcome = apply()
        if outcome.conflicts:
            detail = f"resolve on {branch}: {', '.join(outcome.conflicts)}"
            return Change(str(path), "conflicts", branch, detail)
        git(path, "add", "--all")
        git(path, "commit", "--quiet", "-m", message)
    except BaseException as error:  # Ctrl-C too: never leave a project on a half-made branch
        # The tree was clean on `start`: go back to it exactly and drop the branch.
        git(path, "reset", "--quiet", "--hard", check=False)
        git(path, "clean", "--quiet", "-d", "--force", check=False)
        git(path, "switch", "--quiet", start, check=False)
        git(path, "branch", "--quiet", "-D", branch, check=False)
        if not isinstance(error, Exception):
            raise
        return Change(str(path), "refused", None, _one_line(error))
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
            target = project.level + 1 if to is None else to
            if target <= project.level:
                return Change(str(path), "nothing to do", None, f"already at level {project.level}")
            if target not in catalogue.offered:
                raise LadderError(f"level {target} is not offered by this template")
            return _on_branch(
                path,
                f"mlops-ladder/level-{target}",
                lambda: climb(project, target, climb_data(project, *answers)),
                f"Climb to MLOps level {target} with mlops-ladder",
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
        return Change(str(path), "refused", None, _one_line(error))


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
