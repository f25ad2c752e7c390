"""The team's text of the model card lives in docs/model_card.md and survives climbs."""

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
from copier import VcsRef, run_update

from .conftest import commit_all

OUR_TEXT = "Ranks the week's renewals for the retention team; never used to set prices."


def report_module(project: Path) -> ModuleType:
    """The generated report.py and the paths.py it reads (standard library only, so they
    load without the project's venv), as modules of the project's own package."""
    for name in [name for name in sys.modules if name.split(".")[0] == "demo_model"]:
        del sys.modules[name]  # another project's package, loaded by an earlier call
    sys.path.insert(0, str(project / "src"))
    try:
        return importlib.import_module("demo_model.report")
    finally:
        sys.path.remove(str(project / "src"))


def card(project: Path) -> str:
    report = report_module(project)
    return report.model_card(
        name="demo-model",
        data={"source": "demo", "sha256": "0" * 64, "rows": 4, "train_rows": 3, "test_rows": 1},
        params={"c": 1.0},
        metrics={"roc_auc": 1.0},
        confusion=[[1, 0], [0, 0]],
        team=report.read_team_card(project / report.TEAM_CARD),
    )


def test_the_shipped_team_card_has_every_standard_section(rendered: dict[int, Path]) -> None:
    report = report_module(rendered[2])
    sections = report.read_team_card(rendered[2] / "docs/model_card.md")
    assert list(sections) == list(report.SECTIONS)
    assert all(text and "Not written yet" not in text for text in sections.values())
    assert "Test Author (test@example.com)" in sections["Model details"]
    assert not (rendered[1] / "docs").exists()


@pytest.mark.slow
def test_a_climb_keeps_the_teams_model_card(generate, tmp_path: Path) -> None:
    project = generate(tmp_path / "project", 2)
    commit_all(project, "level 2")
    team_card = project / "docs/model_card.md"
    edited = team_card.read_text().replace("## Intended use\n", f"## Intended use\n\n{OUR_TEXT}\n")
    team_card.write_text(edited + "\n## Contacts\n\nThe retention team.\n")
    commit_all(project, "our model card")
    run_update(
        project,
        data={"mlops_level": 3},
        defaults=True,
        overwrite=True,
        vcs_ref=VcsRef.CURRENT,
        quiet=True,
        unsafe=False,
    )
    assert team_card.read_text() == edited + "\n## Contacts\n\nThe retention team.\n"
    merged = card(project)
    assert OUR_TEXT in merged and "## Contacts\n\nThe retention team." in merged
    assert "## Caveats and recommendations" in merged
