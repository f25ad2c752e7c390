"""The mlops-ladder command, through its installed entry point, as users and CI run it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue

from .conftest import (
    ANSWERS,
    assert_refused,
    commit_all,
    git,
    made_once,
    run_cli,
    run_cli_on_a_terminal,
    snapshot,
)


def new_project(tmp_path: Path, *args: str, cached: bool = True) -> Path:
    """`tmp_path/project`, made by `mlops-ladder new` from the standard answers and `args`.

    The CLI runs once per session for the same `args`, then its project (git history
    included) is copied; `cached=False` runs it here, for a test of `new` itself.
    """
    answers = tmp_path / "answers.yml"
    answers.write_text(yaml.safe_dump(ANSWERS | {"mlops_level": 0}))

    def make(into: Path) -> None:
        into.mkdir(exist_ok=True)
        result = run_cli("new", "project", "--data-file", str(answers), *args, cwd=into)
        assert result.returncode == 0, result.stderr

    if cached:
        made_once(["new", *args], make, tmp_path)
    else:
        make(tmp_path)
    return tmp_path / "project"


def test_new_from_an_answers_file_asks_nothing_and_commits(tmp_path: Path) -> None:
    project = new_project(tmp_path, cached=False)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "Demo Model" and answers["mlops_level"] == 0
    # The same source on every machine: the CLI finds its own copy of the template there.
    assert answers["_src_path"] == "~/.cache/mlops-ladder/template"
    assert answers["_commit"].startswith("v")
    assert git(project, "log", "--format=%s").splitlines() == [
        f"Generate from mlops-ladder {answers['_commit']}"
    ]
    assert git(project, "status", "--porcelain") == ""


def test_new_accepts_another_projects_answers_file(tmp_path: Path) -> None:
    first = new_project(tmp_path)
    result = run_cli(
        "new",
        "second",
        "--data-file",
        str(first / ".copier-answers.yml"),
        "--level",
        "1",
        "-d",
        "project_name=Second",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "level 1 - DevOps, no MLOps" in result.stdout
    # The first project's answers came along, package name included.
    assert (tmp_path / "second" / "src" / "demo_model" / "score.py").is_file()


def test_new_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "keep.txt").write_text("mine\n")
    result = run_cli("new", "project", "--defaults", "-d", "project_name=X", cwd=tmp_path)
    assert result.returncode == 2 and "already exists and is not empty" in result.stderr
    assert [p.name for p in (tmp_path / "project").iterdir()] == ["keep.txt"]


def test_new_without_git(tmp_path: Path) -> None:
    result = run_cli("new", "p", "--defaults", "-d", "project_name=X", "--no-git", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "p" / ".git").exists()


def test_new_records_a_shared_template_source(template_repo, tmp_path: Path) -> None:
    src, tag = template_repo
    result = run_cli(
        "new",
        "p",
        "--defaults",
        "-d",
        "project_name=X",
        "--template",
        src,
        "--vcs-ref",
        tag,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((tmp_path / "p" / ".copier-answers.yml").read_text())
    assert (answers["_src_path"], answers["_commit"]) == (src, tag)


def test_status_reports_level_template_and_health(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    result = run_cli("status", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "Level:     0 - Experimentation (no MLOps)"
    assert lines[3] == "Newer:     none, up to date"
    assert lines[4].startswith("Doctor:    ok, 7 files and 4 make targets")


@pytest.mark.parametrize("args", [["levels"], ["status"], ["assess"], ["--version"]])
def test_a_command_that_renders_nothing_does_not_import_copier(
    args: list[str], tmp_path: Path
) -> None:
    """Start-up stays short: copier (about 0.8 s to import) loads only for a render.

    run_cli forks from an interpreter that has imported copier already, so this
    starts a fresh one, as the console script does.
    """
    project = new_project(tmp_path)
    script = (
        "import sys\n"
        "from mlops_ladder.cli import main\n"
        "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as exit_:\n    code = exit_.code\n"
        "sys.exit(code if 'copier' not in sys.modules else 'copier was imported')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_status_names_a_deleted_required_file(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    (project / "notebooks" / "01-baseline.ipynb").unlink()
    result = run_cli("status", "--json", str(project))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["healthy"] is False
    assert report["missing"] == [
        {
            "kind": "file",
            "name": "notebooks/01-baseline.ipynb",
            "capability": "notebook",
            "level": 0,
        }
    ]
    text = run_cli("status", str(project)).stdout
    assert "missing file notebooks/01-baseline.ipynb" in text and "git checkout" in text


def test_status_outside_a_project_is_one_line(tmp_path: Path) -> None:
    result = run_cli("status", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"mlops-ladder: error: {tmp_path} has no .copier-answers.yml: "
        "run this inside a project made by mlops-ladder\n"
    )


def test_climb_dry_run_lists_changes_and_touches_nothing(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    before = snapshot(project)
    result = run_cli("climb", "--dry-run", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "  add      src/demo_model/score.py" in result.stdout
    assert "  change   pyproject.toml" in result.stdout
    assert snapshot(project) == before


def test_climb_applies_the_next_level_and_summarises(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    result = run_cli("climb", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Climbed project from level 0 to 1: DevOps, no MLOps.")
    assert "  + Continuous integration:" in result.stdout
    assert "Files added: .github/workflows/ci.yml" in result.stdout
    # The next steps in the order they must run, as levels.yml lists them, not by name.
    assert result.stdout.splitlines()[-1] == (
        "Next: review `git diff` and commit, then run in this order: "
        "make install, make lint, make test (MLOPS_LEVEL.md lists them)."
    )
    assert (
        "```sh\nmake install\nmake lint\nmake test\n```" in (project / "MLOPS_LEVEL.md").read_text()
    )
    assert (project / "src" / "demo_model" / "score.py").is_file()
    status = json.loads(run_cli("status", "--json", cwd=project).stdout)
    assert status["level"] == 1 and status["healthy"] is True


def test_climb_refuses_a_dirty_tree_and_changes_nothing(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    (project / "scratch.py").write_text("print('wip')\n")
    before = snapshot(project)
    result = run_cli("climb", cwd=project)
    assert result.returncode == 2
    assert "1 uncommitted change(s) (scratch.py): commit or stash them first" in result.stderr
    assert result.stderr.count("\n") == 1
    assert snapshot(project) == before


def test_climb_refuses_a_downgrade_and_an_unoffered_level(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    down = run_cli("climb", "--to", "0", cwd=project)
    assert down.returncode == 2 and "levels only go up" in down.stderr
    beyond = max(load_catalogue().offered) + 1
    far = run_cli("climb", "--to", str(beyond), cwd=project)
    assert far.returncode == 2 and f"level {beyond} is not offered by this template" in far.stderr
    assert git(project, "status", "--porcelain") == ""


def test_climb_refuses_a_folder_without_git(tmp_path: Path) -> None:
    result = run_cli(
        "new", "p", "--defaults", "--level", "0", "-d", "project_name=X", "--no-git", cwd=tmp_path
    )
    assert result.returncode == 0
    refused = run_cli("climb", cwd=tmp_path / "p")
    assert refused.returncode == 2 and "is not a git repository" in refused.stderr
    assert not (tmp_path / "p" / "src").exists()


def test_climb_at_the_top_offered_level_says_so(tmp_path: Path) -> None:
    top = max(load_catalogue().offered)
    project = new_project(tmp_path, "--level", str(top))
    result = run_cli("climb", cwd=project)
    assert result.returncode == 2 and f"level {top + 1} is not offered" in result.stderr


def test_levels_lists_every_level() -> None:
    result = run_cli("levels")
    assert result.returncode == 0
    catalogue = load_catalogue()
    for level in catalogue.levels:
        mark = "" if level.number in catalogue.offered else "  (not offered yet)"
        assert f"\n{level.label}{mark}\n" in "\n" + result.stdout
    assert "    Drift detection\n" in result.stdout


def test_new_inside_a_repository_joins_it_unless_ignored(tmp_path: Path) -> None:
    commit_all(tmp_path, "monorepo")
    (tmp_path / ".gitignore").write_text("/scratch/\n")
    joined = run_cli(
        "new", "sub", "--defaults", "--level", "0", "-d", "project_name=Sub", cwd=tmp_path
    )
    assert joined.returncode == 0 and not (tmp_path / "sub" / ".git").exists()
    assert "inside an existing git repository" in joined.stdout
    own = run_cli(
        "new", "scratch", "--defaults", "--level", "0", "-d", "project_name=S", cwd=tmp_path
    )
    assert own.returncode == 0 and (tmp_path / "scratch" / ".git").is_dir()


def test_new_in_a_terminal_asks_nothing_when_the_file_answers_everything(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    complete = ANSWERS | {
        "mlops_level": 1,
        "package_name": "demo_model",
        "description": "Complete answers",
        "python_version": "3.11",
        "license": "MIT",
        "ci_provider": "gitlab",
    }
    answers.write_text(yaml.safe_dump(complete))
    result = run_cli_on_a_terminal("new", "project", "--data-file", str(answers), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "level 1 - DevOps, no MLOps" in result.stdout
    assert (tmp_path / "project/.gitlab-ci.yml").is_file()


def test_doctor_reads_make_lines_that_declare_several_targets(tmp_path: Path) -> None:
    from mlops_ladder.project import make_targets

    makefile = tmp_path / "Makefile"
    makefile.write_text("UV ?= uv\nlint test: install\n\t@true\nbuild::\n\t@true\nX := 1\n")
    assert make_targets(makefile) == {"lint", "test", "build"}


def test_data_values_are_cast_by_copier_not_by_yaml(tmp_path: Path) -> None:
    result = run_cli(
        "new", "p", "--defaults", "--level", "0", "-d", "project_name=No", "--no-git", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((tmp_path / "p" / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "No" and answers["mlops_level"] == 0


@pytest.mark.slow
def test_climb_takes_answers_for_the_new_levels_questions(tmp_path: Path) -> None:
    project = new_project(tmp_path, "--level", "1")
    url = "gs://team-data/demo"
    plan = run_cli(
        "climb", "--dry-run", "-d", "dvc_remote=gs", "-d", f"dvc_remote_url={url}", cwd=project
    )
    assert plan.returncode == 0, plan.stderr
    assert "add      .dvc/config" in plan.stdout
    result = run_cli("climb", "-d", "dvc_remote=gs", "-d", f"dvc_remote_url={url}", cwd=project)
    assert result.returncode == 0, result.stderr
    assert f"url = {url}" in (project / ".dvc/config").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["mlops_level"], answers["dvc_remote_url"]) == (2, url)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "mlops_level=2"], "give the target level with --to N"),
        (["-d", "dvc_remote=s3"], "dvc_remote_url has no default and needs an answer"),
        (["-d", "dvc_remote=s3", "-d", "dvc_remote_url=s3:/x"], "is not a s3 bucket URL"),
        (["--data-file", "nowhere.yml"], "data file nowhere.yml does not exist"),
    ],
)
@pytest.mark.slow
def test_climb_refuses_bad_answers_and_changes_nothing(
    args: list[str], message: str, tmp_path: Path
) -> None:
    project = new_project(tmp_path, "--level", "1")
    before = snapshot(project)
    assert_refused(run_cli("climb", *args, cwd=project), message)
    assert snapshot(project) == before


@pytest.mark.slow
def test_climb_takes_another_projects_answers_file_for_new_questions_only(
    tmp_path: Path,
) -> None:
    project = new_project(tmp_path, "--level", "1")
    other = tmp_path / "other.yml"
    other_answers = {"project_name": "Other", "author_name": "Someone Else", "mlops_level": 2}
    other.write_text(yaml.safe_dump(ANSWERS | other_answers | {"dvc_remote": "local"}))
    result = run_cli("climb", "--data-file", str(other), cwd=project)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    # The new level's question comes from the file; this project's own answers stay.
    assert (answers["mlops_level"], answers["dvc_remote"]) == (2, "local")
    assert (answers["project_name"], answers["author_name"]) == ("Demo Model", "Test Author")
    assert (project / "src/demo_model/pipeline.py").is_file()
