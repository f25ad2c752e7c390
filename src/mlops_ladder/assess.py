"""Measure any repository against the maturity levels, from its files alone.

Each capability in levels.yml carries `detect:` rules: checks that name the files
(globs) and the content (regular expressions) that show the capability is there.
A check holds when one of its alternatives finds a file; a capability is present
when every check that is not `optional` holds. The level reached is the highest
level whose capabilities, and those of every level below, are all present.

Assessing only reads: it walks the tree once (skipping git's folder, virtual
environments and caches), reads only the files a content check names, never
follows a symbolic link, never imports or runs the project's code, never runs
git (a repository's own git config can run commands) and writes nothing.
"""

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .catalogue import Catalogue, levels_file, read_yaml
from .errors import LadderError

SCHEMA_ID = "https://github.com/mlops-ladder/mlops-ladder/assessment.schema.json"
FORMAT_VERSION = 1
# Folders that hold no evidence but can hold very many files.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".ipynb_checkpoints",
        "mlruns",
        "site-packages",
    }
)
SKIPPED_PATHS = frozenset({".dvc/cache", ".dvc/tmp"})
READ_LIMIT = 1_000_000  # bytes of a file a content check reads


@dataclass(frozen=True)
class Alternative:
    """Files matching any glob (and no `exclude` glob), one of which holds every pattern."""

    files: tuple[str, ...]
    contains: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"files": list(self.files), "contains": list(self.contains)}


@dataclass(frozen=True)
class Check:
    what: str
    alternatives: tuple[Alternative, ...]
    optional: bool = False


@dataclass(frozen=True)
class Evidence:
    path: str
    glob: str
    contains: tuple[str, ...]
    matched: tuple[str, ...] = ()  # the text each pattern matched, shortened


@dataclass
class CheckResult:
    check: Check
    evidence: Evidence | None

    def to_json(self) -> dict[str, Any]:
        found = self.evidence
        return {
            "what": self.check.what,
            "optional": self.check.optional,
            "found": found is not None,
            "evidence": None
            if found is None
            else {
                "path": found.path,
                "glob": found.glob,
                "contains": list(found.contains),
                "matched": list(found.matched),
            },
            "looked_for": [alt.to_json() for alt in self.check.alternatives],
        }


@dataclass
class CapabilityResult:
    id: str
    level: int
    title: str
    checks: list[CheckResult]

    @property
    def present(self) -> bool:
        return all(r.evidence is not None for r in self.checks if not r.check.optional)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level,
            "title": self.title,
            "present": self.present,
            "checks": [check.to_json() for check in self.checks],
        }


@dataclass
class Assessment:
    path: Path
    ladder_level: int | None  # the level a .copier-answers.yml records, if any
    level: int | None  # None: not even level 0 is complete
    level_name: str | None
    capabilities: list[CapabilityResult]
    next_level: int | None
    next_command: str | None
    files_seen: int = 0
    files_read: int = 0

    @property
    def missing(self) -> list[CapabilityResult]:
        """The capabilities the next level needs that are absent."""
        if self.next_level is None:
            return []
        return [c for c in self.capabilities if c.level == self.next_level and not c.present]

    @property
    def present_above(self) -> list[CapabilityResult]:
        floor = -1 if self.level is None else self.level
        return [c for c in self.capabilities if c.level > floor and c.present]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "path": str(self.path),
            "ladder_project": self.ladder_level is not None,
            "recorded_level": self.ladder_level,
            "level": self.level,
            "level_name": self.level_name,
            "next_level": self.next_level,
            "next_command": self.next_command,
            "missing": [c.id for c in self.missing],
            "present_above": [c.id for c in self.present_above],
            "capabilities": [c.to_json() for c in self.capabilities],
        }


# --- rules ------------------------------------------------------------------------------


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise LadderError(f"levels.yml: {where} must be a string or a list of strings")


def _alternative(spec: dict[str, Any], where: str) -> Alternative:
    alternative = Alternative(
        files=_strings(spec.get("files"), f"{where} files"),
        contains=_strings(spec.get("contains", []), f"{where} contains"),
        exclude=_strings(spec.get("exclude", []), f"{where} exclude"),
    )
    for pattern in alternative.contains:
        try:
            re.compile(pattern)
        except re.error as error:
            raise LadderError(f"levels.yml: {where} pattern {pattern!r}: {error}") from None
    return alternative


