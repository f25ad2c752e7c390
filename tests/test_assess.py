"""`mlops-ladder assess`: evidence from the files alone, the cumulative level, and no writes."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from cookiecutter.main import cookiecutter

from mlops_ladder.assess import (
    assess,
    assessment_schema,
    detection_rules,
    glob_regex,
    schema_json,
)
from mlops_ladder.catalogue import load_catalogue

from .conftest import CLI, ROOT, assert_refused, commit_all, git, run_cli, snapshot, tiered
from .test_cli import new_project

CATALOGUE = load_catalogue()
VALIDATOR = jsonschema.Draft202012Validator(assessment_schema(CATALOGUE))


def assess_json(path: Path) -> dict:
    """`assess --json` through the installed command, checked against the published schema."""
    result = run_cli("assess", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    VALIDATOR.validate(report)
    return report


def capability(report: dict, cap_id: str) -> dict:
    return next(cap for cap in report["capabilities"] if cap["id"] == cap_id)


def evidence_paths(report: dict, cap_id: str) -> list[str]:
    return [c["evidence"]["path"] for c in capability(report, cap_id)["checks"] if c["found"]]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- the rules in levels.yml ------------------------------------------------------------


def test_every_capability_has_detection_rules_in_levels_yml() -> None:
    rules = detection_rules()
    assert set(rules) == {cap.id for cap in CATALOGUE.capabilities}
    for cap_id, checks in rules.items():
        assert [c for c in checks if not c.optional], f"{cap_id} has only optional checks"
        for check in checks:
            assert check.what and check.alternatives and all(a.files for a in check.alternatives)


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("tests/**/test_*.py", "tests/test_data.py", True),
        ("tests/**/test_*.py", "tests/deployment/test_gate.py", True),
        ("tests/**/test_*.py", "src/tests/test_data.py", False),
        ("src/*/__init__.py", "src/pkg/__init__.py", True),
        ("src/*/__init__.py", "src/pkg/sub/__init__.py", False),
        ("**/Dockerfile", "Dockerfile", True),
        ("**/Dockerfile", "deploy/mlflow/Dockerfile", True),
        ("**/*.y*ml", "a/b.yaml", True),
        ("RUNBOOK*.md", "runbook.md", True),  # names match whatever their case
        ("tests/**", "tests/a/b/c.py", True),
        ("?.py", "ab.py", False),
    ],
)
def test_globs(glob: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(glob).fullmatch(path)) is matches


# --- the schema -------------------------------------------------------------------------


def test_published_schema_is_the_generated_one_and_valid() -> None:
    published = ROOT / "docs/reference/assessment.schema.json"
    assert published.read_text() == schema_json(CATALOGUE)
    assert run_cli("assess", "--schema").stdout == schema_json(CATALOGUE)
    jsonschema.Draft202012Validator.check_schema(assessment_schema(CATALOGUE))


# --- it agrees with itself --------------------------------------------------------------


@pytest.mark.parametrize("level", CATALOGUE.offered)
def test_a_generated_project_assesses_as_exactly_its_level(
    level: int, rendered: dict[int, Path]
) -> None:
    report = assess_json(rendered[level])
    assert report["ladder_project"] is True and report["recorded_level"] == level
    assert report["level"] == level
    assert report["level_name"] == CATALOGUE.level(level).name
    present = {cap["id"] for cap in report["capabilities"] if cap["present"]}
    assert present == {cap.id for cap in CATALOGUE.up_to(level)}, "nothing above is detected"
    assert report["present_above"] == []
    if level == CATALOGUE.top:
        assert report["next_level"] is None and report["next_command"] is None
        assert report["missing"] == []
    else:
        assert report["next_level"] == level + 1
        assert report["next_command"] == f"mlops-ladder climb --to {level + 1}"
        assert report["missing"] == [c.id for c in CATALOGUE.capabilities if c.level == level + 1]


@pytest.mark.parametrize(
    ("start", "target"),
    tiered([(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)], fast=[]),
)
def test_a_climbed_project_assesses_as_its_new_level(
    start: int, target: int, tmp_path: Path
) -> None:
    project = new_project(tmp_path, "--level", str(start), "--no-lock")
    assert assess_json(project)["level"] == start
    climbed = run_cli("climb", "--to", str(target), cwd=project)
    assert climbed.returncode == 0, climbed.stdout + climbed.stderr
    report = assess_json(project)
    assert (report["level"], report["recorded_level"]) == (target, target)
    assert report["present_above"] == []
    assert all(cap["present"] for cap in report["capabilities"] if cap["level"] <= target)


def test_a_ladder_project_missing_a_file_is_sent_to_status(rendered: dict, tmp_path: Path) -> None:
    project = shutil.copytree(rendered[3], tmp_path / "p")
    (project / "Dockerfile").unlink()
    (project / "deploy" / "mlflow" / "Dockerfile").unlink()
    report = assess_json(project)
    assert report["level"] == 2 and report["recorded_level"] == 3
    assert report["missing"] == ["container"]
    assert report["next_command"] == "mlops-ladder status"
    assert {"service", "delivery", "deployment"} <= set(report["present_above"])
    text = run_cli("assess", str(project)).stdout
    assert "Missing for level 3: Container image\n" in text
    assert "`mlops-ladder status` lists them" in text


# --- it only reads ----------------------------------------------------------------------


def test_assess_changes_nothing_and_runs_nothing(rendered: dict, tmp_path: Path) -> None:
    project = shutil.copytree(rendered[4], tmp_path / "p")
    # Code that would leave a mark if anything imported or ran it.
    trap = "from pathlib import Path\nPath(__file__).with_name('RAN').write_text('ran')\n"
    (project / "src" / "demo_model" / "__init__.py").write_text(trap)
    (project / "conftest.py").write_text(trap)
    commit_all(project)
    (project / "untracked.txt").write_text("left alone\n")
    # A git that leaves a mark too: a repository's git config can run commands.
    fake_bin = write(tmp_path / "bin", {"git": f"#!/bin/sh\ntouch {tmp_path / 'GIT-RAN'}\n"})
    (fake_bin / "git").chmod(0o755)
    before = snapshot(project)
    status = git(project, "status", "--porcelain", "--ignored")
    for args in ([], ["--json"]):
        result = subprocess.run(
            [str(CLI), "assess", *args],
            cwd=project,
            capture_output=True,
            text=True,
            env=os.environ | {"PATH": str(fake_bin)},
        )
        assert result.returncode == 0, result.stderr
        assert '"level": 4,' in result.stdout or "Level reached: 4 - " in result.stdout
    assert snapshot(project) == before
    assert git(project, "status", "--porcelain", "--ignored") == status
    assert not list(project.rglob("RAN")) and not list(project.rglob("__pycache__"))
    assert not (tmp_path / "GIT-RAN").exists()


def test_assess_reads_only_the_files_its_rules_name(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"requirements.txt": "pandas\n", "nb.ipynb": "{}"})
    for n in range(2000):
        write(repo, {f"data/raw/part-{n:04}.csv": "a,b\n1,2\n"})
    write(repo, {".venv/lib/site.py": "import mlflow\nmlflow.start_run()\n"})
    result = assess(repo, CATALOGUE)
    assert result.files_seen == 2002  # the virtual environment is not even listed
    assert 0 < result.files_read <= 5, result.files_read
    assert result.level == 0


def test_a_link_is_never_followed_out_of_the_repository(tmp_path: Path) -> None:
    outside = write(
        tmp_path / "outside", {"pyproject.toml": '[project]\ndependencies = ["mlflow"]\n'}
    )
    repo = write(tmp_path / "repo", {"notebooks/a.ipynb": "{}"})
    (repo / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    report = assess_json(repo)
    assert capability(report, "environment")["present"] is False
    assert report["level"] is None


# --- repositories not made by mlops-ladder ----------------------------------------------

MODULE = "{{cookiecutter.repo_name}}/{{cookiecutter.module_name}}"
CCDS_FILES = {
    "{{cookiecutter.repo_name}}/README.md": "# {{cookiecutter.project_name}}\n",
    "{{cookiecutter.repo_name}}/Makefile": (
        "requirements:\n\tpip install -e .\n\ndata:\n\tpython -m {{cookiecutter.module_name}}"
        ".dataset\n"
    ),
    "{{cookiecutter.repo_name}}/pyproject.toml": (
        '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"'
        '\n\n[project]\nname = "{{cookiecutter.module_name}}"\nversion = "0.0.1"\n'
        'description = "{{cookiecutter.description}}"\n'
        'authors = [{ name = "{{cookiecutter.author_name}}" }]\n'
        'requires-python = "~={{cookiecutter.python_version}}"\n'
        'dependencies = ["pandas", "scikit-learn", "loguru", "typer"]\n\n'
        "[tool.ruff]\nline-length = 99\n"
    ),
    "{{cookiecutter.repo_name}}/data/raw/.gitkeep": "",
    "{{cookiecutter.repo_name}}/data/interim/.gitkeep": "",
    "{{cookiecutter.repo_name}}/data/processed/.gitkeep": "",
    "{{cookiecutter.repo_name}}/data/external/.gitkeep": "",
    "{{cookiecutter.repo_name}}/models/.gitkeep": "",
    "{{cookiecutter.repo_name}}/notebooks/.gitkeep": "",
    "{{cookiecutter.repo_name}}/reports/figures/.gitkeep": "",
    f"{MODULE}/__init__.py": "",
    f"{MODULE}/config.py": '"""Paths."""\n\nfrom pathlib import Path\n\nDATA = Path("data")\n',
    f"{MODULE}/dataset.py": '"""Make the dataset."""\n',
    f"{MODULE}/features.py": '"""Make the features."""\n',
    f"{MODULE}/modeling/__init__.py": "",
    f"{MODULE}/modeling/train.py": '"""Train."""\n',
    f"{MODULE}/modeling/predict.py": '"""Predict."""\n',
}
CCDS_CONTEXT = {
    "project_name": "Churn Study",
    "repo_name": "churn-study",
    "module_name": "churn_study",
    "author_name": "Ada Lovelace",
    "description": "Which customers leave, and why.",
    "python_version": "3.11",
}


@pytest.fixture(scope="module")
def ccds_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small cookiecutter template that produces the cookiecutter-data-science v2 layout."""
    template = tmp_path_factory.mktemp("ccds-template")
    (template / "cookiecutter.json").write_text(json.dumps(CCDS_CONTEXT))
    return write(template, CCDS_FILES)


