"""Bring an existing repository under the template at a level, losing none of its lines.

The answers come from what the repository already says (pyproject.toml or
setup.cfg, the source layout, LICENSE, a cookiecutter or cruft context, git's
user), then from --data-file and -d. The template is rendered at the level into
a scratch folder and compared with the repository, file by file:

- add: the repository has no such file; the template's is written.
- same: the repository's file is byte for byte the template's.
- merge: an ignore file (.gitignore and the like); the template's lines that are
  missing are appended below the repository's own. pyproject.toml, the Makefile
  and README.md are merged by their structure (merge.py): the repository's file
  stays as it is and the template's missing tables, keys, requirements, targets
  or sections are added; when that cannot be done safely, the file is a conflict.
- conflict: both have the file and they differ. The working file holds both
  versions between `<<<<<<< before adopting` and `>>>>>>> after adopting`
  (lines they share stay outside the markers), and git's index marks it as a
  conflict whose "ours" is the repository's file and "theirs" the template's, so
  `git status` lists it and `git checkout --ours FILE` brings the file back.
- keep: the repository has the file but git ignores it; it is left as it is.

Every other file of the repository is left alone. The change is made like a
climb (transaction.py): in a staging worktree, then applied in one journaled
step, so a refused or interrupted adopt leaves the repository as it was.
"""

import configparser
import json
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import read_yaml
from .embedded import EMBEDDED_SOURCE
from .errors import Cancelled, LadderError
from .gitcmd import git, is_git_repo
from .merge import MERGES
from .project import ANSWERS_FILE, Project
from .render import _render, copier_message, preflight, resolve_source, write_source
from .schema import answers_schema
from .transaction import refuse_if_pending, run_staged

UNION_FILES = frozenset({".gitignore", ".dockerignore", ".dvcignore"})
OURS_LABEL = "before adopting"
THEIRS_LABEL = "after adopting"
MERGE_FILE = ("git", "merge-file", "-p", "-L", OURS_LABEL, "-L", "nothing", "-L", THEIRS_LABEL)
PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
# A cookiecutter (or cruft) context's keys, as the template's questions.
COOKIECUTTER_KEYS = {
    "project_name": "project_name",
    "module_name": "package_name",
    "package_name": "package_name",
    "description": "description",
    "project_short_description": "description",
    "author_name": "author_name",
    "full_name": "author_name",
    "author": "author_name",
    "email": "author_email",
    "author_email": "author_email",
    "python_version": "python_version",
    "open_source_license": "license",
    "license": "license",
}


@dataclass
class Inferred:
    """Answers read from the repository, each with the file it came from."""

    answers: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def offer(self, key: str, value: object, source: str) -> None:
        """Take `value` for `key` unless an earlier source gave one or the schema refuses it."""
        if key in self.answers or value in (None, ""):
            return
        value = str(value).strip()
        prop = answers_schema()["properties"].get(key, {})
        if "enum" in prop and value not in prop["enum"]:
            choices = ", ".join(map(str, prop["enum"]))
            self.notes.append(f"{source} says {key} {value!r}, not one of {choices}: not taken")
            return
        if key == "package_name" and not PACKAGE.fullmatch(value):
            return
        if value:
            self.answers[key] = value
            self.sources[key] = source


def _python_version(requires: str) -> str | None:
    """The lowest Python minor version a `requires-python` allows, such as "3.11"."""
    found = re.search(r"(?:>=|~=|==|\^)\s*(3\.\d+)", requires or "")
    return found.group(1) if found else None


def _license(text: str) -> str | None:
    head = text[:2000]
    if re.search(r"\bMIT License\b|Permission is hereby granted, free of charge", head):
        return "MIT"
    if re.search(r"BSD 3-Clause|Neither the name of", text[:4000]):
        return "BSD-3-Clause"
    if re.search(r"(?i)all rights reserved", head) and "Permission" not in head:
        return "Proprietary"
    return None


