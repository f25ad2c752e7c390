"""adopt's structural merges: the user's file stays, the template's missing parts are added."""

import subprocess
import tomllib
from pathlib import Path

import pytest

from mlops_ladder.merge import (
    MAKE_MARKER,
    README_MARKER,
    keep_ours,
    merge_makefile,
    merge_pyproject,
    merge_readme,
)

OURS_PYPROJECT = """\
# Our project's metadata: keep this comment.
[build-system]
requires = ["flit_core >=3.2,<4"]
build-backend = "flit_core.buildapi"

[project]
name = "demo_model"
dynamic = ["version"]
description = "Which customers leave, and why."
dependencies = [
    "pandas",  # any version
    "Scikit_Learn==1.4.2",
]

[project.scripts]
demo-model = "demo_model.ours:run"  # the template's command name, our own code

[tool.ruff]
line-length = 99  # our width
"""


@pytest.fixture(scope="module")
def template(rendered: dict[int, Path]) -> Path:
    return rendered[4]


def lines_in_order(ours: str, merged: str) -> None:
    rest = iter(merged.splitlines())
    for line in ours.splitlines():
        assert any(candidate == line for candidate in rest), f"lost or moved: {line!r}"


def test_pyproject_keeps_every_user_value_and_adds_what_is_missing(template: Path) -> None:
    theirs = (template / "pyproject.toml").read_text()
    text, notes = merge_pyproject(OURS_PYPROJECT, theirs)
    lines_in_order(OURS_PYPROJECT, text)
    merged, wanted = tomllib.loads(text), tomllib.loads(theirs)
    ours = tomllib.loads(OURS_PYPROJECT)
    # The user's values, whatever the template says.
    assert merged["build-system"] == ours["build-system"]
    assert merged["project"]["name"] == "demo_model" and "version" not in merged["project"]
    assert wanted["project"]["scripts"] == {"demo-model": "demo_model.cli:main"}
    assert merged["project"]["scripts"] == {"demo-model": "demo_model.ours:run"}
    assert merged["tool"]["ruff"]["line-length"] == 99
    # [project] metadata is the user's: not added.
    for key in ("readme", "license", "authors", "requires-python", "version"):
        assert key not in merged["project"], key
    # Requirements: only the names the user lacks, the user's pins untouched.
    deps = merged["project"]["dependencies"]
    assert deps[:2] == ["pandas", "Scikit_Learn==1.4.2"]
    assert not any(dep.startswith(("pandas>", "scikit-learn")) for dep in deps)
    assert "skops>=0.12" in deps and "fastapi>=0.115" in deps
    assert '    "skops>=0.12",\n' in text  # one per line, like the user's list
    assert any("project.dependencies gains skops>=0.12" in note for note in notes)
    assert (
        "pyproject.toml: your tool.ruff.line-length = 99 is kept; the template's code is "
        "checked with 100"
    ) in notes
    # Tables and keys the user lacks, as the template has them.
    assert merged["tool"]["ruff"]["target-version"] == wanted["tool"]["ruff"]["target-version"]
    for table in ("dependency-groups", "tool"):
        for key, value in wanted[table].items():
            if key != "ruff":
                assert merged[table][key] == value, key
    assert merged["tool"]["ruff"]["lint"] == wanted["tool"]["ruff"]["lint"]


def test_pyproject_one_line_list_gains_items_in_place(template: Path) -> None:
    ours = '[project]\nname = "x"\ndependencies = ["pandas", "mlflow"]\n'
    text, _ = merge_pyproject(ours, (template / "pyproject.toml").read_text())
    first = text.splitlines()[2]
    assert first.startswith('dependencies = ["pandas", "mlflow", "scikit-learn>=1.5", ')
    assert tomllib.loads(text)["project"]["dependencies"][:2] == ["pandas", "mlflow"]


@pytest.mark.parametrize(
    "ours",
    [
        "[project\nname = 1\n",  # not TOML
        '[tool]\nruff.line-length = 99\n[project]\nname = "x"\n',  # [tool.ruff] by dotted keys
        'tool = { ruff = { line-length = 99 } }\n[project]\nname = "x"\n',  # inline tables
        '[project]\nname = "x"\ndependencies = "pandas"\n',  # not a list
    ],
)
def test_pyproject_that_cannot_be_merged_safely_is_refused(template: Path, ours: str) -> None:
    assert merge_pyproject(ours, (template / "pyproject.toml").read_text()) is None


MAKEFILE = "requirements:\n\tpip install -e .\n\ntest:\n\tpython -m unittest\n\nUV := uv\n"


def test_makefile_keeps_the_users_targets_and_adds_the_others(
    template: Path, tmp_path: Path
) -> None:
    text, notes = merge_makefile(MAKEFILE, (template / "Makefile").read_text())
    assert text.startswith(MAKEFILE + "\n" + MAKE_MARKER)
    assert notes == ["Makefile: your target test is kept; the template's test is not added"]
    assert "\ntest:" not in text[len(MAKEFILE) :] and "\nlint:" in text and "\nserve:" in text
    assert ".DEFAULT_GOAL" not in text
    (tmp_path / "Makefile").write_text(text)

    def dry(*targets: str) -> str:
        run = ["make", "--no-print-directory", "-n", *targets]
        result = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert dry() == "pip install -e .\n"  # the user's first target is still the default
    assert dry("test") == "python -m unittest\n"
    assert dry("lint").startswith("uv run ruff check .")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("include other.mk\nall:\n\techo\n", "lint:\n\truff check .\n"),
        ("X = ours\nall:\n\techo $(X)\n", "X := theirs\n\nlint:\n\techo $(X)\n"),
    ],
)
def test_makefile_that_cannot_be_merged_safely_is_refused(ours: str, theirs: str) -> None:
    assert merge_makefile(ours, theirs) is None


def test_readme_keeps_the_users_and_appends_the_templates(template: Path) -> None:
    ours = "# Churn Study\n\nOur notes, **ours**.\n"
    theirs = (template / "README.md").read_text()
    text, notes = merge_readme(ours, theirs)
    assert text == ours + "\n" + README_MARKER + "\n" + theirs and notes == []
    assert merge_readme(text, theirs) is None  # merged once already: a conflict, not twice


def test_keep_ours_takes_the_first_side_of_each_conflict() -> None:
    text = "a\n<<<<<<< before updating\nours\n=======\ntheirs\n>>>>>>> after updating\nb\n"
    assert keep_ours(text) == "a\nours\nb\n"
    assert keep_ours("no conflict\n") is None
