"""Climbs and `new` are all-or-nothing: interrupted or killed anywhere, never half a level.

The CLI pauses at a named point when MLOPS_LADDER_PAUSE_AT says so (render:
copier is about to run in the staging worktree; apply: half the files are
written; applied: every file is written, the staging copy not yet removed);
each test sends a signal there and checks the project byte for byte.
"""

import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import (
    CLI,
    commit_all,
    default_interrupt,
    git,
    interrupted,
    run_cli,
    snapshot,
    tiered,
)

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


@pytest.fixture(scope="module")
def level2(rendered: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed level-2 project to copy for each test."""
    project = tmp_path_factory.mktemp("interrupt") / "level2"
    shutil.copytree(rendered[2], project)
    commit_all(project, "generated at level 2")
    return project


@pytest.fixture(scope="module")
def climbed(level2: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The tree an uninterrupted `climb --to 3` gives."""
    project = tmp_path_factory.mktemp("reference") / "project"
    shutil.copytree(level2, project)
    result = run_cli("climb", "--to", "3", cwd=project)
    assert result.returncode == 0, result.stderr
    return snapshot(project)


def copy_of(level2: Path, tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(level2, project)
    return project


def climb_interrupted(project: Path, point: str, signum: int) -> subprocess.CompletedProcess:
    """Run `climb --to 3`, send `signum` when it reaches `point`, and wait for it to end."""
    return interrupted(["climb", "--to", "3"], project, point, signum)


def leftovers(project: Path) -> list[str]:
    """What a change left in git's folder and git's worktree list."""
    state = project / ".git" / "mlops-ladder"
    found = [p.name for p in state.iterdir()] if state.exists() else []
    worktrees = git(project, "worktree", "list", "--porcelain").count("worktree ")
    return found + ["extra worktree"] * (worktrees - 1)


@pytest.mark.parametrize(
    "signum", tiered(SIGNALS, fast=[signal.SIGINT], ids=[s.name for s in SIGNALS])
)
def test_interrupted_before_writing_changes_nothing(
    level2: Path, tmp_path: Path, signum: int
) -> None:
    project = copy_of(level2, tmp_path)
    before = snapshot(project)
    result = climb_interrupted(project, "render", signum)
    assert snapshot(project) == before
    assert git(project, "status", "--porcelain") == ""
    if signum == signal.SIGKILL:
        assert result.returncode == -signal.SIGKILL
        # The staging copy is still there; `status` is right to say ok, the tree is untouched,
        # and the next change removes the leftovers first.
        assert leftovers(project)
        assert run_cli("status", cwd=project).returncode == 0
        assert run_cli("climb", "--dry-run", "--to", "3", cwd=project).returncode == 0
    else:
        assert result.returncode == 130
        assert result.stderr == "mlops-ladder: cancelled: nothing was changed\n"
    assert leftovers(project) == []


@pytest.mark.slow
@pytest.mark.parametrize("point", ["apply", "applied"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_writing_waits_for_the_whole_level(
    level2: Path, climbed: dict[str, bytes], tmp_path: Path, point: str, signum: int
) -> None:
    project = copy_of(level2, tmp_path)
    result = climb_interrupted(project, point, signum)
    assert result.returncode == 130
    assert result.stderr.startswith("mlops-ladder: interrupted after the climb from level 2 to 3")
    assert result.stderr.count("\n") == 1
    assert snapshot(project) == climbed
    assert leftovers(project) == []
    assert run_cli("status", cwd=project).returncode == 0


@pytest.mark.slow
def test_killed_while_writing_is_detected_and_can_be_undone(level2: Path, tmp_path: Path) -> None:
    project = copy_of(level2, tmp_path)
    before = snapshot(project)
    result = climb_interrupted(project, "apply", signal.SIGKILL)
    assert result.returncode == -signal.SIGKILL
    assert snapshot(project) != before  # half a level is on disk

    status = run_cli("status", cwd=project)
    assert status.returncode == 1
    assert "an interrupted climb from level 2 to 3 is unfinished" in status.stdout
    assert "Doctor:    ok" not in status.stdout
    refused = run_cli("climb", "--to", "4", cwd=project)
    assert refused.returncode == 2 and "mlops-ladder climb --abort" in refused.stderr

    undone = run_cli("climb", "--abort", cwd=project)
    assert undone.returncode == 0, undone.stderr
    assert snapshot(project) == before
    assert git(project, "status", "--porcelain") == ""
    assert leftovers(project) == []


@pytest.mark.slow
def test_killed_while_writing_can_be_finished(
    level2: Path, climbed: dict[str, bytes], tmp_path: Path
) -> None:
    project = copy_of(level2, tmp_path)
    climb_interrupted(project, "apply", signal.SIGKILL)
    finished = run_cli("climb", "--continue", cwd=project)
    assert finished.returncode == 0, finished.stderr
    assert snapshot(project) == climbed
    assert leftovers(project) == []
    assert run_cli("status", cwd=project).returncode == 0


@pytest.mark.slow
def test_killed_after_writing_leaves_a_complete_level(
    level2: Path, climbed: dict[str, bytes], tmp_path: Path
) -> None:
    project = copy_of(level2, tmp_path)
    climb_interrupted(project, "applied", signal.SIGKILL)
    assert snapshot(project) == climbed
    assert run_cli("status", cwd=project).returncode == 0
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "level 3")
    assert run_cli("climb", "--dry-run", cwd=project).returncode == 0
    assert leftovers(project) == []


def test_nothing_to_continue_or_abort_is_refused(level2: Path, tmp_path: Path) -> None:
    project = copy_of(level2, tmp_path)
    for flag in ("--continue", "--abort"):
        result = run_cli("climb", flag, cwd=project)
        assert result.returncode == 2 and "no interrupted climb or update" in result.stderr


@pytest.mark.parametrize(
    "question", tiered(["maturity level", "Project name"], fast=["Project name"])
)
def test_ctrl_c_at_a_prompt_of_new_leaves_no_folder(tmp_path: Path, question: str) -> None:
    """Through a real terminal: Ctrl-C at a question prints one line and exits 130."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        str(CLI),
        ["new", "project"],
        cwd=str(tmp_path),
        encoding="utf-8",
        preexec_fn=default_interrupt,
    )
    child.expect("maturity level")
    if question != "maturity level":
        child.sendline("")  # take the default level
        child.expect(question)
    child.sendintr()
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 130
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)
    lines = [line.strip() for line in screen.splitlines() if line.strip()]
    assert lines[-1] == "mlops-ladder: cancelled: nothing was changed"
    assert "AnswersMap" not in screen and "Traceback" not in screen
    assert sorted(p.name for p in tmp_path.iterdir()) == []
