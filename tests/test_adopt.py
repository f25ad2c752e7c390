"""`mlops-ladder adopt`: an existing repository comes under the template, losing no line."""

import json
import re
import shutil
import signal
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from mlops_ladder.adopt import infer_answers
from mlops_ladder.embedded import EMBEDDED_SOURCE

from .conftest import (
    CLI,
    assert_refused,
    commit_all,
    git,
    interrupted,
    run_cli,
    run_cli_on_a_terminal,
    snapshot,
    tiered,
)
from .test_assess import CCDS_CONTEXT, CCDS_FILES, assess_json, ccds_project, write
from .test_generated import demo_rows, http, make, serving

MIT = (
    "MIT License\n\nCopyright (c) 2024 Ada Lovelace\n\n"
    "Permission is hereby granted, free of charge\n"
)


@pytest.fixture(scope="module")
def ccds_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = tmp_path_factory.mktemp("ccds-template")
    (template / "cookiecutter.json").write_text(json.dumps(CCDS_CONTEXT))
    return write(template, CCDS_FILES)


def user_project(template: Path, dest: Path, *, cruft: bool = False) -> Path:
    """A CCDS project with a user's notebook, code, LICENSE and .gitignore, committed."""
    project = ccds_project(template, dest)
    write(project, {"LICENSE": MIT, ".gitignore": "*.csv\n.venv/\n"})
    if cruft:
        context = CCDS_CONTEXT | {"open_source_license": "MIT", "python_version": "3.12"}
        cruft = {"template": "https://example.invalid/ccds", "context": {"cookiecutter": context}}
        (project / ".cruft.json").write_text(json.dumps(cruft))
    commit_all(project, "our project")
    return project


def assert_lines_kept(ours: str, merged: str) -> None:
    """Every line of `ours` is in `merged`, in order; a one-line list may have gained items."""
    rest = merged.splitlines()
    for line in ours.splitlines():
        gained = line.endswith("]") and "= [" in line
        while rest and not (rest[0] == line or (gained and rest[0].startswith(line[:-1]))):
            rest.pop(0)
        assert rest, f"line {line!r} is lost"
        rest.pop(0)


def tracked_bytes(project: Path) -> dict[str, bytes]:
    names = filter(None, git(project, "ls-files", "-z").split("\0"))
    return {name: (project / name).read_bytes() for name in names}


# --- answers ----------------------------------------------------------------------------


def test_answers_from_a_cruft_context_come_first(ccds_template: Path, tmp_path: Path) -> None:
    found = infer_answers(user_project(ccds_template, tmp_path, cruft=True))
    assert found.answers == {
        "project_name": "Churn Study",
        "package_name": "churn_study",
        "description": "Which customers leave, and why.",
        "author_name": "Ada Lovelace",
        "python_version": "3.12",
        "license": "MIT",
        "author_email": "test@example.com",  # git's author, as nothing else says it
        "copyright_year": "2024",
    }
    assert found.sources["project_name"] == ".cruft.json"
    assert found.sources["copyright_year"] == "LICENSE"
    assert found.sources["author_email"] == "git's author"


def test_answers_from_pyproject_setup_cfg_and_the_layout(tmp_path: Path) -> None:
    repo = write(
        tmp_path / "r",
        {
            "setup.cfg": (
                "[metadata]\nname = fraud-scores\ndescription = Scores card payments.\n"
                "author = Risk Team\nauthor_email = risk@example.com\n\n"
                "[options]\npython_requires = >=3.13\n"
            ),
            "src/fraud_scores/__init__.py": "",
            "LICENSE": "Copyright 2023 Example Ltd. All rights reserved.\n",
        },
    )
    git(repo, "init", "--quiet")
    found = infer_answers(repo)
    assert found.answers["project_name"] == "fraud-scores"
    assert found.answers["author_email"] == "risk@example.com"
    assert found.answers["python_version"] == "3.13"
    assert found.answers["package_name"] == "fraud_scores"
    assert found.answers["license"] == "Proprietary"
    assert found.sources["author_name"] == "setup.cfg"
    # A value the template does not offer is left out, and said so.
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.9"\n')
    found = infer_answers(repo)
    assert "python_version" in found.answers and found.answers["project_name"] == "x"
    assert found.sources["python_version"] == "setup.cfg"
    assert any("python_version '3.9'" in note for note in found.notes)


