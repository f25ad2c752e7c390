"""Everything that runs copier: new projects, climbs, dry runs and version checks.

copier is imported where it runs, not with this module: `status`, `assess` and every
refusal answer without loading it (about half a second of each command's start).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from contextlib import nullcontext, redirect_stderr
from dataclasses import dataclass, field
from filecmp import cmp
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from packaging.version import InvalidVersion, Version

from .embedded import (
    EMBEDDED_SOURCE,
    cache_home,
    ensure_template_repo,
    has_version,
    is_embedded,
    reachable_source,
)
from .errors import Cancelled, LadderError, one_line
from .gitcmd import OWN_IDENTITY, git, is_git_repo, is_ignored, remote_tags, succeeds, uncommitted
from .merge import MERGES, keep_ours
from .project import ANSWERS_FILE, Project, load_project
from .transaction import refuse_if_pending, run_staged, scratch, temporary_files_in

if TYPE_CHECKING:
    from copier import VcsRef

CONFLICT_MARKER = "<<<<<<< before updating"


class VersionUnknown(LadderError):
    """The template's versions cannot be listed, or the project's is not one of them."""


def copier_message(error: Exception) -> str:
    """A copier error as one line that says what to do."""
    from copier.errors import ConfigFileError

    if isinstance(error, ConfigFileError):
        return (
            "the template's copier.yml cannot be read at that version: "
            "give another version with --vcs-ref, or fix the template"
        )
    text = one_line(error)
    required = re.fullmatch(r'Question "(\w+)" is required', text)
    if required:
        name = required.group(1)
        return f"{name} has no default and needs an answer: pass -d {name}=VALUE or a --data-file"
    return text


def resolve_source(template: str | None, vcs_ref: str | None) -> tuple[str, str | None]:
    """The template to copy from and its version: the embedded one unless told otherwise."""
    if template is None:
        path, tag = ensure_template_repo()
        return str(path), vcs_ref or tag
    local = Path(template).expanduser()
    # copier update breaks on a relative _src_path: record local paths absolute.
    return (str(local.resolve()) if local.exists() else template), vcs_ref


@dataclass
class Created:
    level: int
    files: int
    ref: str
    git_note: str
    lock_note: str


def lock_dependencies(path: Path) -> str:
    """Write uv.lock with the uv on PATH, so the lock belongs to the change; says what happened."""
    uv = shutil.which("uv")
    if uv is None:
        return "uv is not on PATH: `make install` writes uv.lock; commit it."
    try:
        result = subprocess.run(
            [uv, "lock", "--quiet"], cwd=path, capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"uv could not lock the dependencies ({error}): `make install` writes uv.lock."
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"uv could not lock the dependencies ({reason}): `make install` writes uv.lock."
    return "Locked the dependencies in uv.lock."


def _initial_commit(dest: Path, ref: str, inside_repo: bool) -> str:
    # Inside another repository that tracks it (a monorepo), the project belongs to that one.
    if inside_repo:
        return "The project sits inside an existing git repository: commit it there."
    git(dest, "init", "--quiet")
    git(dest, "add", "--all")
    if not succeeds(dest, "commit", "--quiet", "-m", f"Generate from mlops-ladder {ref}"):
        return (
            "Created a git repository but could not commit (set git's user.name and "
            "user.email), so commit it yourself before the first climb."
        )
    return "Created a git repository with a first commit."


def new_project(
    dest: Path,
    data: dict,
    *,
    defaults: bool,
    template: str | None,
    vcs_ref: str | None,
    init_git: bool,
    lock: bool = True,
) -> Created:
    """Render into a hidden sibling folder, then rename it to `dest`: all or nothing."""
    from copier import run_copy
    from copier.errors import CopierAnswersInterrupt, CopierError

    src, ref = resolve_source(template, vcs_ref)
    staging = dest.with_name(f".{dest.name}.mlops-ladder-new")
    temporary = dest.with_name(f".{dest.name}.mlops-ladder-tmp")  # copier's clone of the template
    for leftover in (staging, temporary):
        shutil.rmtree(leftover, ignore_errors=True)  # left by a killed `new`
    inside_repo = is_git_repo(dest.parent) and not is_ignored(dest)
    try:
        try:
            # copier prints its own report of some errors; ours is one line.
            quiet = redirect_stderr(io.StringIO()) if defaults else nullcontext()
            with quiet, temporary_files_in(temporary):
                run_copy(src, staging, data=data, defaults=defaults, vcs_ref=ref, quiet=True)
        except CopierAnswersInterrupt:  # Ctrl-C at a prompt: not an error to print
            raise Cancelled("cancelled: nothing was changed") from None
        except (ValueError, CopierError) as error:
            raise LadderError(copier_message(error)) from None
        if template is None:
            write_source(staging, EMBEDDED_SOURCE)
        project = load_project(staging)
        files = sum(1 for p in staging.rglob("*") if p.is_file() and ".git" not in p.parts)
        lock_note = lock_dependencies(staging) if lock else "Not locked (--no-lock)."
        note = "No git repository was created (--no-git)."
        if init_git:
            note = _initial_commit(staging, project.template_version, inside_repo)
        if dest.exists():
            dest.rmdir()  # an empty folder the user made for it
        staging.rename(dest)
    except KeyboardInterrupt:
        raise Cancelled("cancelled: nothing was changed") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(temporary, ignore_errors=True)
    return Created(project.level, files, project.template_version, note, lock_note)


def preflight(project: Project) -> None:
    """Refuse, changing nothing, what copier update would refuse or do badly."""
    if not is_git_repo(project.path):
        raise LadderError(
            f"{project.path} is not a git repository: "
            "run `git init && git add -A && git commit -m init` first"
        )
    refuse_if_pending(project.path)
    dirty = uncommitted(project.path)
    if dirty:
        shown = ", ".join(dirty[:3]) + (", ..." if len(dirty) > 3 else "")
        raise LadderError(
            f"the working tree has {len(dirty)} uncommitted change(s) ({shown}): "
            "commit or stash them first"
        )


@dataclass
class Outcome:
    added: list[str]
    changed: list[str]
    deleted: list[str]
    conflicts: list[str]
    notes: list[str] = field(default_factory=list)


def _outcome(path: Path, notes: list[str] | None = None) -> Outcome:
    # -z: names come verbatim (spaces, non-ASCII), never quoted; renames are not tracked here.
    entries = git(path, "status", "--porcelain", "-z", "--untracked-files=all").split("\0")
    added, changed, deleted, conflicts = [], [], [], []
    for entry in filter(None, entries):
        code, name = entry[:2], entry[3:]
        if "U" in code or code in ("AA", "DD") or name.endswith(".rej"):
            conflicts.append(name)
        elif code == "??" or "A" in code:
            added.append(name)
        elif "D" in code:
            deleted.append(name)
        else:
            changed.append(name)
    for name in changed + added:
        file = path / name
        if file.is_file() and CONFLICT_MARKER in file.read_text(errors="ignore"):
            conflicts.append(name)
    return Outcome(added, changed, deleted, sorted(set(conflicts)), notes or [])


def climb_data(project: Project, from_file: dict, given: dict) -> dict:
    """The answers a climb passes to copier.

    A data file (perhaps another project's answers file) only answers questions
    this project has not answered yet, such as the new level's; -d answers change
    what they name. The level comes from the climb's target, never from either.
    """
    new = {key: value for key, value in from_file.items() if key not in project.answers}
    new.pop("mlops_level", None)
    return new | given


def _copier_update(project: Project, data: dict, vcs_ref: str | VcsRef) -> None:
    from copier import run_update
    from copier.errors import CopierError

    try:
        with redirect_stderr(io.StringIO()):  # copier prints its own report of some errors
            run_update(
                project.path,
                data=data,
                defaults=True,
                overwrite=True,
                vcs_ref=vcs_ref,
                quiet=True,
                unsafe=False,
            )
    except (ValueError, CopierError) as error:
        raise LadderError(copier_message(error)) from None


def _commit_in_staging(staged: Project, message: str) -> None:
    no_hooks = ("-c", f"core.hooksPath={os.devnull}")
    git(staged.path, *OWN_IDENTITY, *no_hooks, "commit", "--quiet", "--all", "-m", message)


def _reachable(project: Project, source: str | None) -> str:
    """`source` as copier can read it here, refused when it lacks the project's version."""
    if source is None or project.template_version is None:
        raise LadderError(
            f"{ANSWERS_FILE} records no template source or version: restore it from git"
        )
    actual = reachable_source(source)
    if is_embedded(source) and not has_version(Path(actual), project.template_version):
        raise LadderError(
            f"this machine's mlops-ladder has no template version {project.template_version}, "
            "which the project was made from: install that mlops-ladder version or newer, "
            "or give a git URL of the template with `mlops-ladder update --template URL`"
        )
    return actual


def _merge_conflicts(path: Path) -> list[str]:
    """Resolve a climb's conflict in pyproject.toml by its structure.

    A project brought on by `adopt` keeps its own dependency list where the
    template has its own, so a climb's text merge conflicts there. The project's
    side of each conflict is kept and the new level's missing tables, keys and
    requirements are added, as adopt does (merge.py); a conflict that cannot be
    resolved so stays a conflict.
    """
    notes = []
    unmerged = set(filter(None, git(path, "diff", "--name-only", "--diff-filter=U").split("\n")))
    for name in ("pyproject.toml",):
        file, merge = path / name, MERGES[name]
        if name not in unmerged or not file.is_file():
            continue
        ours = keep_ours(file.read_bytes().decode("utf-8", errors="replace"))
        theirs = git(path, "show", f":3:{name}", check=False)
        merged = merge(ours, theirs) if ours is not None and theirs else None
        if merged is None:
            continue
        file.write_bytes(merged[0].encode("utf-8"))
        git(path, "add", "--", name)
        notes.append(
            f"{name}: your side of its conflicts is kept and the new level's tables, keys "
            "and requirements are added (look over `git diff HEAD -- pyproject.toml`)"
        )
    return notes


def _staged_update(
    project: Project, summary: str, command: str, data: dict, vcs_ref: str | VcsRef, record: str
) -> Outcome:
    """copier update in a staging copy that reads `record`'s reachable form, then applied."""
    source = _reachable(project, project.template) if record == project.template else record

    def prepare(staged: Project) -> None:
        if source != staged.template:
            write_source(staged.path, source)
            _commit_in_staging(staged, "Point the answers at this machine's template")

    def settle(staged: Project) -> None:
        write_source(staged.path, EMBEDDED_SOURCE if is_embedded(record) else record)

    def change(staged: Project) -> Outcome:
        _copier_update(staged, data, vcs_ref)
        notes = _merge_conflicts(staged.path) if command == "climb" else []
        if (staged.path / "uv.lock").is_file():  # keep the committed lock in step with pyproject
            notes.append(lock_dependencies(staged.path))
        return _outcome(staged.path, notes)

    return run_staged(project, summary, command, change, prepare, settle)


def climb(project: Project, target: int, answers: dict | None = None) -> Outcome:
    """Run copier update with a higher mlops_level at the project's template version.

    `answers` answer the questions the new level asks (or change earlier answers);
    every other question keeps its answer, and a new one takes its default.
    """
    from copier import VcsRef

    preflight(project)
    return _staged_update(
        project,
        f"climb from level {project.level} to {target}",
        "climb",
        (answers or {}) | {"mlops_level": target},
        VcsRef.CURRENT,
        project.template,
    )


def update(
    project: Project,
    vcs_ref: str | None = None,
    template: str | None = None,
    answers: dict | None = None,
) -> tuple[str, Outcome]:
    """Move the project to a newer template version (the newest tag by default), same level.

    `template` re-points the project at another source of the same template (say,
    its git URL instead of a local cache path), so teammates, CI and Renovate can
    update it from then on; the current version is then enough to update to.
    `answers` change earlier answers (ci_provider=gitlab swaps the CI files); with
    them, too, the current version is enough.
    """
    preflight(project)
    recorded = project.template
    source = resolve_source(template, None)[0] if template else _reachable(project, recorded)
    tags = _remote_tags(source)
    if tags is None:
        raise LadderError(f"cannot list the versions of {source}: check the path or your network")
    if template and project.template_version not in tags:
        raise LadderError(
            f"{source} has no version {project.template_version}, which this project was made "
            "from: give a source of the same template"
        )
    target = vcs_ref or newer_version(source, project.template_version)
    if target is None and (template or answers):
        target = project.template_version
    if target is None:
        raise LadderError(
            f"the project is already at the newest template version, {project.template_version}"
        )
    outcome = _staged_update(
        project,
        f"update to template {target}",
        "update",
        (answers or {}) | {"mlops_level": project.level},
        target,
        source if template else recorded,
    )
    return target, outcome


def write_source(path: Path, source: str) -> None:
    """Write `source` as the answers file's _src_path."""
    answers = path / ANSWERS_FILE
    line = yaml.safe_dump({"_src_path": source}, width=1000).strip()
    text = answers.read_text(encoding="utf-8")
    answers.write_text(re.sub(r"^_src_path:.*$", lambda _: line, text, flags=re.M), "utf-8")


def _render(src: str, ref: str, answers: dict, dest: Path) -> None:
    from copier import run_copy

    with redirect_stderr(io.StringIO()):
        run_copy(src, dest, data=answers, defaults=True, vcs_ref=ref, quiet=True, unsafe=False)


def dry_run(project: Project, target: int, extra: dict | None = None) -> dict[str, list[str]]:
    """The files a climb would add, change and delete, from two fresh renders."""
    from copier.errors import CopierError

    preflight(project)
    answers = project.user_answers()
    src, ref = _reachable(project, project.template), project.template_version
    with scratch(project), tempfile.TemporaryDirectory() as tmp:
        before, after = Path(tmp, "before"), Path(tmp, "after")
        try:
            _render(src, ref, answers, before)
            _render(src, ref, answers | (extra or {}) | {"mlops_level": target}, after)
        except (ValueError, CopierError) as error:
            raise LadderError(copier_message(error)) from None
        old = {p.relative_to(before).as_posix() for p in before.rglob("*") if p.is_file()}
        new = {p.relative_to(after).as_posix() for p in after.rglob("*") if p.is_file()}
        changed = [
            name
            for name in sorted(old & new)
            if name != ANSWERS_FILE and not cmp(before / name, after / name, shallow=False)
        ]
    return {"add": sorted(new - old), "change": changed, "delete": sorted(old - new)}


def _version(tag: str) -> Version | None:
    try:
        return Version(tag.removeprefix("v").split("-")[0])
    except InvalidVersion:
        return None


@cache
def _sync_embedded_template() -> None:
    ensure_template_repo()


@cache
def _remote_tags(src: str) -> tuple[str, ...] | None:
    """The tags of `src`, asked once per process (a fleet shares one); None if unreachable."""
    return remote_tags(src)


def newer_version(src: str | None, current: str | None) -> str | None:
    """The newest tag of `src` above `current`, None when up to date.

    Raises VersionUnknown when the source cannot be listed or `current` is not a version.
    """
    if src is None or current is None:
        raise VersionUnknown("the answers file records no template source or version")
    if is_embedded(src):
        _sync_embedded_template()  # brings in the version of the installed package
        src = str(cache_home() / "template")
    tags = _remote_tags(src)
    if tags is None:
        raise VersionUnknown(f"cannot list the versions of {src}: check the path or your network")
    current_version = _version(current)
    versions = [(v, tag) for tag in tags if (v := _version(tag)) is not None]
    if current_version is None or not versions:
        raise VersionUnknown(
            f"the project's template version {current!r} is not a release tag "
            "of its source: give one with --vcs-ref"
        )
    best, tag = max(versions)
    return tag if best > current_version else None
