"""fleet: one status table over many projects, and the same climb or update for each."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue

from .conftest import CLI, commit_all, git, run_cli, snapshot
from .test_update import generate_at, two_versions  # noqa: F401 (a fixture)

TOP = max(load_catalogue().offered)
# "broken" sits at the top level, so a fleet climb also meets a project it cannot climb.
LEVELS = {"alpha": 0, "bravo": 1, "charlie": 1, "dirty": 0, "broken": TOP}


@pytest.fixture
def fleet(generate, tmp_path: Path) -> dict[str, Path]:
    """Five committed projects at mixed levels; one dirty, one missing a required file.

    The folders tell them apart; they keep the standard answers, so each is a copy of
    the session's render at its level.
    """
    projects = {}
    for name, level in LEVELS.items():
        project = generate(tmp_path / name, level)
        commit_all(project, "generated")
        projects[name] = project
    (projects["dirty"] / "notes.txt").write_text("work in progress\n")
    (projects["broken"] / "dvc.yaml").unlink()
    commit_all(projects["broken"], "we did not need dvc.yaml")
    return projects


def test_fleet_status_reports_every_project_in_one_table(fleet: dict[str, Path]) -> None:
    result = run_cli("fleet", "status", *map(str, fleet.values()))
    assert result.returncode == 1  # one project is unhealthy
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PROJECT", "LEVEL", "TEMPLATE", "NEWER", "TREE", "DOCTOR"]
    assert [line.split()[0] for line in lines[1:]] == [str(p) for p in fleet.values()]
    by_name = {Path(line.split()[0]).name: line for line in lines[1:]}
    assert "1 uncommitted" in by_name["dirty"]
    assert by_name["broken"].endswith("missing dvc.yaml")
    assert by_name["alpha"].split()[1] == "0" and by_name["alpha"].endswith("ok")


def test_fleet_status_json_from_a_list_file(fleet: dict[str, Path], tmp_path: Path) -> None:
    listing = tmp_path / "projects.txt"
    names = "\n".join(p.name for p in fleet.values())
    listing.write_text(f"# our ML projects\n{names}\n\n/nowhere\n")
    result = run_cli("fleet", "status", "--json", "--from-file", str(listing))
    rows = json.loads(result.stdout)
    assert [Path(row["project"]).name for row in rows] == [*fleet, "nowhere"]
    assert [row.get("level") for row in rows] == [*LEVELS.values(), None]
    broken = rows[list(fleet).index("broken")]
    assert broken["healthy"] is False and broken["missing"][0]["name"] == "dvc.yaml"
    assert rows[-1]["error"].endswith("run this inside a project made by mlops-ladder")


@pytest.mark.slow
def test_fleet_climb_changes_each_project_on_its_own_branch(fleet: dict[str, Path]) -> None:
    before = {name: snapshot(path) for name, path in fleet.items()}
    heads = {name: git(path, "rev-parse", "HEAD") for name, path in fleet.items()}
    result = run_cli("fleet", "climb", "--json", *map(str, fleet.values()))
    assert result.returncode == 1  # the dirty project and the top-level one are refused
    rows = {Path(row["project"]).name: row for row in json.loads(result.stdout)}

    assert rows["dirty"]["result"] == "refused"
    assert "uncommitted change(s) (notes.txt)" in rows["dirty"]["detail"]
    assert rows["broken"]["result"] == "refused"
    assert f"level {TOP + 1} is not offered" in rows["broken"]["detail"]
    for name in ("alpha", "bravo", "charlie"):
        row, project = rows[name], fleet[name]
        target = LEVELS[name] + 1
        assert (row["result"], row["branch"]) == ("done", f"mlops-ladder/level-{target}")
        # The current branch and the files on disk are untouched; the climb waits on its branch.
        assert git(project, "rev-parse", "HEAD") == heads[name]
        assert snapshot(project) == before[name]
        answers = git(project, "show", f"{row['branch']}:.copier-answers.yml")
        assert yaml.safe_load(answers)["mlops_level"] == target
    assert snapshot(fleet["dirty"]) == before["dirty"]
    assert "mlops-ladder/" not in git(fleet["dirty"], "branch")


@pytest.mark.slow
def test_fleet_update_moves_each_project_to_the_newest_version(
    two_versions: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    projects = [
        generate_at(two_versions, tmp_path / f"p{level}", level, "v1.0.0") for level in (0, 2)
    ]
    for project in projects:
        commit_all(project, "generated")
    result = run_cli("fleet", "update", *map(str, projects))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("done ") == 2
    for project in projects:
        answers = git(project, "show", "mlops-ladder/template-v2.0.0:.copier-answers.yml")
        assert yaml.safe_load(answers)["_commit"] == "v2.0.0"
    again = run_cli("fleet", "update", str(projects[0]))
    assert again.returncode == 0
    assert "nothing to do" in again.stdout and "already holds this change" in again.stdout


def test_fleet_without_projects_says_what_to_give(tmp_path: Path) -> None:
    result = run_cli("fleet", "status", cwd=tmp_path)
    assert result.returncode == 2
    assert "no projects given: name their folders or pass --from-file" in result.stderr


@pytest.mark.slow
def test_one_unreadable_project_does_not_hide_the_others(generate, tmp_path: Path) -> None:
    good = generate(tmp_path / "good", 0)
    commit_all(good, "generated")
    garbled = generate(tmp_path / "garbled", 0)
    (garbled / ".copier-answers.yml").write_text("mlops_level: [1\n")
    commit_all(garbled, "garbled by hand")

    status = json.loads(run_cli("fleet", "status", "--json", str(garbled), str(good)).stdout)
    assert "cannot be read" in status[0]["error"] and status[1]["healthy"] is True

    result = run_cli("fleet", "climb", "--json", str(garbled), str(good))
    rows = json.loads(result.stdout)
    assert result.returncode == 1
    assert rows[0]["result"] == "refused" and "cannot be read" in rows[0]["detail"]
    assert rows[1]["result"] == "done"


@pytest.mark.slow
def test_fleet_climb_puts_a_project_back_when_its_commit_fails(
    generate, tmp_path: Path, no_git_identity: dict[str, str]
) -> None:
    project = generate(tmp_path / "project", 0)
    commit_all(project, "generated")
    head, before = git(project, "rev-parse", "HEAD"), snapshot(project)
    result = subprocess.run(
        [str(CLI), "fleet", "climb", "--json", str(project)],
        capture_output=True,
        text=True,
        env=no_git_identity,
    )
    [row] = json.loads(result.stdout)
    assert row["result"] == "refused" and "\n" not in row["detail"]
    assert git(project, "rev-parse", "HEAD") == head and snapshot(project) == before
    assert "mlops-ladder/" not in git(project, "branch")
