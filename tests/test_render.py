"""Each level renders exactly its files, clean, parseable and lint-free."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue

from .conftest import commit_all, project_commands, tiered

LEVEL0 = {
    ".copier-answers.yml",
    ".gitignore",
    ".python-version",
    "LICENSE",
    "MLOPS_LEVEL.md",
    "Makefile",
    "README.md",
    "data/processed/.gitkeep",
    "data/raw/.gitkeep",
    "models/.gitkeep",
    "notebooks/01-baseline.ipynb",
    "pyproject.toml",
}
LEVEL1 = LEVEL0 | {
    ".github/workflows/ci.yml",
    ".pre-commit-config.yaml",
    "renovate.json",
    "src/demo_model/__init__.py",
    "src/demo_model/__main__.py",
    "src/demo_model/cli.py",
    "src/demo_model/data.py",
    "src/demo_model/errors.py",
    "src/demo_model/paths.py",
    "src/demo_model/features.py",
    "src/demo_model/model.py",
    "src/demo_model/score.py",
    "tests/conftest.py",
    "tests/test_cli.py",
    "tests/test_data.py",
    "tests/test_model.py",
    "tests/test_score.py",
}
LEVEL2 = LEVEL1 | {
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".github/workflows/train.yml",
    "docs/model_card.md",
    "dvc.yaml",
    "params.yaml",
    "src/demo_model/params.py",
    "src/demo_model/pipeline.py",
    "src/demo_model/registry.py",
    "src/demo_model/report.py",
    "src/demo_model/mlmodel.py",
    "src/demo_model/tracking.py",
    "tests/test_pipeline.py",
    "tests/test_registry.py",
    "tests/test_report.py",
}
LEVEL3 = LEVEL2 | {
    ".dockerignore",
    ".github/workflows/deploy.yml",
    "Dockerfile",
    "deploy/compose.yaml",
    "deploy/k8s/base/deployment.yaml",
    "deploy/k8s/base/kustomization.yaml",
    "deploy/k8s/base/service.yaml",
    "deploy/k8s/deploy.sh",
    "deploy/k8s/overlays/production/kustomization.yaml",
    "deploy/k8s/overlays/production/namespace.yaml",
    "deploy/k8s/overlays/staging/kustomization.yaml",
    "deploy/k8s/overlays/staging/namespace.yaml",
    "deploy/mlflow/Dockerfile",
    "src/demo_model/ab.py",
    "src/demo_model/bundle.py",
    "src/demo_model/gate.py",
    "src/demo_model/inference.py",
    "src/demo_model/jsonl.py",
    "src/demo_model/release.py",
    "src/demo_model/service.py",
    "src/demo_model/serving.py",
    "tests/deployment/conftest.py",
    "tests/deployment/test_ab.py",
    "tests/deployment/test_bundle.py",
    "tests/deployment/test_gate.py",
    "tests/deployment/test_inference.py",
    "tests/deployment/test_jsonl.py",
    "tests/deployment/test_live.py",
    "tests/deployment/test_release.py",
    "tests/deployment/test_service.py",
}
LEVEL4 = LEVEL3 | {
    ".github/workflows/monitor.yml",
    "RUNBOOK.md",
    "deploy/monitoring/alerts.yml",
    "deploy/monitoring/dashboard.json",
    "deploy/monitoring/prometheus.yml",
    "src/demo_model/drift.py",
    "src/demo_model/drift_report.py",
    "src/demo_model/loop.py",
    "src/demo_model/metrics.py",
    "src/demo_model/prediction_log.py",
    "src/demo_model/predictions.py",
    "src/demo_model/reload.py",
    "tests/deployment/test_drift.py",
    "tests/deployment/test_loop.py",
    "tests/deployment/test_metrics.py",
    "tests/deployment/test_predictions.py",
}
EXPECTED_FILES = {0: LEVEL0, 1: LEVEL1, 2: LEVEL2, 3: LEVEL3, 4: LEVEL4}
# With ci_provider=gitlab each level has these instead of its GitHub workflows.
GITLAB_FILES = {
    1: {".gitlab-ci.yml", ".gitlab/ci/ci.yml"},
    2: {".gitlab/ci/train.yml"},
    3: {".gitlab/ci/deploy.yml", ".gitlab/ci/integration.yml"},
    4: {".gitlab/ci/monitor.yml"},
}
# The runtime and dev dependencies each level brings, and no level below it has.
NEW_DEPENDENCIES = {
    0: ({"pandas", "scikit-learn", "skops"}, set()),
    2: ({"alembic", "mlflow-skinny", "pyyaml", "sqlalchemy"}, {"dvc"}),
    3: ({"fastapi", "uvicorn"}, {"httpx2", "schemathesis"}),
    4: ({"prometheus-client", "scipy"}, set()),
}
PULL_VERSIONED_DATA = (
    'if compgen -G "data/raw/*.dvc" > /dev/null; then uv run dvc pull data/raw/*.dvc; fi'
)
OFFERED = load_catalogue().offered
# Jinja syntax left behind; GitHub Actions' own ${{ }} expressions are allowed.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|%\}")


def files_of(project: Path) -> set[str]:
    return {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}


def test_every_offered_level_has_an_expected_file_set() -> None:
    assert set(EXPECTED_FILES) == set(OFFERED)


@pytest.mark.parametrize("level", OFFERED)
def test_exact_file_set(level: int, rendered: dict[int, Path]) -> None:
    assert files_of(rendered[level]) == EXPECTED_FILES[level]


@pytest.mark.parametrize("level", OFFERED)
def test_exact_file_set_on_gitlab(level: int, rendered_gitlab: dict[int, Path]) -> None:
    github = {name for name in EXPECTED_FILES[level] if name.startswith(".github/")}
    gitlab = {name for n in range(1, level + 1) for name in GITLAB_FILES[n]}
    assert files_of(rendered_gitlab[level]) == EXPECTED_FILES[level] - github | gitlab


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize("level", OFFERED)
def test_no_jinja_leftovers_or_blank_line_noise(
    level: int, provider: str, rendered: dict[int, Path], rendered_gitlab: dict[int, Path]
) -> None:
    project = {"github": rendered, "gitlab": rendered_gitlab}[provider][level]
    for name in files_of(project):
        text = (project / name).read_text()
        assert not JINJA_LEFTOVER.search(text), name
        if text:
            assert text.endswith("\n") and not text.endswith("\n\n"), name
            assert "\n\n\n\n" not in text, name
            assert not re.search(r"[ \t]+\n", text), name


@pytest.mark.parametrize("level", OFFERED)
def test_every_structured_file_parses(level: int, rendered: dict[int, Path]) -> None:
    project = rendered[level]
    parsers = {
        ".yml": yaml.safe_load,
        ".yaml": yaml.safe_load,
        ".toml": tomllib.loads,
        ".json": json.loads,
    }
    parsed = 0
    for name in files_of(project):
        path = project / name
        if path.suffix == ".ipynb":
            nbformat.validate(nbformat.read(path, as_version=4))
            parsed += 1
        elif path.suffix in parsers:
            assert parsers[path.suffix](path.read_text()) is not None, name
            parsed += 1
    assert parsed >= 3


@pytest.mark.parametrize("level", OFFERED)
def test_ruff_is_clean_on_the_generated_project(level: int, rendered: dict[int, Path]) -> None:
    ruff = [sys.executable, "-m", "ruff"]
    project = rendered[level]
    check = subprocess.run(
        [*ruff, "check", "--no-cache", "."], cwd=project, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run(
        [*ruff, "format", "--check", "--no-cache", "."], cwd=project, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_level0_has_no_package_tests_or_ci(rendered: dict[int, Path]) -> None:
    pyproject = tomllib.loads((rendered[0] / "pyproject.toml").read_text())
    assert "build-system" not in pyproject and "scripts" not in pyproject["project"]
    assert pyproject["tool"]["uv"]["package"] is False
    assert not any("pytest" in dep for dep in pyproject["dependency-groups"]["dev"])
    for target in ("test:", "lint:", "build:"):
        assert f"\n{target}" not in (rendered[0] / "Makefile").read_text()


def test_level1_is_an_installable_package_with_a_scoring_command(rendered: dict[int, Path]) -> None:
    pyproject = tomllib.loads((rendered[1] / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] == "hatchling.build"
    assert pyproject["project"]["scripts"] == {"demo-model": "demo_model.cli:main"}
    assert project_commands(rendered[1]) == {"score"}
    assert "uv" not in pyproject.get("tool", {})
    assert pyproject["tool"]["coverage"]["run"]["source"] == ["demo_model"]


@pytest.mark.parametrize("level", OFFERED)
def test_project_states_its_level_and_the_next(level: int, rendered: dict[int, Path]) -> None:
    catalogue = load_catalogue()
    text = (rendered[level] / "MLOPS_LEVEL.md").read_text()
    assert text.startswith(f"# MLOps level {level}: {catalogue.level(level).name}\n")
    if level < catalogue.top:
        assert f"## The next level: {level + 1}, {catalogue.level(level + 1).name}" in text
    else:
        assert "This is the top level of the ladder." in text
    for capability in catalogue.up_to(level):
        assert capability.title in text


def test_data_and_models_are_ignored_but_their_folders_kept(
    rendered: dict[int, Path], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(rendered[0], project)
    commit_all(project)
    ignored = subprocess.run(
        [
            "git",
            "check-ignore",
            "--no-index",
            "data/raw/x.csv",
            "models/m.joblib",
            "data/raw/.gitkeep",
        ],
        cwd=project,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert ignored == ["data/raw/x.csv", "models/m.joblib"]


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=! ]", requirement, maxsplit=1)[0] for requirement in requirements}


@pytest.mark.parametrize("level", OFFERED)
@pytest.mark.parametrize("since", sorted(NEW_DEPENDENCIES))
def test_dependencies_exist_only_from_their_level(
    level: int, since: int, rendered: dict[int, Path]
) -> None:
    pyproject = tomllib.loads((rendered[level] / "pyproject.toml").read_text())
    dependencies = requirement_names(pyproject["project"]["dependencies"])
    dev = requirement_names(pyproject["dependency-groups"]["dev"])
    runtime, tools = NEW_DEPENDENCIES[since]
    assert dependencies & runtime == (runtime if level >= since else set())
    assert dev & tools == (tools if level >= since else set())


def test_level2_has_train_and_promote_commands(rendered: dict[int, Path]) -> None:
    scripts = tomllib.loads((rendered[2] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"demo-model": "demo_model.cli:main"}
    assert project_commands(rendered[2]) == {"score", "train", "promote"}
    gitignore = (rendered[2] / ".gitignore").read_text()
    assert "\nmlruns/\n" in gitignore and "\n!data/raw/*.dvc\n" in gitignore


@pytest.mark.parametrize(
    ("name", "triggers", "runs"),
    [
        (
            "ci.yml",
            {"push", "pull_request"},
            ["make install", "make lint", "make coverage", "make build"],
        ),
        (
            "train.yml",
            {"workflow_dispatch", "schedule"},
            ["make install", PULL_VERSIONED_DATA, "make train"],
        ),
    ],
)
def test_workflows_are_least_privilege_and_pinned(
    name: str, triggers: set[str], runs: list[str], rendered: dict[int, Path]
) -> None:
    workflow = yaml.safe_load((rendered[2] / ".github/workflows" / name).read_text())
    assert workflow["permissions"] == {"contents": "read"}
    assert set(workflow[True]) == triggers  # YAML 1.1 reads the key `on` as True
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    uses = [step["uses"] for step in steps if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses)
    assert [step["run"] for step in steps if "run" in step] == runs
    assert "pull_request_target" not in workflow[True]


def test_zizmor_finds_nothing_in_the_workflows(rendered: dict[int, Path]) -> None:
    zizmor = Path(sys.executable).with_name("zizmor")
    workflows = rendered[max(OFFERED)] / ".github/workflows"
    result = subprocess.run(
        [str(zizmor), "--offline", "--persona=pedantic", "--format=json", str(workflows)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_training_workflow_takes_the_tracking_server_from_a_secret_or_variable(
    rendered: dict[int, Path],
) -> None:
    workflow = yaml.safe_load((rendered[2] / ".github/workflows/train.yml").read_text())
    env = workflow["jobs"]["train"]["env"]
    assert env["MLFLOW_TRACKING_URI"] == (
        "${{ secrets.MLFLOW_TRACKING_URI || vars.MLFLOW_TRACKING_URI }}"
    )
    [upload] = [
        s for s in workflow["jobs"]["train"]["steps"] if "upload-artifact" in s.get("uses", "")
    ]
    assert "reports/" in upload["with"]["path"]


DVC_REMOTES = [
    ("local", None, "dvc>=3.59"),
    ("s3", "s3://team-data/churn", "dvc[s3]>=3.59"),
    ("gs", "gs://team-data/churn", "dvc[gs]>=3.59"),
    ("azure", "azure://models/churn", "dvc[azure]>=3.59"),
]


@pytest.mark.parametrize(
    ("remote", "url", "requirement"),
    tiered(DVC_REMOTES, fast=DVC_REMOTES[:2]),
)
def test_dvc_remote_option(
    remote: str, url: str | None, requirement: str, generate, tmp_path: Path
) -> None:
    answers = {"dvc_remote": remote} | ({"dvc_remote_url": url} if url else {})
    project = generate(tmp_path / "p", 2, **answers)
    config = (project / ".dvc/config").read_text()
    assert f"    remote = {remote}\n" in config
    assert "['remote \"local\"']\n    url = ../dvc-storage\n" in config
    if url:
        assert f"['remote \"{remote}\"']\n    url = {url}\n" in config
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert requirement in pyproject["dependency-groups"]["dev"]


def test_dvc_questions_are_not_asked_or_stored_below_level2(rendered: dict[int, Path]) -> None:
    for level in (0, 1):
        answers = yaml.safe_load((rendered[level] / ".copier-answers.yml").read_text())
        assert "dvc_remote" not in answers and "dvc_remote_url" not in answers
    answers = yaml.safe_load((rendered[2] / ".copier-answers.yml").read_text())
    assert answers["dvc_remote"] == "local" and "dvc_remote_url" not in answers


def test_renovate_enables_the_copier_manager(rendered: dict[int, Path]) -> None:
    config = json.loads((rendered[1] / "renovate.json").read_text())
    assert config["copier"] == {"enabled": True}
    assert "helpers:pinGitHubActionDigests" in config["extends"]


LICENSES = [
    ("MIT", "Permission is hereby granted, free of charge"),
    ("BSD-3-Clause", "Neither the name of the copyright holder"),
    ("Proprietary", "All rights reserved."),
]


@pytest.mark.parametrize(
    ("license_id", "phrase"), tiered(LICENSES, fast=[LICENSES[0], LICENSES[2]])
)
def test_license_option(license_id: str, phrase: str, generate, tmp_path: Path) -> None:
    project = generate(tmp_path / "p", 0, license=license_id)
    text = (project / "LICENSE").read_text()
    assert phrase in text
    assert re.search(r"Copyright \(c\) 2026,? Test Author", text)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"].get("license") == (
        None if license_id == "Proprietary" else license_id
    )


@pytest.mark.parametrize("version", tiered(["3.12", "3.13"], fast=["3.12"]))
def test_python_version_option(version: str, generate, tmp_path: Path) -> None:
    project = generate(tmp_path / "p", 1, python_version=version)
    assert (project / ".python-version").read_text() == f"{version}\n"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")


def test_text_answers_with_quotes_stay_valid_toml(generate, tmp_path: Path) -> None:
    project = generate(tmp_path / "p", 1, description='Scores "risky" loans', author_name="O'Brien")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == 'Scores "risky" loans'
    assert pyproject["project"]["authors"][0]["name"] == "O'Brien"


PACKAGE_NAMES = [
    ("Churn Model", "churn_model"),
    ("  Fraud-Detector v2 ", "fraud_detector_v2"),
    ("2024 Sales", "m_2024_sales"),
]


@pytest.mark.parametrize(
    ("project_name", "package_name"), tiered(PACKAGE_NAMES, fast=PACKAGE_NAMES[2:])
)
def test_package_name_is_derived_from_the_project_name(
    project_name: str, package_name: str, generate, tmp_path: Path
) -> None:
    project = generate(tmp_path / "p", 1, project_name=project_name)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == package_name
    assert (project / "src" / package_name / "model.py").is_file()
