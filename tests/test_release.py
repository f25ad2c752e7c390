"""Releases: one version everywhere, and scripts/release.py bumps, dates, commits and tags.

The script only ever runs in a clone of this repository in a tmp folder.
"""

import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import mlops_ladder

ROOT = Path(__file__).resolve().parents[1]
RELEASED = re.compile(r"^## (\d+\.\d+\.\d+) - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
DATE = "2031-02-03"


def pyproject_version(root: Path) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]


def latest_release(root: Path) -> str:
    match = RELEASED.search((root / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert match, "CHANGELOG.md has no released entry"
    return match.group(1)


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_package_pyproject_and_changelog_agree() -> None:
    assert mlops_ladder.__version__ == version("mlops-ladder")
    assert mlops_ladder.__version__ == pyproject_version(ROOT), "reinstall: pip install -e ."
    assert latest_release(ROOT) == pyproject_version(ROOT)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.index("## Unreleased") < changelog.index(f"## {latest_release(ROOT)} - ")


def test_embedded_template_is_tagged_with_the_package_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_ladder.embedded import ensure_template_repo

    monkeypatch.setenv("MLOPS_LADDER_HOME", str(tmp_path / "home"))
    repo, tag = ensure_template_repo()
    assert repo.is_relative_to(tmp_path)
    # A checkout whose template changed since a tag was made gets `+dev.N`.
    assert tag.split("+dev.")[0] == f"v{mlops_ladder.__version__}"
    assert git(repo, "tag", "--points-at", "HEAD").split() == [tag]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of HEAD with this working tree's release script, changelog and pyproject."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(ROOT), str(clone))
    assert clone.resolve() != ROOT.resolve()
    (clone / "scripts").mkdir(exist_ok=True)
    for name in ("scripts/release.py", "CHANGELOG.md", "pyproject.toml"):
        shutil.copy2(ROOT / name, clone / name)
    git(clone, "add", "--all")
    if git(clone, "status", "--porcelain"):
        git(clone, "commit", "--quiet", "-m", "The working tree's release files")
    return clone


def release(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(clone / "scripts" / "release.py"), *args, "--date", DATE],
        cwd=clone,
        capture_output=True,
        text=True,
    )


def state(clone: Path) -> tuple[str, ...]:
    """Everything a release could change: HEAD, tags, status and the two files."""
    return (
        git(clone, "rev-parse", "HEAD"),
        git(clone, "tag", "--list"),
        git(clone, "status", "--porcelain"),
        (clone / "pyproject.toml").read_text(encoding="utf-8"),
        (clone / "CHANGELOG.md").read_text(encoding="utf-8"),
    )


def next_patch(current: str) -> str:
    major, minor, patch = (int(part) for part in current.split("."))
    return f"{major}.{minor}.{patch + 1}"


def assert_refused(clone: Path, done: subprocess.CompletedProcess[str], before: tuple) -> None:
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("release: ")
    assert state(clone) == before


def test_release_bumps_dates_commits_and_tags(clone: Path) -> None:
    current = pyproject_version(clone)
    new = next_patch(current)
    old_changelog = (clone / "CHANGELOG.md").read_text(encoding="utf-8")
    unreleased = old_changelog.split("## Unreleased\n", 1)[1].split(f"\n## {current} - ")[0]
    assert unreleased.strip()
    parent = git(clone, "rev-parse", "HEAD")

    done = release(clone, new)
    assert done.returncode == 0, done.stderr
    assert f"v{new}" in done.stdout

    assert pyproject_version(clone) == new
    assert latest_release(clone) == new
    changelog = (clone / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## Unreleased\n\n## {new} - {DATE}\n{unreleased}\n## {current} - " in changelog
    assert changelog.count("## Unreleased") == 1
    # Only the version line of pyproject changed.
    diff = git(clone, "diff", "--unified=0", "HEAD~1", "--", "pyproject.toml")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == [f'-version = "{current}"', f'+version = "{new}"']

    assert git(clone, "log", "-1", "--format=%s") == f"Release {new}"
    assert git(clone, "rev-parse", "HEAD~1") == parent
    assert set(git(clone, "show", "--name-only", "--format=", "HEAD").split()) == {
        "CHANGELOG.md",
        "pyproject.toml",
    }
    assert git(clone, "cat-file", "-t", f"v{new}") == "tag"  # annotated
    assert git(clone, "rev-parse", f"v{new}^{{commit}}") == git(clone, "rev-parse", "HEAD")
    assert git(clone, "status", "--porcelain") == ""

    # The same release again is refused: the version is no longer above the current one.
    assert_refused(clone, release(clone, new), state(clone))


def test_dry_run_changes_nothing(clone: Path) -> None:
    before = state(clone)
    new = next_patch(pyproject_version(clone))
    done = release(clone, new, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"v{new}" in done.stdout and f"Release {new}" in done.stdout
    assert state(clone) == before


@pytest.mark.parametrize("which", ["same", "lower", "not a version"])
def test_a_version_not_above_the_current_one_is_refused(clone: Path, which: str) -> None:
    current = pyproject_version(clone)
    assert current != "0.0.0"
    wanted = {"same": current, "lower": "0.0.0", "not a version": f"v{current}1"}[which]
    before = state(clone)
    done = release(clone, wanted)
    assert_refused(clone, done, before)
    if which != "not a version":
        assert f"not above the current version {current}" in done.stderr


@pytest.mark.parametrize("dirt", ["modified", "untracked", "staged"])
def test_a_dirty_tree_is_refused(clone: Path, dirt: str) -> None:
    if dirt == "untracked":
        (clone / "notes.txt").write_text("draft\n")
    else:
        with (clone / "README.md").open("a") as readme:
            readme.write("\nan edit\n")
        if dirt == "staged":
            git(clone, "add", "README.md")
    before = state(clone)
    done = release(clone, next_patch(pyproject_version(clone)))
    assert_refused(clone, done, before)
    assert "not clean" in done.stderr


def test_an_existing_tag_is_refused(clone: Path) -> None:
    new = next_patch(pyproject_version(clone))
    git(clone, "tag", f"v{new}")
    before = state(clone)
    done = release(clone, new)
    assert_refused(clone, done, before)
    assert f"tag v{new} already exists" in done.stderr


def test_an_empty_unreleased_section_is_refused(clone: Path) -> None:
    path = clone / "CHANGELOG.md"
    text = path.read_text(encoding="utf-8")
    current = pyproject_version(clone)
    head, rest = text.split("## Unreleased\n", 1)
    path.write_text(head + "## Unreleased\n\n" + rest[rest.index(f"## {current} - ") :])
    git(clone, "commit", "--quiet", "--all", "-m", "Nothing unreleased")
    before = state(clone)
    done = release(clone, next_patch(current))
    assert_refused(clone, done, before)
    assert "empty" in done.stderr