# --- dry run and refusals ---------------------------------------------------------------


def test_dry_run_lists_every_file_and_changes_nothing(ccds_template: Path, tmp_path: Path) -> None:
    project = user_project(ccds_template, tmp_path)
    before = snapshot(project)
    data = tmp_path / "answers.yml"
    data.write_text("description: Churn, by the retention team.\n")
    result = run_cli(
        "adopt",
        "--level",
        "1",
        "--dry-run",
        "-d",
        "author_email=team@example.com",
        "--data-file",
        str(data),
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  author_email: 'team@example.com' (from -d)" in lines
    assert f"  description: 'Churn, by the retention team.' (from data file {data})" in lines
    assert "  add      src/churn_study/score.py" in lines
    assert "  add      .copier-answers.yml" in lines
    assert "  merge    .gitignore" in lines
    assert "  conflict LICENSE" in lines
    for name in ("Makefile", "pyproject.toml", "README.md"):
        assert f"  merge    {name}" in lines
    assert "  same     data/raw/.gitkeep" in lines
    assert "  project_name: 'churn_study' (from pyproject.toml)" in lines
    # No terminal: nothing is asked, a question nothing answers takes its default.
    assert "  ci_provider: 'github' (from the template's default)" in lines
    assert not any(line.startswith("Read from the repository") for line in lines)
    assert any(line.startswith("Note: Your package is in churn_study/") for line in lines)
    assert lines[-1] == "Nothing was changed."
    assert snapshot(project) == before and git(project, "status", "--porcelain") == ""


@pytest.mark.slow
def test_in_a_terminal_adopt_asks_with_the_inferred_answers_as_defaults(
    ccds_template: Path, tmp_path: Path
) -> None:
    """Through a real terminal: every question is asked, what the repository says first."""
    pexpect = pytest.importorskip("pexpect")
    project = user_project(ccds_template, tmp_path, cruft=True)
    before = snapshot(project)
    child = pexpect.spawn(
        str(CLI),
        ["adopt", "--level", "1", "--dry-run", "-d", "ci_provider=gitlab"],
        cwd=str(project),
        encoding="utf-8",
        dimensions=(60, 200),
    )
    child.expect_exact("Read from the repository (each is the default of its question below):")
    child.expect_exact("  description: 'Which customers leave, and why.' (from .cruft.json)")
    # Each question in turn, its default the answer the repository gave (ci_provider: -d).
    for question, default in [
        ("Project name", "Churn Study"),
        ("Python package name", "churn_study"),
        ("One-line description", "Which customers leave, and why."),
        ("Author or team name", "Ada Lovelace"),
        ("Author or team email", "test@example.com"),
        ("Copyright year", "2024"),
        ("Python version", "3.12"),
        ("License", "MIT"),
    ]:
        child.expect_exact(question, timeout=60)
        child.expect_exact(default)
        if question == "One-line description":
            child.send("\x15")  # Ctrl-U clears the default shown
            child.sendline("Typed at the prompt.")
        else:
            child.sendline("")
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)
    assert child.exitstatus == 0, screen
    assert "CI provider" not in screen and "Where the CI/CD" not in screen
    lines = [line.rstrip() for line in screen.splitlines()]
    assert "  description: 'Typed at the prompt.' (from your answer)" in lines
    assert "  project_name: 'Churn Study' (from .cruft.json)" in lines
    assert "  ci_provider: 'gitlab' (from -d)" in lines
    assert lines[-1] == "Nothing was changed."
    assert snapshot(project) == before