def ccds_project(template: Path, dest: Path) -> Path:
    """A project generated from the template, with a user's notebook and code, in git."""
    home = {"cookiecutters_dir": str(dest / ".cc"), "replay_dir": str(dest / ".cc-replay")}
    cookiecutter(str(template), no_input=True, output_dir=str(dest), default_config=home)
    project = dest / "churn-study"
    write(
        project,
        {
            "notebooks/1.0-al-initial-exploration.ipynb": json.dumps(
                {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
            ),
            "churn_study/modeling/train.py": (
                '"""Train."""\n\nimport mlflow\n\n\ndef main() -> None:\n'
                '    with mlflow.start_run():\n        mlflow.log_metric("auc", 0.8)\n'
            ),
        },
    )
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"typer"]', '"typer", "mlflow"]'))
    commit_all(project)
    return project


def test_a_cookiecutter_data_science_project(ccds_template: Path, tmp_path: Path) -> None:
    project = ccds_project(ccds_template, tmp_path)
    before = snapshot(project)
    report = assess_json(project)
    assert (report["ladder_project"], report["recorded_level"]) == (False, None)
    assert report["level"] == 0
    assert evidence_paths(report, "notebook") == ["notebooks/1.0-al-initial-exploration.ipynb"]
    assert evidence_paths(report, "environment") == ["pyproject.toml"]
    # Above level 0: the flat-layout package with its build system, and MLflow tracking.
    assert report["present_above"] == ["package", "tracking"]
    assert evidence_paths(report, "package") == ["churn_study/__init__.py", "pyproject.toml"]
    assert evidence_paths(report, "tracking") == ["pyproject.toml", "churn_study/modeling/train.py"]
    assert report["missing"] == ["tests", "ci", "automation"]
    assert report["next_command"] == "mlops-ladder adopt --level 1"
    text = run_cli("assess", cwd=project).stdout
    assert "Not an mlops-ladder project" in text and "Level reached: 0 - " in text
    assert (
        "Present above level 0: Installable package (1), Experiment tracking (MLflow) (2)" in text
    )
    assert "Missing for level 1: Unit tests and lint, Continuous integration, Hooks" in text
    assert "Next: mlops-ladder adopt --level 1\n" in text
    assert snapshot(project) == before and git(project, "status", "--porcelain") == ""