def _read(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _from_cookiecutter(root: Path, found: Inferred) -> None:
    for name in (".cruft.json", ".cookiecutter.json"):
        text = _read(root / name)
        if text is None:
            continue
        try:
            content = json.loads(text)
        except ValueError:
            found.notes.append(f"{name} is not valid JSON: not read")
            continue
        context = content.get("context", content) if isinstance(content, dict) else {}
        context = context.get("cookiecutter", context) if isinstance(context, dict) else {}
        if not isinstance(context, dict):
            continue
        for key, question in COOKIECUTTER_KEYS.items():
            value = context.get(key)
            if isinstance(value, str) and not value.startswith("{{"):
                found.offer(question, value, name)


def _from_pyproject(root: Path, found: Inferred) -> None:
    text = _read(root / "pyproject.toml")
    if text is None:
        return
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        found.notes.append("pyproject.toml is not valid TOML: not read")
        return
    project = document.get("project") or document.get("tool", {}).get("poetry") or {}
    found.offer("project_name", project.get("name"), "pyproject.toml")
    found.offer("description", project.get("description"), "pyproject.toml")
    authors = project.get("authors") or []
    first = authors[0] if authors else None
    if isinstance(first, dict):
        found.offer("author_name", first.get("name"), "pyproject.toml")
        found.offer("author_email", first.get("email"), "pyproject.toml")
    elif isinstance(first, str):  # poetry: "Name <email>"
        name, _, email = first.partition("<")
        found.offer("author_name", name.strip(), "pyproject.toml")
        found.offer("author_email", email.rstrip(">").strip(), "pyproject.toml")
    requires = project.get("requires-python") or project.get("dependencies", {})
    if isinstance(requires, dict):
        requires = requires.get("python", "")
    found.offer("python_version", _python_version(str(requires)), "pyproject.toml")


def _from_setup_cfg(root: Path, found: Inferred) -> None:
    text = _read(root / "setup.cfg")
    if text is None:
        return
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read_string(text)
    except configparser.Error:
        return
    meta = config["metadata"] if config.has_section("metadata") else {}
    for key, question in [
        ("name", "project_name"),
        ("description", "description"),
        ("author", "author_name"),
        ("author_email", "author_email"),
    ]:
        found.offer(question, meta.get(key), "setup.cfg")
    if config.has_section("options"):
        requires = config["options"].get("python_requires", "")
        found.offer("python_version", _python_version(requires), "setup.cfg")


def _packages(root: Path) -> list[str]:
    """Package folders: src/NAME/__init__.py, else NAME/__init__.py at the top."""
    for pattern in ("src/*/__init__.py", "*/__init__.py"):
        names = sorted(
            path.parent.name
            for path in root.glob(pattern)
            if path.parent.name not in {"tests", "test", "docs", "notebooks", "scripts"}
        )
        if names:
            return names
    return []


def _from_git(root: Path, found: Inferred) -> None:
    """The author of the repository's next commit, as git sees it (config or environment)."""
    ident = git(root, "var", "GIT_AUTHOR_IDENT", check=False)
    match = re.match(r"(.+?) <([^>]*)>", ident)
    if match:
        found.offer("author_name", match.group(1), "git's author")
        found.offer("author_email", match.group(2), "git's author")


def infer_answers(root: Path) -> Inferred:
    """What the repository says about the template's questions, most specific source first."""
    found = Inferred()
    _from_cookiecutter(root, found)
    _from_pyproject(root, found)
    _from_setup_cfg(root, found)
    packages = _packages(root)
    if len(packages) == 1:
        found.offer("package_name", packages[0], f"the package folder {packages[0]}/")
    license_text = _read(root / "LICENSE") or _read(root / "LICENSE.txt") or ""
    found.offer("license", _license(license_text), "LICENSE")
    year = re.search(r"(?i)copyright\s+(?:\(c\)\s*)?(\d{4})", license_text)
    found.offer("copyright_year", year.group(1) if year else None, "LICENSE")
    _from_git(root, found)
    return found


@dataclass
class Plan:
    level: int
    version: str
    answers: dict[str, Any]
    inferred: Inferred
    files: dict[str, str]  # path -> add, same, merge, conflict or keep
    left_alone: int
    notes: list[str] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)  # path -> text, structural merges

    def having(self, verb: str) -> list[str]:
        return [name for name, action in self.files.items() if action == verb]


