"""One training path: `make train` is `dvc repro`, and the registry follows the workspace.

Training again on unchanged data, parameters and code registers nothing new and
says so; a changed parameter reruns only what it affects and registers a new
version; after a revert, DVC restores the old model from its cache and the
challenger moves back to the version that holds it, so the gate still passes.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from .test_generated import ENV, installed_copy, make

pytestmark = pytest.mark.slow

READ_REGISTRY = """
import json
from pathlib import Path
from demo_model import paths, tracking
client = tracking.connect(Path.cwd())
versions = client.search_model_versions(f"name = '{paths.MODEL_NAME}'")
aliases = client.get_registered_model(paths.MODEL_NAME).aliases
print(json.dumps({
    "versions": sorted(int(version.version) for version in versions),
    "aliases": {alias: str(version) for alias, version in aliases.items()},
}))
"""
# What training prints when the workspace model is registered already.
UNCHANGED = (
    "model unchanged since version 1 (same model file, data and parameters); challenger -> 1"
)


@pytest.fixture(scope="module")
def level3(rendered: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(rendered[3], tmp_path_factory)


def registry(project: Path) -> dict[str, object]:
    done = subprocess.run(
        ["uv", "run", "python", "-c", READ_REGISTRY],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def set_c(project: Path, c: str) -> None:
    params = project / "params.yaml"
    params.write_text(re.sub(r"(?m)^  c: [0-9.]+", f"  c: {c}", params.read_text()))


CHALLENGER_1 = {"challenger": "1"}
BOTH_1 = {"challenger": "1", "champion": "1"}
NEW_2 = {"challenger": "2", "champion": "1"}
# make target, train.c in params.yaml, what it prints, registered versions, aliases after it
STEPS = [
    ("train", "1.0", ["Running stage 'prepare'", "version 1 is the challenger"], [1], CHALLENGER_1),
    ("promote", "1.0", ["Promoted version 1 to champion"], [1], BOTH_1),
    ("repro", "1.0", ["Stage 'train' didn't change, skipping", UNCHANGED], [1], BOTH_1),
    ("train", "1.0", ["Stage 'evaluate' didn't change, skipping", UNCHANGED], [1], BOTH_1),
    ("repro", "0.05", ["'prepare' didn't change", "version 2 is the challenger"], [1, 2], NEW_2),
    ("repro", "1.0", ["Stage 'train' is cached", UNCHANGED], [1, 2], BOTH_1),
    ("validate", "1.0", ["Gate passed: version 1 is already the champion"], [1, 2], BOTH_1),
]  # fmt: skip


def test_train_and_repro_agree_with_the_registry(level3: Path) -> None:
    for target, c, printed, versions, aliases in STEPS:
        set_c(level3, c)
        output = make(level3, target).stdout
        for text in printed:
            assert text in output, f"make {target} (c {c}): {text!r} not in\n{output}"
        assert registry(level3) == {"versions": versions, "aliases": aliases}, (target, c)
    assert not subprocess.run(
        ["git", "diff", "--quiet", "params.yaml"], cwd=level3, check=False
    ).returncode, "the revert left params.yaml changed"


def test_train_outside_git_says_what_to_do(level3: Path, tmp_path: Path) -> None:
    project = tmp_path / "no-git"
    project.mkdir()
    (project / "Makefile").write_bytes((level3 / "Makefile").read_bytes())
    done = subprocess.run(["make", "train"], cwd=project, env=ENV, capture_output=True, text=True)
    assert done.returncode != 0
    assert "make train runs dvc repro, which needs a git repository: git init" in done.stderr
