"""Day two: running every target of a level never leaves the tree dirty or blocks a climb.

At each level a fresh project is installed and committed (uv.lock included), then
every make target of the level runs. What they write is either ignored by git or
listed under "What to commit" in the README; once that is committed, running every
target again changes nothing, so `git status` is empty and `climb --dry-run` goes on.
"""

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import commit_all, git, run_cli
from .test_generated import ENV, demo_rows, http, make, serving

pytestmark = pytest.mark.slow

# The order a team runs them in; `serve` is run by `serving()`, with traffic.
ORDER = [
    "install", "lint", "format", "test", "coverage", "build", "run-notebook", "train", "repro",
    "metrics", "validate", "promote", "bundle", "serve", "ab-report", "integration",
    "release-record", "monitor", "retrain",
]  # fmt: skip
NOT_RUN = {
    "notebook": "starts JupyterLab and waits for a browser",
    "image": "needs Docker",
    "stack-up": "needs Docker",
    "stack-down": "needs Docker",
}
# What the first run writes that the README says to commit; it must come out the same again.
TO_COMMIT = {
    "install": ["uv.lock"],
    "train": [
        "reports/metrics.json",
        "reports/model_card.md",
        "reports/roc.csv",
        "reports/roc.svg",
    ],
    "repro": ["dvc.lock"],
}


def targets_at(level: int) -> list[str]:
    from mlops_ladder.catalogue import load_catalogue

    capabilities = load_catalogue().up_to(level)
    declared = {target for capability in capabilities for target in capability.make}
    unknown = declared - set(ORDER) - set(NOT_RUN)
    assert not unknown, f"levels.yml has targets this test does not know yet: {sorted(unknown)}"
    return [target for target in ORDER if target in declared]


def run_targets(project: Path, targets: list[str]) -> None:
    for target in targets:
        if target != "serve":
            make(project, target)
            continue
        with serving(project) as url:
            rows = demo_rows(project, 3)
            for n in range(20):
                assert http(f"{url}/predict", {"rows": rows}, {"X-Variant-Key": f"u{n}"})[0] == 200


def changed(project: Path) -> list[str]:
    status = git(project, "status", "--porcelain", "--untracked-files=all")
    return sorted(line[3:] for line in status.splitlines())


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_every_target_of_a_level_leaves_nothing_to_commit(
    level: int, generate, tmp_path: Path
) -> None:
    project = generate(tmp_path / f"level{level}", level)
    commit_all(project, "generated")
    targets = targets_at(level)
    # `coverage` runs the tests `test` runs, and measures them: one of the two is enough.
    run_targets(project, [target for target in targets if target != "test"])

    expected = sorted(path for target in targets for path in TO_COMMIT.get(target, []))
    assert changed(project) == expected
    readme = project.joinpath("README.md").read_text()
    what_to_commit = readme.split("## What to commit", 1)[1].split("\n## ", 1)[0]
    for path in expected:
        assert Path(path).name in what_to_commit, path
    commit_all(project, "what the README says to commit")

    # The unit tests write nothing to commit (coverage's files are ignored) and take
    # the longest: once is enough.
    run_targets(project, [target for target in targets if target not in ("test", "coverage")])
    assert changed(project) == []
    check_climb_is_not_blocked(project, level)


def check_climb_is_not_blocked(project: Path, level: int) -> None:
    result = run_cli("climb", "--dry-run", cwd=project)
    if level < 4:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Nothing was changed." in result.stdout
    else:
        # The top level: refused only because there is no level 5, not for the tree.
        assert result.returncode == 2 and "level 5 is not offered" in result.stderr


def test_make_metrics_before_any_training_says_what_to_run(generate, tmp_path: Path) -> None:
    project = generate(tmp_path / "fresh", 2)
    commit_all(project, "generated")
    result = subprocess.run(
        ["make", "metrics"], cwd=project, env=ENV, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "no metrics yet: run make train\n",
        "",
    )
    assert not re.search("failed to load", result.stdout + result.stderr)