def test_a_notebooks_only_repository(tmp_path: Path) -> None:
    repo = write(tmp_path / "nb", {"analysis.ipynb": "{}", "data/sales.csv": "a\n1\n"})
    report = assess_json(repo)
    assert report["level"] is None and report["next_level"] == 0
    assert capability(report, "notebook")["present"] is True
    assert report["missing"] == ["environment"]
    assert report["next_command"] == "mlops-ladder adopt --level 0"
    assert "Level reached: none (level 0 is not complete)" in run_cli("assess", str(repo)).stdout
    write(repo, {"requirements.txt": "pandas==2.2.3 --hash=sha256:0123\n"})
    report = assess_json(repo)
    assert report["level"] == 0
    lock = capability(report, "environment")["checks"][1]
    assert lock["optional"] and lock["evidence"]["matched"] == ["--hash="]


LIBRARY = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        '[project]\nname = "featurekit"\nversion = "1.0"\ndependencies = ["numpy"]\n\n'
        '[project.optional-dependencies]\ntest = ["pytest"]\n'
    ),
    "src/featurekit/__init__.py": "",
    "src/featurekit/scaling.py": "def scale(x):\n    return x\n",
    "tests/test_scaling.py": "from featurekit.scaling import scale\n",
    ".github/workflows/test.yaml": "on: push\njobs:\n  t:\n    steps:\n      - run: pytest -q\n",
    ".github/dependabot.yml": "version: 2\n",
}