def _check(spec: dict[str, Any], where: str) -> Check:
    if not isinstance(spec, dict) or not isinstance(spec.get("what"), str):
        raise LadderError(f"levels.yml: {where} needs `what:`, the thing it looks for")
    where = f"{where} ({spec['what']})"
    options = spec.get("any") or [spec]
    return Check(
        what=spec["what"],
        alternatives=tuple(_alternative(alt, where) for alt in options),
        optional=bool(spec.get("optional", False)),
    )


@cache
def detection_rules(path: Path | None = None) -> dict[str, tuple[Check, ...]]:
    """Each capability's checks, from the `detect:` keys of levels.yml."""
    document = read_yaml((path or levels_file()).read_text(encoding="utf-8"))
    capabilities = document["catalogue"]["default"]["capabilities"]
    rules = {}
    for cap_id, spec in capabilities.items():
        checks = spec.get("detect")
        if not checks:
            raise LadderError(f"levels.yml: capability {cap_id} has no `detect:` rules")
        rules[cap_id] = tuple(_check(check, f"{cap_id} detect") for check in checks)
    return rules


@cache
def glob_regex(glob: str) -> re.Pattern[str]:
    """A glob over relative posix paths: `*` within a folder, `**/` any folders, no case.

    A trailing `**` matches everything below its folder.
    """
    parts = re.split(r"(\*\*/|\*\*$|\*|\?)", glob)
    tokens = {"**/": "(?:[^/]+/)*", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    body = "".join(tokens.get(part, re.escape(part)) for part in parts)
    return re.compile(body, re.IGNORECASE)


# --- reading the tree -------------------------------------------------------------------


class Tree:
    """The repository's file names, read once, and the text of files read on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = self._walk()
        self._text: dict[str, str | None] = {}
        self._globbed: dict[str, list[str]] = {}
        # Most globs end in a plain name or extension: only those files are tried.
        self._by_name: dict[str, list[str]] = {}
        self._by_suffix: dict[str, list[str]] = {}
        for path in self.paths:
            name = path.rsplit("/", 1)[-1].lower()
            self._by_name.setdefault(name, []).append(path)
            if "." in name:
                self._by_suffix.setdefault(name.rsplit(".", 1)[-1], []).append(path)

    def _walk(self) -> list[str]:
        found = []
        for folder, dirs, files in os.walk(self.root, onerror=None, followlinks=False):
            relative = os.path.relpath(folder, self.root).replace(os.sep, "/")
            prefix = "" if relative == "." else relative + "/"
            dirs[:] = sorted(
                name
                for name in dirs
                if name not in SKIPPED_DIRS and prefix + name not in SKIPPED_PATHS
            )
            found.extend(prefix + name for name in sorted(files))
        return found

    def _candidates(self, glob: str) -> list[str]:
        last = glob.rsplit("/", 1)[-1].lower()
        if not any(char in last for char in "*?"):
            return self._by_name.get(last, [])
        tail = re.split(r"[*?]", last)[-1]
        if "." in tail and tail.rsplit(".", 1)[-1]:
            return self._by_suffix.get(tail.rsplit(".", 1)[-1], [])
        return [path for path in self.paths if path.lower().endswith(tail)]

    def globbed(self, glob: str) -> list[str]:
        """The files a glob matches, in the order of the walk."""
        if glob not in self._globbed:
            regex = glob_regex(glob)
            self._globbed[glob] = [p for p in self._candidates(glob) if regex.fullmatch(p)]
        return self._globbed[glob]

    def matching(self, alternative: Alternative) -> list[tuple[str, str]]:
        """(path, glob) of every file an alternative names, in the order of its globs."""
        hits = []
        seen = set()
        for glob in alternative.files:
            for path in self.globbed(glob):
                if path in seen:
                    continue
                if any(glob_regex(ex).fullmatch(path) for ex in alternative.exclude):
                    continue
                seen.add(path)
                hits.append((path, glob))
        return hits

    def text(self, path: str) -> str | None:
        """The start of a regular file as text; None for a link or what cannot be read."""
        if path not in self._text:
            full = self.root / path
            try:
                if full.is_symlink() or not full.is_file():
                    self._text[path] = None
                else:
                    with full.open("rb") as stream:
                        data = stream.read(READ_LIMIT)
                    self._text[path] = data.decode("utf-8", errors="replace")
            except OSError:
                self._text[path] = None
        return self._text[path]

    @property
    def files_read(self) -> int:
        return sum(1 for text in self._text.values() if text is not None)


def _printable(path: str) -> str:
    """A file name that is not UTF-8 (kept by os.walk as surrogates), shown with U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def find(tree: Tree, check: Check) -> Evidence | None:
    for alternative in check.alternatives:
        patterns = [re.compile(p, re.MULTILINE) for p in alternative.contains]
        for path, glob in tree.matching(alternative):
            if not patterns:
                return Evidence(_printable(path), glob, ())
            text = tree.text(path)
            if text is None:
                continue
            matches = [p.search(text) for p in patterns]
            if all(matches):
                shown = tuple(" ".join(m.group(0).split())[:60] for m in matches if m)
                return Evidence(_printable(path), glob, alternative.contains, shown)
    return None


# --- the assessment ---------------------------------------------------------------------


def recorded_level(root: Path) -> int | None:
    """The level a mlops-ladder answers file records, or None for any other repository."""
    answers = root / ".copier-answers.yml"
    if answers.is_symlink() or not answers.is_file():
        return None
    try:
        content = read_yaml(answers.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    level = content.get("mlops_level") if isinstance(content, dict) else None
    return level if isinstance(level, int) and not isinstance(level, bool) else None


def reached_level(catalogue: Catalogue, results: list[CapabilityResult]) -> int | None:
    reached = None
    for level in catalogue.levels:
        if all(r.present for r in results if r.level <= level.number):
            reached = level.number
        else:
            break
    return reached


def next_step(catalogue: Catalogue, reached: int | None, ladder: int | None) -> tuple:
    """The next level and the command that adds what it lacks (None at the top)."""
    target = 0 if reached is None else reached + 1
    if target > catalogue.top:
        return None, None
    if target not in catalogue.offered:
        return target, None
    if ladder is None:
        return target, f"mlops-ladder adopt --level {target}"
    if ladder >= target:
        # The answers file says the project is already there: files were removed.
        return target, "mlops-ladder status"
    return target, f"mlops-ladder climb --to {target}"


def assess(path: Path, catalogue: Catalogue) -> Assessment:
    root = path.resolve()
    if not root.is_dir():
        raise LadderError(f"{path} is not a directory: give the folder of a repository")
    rules = detection_rules()
    tree = Tree(root)
    results = [
        CapabilityResult(
            cap.id, cap.level, cap.title, [CheckResult(c, find(tree, c)) for c in rules[cap.id]]
        )
        for cap in catalogue.capabilities
    ]
    ladder = recorded_level(root)
    reached = reached_level(catalogue, results)
    next_level, command = next_step(catalogue, reached, ladder)
    return Assessment(
        path=root,
        ladder_level=ladder,
        level=reached,
        level_name=None if reached is None else catalogue.level(reached).name,
        capabilities=results,
        next_level=next_level,
        next_command=command,
        files_seen=len(tree.paths),
        files_read=tree.files_read,
    )


# --- output -----------------------------------------------------------------------------


def _evidence_text(found: Evidence) -> str:
    return found.path + "".join(f" ({text!r})" for text in found.matched)


def _looked_for(check: Check) -> str:
    options = []
    for alt in check.alternatives:
        text = ", ".join(alt.files[:3]) + (", ..." if len(alt.files) > 3 else "")
        if alt.contains:
            text += " holding " + " and ".join(f"/{_short(p)}/" for p in alt.contains)
        options.append(text)
    return " or ".join(options)


def _short(pattern: str, width: int = 40) -> str:
    return pattern if len(pattern) <= width else pattern[: width - 3] + "..."


def render_text(result: Assessment, catalogue: Catalogue) -> str:
    lines = [f"Assessment of {result.path}"]
    if result.ladder_level is None:
        lines.append("Not an mlops-ladder project (no .copier-answers.yml with mlops_level).")
    else:
        lines.append(
            f"An mlops-ladder project; its answers file records level {result.ladder_level}."
        )
    if result.level is None:
        lines.append("Level reached: none (level 0 is not complete)")
    else:
        lines.append(f"Level reached: {result.level} - {result.level_name}")
    for level in catalogue.levels:
        lines.append("")
        lines.append(f"Level {level.label}")
        for cap in (c for c in result.capabilities if c.level == level.number):
            mark = "[x]" if cap.present else "[ ]"
            lines.append(f"  {mark} {cap.title}")
            for check in cap.checks:
                what = check.check.what + (" (optional)" if check.check.optional else "")
                if check.evidence is not None:
                    lines.append(f"      + {what}: {_evidence_text(check.evidence)}")
                else:
                    lines.append(f"      - {what}: none in {_looked_for(check.check)}")
    lines.append("")
    if result.present_above:
        floor = "level 0" if result.level is None else f"level {result.level}"
        names = ", ".join(f"{c.title} ({c.level})" for c in result.present_above)
        lines.append(f"Present above {floor}: {names}")
    if result.next_level is None:
        lines.append("Every capability of the top level is present.")
    else:
        names = ", ".join(c.title for c in result.missing)
        lines.append(f"Missing for level {result.next_level}: {names}")
        if result.next_command == "mlops-ladder status":
            lines.append(
                "Next: the answers file already records that level, so files were removed: "
                "`mlops-ladder status` lists them; restore them from git."
            )
        elif result.next_command:
            lines.append(f"Next: {result.next_command}")
    return "\n".join(lines) + "\n"


# --- the JSON Schema of --json ----------------------------------------------------------

_STRINGS = {"type": "array", "items": {"type": "string"}}
_ALTERNATIVE = {
    "type": "object",
    "properties": {"files": _STRINGS, "contains": _STRINGS},
    "required": ["files", "contains"],
    "additionalProperties": False,
}
_EVIDENCE = {
    "type": ["object", "null"],
    "description": "The first file found, the glob it matched and the patterns it holds.",
    "properties": {
        "path": {"type": "string", "description": "Relative to the repository, with /."},
        "glob": {"type": "string"},
        "contains": _STRINGS,
        "matched": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The text each pattern matched, shortened.",
        },
    },
    "required": ["path", "glob", "contains", "matched"],
    "additionalProperties": False,
}
_CHECK = {
    "type": "object",
    "properties": {
        "what": {"type": "string", "description": "What the check looks for."},
        "optional": {"type": "boolean", "description": "Reported, but does not decide."},
        "found": {"type": "boolean"},
        "evidence": _EVIDENCE,
        "looked_for": {
            "type": "array",
            "description": "The alternatives from levels.yml; any one of them is enough.",
            "items": _ALTERNATIVE,
        },
    },
    "required": ["what", "optional", "found", "evidence", "looked_for"],
    "additionalProperties": False,
}


def assessment_schema(catalogue: Catalogue) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `mlops-ladder assess --json`."""
    levels = [level.number for level in catalogue.levels]
    level_or_null = {"type": ["integer", "null"], "enum": [*levels, None]}
    ids = {"type": "string", "enum": [cap.id for cap in catalogue.capabilities]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mlops-ladder assessment",
        "description": (
            "The output of `mlops-ladder assess --json`: the evidence for every capability "
            "in levels.yml and the level a repository reaches. Generated from levels.yml."
        ),
        "type": "object",
        "properties": {
            "format": {"const": FORMAT_VERSION, "description": "Bumped on incompatible change."},
            "path": {"type": "string", "description": "The repository, as an absolute path."},
            "ladder_project": {
                "type": "boolean",
                "description": "Its .copier-answers.yml records an mlops_level.",
            },
            "recorded_level": level_or_null
            | {"description": "The level its answers file records; null for other repositories."},
            "level": level_or_null
            | {
                "description": (
                    "The highest level whose capabilities, and every lower level's, are all "
                    "present; null when level 0 is not complete."
                )
            },
            "level_name": {"type": ["string", "null"]},
            "next_level": level_or_null
            | {"description": "The level after `level`; null at the top."},
            "next_command": {
                "type": ["string", "null"],
                "description": "The mlops-ladder command that adds what the next level lacks.",
            },
            "missing": {
                "type": "array",
                "items": ids,
                "description": "The next level's capabilities that are absent.",
            },
            "present_above": {
                "type": "array",
                "items": ids,
                "description": "Capabilities present above the level reached.",
            },
            "capabilities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": ids,
                        "level": {"type": "integer", "enum": levels},
                        "title": {"type": "string"},
                        "present": {"type": "boolean"},
                        "checks": {"type": "array", "items": _CHECK, "minItems": 1},
                    },
                    "required": ["id", "level", "title", "present", "checks"],
                    "additionalProperties": False,
                },
            },
        },
        "required": [
            "format",
            "path",
            "ladder_project",
            "recorded_level",
            "level",
            "level_name",
            "next_level",
            "next_command",
            "missing",
            "present_above",
            "capabilities",
        ],
        "additionalProperties": False,
    }


def schema_json(catalogue: Catalogue) -> str:
    return json.dumps(assessment_schema(catalogue), indent=2, ensure_ascii=False) + "\n"