def _tracked(root: Path) -> set[str]:
    return set(filter(None, git(root, "ls-files", "-z").split("\0")))


def _classify(root: Path, rendered: Path, name: str, tracked: set[str]) -> str:
    ours, theirs = root / name, rendered / name
    if ours.is_symlink() or (ours.exists() and not ours.is_file()):
        raise LadderError(
            f"{name} is a folder or a link in the repository and a file in the template: "
            "move it aside, commit, and adopt again"
        )
    if not ours.exists():
        return "add"
    if name not in tracked:
        return "keep"
    content = ours.read_bytes()
    if content == theirs.read_bytes():
        return "same"
    if Path(name).name in UNION_FILES and _is_utf8(content):
        return "merge"
    return "conflict"


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _render_at(level: int, answers: dict, dest: Path, ask: dict | None = None) -> str:
    """Render the template at `level`; with `ask`, prompt every question not in `answers`.

    `ask` holds the inferred answers, the prompts' defaults, as `new` asks (copier's
    questions in the terminal).
    """
    from copier import run_copy  # imported here: only a render needs it
    from copier.errors import CopierAnswersInterrupt, CopierError

    src, ref = resolve_source(None, None)
    data = answers | {"mlops_level": level}
    try:
        if ask is None:
            _render(src, ref, data, dest)
        else:
            run_copy(src, dest, data=data, user_defaults=ask, vcs_ref=ref, quiet=True, unsafe=False)
    except CopierAnswersInterrupt:  # Ctrl-C at a prompt: not an error to print
        raise Cancelled("cancelled: nothing was changed") from None
    except (ValueError, CopierError) as error:
        raise LadderError(copier_message(error)) from None
    write_source(dest, EMBEDDED_SOURCE)
    return ref


def _rendered_answers(rendered: Path) -> dict[str, Any]:
    """The answers the render recorded, without copier's own keys and the level."""
    recorded = read_yaml((rendered / ANSWERS_FILE).read_text(encoding="utf-8")) or {}
    return {
        key: value
        for key, value in sorted(recorded.items())
        if not key.startswith("_") and key != "mlops_level"
    }


def _check_repository(root: Path) -> Project:
    if not root.is_dir():
        raise LadderError(f"{root} is not a directory: give the folder of a git repository")
    if not is_git_repo(root):
        raise LadderError(
            f"{root} is not a git repository: run `git init && git add -A && "
            "git commit -m init` first"
        )
    refuse_if_pending(root)  # an adopt killed while it wrote: --continue or --abort
    if (root / ANSWERS_FILE).exists():
        raise LadderError(
            f"{root} already has {ANSWERS_FILE}: it is on the ladder, use `mlops-ladder climb`"
        )
    if not git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip():
        raise LadderError(f"{root} has no commit yet: commit your files first")
    top = Path(git(root, "rev-parse", "--show-toplevel").strip()).resolve()
    if top != root:
        raise LadderError(f"{root} is inside the repository {top}: adopt from its top folder")
    project = Project(path=root, answers={})
    preflight(project)
    return project


def plan_adoption(
    path: Path,
    level: int,
    given: dict,
    ask: Callable[[Inferred], None] | None = None,
) -> tuple[Plan, Path]:
    """What adopting at `level` does, from a render in a scratch folder.

    Without `ask`, the inferred and given answers are used and every other
    question takes its default. With it, `ask` is shown what was inferred, then
    each question not given is asked in the terminal, the inferred answer as its
    default. The caller removes the scratch folder (`rendered.parent`) when done.
    """
    root = path.resolve()
    _check_repository(root)
    inferred = infer_answers(root)
    scratch = Path(tempfile.mkdtemp(prefix="mlops-ladder-adopt-"))
    rendered = scratch / "render"
    try:
        if ask is None:
            version = _render_at(level, inferred.answers | given, rendered)
        else:
            ask(inferred)
            version = _render_at(level, given, rendered, ask=inferred.answers)
        answers = _rendered_answers(rendered)
        tracked = _tracked(root)
        names = sorted(
            p.relative_to(rendered).as_posix()
            for p in rendered.rglob("*")
            if p.is_file() or p.is_symlink()
        )
        files = {name: _classify(root, rendered, name, tracked) for name in names}
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    plan = Plan(level, version, answers, inferred, files, len(tracked - set(names)))
    for name in plan.having("conflict"):
        _try_merge(plan, root, rendered, name)
    package = answers.get("package_name")
    if package and (root / package / "__init__.py").is_file():
        plan.notes.append(
            f"Your package is in {package}/ and the template's code goes to src/{package}/: "
            f"move your modules there with git mv (rename one whose name the template's "
            f"has too), then delete {package}/, so one package holds both."
        )
    return plan, rendered


