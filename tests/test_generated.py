"""The generated projects' own commands work: install, lint, test, build, train, serve."""

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
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


def test_level1_tests_pass_and_reach_the_coverage_floor(level1: Path) -> None:
    output = make(level1, "test").stdout
    assert " passed" in output and " failed" not in output
    assert "coverage" not in output.lower()  # the fast loop measures none
    output = make(level1, "coverage").stdout
    assert " passed" in output and " failed" not in output
    assert "Required test coverage of 80" in output and "src/demo_model/model.py" in output


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
        ["uv", "run", "demo-model", "score", "rows.csv"],
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
    assert (level0 / "models" / "model.skops").stat().st_size > 1000
    import nbformat

    # The executed copy goes to reports/notebooks/ (out of git); the notebook stays as it was.
    assert git(level0, "status", "--porcelain", "notebooks/", "reports/") == ""
    notebook = nbformat.read(level0 / "reports/notebooks/01-baseline.ipynb", as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("Saved models/model.skops" in o.get("text", "") for o in outputs)


def test_level0_notebook_takes_the_users_csv(level0: Path) -> None:
    csv = level0 / "data" / "raw" / "mine.csv"
    rows = ["a,b,target"] + [f"{i % 7},{(i * 3) % 11},{i % 2}" for i in range(60)]
    csv.write_text("\n".join(rows) + "\n")
    try:
        make(level0, "run-notebook")
        text = (level0 / "reports/notebooks/01-baseline.ipynb").read_text()
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
    # Same data and parameters: nothing reruns, nothing new is registered, the reports stay.
    assert "model unchanged since version 1" in second and "challenger -> 1" in second
    assert json.loads((level2 / "reports/metrics.json").read_text()) == metrics
    assert (level2 / "reports/model_card.md").read_text() == card
    assert "already the champion" in make(level2, "promote").stdout
    assert (level2 / "mlruns/mlflow.db").is_file()
    assert "mlruns/" not in git(level2, "status", "--porcelain")


def test_level2_dvc_reproduces_and_compares(level2: Path) -> None:
    (level2 / "dvc.lock").unlink(missing_ok=True)  # `make train` runs dvc repro, which wrote it
    commit_all(level2, "before dvc")
    first = uv_run(level2, "dvc", "repro", "--force").stdout
    assert all(f"Running stage '{stage}'" in first for stage in ["prepare", "train", "evaluate"])
    assert (level2 / "dvc.lock").is_file()
    # DVC wrote no .gitignore of its own: the template's rules already cover its outputs.
    status = git(level2, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert "?? dvc.lock" in status
    assert not [line for line in status if line.endswith(".gitignore")]
    commit_all(level2, "dvc lock")
    again = uv_run(level2, "dvc", "repro").stdout
    assert "Stage 'evaluate' didn't change, skipping" in again
    assert "model unchanged since version 1" in again

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


def climbed_and_installed(generate, folder: Path, level: int, edit: Callable[[Path], None]) -> Path:
    """A project at `level` with a team's edits, climbed by `mlops-ladder climb`, installed."""
    project = generate(folder, level)
    commit_all(project, f"level {level}")
    edit(project)
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
    commit_all(project, f"level {level + 1}")
    make(project, "install")
    return project


def test_climbed_level1_project_with_edits_trains(generate, tmp_path: Path) -> None:
    from .test_climb import edit_level1_like_a_user

    project = climbed_and_installed(generate, tmp_path / "climbed", 1, edit_level1_like_a_user)
    output = make(project, "test").stdout
    assert "tests/test_ratio.py ." in output
    assert " failed" not in output
    assert "is the challenger" in make(project, "train").stdout


@pytest.fixture(scope="module")
def level3(rendered: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(rendered[3], tmp_path_factory)


def test_level3_lint_and_tests_pass(level3: Path) -> None:
    assert "All checks passed!" in make(level3, "lint").stdout
    output = make(level3, "test").stdout
    assert " failed" not in output and " error" not in output
    for name in ("test_service", "test_gate", "test_ab", "test_bundle"):
        assert f"tests/deployment/{name}.py" in output
    # The unit tier starts no service: the live tests are the integration tier's.
    assert "tests/deployment/test_live.py" not in output and " deselected" in output
    integration = make(level3, "integration").stdout
    assert " passed" in integration and " failed" not in integration
    assert "tests/deployment/test_live.py" in integration
    assert "tests/deployment/test_service.py" not in integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@contextlib.contextmanager
def serving(project: Path) -> Iterator[str]:
    """`make serve` on a free loopback port, stopped (with everything it started) afterwards."""
    port = free_port()
    process = subprocess.Popen(
        ["make", "serve", f"PORT={port}"],
        cwd=project,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, "make serve stopped"
            with contextlib.suppress(OSError):
                if http(f"{url}/ready")[0] == 200:
                    break
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def demo_rows(project: Path, count: int, package: str = "demo_model") -> list[dict[str, float]]:
    script = (
        f"import json; from {package}.data import load_demo, split_features;"
        f"print(json.dumps(split_features(load_demo().head({count}))[0].to_dict('records')))"
    )
    return json.loads(uv_run(project, "python", "-c", script).stdout)


def test_level3_train_gate_serve_compare_and_record(level3: Path) -> None:
    make(level3, "train")
    assert "Gate passed: version 1 may be released." in make(level3, "validate").stdout
    make(level3, "promote")
    params = level3 / "params.yaml"
    params.write_text(params.read_text().replace("  c: 1.0 #", "  c: 0.5 #"))
    assert "version 2 is the challenger" in make(level3, "train").stdout
    assert "Gate passed: version 2 may be released." in make(level3, "validate").stdout
    rows = demo_rows(level3, 3)
    with serving(level3) as url:
        status, _, metadata = http(f"{url}/metadata")
        assert status == 200
        assert [(v["variant"], v["version"]) for v in metadata["variants"]] == [
            ("champion", "1"),
            ("challenger", "2"),
        ]
        answers = [
            http(f"{url}/predict", {"rows": rows}, {"X-Variant-Key": f"user-{n}"})
            for n in range(60)
        ]
        assert {status for status, _, _ in answers} == {200}
        assert all(h["x-variant"] == body["variant"] for _, h, body in answers)
        assert http(f"{url}/predict", {"rows": [rows[0] | {"extra": 1.0}]})[0] == 422
        integration = subprocess.run(
            ["make", "integration"],
            cwd=level3,
            env=ENV | {"SERVICE_URL": url},
            capture_output=True,
            text=True,
        )
        assert integration.returncode == 0, integration.stdout + integration.stderr
    served = [body["variant"] for _, _, body in answers]
    assert 0 < served.count("challenger") < 30  # about a tenth, with 60 sticky keys

    report = make(level3, "ab-report").stdout
    # `make integration` sent requests of its own (schemathesis among them) to the same service.
    logged = re.search(r"^\| challenger \| 2 \| (\d+) \|", report, re.MULTILINE)
    assert logged and int(logged.group(1)) >= served.count("challenger"), report
    digest = "ghcr.io/team/demo-model@sha256:" + "0" * 64
    make(level3, "release-record", f"IMAGE={digest}")
    record = json.loads((level3 / "reports/release.json").read_text())
    assert record["image"] == digest
    assert record["git_commit"] == git(level3, "rev-parse", "HEAD").strip()
    assert [m["version"] for m in record["models"]] == ["1", "2"]
    assert record["gate"]["challenger"]["version"] == "2"
    git(level3, "checkout", "--", "params.yaml")


def test_level3_gate_stops_a_challenger_that_does_not_beat_the_champion(level3: Path) -> None:
    params = level3 / "params.yaml"
    # A model unlike any registered one, so training registers a new challenger (an unchanged
    # model points the challenger at the version that already holds it).
    text = params.read_text().replace("min_improvement: 0.0", "min_improvement: 0.5")
    params.write_text(text.replace("  c: 1.0 #", "  c: 0.7 #"))
    try:
        assert "is the challenger" in make(level3, "train").stdout
        result = subprocess.run(
            ["make", "validate"], cwd=level3, env=ENV, capture_output=True, text=True
        )
    finally:
        git(level3, "checkout", "--", "params.yaml")
    assert result.returncode != 0
    assert "does not beat the champion's" in result.stdout
    assert json.loads((level3 / "reports/gate.json").read_text())["passed"] is False


def test_climbed_level2_project_with_edits_serves(generate, tmp_path: Path) -> None:
    from .test_climb import edit_at_level

    edit = functools.partial(edit_at_level, level=2)
    project = climbed_and_installed(generate, tmp_path / "climbed", 2, edit)
    output = make(project, "test").stdout
    assert "tests/test_ratio.py ." in output and " failed" not in output
    make(project, "train")
    make(project, "promote")
    with serving(project) as url:
        assert http(f"{url}/predict", {"rows": demo_rows(project, 2)})[0] == 200


@pytest.fixture(scope="module")
def level4(rendered: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(rendered[4], tmp_path_factory)


def test_level4_lint_and_tests_pass(level4: Path) -> None:
    assert "All checks passed!" in make(level4, "lint").stdout
    output = make(level4, "test").stdout
    assert " failed" not in output and " error" not in output
    for name in ("test_predictions", "test_metrics", "test_drift"):
        assert f"tests/deployment/{name}.py" in output
    assert "tests/deployment/test_loop.py" not in output
    # The end-to-end loop (drift, retrain, gate, promote, hot swap) is an integration test.
    integration = make(level4, "integration").stdout
    assert " passed" in integration and " failed" not in integration
    for name in ("test_live", "test_loop"):
        assert f"tests/deployment/{name}.py" in integration


SHIFTED_TRAFFIC = """
import json, pathlib
from demo_model.data import load_demo, split_features
features, target = split_features(load_demo())
log = pathlib.Path("logs/predictions.jsonl")
log.parent.mkdir(exist_ok=True)
rows = (features * 1.5).to_dict("records")
log.write_text("".join(json.dumps({"version": "1", "inputs": rows[i:i + 100]}) + "\\n"
                       for i in range(0, len(rows), 100)))
(features * 1.5).assign(target=target).to_csv("recent.csv", index=False)
"""


def test_level4_monitor_and_retrain_through_make(level4: Path) -> None:
    make(level4, "train", "promote", "bundle")
    uv_run(level4, "python", "-c", SHIFTED_TRAFFIC)
    monitor = make(level4, "monitor").stdout
    assert "Drift detected on 569 rows" in monitor
    assert "Drift detected: retrain" in (level4 / "reports/drift.html").read_text()
    waiting = make(level4, "retrain").stdout
    assert "holds the data the champion was trained on" in waiting
    (level4 / "recent.csv").rename(level4 / "data/raw/recent.csv")
    try:
        promoted = make(level4, "retrain").stdout
    finally:
        (level4 / "data/raw/recent.csv").unlink()
    assert "Retrained and promoted version 2" in promoted
    lineage = json.loads((level4 / "models/serving/champion/lineage.json").read_text())
    assert lineage["version"] == "2"
    assert json.loads((level4 / "reports/retrain.json").read_text())["action"] == "promoted"


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_format_changes_nothing_at_any_level(level: int, request: pytest.FixtureRequest) -> None:
    """`make format` on a fresh project leaves every file the template wrote as it was."""
    project = request.getfixturevalue(f"level{level}")  # shared: other tests may have trained
    before = git(project, "diff", "HEAD")
    make(project, "format")
    assert git(project, "diff", "HEAD") == before
    assert not [line for line in before.splitlines() if line.startswith("+++ b/src/")]


def test_lint_rejects_what_the_configuration_promises_to(level1: Path) -> None:
    """The generated ruff configuration is not a no-op: an unused import fails `make lint`."""
    module = level1 / "src" / "demo_model" / "features.py"
    original = module.read_text()
    try:
        module.write_text("import os\n" + original)
        result = subprocess.run(
            ["make", "lint"], cwd=level1, env=ENV, capture_output=True, text=True
        )
        assert result.returncode != 0
        assert "F401" in result.stdout + result.stderr
    finally:
        module.write_text(original)
    make(level1, "lint")


def test_new_and_climb_lock_the_dependencies_with_uv_on_path(tmp_path: Path) -> None:
    """With uv on PATH, `new` commits uv.lock and a climb relocks, so installs dirty nothing."""
    cli = str(Path(sys.executable).with_name("mlops-ladder"))
    created = subprocess.run(
        [cli, "new", "project", "--level", "1", "--defaults", "-d", "project_name=Lock Demo"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert created.returncode == 0, created.stderr
    assert "Locked the dependencies in uv.lock." in created.stdout
    project = tmp_path / "project"
    assert git(project, "ls-files", "uv.lock").strip() == "uv.lock"
    make(project, "install")
    assert git(project, "status", "--porcelain") == ""

    climbed = subprocess.run(
        [cli, "climb"],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert climbed.returncode == 0, climbed.stdout + climbed.stderr
    assert " M uv.lock" in git(project, "status", "--porcelain").splitlines()
    commit_all(project, "level 2")
    make(project, "install")
    assert git(project, "status", "--porcelain") == ""
