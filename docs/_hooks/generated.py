"""MkDocs hook: pages whose content is generated from levels.yml and the CLI parser.

A page holds a marker line such as `<!-- generated: levels-table -->`; the hook
replaces it with the current content at build time, so the docs never repeat
by hand what levels.yml or the parser already say.
"""

import argparse
import re
from pathlib import Path

from mlops_ladder.assess import Check, detection_rules
from mlops_ladder.catalogue import ci_table, load_catalogue, markdown_table
from mlops_ladder.cli import build_parser

DECISIONS = Path(__file__).resolve().parents[1] / "decisions"
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


def _detection(checks: tuple[Check, ...]) -> str:
    """The `detect:` rules of one capability as a nested list: what `assess` looks for."""
    lines = []
    for check in checks:
        optional = " (optional: reported, does not decide)" if check.optional else ""
        lines.append(f"    - {check.what}{optional}: any of")
        for alt in check.alternatives:
            files = ", ".join(f"`{name}`" for name in alt.files)
            holding = " holding " + " and ".join(f"`{p}`" for p in alt.contains)
            unless = ", except " + ", ".join(f"`{n}`" for n in alt.exclude)
            lines.append(
                f"        - {files}{holding if alt.contains else ''}{unless if alt.exclude else ''}"
            )
    return "\n".join(lines)


def capabilities() -> str:
    """Every capability: its level, what it adds, the files and make targets it promises."""
    catalogue = load_catalogue()
    rules = detection_rules()
    parts = []
    for level in catalogue.levels:
        parts.append(f"## Level {level.number}: {level.name}\n\n{level.summary}\n")
        for cap in catalogue.capabilities:
            if cap.level != level.number:
                continue
            files = ", ".join(f"`{name}`" for name in cap.files) or "none"
            targets = ", ".join(f"`make {name}`" for name in cap.make) or "none"
            per_provider = "".join(
                f"- files with `ci_provider: {provider}`: "
                + ", ".join(f"`{name}`" for name in names)
                + "\n"
                for provider, names in cap.ci_files.items()
            )
            parts.append(
                f"### {cap.title}\n\n{cap.adds}\n\n"
                f"- id: `{cap.id}` (template flag `has_{cap.id}`)\n"
                + ("" if cap.ci_files and not cap.files else f"- files: {files}\n")
                + f"{per_provider}- make targets: {targets}\n"
                f"- `mlops-ladder assess` finds it from:\n{_detection(rules[cap.id])}\n"
            )
    return "\n".join(parts)


def _commands(
    parser: argparse.ArgumentParser, prefix: str
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((f"{prefix} {name}", sub))
                found.extend(_commands(sub, f"{prefix} {name}"))
    return found


def _default(value: object) -> str:
    if value == Path.cwd():  # argparse defaults a project path to the folder it runs in
        return ", default: the current folder"
    return f", default: `{value}`" if value not in (None, [], ()) else ""


def cli_reference() -> str:
    """Each command's usage and options, straight from the argparse parser."""
    parts = []
    for name, parser in _commands(build_parser(), "mlops-ladder"):
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue
        usage = parser.format_usage().removeprefix("usage: ").strip()
        rows = ["| option | meaning |", "| --- | --- |"]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flags = ", ".join(action.option_strings) or action.metavar or action.dest
            meaning = (action.help or "").replace("|", "\\|")
            if not action.option_strings:
                meaning = meaning or "positional argument"
                if action.nargs in ("?", "*"):
                    meaning += " (optional" + _default(action.default) + ")"
            rows.append(f"| `{flags}` | {meaning} |")
        parts.append(f"### `{name}`\n\n```text\n{usage}\n```\n\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def decision_records() -> str:
    """The numbered decision records, newest last, with their titles, status and date."""
    rows = ["| record | status | date |", "| --- | --- | --- |"]
    for path in sorted(DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md")):
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("# ").strip()
        status, date = (
            match.group(1) if (match := re.search(rf"^{field}: (.+)$", text, re.MULTILINE)) else "?"
            for field in ("Status", "Date")
        )
        rows.append(f"| [{title}]({path.name}) | {status} | {date} |")
    return "\n".join(rows) + "\n"


GENERATORS = {
    "levels-table": lambda: markdown_table(load_catalogue()),
    "ci-table": lambda: ci_table(load_catalogue()),
    "capabilities": capabilities,
    "cli-reference": cli_reference,
    "decision-records": decision_records,
}


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    return MARKER.sub(lambda match: GENERATORS[match.group(1)]().rstrip("\n"), markdown)
