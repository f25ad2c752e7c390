"""Property: whatever a user edits, a climb keeps it or reports its file as conflicted."""

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_ladder.catalogue import load_catalogue
from mlops_ladder.project import load_project
from mlops_ladder.render import CONFLICT_MARKER, climb

from .conftest import commit_all

OFFERED = load_catalogue().offered
ANSWERS_FILE = ".copier-answers.yml"


def text_files(project: Path) -> list[str]:
    names = []
    for path in sorted(project.rglob("*")):
        name = path.relative_to(project).as_posix()
        user_file = ".git/" not in f"{name}/" and name != ANSWERS_FILE
        if path.is_file() and user_file and path.read_text(errors="replace").strip():
            names.append(name)
    return names


@st.composite
def climbs(draw: st.DrawFn) -> tuple[int, int, list[tuple], str]:
    provider = draw(st.sampled_from(["github", "gitlab"]))
    start = draw(st.sampled_from(OFFERED[:-1]))
    target = draw(st.sampled_from([level for level in OFFERED if level > start]))
    edits = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("change"), st.integers(0, 10_000), st.integers(0, 10_000)),
                st.tuples(st.just("add"), st.integers(0, 10_000), st.integers(0, 10_000)),
                st.tuples(st.just("delete"), st.integers(0, 10_000), st.just(0)),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return start, target, edits, provider


def apply_edits(project: Path, edits: list[tuple]) -> tuple[dict[str, set[str]], set[str]]:
    """Apply the drawn edits; return the marker lines each file must keep, and deleted files."""
    markers: dict[str, set[str]] = {}
    deleted: set[str] = set()
    for number, (kind, pick, line) in enumerate(edits):
        names = text_files(project)
        name = names[pick % len(names)]
        marker = f"user edit {number} of {name}"
        if kind == "change":
            path = project / name
            lines = path.read_text().splitlines(keepends=True)
            replaced = lines[line % len(lines)].rstrip("\n")
            lines[line % len(lines)] = marker + "\n"
            path.write_text("".join(lines))
            markers.setdefault(name, set()).discard(replaced)  # the user overwrote their own edit
            markers[name].add(marker)
        elif kind == "add":
            path = (project / name).parent / f"user-file-{number}.txt"
            path.write_text(marker + "\n")
            markers[path.relative_to(project).as_posix()] = {marker}
        else:
            (project / name).unlink()
            markers.pop(name, None)
            deleted.add(name)
    return markers, deleted


@given(case=climbs())
def test_a_climb_never_loses_a_user_edit_silently(
    case: tuple[int, int, list[tuple], str],
    rendered: dict[int, Path],
    rendered_gitlab: dict[int, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    start, target, edits, provider = case
    project = tmp_path_factory.mktemp("property") / "project"
    shutil.copytree({"github": rendered, "gitlab": rendered_gitlab}[provider][start], project)
    commit_all(project, "generated")
    markers, deleted = apply_edits(project, edits)
    commit_all(project, "user edits")

    # Level 0 has no CI yet: the climb that brings it asks for the provider.
    answers = {"ci_provider": provider} if start == 0 else {}
    outcome = climb(load_project(project), target, answers)

    assert load_project(project).answers["ci_provider"] == provider
    other = ".github/workflows" if provider == "gitlab" else ".gitlab/ci"
    assert not list(project.glob(f"{other}/*.yml")), f"a {provider} project got {other}"

    conflicted = set(outcome.conflicts)
    for name, expected in markers.items():
        path = project / name
        text = path.read_text() if path.is_file() else ""
        lost = [marker for marker in expected if marker not in text]
        assert not lost or name in conflicted, f"{name}: {lost} lost in climb {start}->{target}"
    for name in deleted:
        assert not (project / name).exists() or name in conflicted, f"{name} came back"
    for path in project.rglob("*"):
        name = path.relative_to(project).as_posix()
        if path.is_file() and ".git/" not in f"{name}/" and name not in conflicted:
            assert CONFLICT_MARKER not in path.read_text(errors="replace"), name
