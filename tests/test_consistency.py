"""Facts that several generated files state must agree with each other."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue
from mlops_ladder.project import make_targets

from .conftest import project_commands

OFFERED = load_catalogue().offered


def workflow_files(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def run_lines(workflow: Path) -> list[str]:
    """Every line of every `run:` step of a workflow."""
    lines = []
    for job in yaml.safe_load(workflow.read_text())["jobs"].values():
        for step in job.get("steps", []):
            lines.extend(str(step.get("run", "")).splitlines())
    return lines


def python_versions(project: Path) -> dict[str, str]:
    """The Python version each file names, as major.minor."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    found = {
        ".python-version": (project / ".python-version").read_text().strip(),
        "requires-python": pyproject["project"]["requires-python"].removeprefix(">="),
        "ruff target": re.sub(r"^py3", "3.", pyproject["tool"]["ruff"]["target-version"]),
    }
    dockerfile = project / "Dockerfile"
    if dockerfile.is_file():
        for image in re.findall(r"^FROM python:(\d+\.\d+)", dockerfile.read_text(), re.M):
            found.setdefault("Dockerfile", image)
            assert image == found["Dockerfile"], "the Dockerfile's stages disagree"
    return found


@pytest.mark.parametrize("level", OFFERED)
def test_every_file_names_the_same_python(level: int, rendered: dict[int, Path]) -> None:
    versions = python_versions(rendered[level])
    assert set(versions.values()) == {"3.11"}, versions
    assert ("Dockerfile" in versions) is (level >= 3)


def test_another_python_reaches_every_file(generate, tmp_path: Path) -> None:
    project = generate(tmp_path / "project", max(OFFERED), python_version="3.12")
    versions = python_versions(project)
    assert set(versions.values()) == {"3.12"}, versions
    assert len(versions) == 4


def gitlab_script_lines(project: Path) -> list[str]:
    """Every before_script and script line of every job in .gitlab-ci.yml and .gitlab/ci/."""
    lines = []
    for path in [project / ".gitlab-ci.yml", *sorted((project / ".gitlab/ci").glob("*.yml"))]:
        for job in yaml.safe_load(path.read_text()).values():
            if isinstance(job, dict):
                for key in ("before_script", "script"):
                    for line in job.get(key, []):
                        lines.extend(str(line).splitlines())
    return lines


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize("level", [n for n in OFFERED if n >= 1])
def test_workflows_call_only_targets_the_makefile_has(
    level: int, provider: str, rendered: dict[int, Path], rendered_gitlab: dict[int, Path]
) -> None:
    project = {"github": rendered, "gitlab": rendered_gitlab}[provider][level]
    targets = make_targets(project / "Makefile")
    called = set()
    if provider == "github":
        lines = [line for workflow in workflow_files(project) for line in run_lines(workflow)]
    else:
        lines = gitlab_script_lines(project)
    for line in lines:
        for match in re.finditer(r"\bmake\s+(.*)", line):
            for word in match.group(1).split():
                if not re.fullmatch(r"[a-z][\w-]*", word):
                    break  # a variable (VERSION=...), an option or the end of the command
                called.add(word)
    assert called, "the workflows call no make target"
    assert called <= targets, f"workflows call missing targets: {sorted(called - targets)}"


@pytest.mark.parametrize("level", [n for n in OFFERED if n >= 1])
def test_lint_and_coverage_name_the_package(level: int, rendered: dict[int, Path]) -> None:
    project = rendered[level]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    package = "demo_model"
    assert (project / "src" / package / "__init__.py").is_file()
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [f"src/{package}"]
    assert pyproject["tool"]["coverage"]["run"]["source"] == [package]
    # `make coverage` measures what coverage's own `source` names: the package.
    assert "--cov --cov-report" in (project / "Makefile").read_text()
    assert not any("cov" in opt for opt in pyproject["tool"]["pytest"]["ini_options"]["addopts"])


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize("level", [n for n in OFFERED if n >= 1])
def test_every_command_a_file_calls_exists(
    level: int, provider: str, rendered: dict[int, Path], rendered_gitlab: dict[int, Path]
) -> None:
    """The Makefile, CI files and README call the project's one command line with
    subcommands that this level's cli.py offers, and a make target of the same name
    exists for each subcommand that has one."""
    project = (rendered if provider == "github" else rendered_gitlab)[level]
    commands = project_commands(project)
    ci_files = [
        *workflow_files(project),
        *project.glob(".gitlab*.yml"),
        *project.glob(".gitlab/**/*.yml"),
    ]
    texts = [project / "Makefile", project / "README.md", *ci_files]
    called = {
        match
        for path in texts
        for match in re.findall(r"\bdemo-model ([a-z][\w-]*)", path.read_text())
    }
    assert "score" in called
    assert called <= commands, f"calls missing subcommands: {sorted(called - commands)}"
    assert not re.search(r"demo-model-(score|train|promote)", "".join(p.read_text() for p in texts))
    targets = make_targets(project / "Makefile")
    assert commands - {"score", "train"} <= targets


@pytest.mark.parametrize("level", [n for n in OFFERED if n >= 1])
def test_the_readme_says_where_each_module_belongs(level: int, rendered: dict[int, Path]) -> None:
    project = rendered[level]
    readme = (project / "README.md").read_text()
    section = readme.split("### Where code goes", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(\w+\.py)`", section))
    modules = {path.name for path in (project / "src" / "demo_model").glob("*.py")}
    assert listed == modules - {"__init__.py"}
