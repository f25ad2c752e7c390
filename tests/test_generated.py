"""The generated projects' own commands work: install, lint, test, build, the notebook."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import commit_all, git

pytestmark = pytest.mark.slow
# uv and make find the tools installed next to this interpreter. Generated projects
# cache their bytecode as on a user's machine, even where the CI image turns that off,
# and never reach a tracking server from the developer's shell.
ENV = {
    name: value
    for name, value in os.environ.items()
    if name not in {"PYTHONDONTWRITEBYTECODE", "MLFLOW_TRACKING_URI"}
} | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


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
def level2(rendered: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(rendered[2], tmp_path_factory)


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


def uv_run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["uv", "run", *args], cwd=project, env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, f"uv run {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def test_level2_lint_and_tests_pass(level2: Path) -> None:
    assert "All checks passed!" in make(level2, "lint").stdout
    output = make(level2, "test").stdout
    assert " passed" in output and " failed" not in output
    assert "tests/test_pipeline.py" in output and "tests/test_registry.py" in output


def test_level2_train_then_promote(level2: Path) -> None:
    first = make(level2, "train").stdout
    assert "demo-model version 1 is the challenger" in first
    assert (
        "Promoted version 1 to champion: there was no champion yet"
        in make(level2, "promote").stdout
    )
    metrics = json.loads((level2 / "reports/metrics.json").read_text())
    assert metrics["roc_auc"] > 0.95
    card = (level2 / "reports/model_card.md").read_text()
    second = make(level2, "train").stdout
    assert "version 2 is the challenger" in second
    # Same data and parameters: the same metrics and the same model card, byte for byte.
    assert json.loads((level2 / "reports/metrics.json").read_text()) == metrics
    assert (level2 / "reports/model_card.md").read_text() == card
    assert "Promoted version 2 to champion: at least as good" in make(level2, "promote").stdout
    assert "already the champion" in make(level2, "promote").stdout
    assert (level2 / "mlruns/mlflow.db").is_file()
    assert "mlruns/" not in git(level2, "status", "--porcelain")


def test_level2_dvc_reproduces_and_compares(level2: Path) -> None:
    commit_all(level2, "before dvc")
    first = uv_run(level2, "dvc", "repro").stdout
    assert all(f"Running stage '{stage}'" in first for stage in ["prepare", "train", "evaluate"])
    assert (level2 / "dvc.lock").is_file()
    # DVC wrote no .gitignore of its own: the template's rules already cover its outputs.
    status = git(level2, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert "?? dvc.lock" in status
    assert not [line for line in status if line.endswith(".gitignore")]
    commit_all(level2, "dvc lock")
    assert "Data and pipelines are up to date." in uv_run(level2, "dvc", "repro").stdout

    params = level2 / "params.yaml"
    params.write_text(params.read_text().replace("c: 1.0", "c: 0.01"))
    rerun = uv_run(level2, "dvc", "repro").stdout
    assert "Stage 'prepare' didn't change, skipping" in rerun
    assert "Running stage 'train'" in rerun
    diff = make(level2, "metrics").stdout
    assert "reports/metrics.json" in diff and "roc_auc" in diff
    git(level2, "checkout", "--", "params.yaml")


def test_level2_dvc_versions_data_to_the_local_remote(level2: Path) -> None:
    raw = level2 / "data/raw/mine.csv"
    uv_run(
        level2,
        "python",
        "-c",
        "from demo_model.data import load_demo;"
        "load_demo().iloc[:300].to_csv('data/raw/mine.csv', index=False)",
    )
    uv_run(level2, "dvc", "add", "data/raw/mine.csv")
    status = git(level2, "status", "--porcelain", "data/raw")
    assert status.strip() == "?? data/raw/mine.csv.dvc"
    uv_run(level2, "dvc", "push")
    assert any((level2 / "dvc-storage").rglob("*"))
    trained = make(level2, "train").stdout
    assert "Prepared 300 rows from data/raw/mine.csv" in trained
    raw.unlink()
    (level2 / "data/raw/mine.csv.dvc").unlink()


def test_climbed_level1_project_with_edits_trains(generate, tmp_path: Path) -> None:
    from .test_climb import edit_level1_like_a_user

    project = generate(tmp_path / "climbed", 1)
    commit_all(project, "level 1")
    edit_level1_like_a_user(project)
    commit_all(project, "our edits")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mlops-ladder")), "climb"],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    commit_all(project, "level 2")
    make(project, "install")
    output = make(project, "test").stdout
    assert "tests/test_ratio.py ." in output
    assert " failed" not in output
    assert "is the challenger" in make(project, "train").stdout