def test_a_file_that_cannot_be_merged_safely_stays_a_conflict(
    ccds_template: Path, tmp_path: Path
) -> None:
    project = user_project(ccds_template, tmp_path)
    with (project / "Makefile").open("a") as makefile:
        makefile.write("include local.mk\n")  # its targets cannot be seen, so none may clash
    commit_all(project, "our include")
    lines = run_cli("adopt", "--level", "1", "--dry-run", cwd=project).stdout.splitlines()
    assert "  conflict Makefile" in lines and "  merge    pyproject.toml" in lines
    assert "Note: Makefile could not be merged safely: it is left as a conflict" in lines


def test_adopt_defaults_in_a_terminal_asks_nothing(ccds_template: Path, tmp_path: Path) -> None:
    project = user_project(ccds_template, tmp_path)
    result = run_cli_on_a_terminal("adopt", "--level", "1", "--dry-run", "--defaults", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  ci_provider: 'github' (from the template's default)" in lines


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("dirty", ["--level", "1"], "1 uncommitted change(s) (scratch.py): commit or stash"),
        ("clean", [], "give the level to adopt with --level N"),
        ("clean", ["--level", "7"], "level 7 is not offered: choose one of 0, 1, 2, 3, 4"),
        ("clean", ["--level", "1", "-d", "mlops_level=2"], "give the level with --level N"),
        ("clean", ["--level", "1", "-d", "projet=X"], "-d: unknown question 'projet'"),
        ("ladder", ["--level", "1"], "it is on the ladder, use `mlops-ladder climb`"),
        ("nogit", ["--level", "1"], "is not a git repository: run `git init"),
    ],
)
def test_refusals_change_nothing(
    ccds_template: Path, tmp_path: Path, setup: str, args: list[str], message: str
) -> None:
    project = user_project(ccds_template, tmp_path)
    if setup == "dirty":
        (project / "scratch.py").write_text("wip\n")
    if setup == "ladder":
        (project / ".copier-answers.yml").write_text("mlops_level: 1\n")
        commit_all(project)
    if setup == "nogit":
        subprocess.run(["rm", "-rf", str(project / ".git")], check=True)
    before = snapshot(project)
    assert_refused(run_cli("adopt", *args, cwd=project), message)
    assert snapshot(project) == before


# --- adopting ---------------------------------------------------------------------------


def adopt(project: Path, level: int) -> subprocess.CompletedProcess[str]:
    result = run_cli("adopt", "--level", str(level), cwd=project)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result


