"""Structural merges for adopt: the user's file stays, the template's missing parts are added.

Each merge takes the repository's text and the template's, and returns the merged
text and notes for the user, or None when it cannot merge safely; adopt then
shows the file as a conflict, as it would without these merges. No merge
changes or removes a line of the user's, except that a requirement list the
template adds to may gain items before its closing bracket.
"""

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

Merged = tuple[str, list[str]] | None

# --- pyproject.toml -------------------------------------------------------------------------

# [project] keys the template adds to; the others (name, version, readme, license...) are the
# user's to decide and are never added.
PROJECT_KEYS = frozenset({"dependencies", "optional-dependencies", "scripts", "gui-scripts"})
HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\]]+?)\s*\]\s*(#.*)?$")
ARRAY_OF_TABLES = re.compile(r"^\s*\[\[")
KEY_LINE = re.compile(r'^\s*("[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*=')
REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _path(header: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"').strip("'") for part in header.split("."))


def _requirement(item: object) -> str | None:
    """The normalised name of a requirement string, or None for anything else."""
    if not isinstance(item, str):
        return None
    found = REQUIREMENT_NAME.match(item)
    return re.sub(r"[-_.]+", "-", found.group(1)).lower() if found else None


def _is_requirements(path: tuple[str, ...]) -> bool:
    return (
        path == ("project", "dependencies")
        or (len(path) == 3 and path[:2] == ("project", "optional-dependencies"))
        or (len(path) == 2 and path[0] == "dependency-groups")
    )


def _wanted(path: tuple[str, ...]) -> bool:
    """Whether the template's value at `path` may be added to the user's file."""
    return path[0] != "project" or len(path) == 1 or path[1] in PROJECT_KEYS


def _get(table: dict, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(table, dict) or part not in table:
            return None
        table = table[part]
    return table


def _sections(text: str) -> list[tuple[tuple[str, ...] | None, list[str]]]:
    """The file's lines grouped by table header: (path or None before the first, lines)."""
    sections: list[tuple[tuple[str, ...] | None, list[str]]] = [(None, [])]
    for line in text.splitlines(keepends=True):
        header = HEADER.match(line)
        if header or ARRAY_OF_TABLES.match(line):
            key = _path(header.group(1)) if header else ("[[", line.strip())
            sections.append((key, [line]))
        else:
            sections[-1][1].append(line)
    return sections


def _entries(lines: list[str]) -> list[tuple[str, list[str]]]:
    """A template section's key/value entries, each with its own comment lines above it."""
    entries: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    body: list[str] | None = None
    for line in lines[1:]:
        key = KEY_LINE.match(line)
        if key:
            body = [*pending, line]
            pending = []
            entries.append((key.group(1).strip("\"'"), body))
        elif line.strip().startswith("#") or not line.strip():
            if body is not None and line.strip().startswith("#") and _open(body):
                body.append(line)
            elif line.strip():
                pending.append(line)
        elif body is not None:
            body.append(line)
    return entries


def _open(body: list[str]) -> bool:
    """Whether a multi-line value is still open (more [ than ] outside strings)."""
    text = "".join(body)
    return _closing(text, text.index("=") + 1) is None


def _scan(text: str, start: int, end: int) -> Iterator[tuple[int, str, bool]]:
    """Each character of `text[start:end]` outside comments, and whether a string holds it
    (its quotes included); an escaped character inside a basic string is skipped."""
    index, quote = start, ""
    while index < end:
        char = text[index]
        if not quote and char == "#":
            newline = text.find("\n", index, end)
            index = end if newline < 0 else newline
            continue
        step = 2 if quote == '"' and char == "\\" else 1
        if quote and char == quote:
            quote = ""
            yield index, char, True
        elif not quote and char in "\"'":
            quote = char
            yield index, char, True
        else:
            yield index, char, bool(quote)
        index += step


def _closing(text: str, start: int) -> int | None:
    """The index of the `]` that closes the first `[` at or after `start`, or None."""
    depth = 0
    for index, char, quoted in _scan(text, start, len(text)):
        if quoted:
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index
    return None


def _last_value_end(text: str, start: int, end: int) -> tuple[int, str]:
    """The position after the last character of a value between `start` and `end`, and it."""
    last = start
    for index, char, quoted in _scan(text, start, end):
        if quoted or not char.isspace():
            last = index + 1
    return last, text[last - 1]


def _add_items(section: str, key: str, items: list[str]) -> str | None:
    """`section` with `items` (TOML strings) added at the end of the array `key`."""
    found = re.search(rf"(?m)^\s*[\"']?{re.escape(key)}[\"']?\s*=\s*\[", section)
    if not found:
        return None
    close = _closing(section, found.end() - 1)
    if close is None:
        return None
    last, char = _last_value_end(section, found.end(), close)
    comma = "" if char in ",[" else ","
    line_start = section.rfind("\n", 0, close) + 1
    if section[line_start:close].strip() == "" and "\n" in section[found.end() : close]:
        indent = "    "
        added = "".join(f"{indent}{item},\n" for item in items)
        return section[:last] + comma + section[last:line_start] + added + section[line_start:]
    joined = ", ".join(items)
    space = "" if char == "[" else " "
    return section[:last] + comma + space + joined + section[last:]


def _value_text(entries: list[tuple[str, list[str]]], key: str) -> list[str]:
    for name, body in entries:
        if name == key:
            return body
    return []


class _Unsafe(Exception):
    """The file cannot be merged without changing the user's lines: adopt shows a conflict."""


def merge_pyproject(ours: str, theirs: str) -> Merged:
    """The user's pyproject.toml with the template's missing tables, keys and requirements."""
    try:
        merge = _PyprojectMerge(ours, tomllib.loads(ours))
        template = tomllib.loads(theirs)
        for path, lines in _sections(theirs):
            if path is not None and path[0] != "[[" and _wanted(path):
                merge.section(path, lines, _get(template, path))
        return merge.result()
    except (tomllib.TOMLDecodeError, _Unsafe):
        return None


class _PyprojectMerge:
    """The user's text section by section, what the template adds to it, and the notes."""

    def __init__(self, ours: str, user: dict[str, Any]) -> None:
        self.ours, self.user = ours, user
        self.sections = _sections(ours)
        self.appended: list[str] = []
        self.notes: list[str] = []
        # What the merged text must parse to: the user's data plus the template's additions.
        self.expected = _deep_copy(user)

    def section(self, path: tuple[str, ...], lines: list[str], wanted: dict[str, Any]) -> None:
        """Add the template's section at `path`: whole if the user lacks it, else key by key."""
        mine = _get(self.user, path)
        if mine is None:
            parents = (_get(self.user, path[:n]) for n in range(1, len(path)))
            if any(parent is not None and not isinstance(parent, dict) for parent in parents):
                raise _Unsafe
            self.appended.append("".join(lines).rstrip("\n") + "\n")
            _set(self.expected, path, wanted)
            return
        if not isinstance(mine, dict):
            raise _Unsafe
        entries = _entries(lines)
        missing: list[str] = []
        for key, value in wanted.items():
            if isinstance(value, dict) and not _inline(entries, key):
                continue  # a sub-table: its own section
            child = (*path, key)
            if not _wanted(child):
                continue
            if key not in mine:
                missing.extend(_value_text(entries, key))
                _set(self.expected, child, value)
            else:
                self._key(child, mine[key], value)
        if missing:
            self._insert(path, "".join(missing))

    def _key(self, path: tuple[str, ...], mine: Any, value: Any) -> None:
        """A key both have: requirements gain what they lack, a differing tool setting a note."""
        if _is_requirements(path):
            if not isinstance(mine, list):
                raise _Unsafe
            have = {_requirement(item) for item in mine}
            new = [item for item in value if _requirement(item) not in have]
            if new:
                self._add_requirements(path, mine, new)
        elif path[0] == "tool" and mine != value and not isinstance(value, dict):
            self.notes.append(
                f"pyproject.toml: your {'.'.join(path)} = {_show(mine)} is kept; the "
                f"template's code is checked with {_show(value)}"
            )

    def _add_requirements(self, path: tuple[str, ...], mine: list, new: list[str]) -> None:
        index = self._index(path[:-1])
        text = _add_items("".join(self.sections[index][1]), path[-1], [_quote(i) for i in new])
        if text is None:
            raise _Unsafe
        self.sections[index] = (path[:-1], text.splitlines(keepends=True))
        _set(self.expected, path, mine + new)
        self.notes.append(f"pyproject.toml: {'.'.join(path)} gains {', '.join(new)}")

    def _insert(self, path: tuple[str, ...], block: str) -> None:
        """Put the template's missing keys at the end of the user's section, before blank lines."""
        index = _section_index(self.sections, path)
        if index is None:
            self.appended.append(f"[{'.'.join(path)}]\n{block}")
            return
        section = "".join(self.sections[index][1])
        body = section.rstrip("\n") + "\n"
        tail = section[len(section.rstrip("\n")) + 1 :]
        self.sections[index] = (path, (body + block + tail).splitlines(keepends=True))

    def _index(self, path: tuple[str, ...]) -> int:
        index = _section_index(self.sections, path)
        if index is None:
            raise _Unsafe
        return index

    def result(self) -> Merged:
        text = "".join("".join(lines) for _, lines in self.sections)
        if self.appended:
            marker = "\n\n# Added by mlops-ladder adopt\n"
            text = text.rstrip("\n") + marker + "\n".join(self.appended)
        if text == self.ours:
            return self.ours, self.notes
        if tomllib.loads(text) != self.expected:
            raise _Unsafe
        return text, self.notes


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | list) else str(value).lower()


def _inline(entries: list[tuple[str, list[str]]], key: str) -> bool:
    return any(name == key for name, _ in entries)


def _section_index(sections: list, path: tuple[str, ...]) -> int | None:
    found = [index for index, (key, _) in enumerate(sections) if key == path]
    return found[0] if len(found) == 1 else None


def _quote(item: str) -> str:
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value


def _set(table: dict, path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        table = table.setdefault(part, {})
    table[path[-1]] = _deep_copy(value)


# --- Makefile ---------------------------------------------------------------------------------

RULE = re.compile(r"^([^\s#:=][^:=]*?)\s*::?(?!=)")
ASSIGNMENT = re.compile(r"^\s*(?:export\s+|override\s+)?([A-Za-z_.][A-Za-z0-9_.]*)\s*([:?+!]*)=")
MAKE_MARKER = "# --- Added by mlops-ladder adopt: the template's targets you do not have. ---\n"


def _targets(lines: list[str]) -> set[str]:
    names: set[str] = set()
    for line in lines:
        if line.startswith("\t") or ASSIGNMENT.match(line):
            continue
        rule = RULE.match(line)
        if rule:
            names.update(name for name in rule.group(1).split() if not name.startswith("."))
    return names


def _assigned(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = None if line.startswith("\t") else ASSIGNMENT.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def merge_makefile(ours: str, theirs: str) -> Merged:
    """The user's Makefile, then the template's targets and variables it does not define."""
    mine = ours.splitlines()
    if any(re.match(r"\s*-?include\s", line) for line in mine):
        return None  # targets from another file could clash unseen
    users_targets, users_variables = _targets(mine), _assigned(mine)
    kept: list[str] = []
    clashes: list[str] = []
    for paragraph in re.split(r"\n\s*\n", theirs.strip("\n")):
        lines = paragraph.splitlines()
        names = _targets(lines)
        if names & users_targets:
            clashes.extend(sorted(names & users_targets))
            continue
        body = []
        for line in lines:
            assigned = None if line.startswith("\t") else ASSIGNMENT.match(line)
            if assigned and assigned.group(1) == ".DEFAULT_GOAL":
                continue  # your first target stays the one `make` runs
            if assigned and assigned.group(1) in users_variables and assigned.group(2) != "?":
                return None  # the template's value would replace yours in your targets
            body.append(line)
        if body:
            kept.append("\n".join(body))
    notes = [
        f"Makefile: your target {name} is kept; the template's {name} is not added"
        for name in clashes
    ]
    joined = ours if ours.endswith("\n") or not ours else ours + "\n"
    return joined + "\n" + MAKE_MARKER + "\n" + "\n\n".join(kept) + "\n", notes


# --- README.md --------------------------------------------------------------------------------

README_MARKER = (
    "<!-- Added by mlops-ladder adopt: the template's README for this level; "
    "yours is above, unchanged. -->\n"
)


def merge_readme(ours: str, theirs: str) -> Merged:
    """The user's README, then the template's below a marker."""
    if README_MARKER in ours:
        return None
    joined = ours if ours.endswith("\n") or not ours else ours + "\n"
    return joined + "\n" + README_MARKER + "\n" + theirs, []


CONFLICT = re.compile(
    r"^<{7} [^\n]*\n(.*?)(?:^\|{7}[^\n]*\n.*?)?^={7}\n.*?^>{7}[^\n]*\n", re.M | re.S
)


def keep_ours(text: str) -> str | None:
    """`text` with each conflict replaced by its first (ours) side; None if it has none."""
    kept = CONFLICT.sub(lambda found: found.group(1), text)
    if kept == text or re.search(r"^(<{7}|={7}|>{7})( |$)", kept, re.M):
        return None
    return kept


MERGES: dict[str, Callable[[str, str], Merged]] = {
    "pyproject.toml": merge_pyproject,
    "Makefile": merge_makefile,
    "README.md": merge_readme,
}
