"""After a climb from a project that has run its level's targets, the printed steps work.

For every pair N -> M (N >= 1): a project at N runs N's first steps (so it holds
trained models, a registry, bundles), is committed, climbs to M with the CLI,
and then every step the climb printed runs, in the printed order, and succeeds.
"""

import re
import shutil
from pathlib import Path

import pytest

from mlops_ladder.catalogue import load_catalogue

from .conftest import commit_all, run_cli
from .test_generated import make

pytestmark = pytest.mark.slow
OFFERED = load_catalogue().offered
PAIRS = [(start, target) for start in OFFERED if start >= 1 for target in OFFERED if target > start]


def printed_steps(stdout: str) -> list[str]:
    """The make targets of the climb's "Next:" line, in the order it gives them."""
    line = next(line for line in stdout.splitlines() if line.startswith("Next:"))
    return re.findall(r"make ([\w-]+)", line)


@pytest.mark.parametrize(("start", "target"), PAIRS, ids=[f"{n}-to-{m}" for n, m in PAIRS])
def test_the_printed_steps_bring_every_climb_to_working_order(
    start: int, target: int, rendered: dict[int, Path], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(rendered[start], project)
    commit_all(project, f"generated at level {start}")
    make(project, *load_catalogue().level(start).first_steps)
    commit_all(project, f"level {start} in working order")

    climbed = run_cli("climb", "--to", str(target), cwd=project)

    assert climbed.returncode == 0, climbed.stdout + climbed.stderr
    steps = printed_steps(climbed.stdout)
    assert steps == list(load_catalogue().level(target).first_steps)
    commit_all(project, f"climbed to level {target}")
    for step in steps:
        make(project, step)  # each step, alone and in order, succeeds
