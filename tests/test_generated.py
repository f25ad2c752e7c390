"""The generated projects' own commands work: install, lint, test, build, the notebook."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import commit_all, git

pytestmark = pytest.mark.slow
# uv and make find the tools installed next to this interpreter.
ENV = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def make(project: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["make", *targets], cwd=project, env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, f"make {' '.join(targets)}:\n{result.stdout}\n{result.stderr}"
    return result


def installed_copy(rendered: Path, factory: pytest.TempPathFactory) -> Path:
    """A committed copy of a shared render with its environment installed."""
    project = factory.mktemp("generated") / rendered.name
    shutil.copytree(rendered, project)
    commit_all(project, "generated")
    make(project, "install")
    return project


@pytest.fixture(scope="module")
def level1(rendered: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(rendered[1], tmp_path_factory)


@pytest.fixture(scope="module")
def level0(rendered: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(rendered[0], tmp_path_factory)


def test_level1_lint_passes(level1: Path) -> None:
    assert "All checks passed!" in make(level1, "lint").stdout


def test_level1_tests_pass_with_coverage(level1: Path) -> None:
    output = make(level1, "test").stdout
    assert " passed" in output and " failed" not in output
    assert "Required test coverage of 80" in output


def test_level1_builds_a_wheel(level1: Path) -> None:
    make(level1, "build")
    assert [p.name for p in (level1 / "dist").glob("*.whl")] == [
        "demo_model-0.1.0-py3-none-any.whl"
    ]


def test_level1_format_changes_nothing(level1: Path) -> None:
    make(level1, "format")
    # uv.lock is new and for the user to commit; nothing the template wrote may change.
    assert git(level1, "status", "--porcelain").splitlines() == ["?? uv.lock"]


def test_level1_scoring_command_scores_rows(level1: Path) -> None:
    script = (
        "from demo_model.data import load_demo; from demo_model.model import train, save_model;"
        "d = load_demo(); save_model(train(d));"
        "d.drop(columns='target').head(7).to_csv('rows.csv', index=False)"
    )
    subprocess.run(
        ["uv", "run", "python", "-c", script], cwd=level1, env=ENV, check=True, capture_output=True
    )
    result = subprocess.run(
        ["uv", "run", "demo-model-score", "rows.csv"],
        cwd=level1,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 8


def test_level0_notebook_runs_top_to_bottom_and_saves_a_model(level0: Path) -> None:
    make(level0, "run-notebook")
    assert (level0 / "models" / "model.joblib").stat().st_size > 1000
    import nbformat

    notebook = nbformat.read(level0 / "notebooks" / "01-baseline.ipynb", as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("Saved models/model.joblib" in o.get("text", "") for o in outputs)


def test_level0_notebook_takes_the_users_csv(level0: Path) -> None:
    csv = level0 / "data" / "raw" / "mine.csv"
    rows = ["a,b,target"] + [f"{i % 7},{(i * 3) % 11},{i % 2}" for i in range(60)]
    csv.write_text("\n".join(rows) + "\n")
    try:
        make(level0, "run-notebook")
        text = (level0 / "notebooks" / "01-baseline.ipynb").read_text()
        assert "mine.csv: 60 rows, 2 features" in text
    finally:
        csv.unlink()


def test_climbed_project_passes_its_own_checks(generate, tmp_path: Path) -> None:
    from copier import VcsRef, run_update

    project = generate(tmp_path / "climbed", 0)
    commit_all(project, "level 0")
    run_update(
        project,
        data={"mlops_level": 1},
        defaults=True,
        overwrite=True,
        vcs_ref=VcsRef.CURRENT,
        quiet=True,
        unsafe=False,
    )
    commit_all(project, "level 1")
    make(project, "install")
    make(project, "lint")
    assert " passed" in make(project, "test").stdout