def _try_merge(plan: Plan, root: Path, rendered: Path, name: str) -> None:
    """Turn a conflict into a merge when the file's structure lets adopt keep all of both."""
    merge = MERGES.get(name)
    ours, theirs = _text(root / name), _text(rendered / name)
    if merge is None or ours is None or theirs is None:
        return
    merged = merge(ours, theirs)
    if merged is None:
        plan.notes.append(f"{name} could not be merged safely: it is left as a conflict")
        return
    text, notes = merged
    plan.files[name] = "merge"
    plan.merged[name] = text
    plan.notes.extend(notes)


def _text(path: Path) -> str | None:
    """The file's text with its line endings as they are, or None if it is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _union(ours: str, theirs: str) -> str:
    have = set(ours.splitlines())
    extra = [line for line in theirs.splitlines() if line not in have]
    if not extra:
        return ours
    joined = ours if ours.endswith("\n") or not ours else ours + "\n"
    return joined + "\n# Added by mlops-ladder adopt\n" + "\n".join(extra) + "\n"


def _conflict(staging: Path, name: str, theirs: Path) -> None:
    """Both versions in the working file, and the index entries of a both-added conflict."""
    ours = staging / name
    mode = git(staging, "ls-files", "-s", "--", name).split(" ", 1)[0] or "100644"
    ours_blob = git(staging, "hash-object", "-w", "--", str(ours)).strip()
    theirs_blob = git(staging, "hash-object", "-w", "--", str(theirs)).strip()
    entries = [
        f"0 {'0' * 40}\t{name}",
        f"{mode} {ours_blob} 2\t{name}",
        f"{mode} {theirs_blob} 3\t{name}",
    ]
    if b"\0" not in ours.read_bytes() + theirs.read_bytes():  # text: both, between markers
        ours.write_bytes(_with_markers(ours, theirs))
    git(staging, "update-index", "-z", "--index-info", stdin="\0".join(entries) + "\0")


def _with_markers(ours: Path, theirs: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp, "empty")
        empty.write_bytes(b"")
        merged = subprocess.run(
            [*MERGE_FILE, str(ours), str(empty), str(theirs)],
            capture_output=True,
            check=False,
        )
    if merged.returncode < 0 or not merged.stdout:
        raise LadderError(
            f"git merge-file could not merge {ours.name}: adopt stopped, nothing changed"
        )
    return merged.stdout


def adopt(path: Path, plan: Plan, rendered: Path) -> None:
    """Write the plan into the repository, all at once (see transaction.run_staged)."""
    root = path.resolve()
    project = _check_repository(root)

    def change(staged: Project) -> None:
        for name, action in plan.files.items():
            target, source = staged.path / name, rendered / name
            if action == "add":
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
                target.chmod(source.stat().st_mode & 0o777)
            elif action == "merge" and name in plan.merged:
                target.write_bytes(plan.merged[name].encode("utf-8"))
            elif action == "merge":
                target.write_text(
                    _union(target.read_text(encoding="utf-8"), source.read_text(encoding="utf-8")),
                    encoding="utf-8",
                )
            elif action == "conflict":
                _conflict(staged.path, name, source)

    run_staged(project, f"adopt at level {plan.level}", "adopt", change)