def test_a_packaged_library_with_tests_and_a_workflow(tmp_path: Path) -> None:
    report = assess_json(write(tmp_path / "lib", LIBRARY))
    # No notebook: the cumulative rule stops below level 0, whatever is present above.
    assert report["level"] is None and report["missing"] == ["notebook"]
    assert report["present_above"] == ["environment", "package", "tests", "ci", "automation"]
    assert evidence_paths(report, "ci") == [".github/workflows/test.yaml"]
    assert capability(report, "ci")["checks"][0]["evidence"]["matched"] == ["pytest"]


def test_a_service_with_a_dockerfile_but_no_tests(tmp_path: Path) -> None:
    repo = write(
        tmp_path / "svc",
        {
            "requirements.txt": "fastapi\nuvicorn\nscikit-learn\n",
            "notebooks/train.ipynb": "{}",
            "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
            "Dockerfile": "FROM python:3.12-slim\n",
            "tests/test_app.py": "",  # test files but no test runner anywhere
        },
    )
    report = assess_json(repo)
    assert report["level"] == 0 and report["present_above"] == ["service", "container"]
    assert evidence_paths(report, "service") == ["app/main.py"]
    tests = capability(report, "tests")
    assert [c["found"] for c in tests["checks"]] == [True, False, False]
    text = run_cli("assess", str(repo)).stdout
    assert "Present above level 0: Model service (FastAPI) (3), Container image (3)" in text
    assert "  [ ] Unit tests and lint\n      + test files: tests/test_app.py\n" in text


def test_gitlab_ci_counts_as_ci(tmp_path: Path) -> None:
    repo = write(tmp_path / "gl", {".gitlab-ci.yml": "test:\n  script:\n    - make test\n"})
    assert evidence_paths(assess_json(repo), "ci") == [".gitlab-ci.yml"]


# --- the command line -------------------------------------------------------------------


def test_a_path_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    for name in ("file.txt", "absent"):
        result = run_cli("assess", name, cwd=tmp_path)
        assert_refused(result, f"{name} is not a directory: give the folder of a repository")
        assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_assess_defaults_to_the_current_folder(rendered: dict) -> None:
    result = run_cli("assess", cwd=rendered[1])
    assert result.returncode == 0
    assert result.stdout.startswith(f"Assessment of {os.path.realpath(rendered[1])}\n")
    assert "Level reached: 1 - DevOps, no MLOps\n" in result.stdout
    assert "      + test files: tests/conftest.py" not in result.stdout
    assert "      + test files: tests/test_cli.py\n" in result.stdout
    assert "Next: mlops-ladder climb --to 2\n" in result.stdout


def test_the_capability_reference_shows_every_detection_rule() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("hook", ROOT / "docs/_hooks/generated.py")
    assert spec and spec.loader
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.capabilities()
    for cap_id, checks in detection_rules().items():
        section = page[page.index(f"- id: `{cap_id}`") :]
        section = section[: section.find("\n### ")]
        for check in checks:
            assert f"- {check.what}" in section, (cap_id, check.what)
            for alternative in check.alternatives:
                assert f"`{alternative.files[0]}`" in section, (cap_id, alternative)
                for pattern in alternative.contains:
                    assert f"`{pattern}`" in section, (cap_id, pattern)


def test_a_file_name_that_is_not_utf8_is_shown_not_fatal(tmp_path: Path) -> None:
    repo = write(tmp_path / "r", {"requirements.txt": "pandas\n"})
    (repo / os.fsdecode(b"caf\xe9.ipynb")).write_text("{}")
    report = assess_json(repo)
    assert evidence_paths(report, "notebook") == ["caf\ufffd.ipynb"]
    assert "+ a Jupyter notebook: caf\ufffd.ipynb" in run_cli("assess", str(repo)).stdout