def resolve_taking_the_template(project: Path) -> None:
    """Take the template's side of each conflict and move the package under src/, as told."""
    unmerged = git(project, "diff", "--name-only", "--diff-filter=U").splitlines()
    conflicted = sorted(set(filter(None, unmerged)))
    if conflicted:
        git(project, "checkout", "--theirs", "--", *conflicted)
    # The user's modules join the template's package; a name both have gets a suffix.
    package = project / "src" / "churn_study"
    for module in sorted((project / "churn_study").rglob("*.py")):
        target = package / module.relative_to(project / "churn_study")
        if target.exists():
            target = target.with_name(f"{target.stem}_ours.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        git(project, "mv", str(module), str(target))
    # coverage takes a folder named like the package for the package: none may be left.
    shutil.rmtree(project / "churn_study")
    commit_all(project, "adopt mlops-ladder")


@pytest.mark.parametrize("level", tiered([1, 2, 4], fast=[]))
def test_adopt_keeps_every_line_and_gives_a_ladder_project(
    ccds_template: Path, tmp_path: Path, level: int
) -> None:
    project = user_project(ccds_template, tmp_path, cruft=True)
    before = tracked_bytes(project)
    result = adopt(project, level)
    assert result.returncode == 1  # conflicts to resolve
    status = git(project, "status", "--porcelain").splitlines()
    conflicts = sorted(line[3:] for line in status if line.startswith("AA "))
    assert conflicts == ["LICENSE"]
    assert "  merge    pyproject.toml" in result.stdout.splitlines()
    assert f"Adopted at level {level}: " in result.stdout
    for name, content in before.items():
        if name in conflicts:
            # Ours in the index, byte for byte; both sides between markers in the file.
            assert git(project, "show", f":2:{name}").encode() == content
            text = (project / name).read_text()
            assert "<<<<<<< before adopting" in text and ">>>>>>> after adopting" in text
            for line in content.decode().splitlines():
                assert line in text
        elif name in (".gitignore", "Makefile", "README.md"):
            assert (project / name).read_bytes().startswith(content), name
            assert b"Added by mlops-ladder adopt" in (project / name).read_bytes()
        elif name == "pyproject.toml":
            assert_lines_kept(content.decode(), (project / name).read_text())
        else:
            assert (project / name).read_bytes() == content, name
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["mlops_level"] == level and answers["_src_path"] == EMBEDDED_SOURCE
    assert answers["project_name"] == "Churn Study" and answers["package_name"] == "churn_study"
    assert str(answers["_commit"]).startswith("v")
    # Resolved and committed, it is an ordinary mlops-ladder project at that level.
    resolve_taking_the_template(project)
    doctor = json.loads(run_cli("status", "--json", cwd=project).stdout)
    assert doctor["level"] == level and doctor["healthy"] is True, doctor
    report = assess_json(project)
    assert report["level"] == level and report["recorded_level"] == level
    assert "import mlflow" in (project / "src/churn_study/modeling/train.py").read_text()
    assert (project / "notebooks" / "1.0-al-initial-exploration.ipynb").is_file()
    if level < 4:
        climbed = run_cli("climb", "--to", "4", cwd=project)
        assert climbed.returncode == 0, climbed.stdout + climbed.stderr
        # The user's one-line dependency list: the climb's conflict there is resolved by
        # keeping it and adding the new level's requirements.
        assert "pyproject.toml: your side of its conflicts is kept" in climbed.stdout
        pyproject = tomllib.loads((project / "pyproject.toml").read_text())
        deps = pyproject["project"]["dependencies"]
        assert deps[:5] == ["pandas", "scikit-learn", "loguru", "typer", "mlflow"]
        assert {"fastapi>=0.115", "scipy>=1.11", "mlflow-skinny>=3.17,<4"} <= set(deps)
        assert pyproject["tool"]["ruff"]["line-length"] == 99
        commit_all(project, "climb")
        assert assess_json(project)["level"] == 4
        assert json.loads(run_cli("status", "--json", cwd=project).stdout)["healthy"] is True


def test_git_checkout_ours_brings_the_users_file_back(ccds_template: Path, tmp_path: Path) -> None:
    project = user_project(ccds_template, tmp_path)
    before = (project / "LICENSE").read_bytes()
    adopt(project, 1)
    git(project, "checkout", "--ours", "--", "LICENSE")
    assert (project / "LICENSE").read_bytes() == before


def test_an_ignored_file_of_the_user_is_kept(ccds_template: Path, tmp_path: Path) -> None:
    project = user_project(ccds_template, tmp_path)
    with (project / ".gitignore").open("a") as ignore:
        ignore.write(".python-version\n")
    commit_all(project)
    (project / ".python-version").write_text("3.12.1\n")
    result = adopt(project, 0)
    assert "  keep     .python-version" in result.stdout.splitlines()
    assert (project / ".python-version").read_text() == "3.12.1\n"


@pytest.mark.slow
def test_a_climb_conflict_keeps_base_ours_and_theirs_in_the_index(tmp_path: Path) -> None:
    """Staged conflicts are applied with every stage, so `git checkout --ours` works."""
    from .test_cli import new_project

    project = new_project(tmp_path, "--level", "1", "--no-lock")
    makefile = project / "Makefile"
    ours = makefile.read_text().replace(
        "# --- Your own targets go below this line. ---",
        ".PHONY: ours\nours:\n\techo ours\n\n# --- Your own targets go below this line. ---",
    )
    makefile.write_text(ours)
    commit_all(project, "our target")
    result = run_cli("climb", "--to", "2", cwd=project)
    assert result.returncode == 1 and "Conflicts in 1 file(s): Makefile" in result.stdout
    stages = [line.split()[2] for line in git(project, "ls-files", "-u", "Makefile").splitlines()]
    assert stages == ["1", "2", "3"]
    git(project, "checkout", "--ours", "--", "Makefile")
    assert makefile.read_text() == ours


def adopt_interrupted(project: Path, point: str, signum: int) -> subprocess.CompletedProcess:
    """Run `adopt --level 1`, send `signum` when it reaches `point`, and wait for it to end."""
    return interrupted(["adopt", "--level", "1"], project, point, signum)


def test_an_interrupted_adopt_changes_nothing(ccds_template: Path, tmp_path: Path) -> None:
    project = user_project(ccds_template, tmp_path)
    before = snapshot(project)
    result = adopt_interrupted(project, "render", signal.SIGINT)
    assert result.returncode == 130
    assert result.stderr == "mlops-ladder: cancelled: nothing was changed\n"
    assert snapshot(project) == before and git(project, "status", "--porcelain") == ""
    assert not (project / ".git" / "mlops-ladder").exists()


@pytest.mark.slow
def test_an_adopt_killed_while_writing_can_be_undone_or_finished(
    ccds_template: Path, tmp_path: Path
) -> None:
    project = user_project(ccds_template, tmp_path)
    before = snapshot(project)
    assert adopt_interrupted(project, "apply", signal.SIGKILL).returncode == -signal.SIGKILL
    refused = run_cli("adopt", "--level", "1", cwd=project)
    assert_refused(refused, "run `mlops-ladder adopt --continue` to finish it")
    undone = run_cli("adopt", "--abort", cwd=project)
    assert undone.returncode == 0, undone.stderr
    assert snapshot(project) == before and git(project, "status", "--porcelain") == ""
    # Killed again, then finished: the same result as an adopt never interrupted.
    assert adopt_interrupted(project, "apply", signal.SIGKILL).returncode == -signal.SIGKILL
    assert run_cli("adopt", "--continue", cwd=project).returncode == 0
    status = git(project, "status", "--porcelain").splitlines()
    assert sorted(line[3:] for line in status if line.startswith("AA ")) == ["LICENSE"]


@pytest.mark.slow
@pytest.mark.parametrize("level", [1, 2, 4])
def test_the_levels_make_targets_pass_after_adopt(
    ccds_template: Path, tmp_path: Path, level: int
) -> None:
    """Adopted, resolved as the how-to says: the level's make targets pass."""
    project = user_project(ccds_template, tmp_path)
    ours = {k: v for k, v in tracked_bytes(project).items() if k.startswith("churn_study/")}
    result = adopt(project, level)
    # The user's ruff width (99) is kept and said so; the template's code is 100 wide.
    note = "your tool.ruff.line-length = 99 is kept; the template's code is checked with 100"
    assert note in result.stdout
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("line-length = 99", "line-length = 100"))
    resolve_taking_the_template(project)
    passes_its_levels_targets(project, level)
    # Every module of the user's is still there, in the one package.
    modules = [p.read_bytes() for p in (project / "src" / "churn_study").rglob("*.py")]
    assert all(content in modules for content in ours.values())
    assert (project / "src/churn_study/features_ours.py").read_bytes() == ours[
        "churn_study/features.py"
    ]
    if level == 2:
        # Climbed to the top, it passes what a generated level-4 project passes.
        commit_all(project, "what the README says to commit")  # dvc.lock, metrics, card
        climbed = run_cli("climb", "--to", "4", cwd=project)
        assert climbed.returncode == 0, climbed.stdout + climbed.stderr
        commit_all(project, "climb to 4")
        passes_its_levels_targets(project, 4)


def passes_its_levels_targets(project: Path, level: int) -> None:
    """Run the level's make targets in the order a user does, checking what each makes."""
    make(project, "install", "lint", "test")
    if level >= 2:
        make(project, "train")
        assert (project / "reports" / "metrics.json").is_file()
    if level >= 3:
        assert "may be released" in make(project, "validate").stdout
        make(project, "promote", "bundle")
        rows = demo_rows(project, 5, "churn_study")
        with serving(project) as url:
            status, _, body = http(f"{url}/predict", {"rows": rows})
        assert status == 200 and len(body["predictions"]) == 5, body
    if level >= 4:
        monitor = make(project, "monitor").stdout
        assert "rows" in monitor and (project / "reports" / "drift.json").is_file(), monitor
