"""Cut a release: bump pyproject's version, date the changelog, commit and tag.

    python scripts/release.py X.Y.Z [--dry-run] [--date YYYY-MM-DD]

Refuses, with one line and no change, a version not above the current one, a
dirty tree, an existing tag, or a changelog whose "## Unreleased" section is
missing or empty. The tag `vX.Y.Z` is what `copier copy`, `copier update` and
Renovate resolve, and what the installed CLI tags its embedded template with.
Standard library only, so it runs before anything is installed.
"""

import argparse
import datetime
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
CHANGELOG = ROOT / "CHANGELOG.md"
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# The `version = "..."` line of the [project] table: the first at a line start.
VERSION_LINE = re.compile(r'^version = "([^"]+)"$', re.MULTILINE)
UNRELEASED = "## Unreleased"


class Refused(Exception):
    """A reason not to release, said in one line."""


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["failed"]
        raise Refused(f"git {args[0]}: {lines[0]}")
    return done.stdout


def parse(version: str) -> tuple[int, int, int]:
    match = VERSION.match(version)
    if not match:
        raise Refused(f"{version!r} is not a version of the form X.Y.Z")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def current_version() -> str:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]


def bumped_pyproject(text: str, version: str) -> str:
    new, count = VERSION_LINE.subn(f'version = "{version}"', text, count=1)
    if count != 1:
        raise Refused('pyproject.toml has no `version = "..."` line')
    return new


def dated_changelog(text: str, version: str, date: str) -> str:
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == UNRELEASED]
    if len(starts) != 1:
        raise Refused(f'CHANGELOG.md needs exactly one "{UNRELEASED}" section')
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    if not "".join(lines[start + 1 : end]).strip():
        raise Refused(f'CHANGELOG.md\'s "{UNRELEASED}" section is empty: say what changed')
    heading = f"## {version} - {date}\n"
    return "".join([*lines[:start], f"{UNRELEASED}\n", "\n", heading, *lines[start + 1 :]])


def plan(version: str, date: str) -> tuple[str, str, str]:
    """Every check, then the new pyproject and changelog text; nothing is written."""
    wanted = parse(version)
    current = current_version()
    if wanted <= parse(current):
        raise Refused(f"{version} is not above the current version {current}")
    tag = f"v{version}"
    if git("tag", "--list", tag).strip():
        raise Refused(f"tag {tag} already exists")
    if dirty := git("status", "--porcelain", "--untracked-files=all").splitlines():
        raise Refused(f"the working tree is not clean ({len(dirty)} paths, first: {dirty[0]})")
    pyproject = bumped_pyproject(PYPROJECT.read_text(encoding="utf-8"), version)
    changelog = dated_changelog(CHANGELOG.read_text(encoding="utf-8"), version, date)
    return current, pyproject, changelog


def write_commit_and_tag(version: str, pyproject: str, changelog: str) -> None:
    """Write both files, commit and tag; put the files back if the commit fails."""
    before = {path: path.read_text(encoding="utf-8") for path in (PYPROJECT, CHANGELOG)}
    PYPROJECT.write_text(pyproject, encoding="utf-8")
    CHANGELOG.write_text(changelog, encoding="utf-8")
    try:
        git("add", "--", PYPROJECT.name, CHANGELOG.name)
        git("commit", "--quiet", "-m", f"Release {version}")
    except Refused:
        for path, text in before.items():
            path.write_text(text, encoding="utf-8")
        git("reset", "--quiet", "--", PYPROJECT.name, CHANGELOG.name)
        raise
    git("tag", "--annotate", f"v{version}", "-m", f"mlops-ladder {version}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the new version, X.Y.Z, above the current one")
    parser.add_argument("--dry-run", action="store_true", help="say what would happen, do nothing")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="release date")
    args = parser.parse_args(argv)
    tag = f"v{args.version}"
    try:
        datetime.date.fromisoformat(args.date)
        if not CHANGELOG.is_file():
            raise Refused("CHANGELOG.md is missing")
        current, pyproject, changelog = plan(args.version, args.date)
        steps = [
            f'pyproject.toml: version "{current}" -> "{args.version}"',
            f'CHANGELOG.md: "{UNRELEASED}" -> "## {args.version} - {args.date}", '
            f'a new empty "{UNRELEASED}" above it',
            f'commit "Release {args.version}" (pyproject.toml, CHANGELOG.md)',
            f"annotated tag {tag}",
        ]
        if args.dry_run:
            print("dry run, nothing changed; a release would do:")
            print("\n".join(f"  {step}" for step in steps))
            return 0
        write_commit_and_tag(args.version, pyproject, changelog)
    except (ValueError, Refused) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    commit = git("rev-parse", "--short", "HEAD").strip()
    print(f"released {args.version}: commit {commit}, tag {tag}")
    print(f"next: git push origin HEAD {tag}; reinstall (pip install -e .) to see the new version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
