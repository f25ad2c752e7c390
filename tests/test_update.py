"""Template-version updates: a project from an older tag moves to the newest, edits kept."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from copier import run_copy

from mlops_ladder.catalogue import load_catalogue
from mlops_ladder.embedded import _sync_files
from mlops_ladder.gitcmd import succeeds

from .conftest import (
    ANSWERS,
    ROOT,
    assert_refused,
    commit_all,
    git,
    run_cli,
    snapshot,
    tiered,
)
from .test_climb import edit_at_level

# What the older version did differently: changed lines at each level, and a file it lacked.
OLD_VERSION_CHANGES = [
    ("template/README.md.jinja", "## Getting started", "## Start here"),
    ("template/Makefile.jinja", "%-14s", "%-12s"),
    ("template/{% if has_automation %}.pre-commit-config.yaml{% endif %}", "v5.0.0", "v4.6.0"),
    ("template/{% if has_pipeline %}params.yaml{% endif %}.jinja", "# share of rows", "# rows"),
    ("template/{% if has_container %}Dockerfile{% endif %}.jinja", "Dependencies first", "Deps"),
    ("template/{% if has_runbook %}RUNBOOK.md{% endif %}.jinja", "## Stop the loop", "## Stop"),
]
ADDED_IN_NEW_VERSION = "template/{% if has_data_versioning %}.dvcignore{% endif %}"


def copy_template(dest: Path) -> None:
    """Today's template files into `dest`, as the CLI syncs its embedded copy."""
    _sync_files(ROOT, dest)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository tagged v1.0.0 (an older, different copy) and v2.0.0 (today's)."""
    repo = tmp_path_factory.mktemp("two-versions")
    copy_template(repo)
    for name, new, old in OLD_VERSION_CHANGES:
        path = repo / name
        assert new in path.read_text(), name
        path.write_text(path.read_text().replace(new, old))
    (repo / ADDED_IN_NEW_VERSION).unlink()
    commit_all(repo, "version 1")
    git(repo, "tag", "v1.0.0")
    copy_template(repo)
    commit_all(repo, "version 2")
    git(repo, "tag", "v2.0.0")
    return repo


def generate_at(repo: Path, dest: Path, level: int, tag: str) -> Path:
    data = ANSWERS | {"mlops_level": level}
    run_copy(str(repo), dest, data=data, defaults=True, vcs_ref=tag, quiet=True, unsafe=False)
    return dest


@pytest.mark.parametrize(
    ("level", "how"),
    tiered(
        [
            (n, how)
            for n in load_catalogue().offered
            for how in ("copier update", "mlops-ladder update")
        ],
        fast=[(1, "mlops-ladder update")],
    ),
)
def test_update_to_the_newest_version_keeps_user_edits(
    level: int, how: str, two_versions: Path, tmp_path: Path
) -> None:
    project = generate_at(two_versions, tmp_path / "project", level, "v1.0.0")
    commit_all(project, "generated from v1.0.0")
    edit_at_level(project, level)
    commit_all(project, "our edits")

    if how == "copier update":
        command = [sys.executable, "-m", "copier", "update", "--defaults"]
        result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    else:
        result = run_cli("update", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr

    expected = generate_at(two_versions, tmp_path / "expected", level, "v2.0.0")
    edit_at_level(expected, level)
    assert snapshot(project) == snapshot(expected)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["mlops_level"]) == ("v2.0.0", level)


@pytest.mark.slow
def test_status_names_the_newer_version_and_update_reports_it(
    two_versions: Path, tmp_path: Path
) -> None:
    project = generate_at(two_versions, tmp_path / "project", 1, "v1.0.0")
    commit_all(project, "generated")
    assert "Newer:     v2.0.0" in run_cli("status", cwd=project).stdout
    result = run_cli("update", cwd=project)
    assert "from template v1.0.0 to v2.0.0, still at level 1" in result.stdout
    assert "Files changed: " in result.stdout and "Makefile" in result.stdout


def test_update_when_already_newest_is_refused_and_changes_nothing(
    two_versions: Path, tmp_path: Path
) -> None:
    project = generate_at(two_versions, tmp_path / "project", 0, "v2.0.0")
    commit_all(project, "generated")
    before = snapshot(project)
    assert_refused(run_cli("update", cwd=project), "already at the newest template version, v2.0.0")
    assert snapshot(project) == before


def test_update_refuses_a_dirty_tree(two_versions: Path, tmp_path: Path) -> None:
    project = generate_at(two_versions, tmp_path / "project", 0, "v1.0.0")
    commit_all(project, "generated")
    (project / "wip.txt").write_text("work in progress\n")
    before = snapshot(project)
    result = run_cli("update", cwd=project)
    assert result.returncode == 2 and "uncommitted change(s) (wip.txt)" in result.stderr
    assert snapshot(project) == before


@pytest.mark.parametrize(("tag", "changed"), tiered([("v1.0.0", True), ("v2.0.0", False)], fast=[]))
def test_update_can_re_point_the_template_source(
    tag: str, changed: bool, two_versions: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    subprocess.run(["git", "clone", "--quiet", str(two_versions), str(mirror)], check=True)
    project = generate_at(two_versions, tmp_path / "project", 1, tag)
    commit_all(project, "generated")

    head = git(project, "rev-parse", "HEAD")
    result = run_cli("update", "--template", str(mirror), cwd=project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"now records its template as {mirror}" in result.stdout
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_src_path"], answers["_commit"]) == (str(mirror), "v2.0.0")
    # The new source is part of the change to review, not a commit of its own.
    assert git(project, "rev-parse", "HEAD") == head
    touched = git(project, "status", "--porcelain").splitlines()
    assert " M .copier-answers.yml" in touched
    assert (len(touched) > 1) is changed  # from v1.0.0 the template's files change too


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nowhere/mlops-ladder", "cannot list the versions of /nowhere/mlops-ladder"),
        ("EMPTY", "has no version v1.0.0, which this project was made from"),
    ],
)
@pytest.mark.slow
def test_update_refuses_a_source_it_cannot_use_and_changes_nothing(
    source: str, message: str, two_versions: Path, tmp_path: Path
) -> None:
    if source == "EMPTY":
        source = str(tmp_path / "empty")
        Path(source).mkdir()
        commit_all(Path(source), "nothing here")
        git(Path(source), "tag", "v3.0.0")
    project = generate_at(two_versions, tmp_path / "project", 1, "v1.0.0")
    commit_all(project, "generated")
    head, before = git(project, "rev-parse", "HEAD"), snapshot(project)
    result = run_cli("update", "--template", source, cwd=project)
    assert result.returncode == 2 and message in result.stderr
    assert git(project, "rev-parse", "HEAD") == head and snapshot(project) == before


def test_a_failed_re_point_puts_the_project_back(two_versions: Path, tmp_path: Path) -> None:
    """The new source's newest version cannot render: nothing changes, nothing is left."""
    mirror = tmp_path / "mirror"
    subprocess.run(["git", "clone", "--quiet", str(two_versions), str(mirror)], check=True)
    (mirror / "copier.yml").write_text("project_name: [unclosed\n")
    commit_all(mirror, "a broken version")
    git(mirror, "tag", "v3.0.0")
    project = generate_at(two_versions, tmp_path / "project", 1, "v1.0.0")
    commit_all(project, "generated")
    head, before = git(project, "rev-parse", "HEAD"), snapshot(project)
    result = run_cli("update", "--template", str(mirror), cwd=project)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert git(project, "rev-parse", "HEAD") == head and snapshot(project) == before
    assert git(project, "status", "--porcelain") == ""
    assert not (project / ".git" / "mlops-ladder").exists()
    assert git(project, "worktree", "list").count("\n") == 1


# The first commit of this repository that offered level 4: a real earlier release.
FIRST_RELEASE_WITH_LEVEL_4 = "87ca8e0f46328e268c421fc5fde44c85862174a1"
ANSWERS_DESCRIPTION = "A machine-learning project generated by mlops-ladder."
USER_PARAGRAPH = "Predicts churn for the retention team; owned by data@example.com."


@pytest.fixture(scope="module")
def real_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository with that release's files as v0.0.1 and today's as v0.1.0."""
    if not succeeds(ROOT, "cat-file", "-e", f"{FIRST_RELEASE_WITH_LEVEL_4}^{{commit}}"):
        pytest.fail("this clone lacks the history this test builds from: clone without --depth")
    repo = tmp_path_factory.mktemp("real-releases")
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "archive",
            FIRST_RELEASE_WITH_LEVEL_4,
            "copier.yml",
            "levels.yml",
            "template",
        ],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    commit_all(repo, "the release that first offered level 4")
    git(repo, "tag", "v0.0.1")
    copy_template(repo)
    commit_all(repo, "today's template")
    git(repo, "tag", "v0.1.0")
    return repo


def edit_as_a_team_would(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace(ANSWERS_DESCRIPTION, USER_PARAGRAPH, 1))
    with (project / "Makefile").open("a") as makefile:
        makefile.write("\n.PHONY: report\nreport:\n\t@echo our own target\n")
    with (project / ".gitignore").open("a") as ignore:
        ignore.write("scratch/\n")


@pytest.mark.slow
@pytest.mark.parametrize("level", [1, 4])
def test_update_from_a_real_earlier_release_equals_a_fresh_copy(
    level: int, real_releases: Path, tmp_path: Path
) -> None:
    project = generate_at(real_releases, tmp_path / "project", level, "v0.0.1")
    commit_all(project, "generated from v0.0.1")
    edit_as_a_team_would(project)
    commit_all(project, "our edits")

    result = run_cli("update", cwd=project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "from template v0.0.1 to v0.1.0" in result.stdout
    expected = generate_at(real_releases, tmp_path / "expected", level, "v0.1.0")
    edit_as_a_team_would(expected)
    assert snapshot(project) == snapshot(expected)
