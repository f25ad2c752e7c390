"""levels.yml is the one source of truth: copier.yml, the template, README and CLI agree with it."""

import re

import pytest

from mlops_ladder import schema
from mlops_ladder.catalogue import load_catalogue, markdown_table

from .conftest import ROOT

CATALOGUE = load_catalogue()


def copier_documents() -> list[dict]:
    return schema.copier_documents(ROOT)


def test_every_level_is_described_in_order() -> None:
    assert [level.number for level in CATALOGUE.levels] == [0, 1, 2, 3, 4]


def test_offered_levels_are_exactly_the_built_ones() -> None:
    assert CATALOGUE.offered == tuple(lv.number for lv in CATALOGUE.levels if lv.built)


def test_choice_labels_carry_the_catalogue_names() -> None:
    expected = {CATALOGUE.level(n).label: n for n in CATALOGUE.offered}
    assert CATALOGUE.choice_labels == expected


def test_each_capability_has_one_computed_flag_read_from_the_catalogue() -> None:
    questions = {k: v for doc in copier_documents() for k, v in doc.items()}
    flags = {name: q for name, q in questions.items() if name.startswith("has_")}
    assert set(flags) == {f"has_{cap.id}" for cap in CATALOGUE.capabilities}
    for name, question in flags.items():
        assert question["when"] is False
        capability = name.removeprefix("has_")
        expected = f"{{{{ mlops_level >= catalogue.capabilities.{capability}.level }}}}"
        assert question["default"] == expected


def test_template_never_needs_trust() -> None:
    for path in [ROOT / "copier.yml", ROOT / "levels.yml"]:
        assert not re.search(
            r"^\s*_(tasks|migrations|jinja_extensions)\s*:", path.read_text(), re.M
        )


def test_minimum_copier_version_has_the_2026_security_fixes() -> None:
    settings = copier_documents()[0]
    version = tuple(int(part) for part in settings["_min_copier_version"].split("."))
    assert version >= (9, 17, 2)


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize("level", CATALOGUE.offered)
def test_capability_files_appear_exactly_from_their_level(
    level: int, provider: str, rendered: dict, rendered_gitlab: dict
) -> None:
    project = {"github": rendered, "gitlab": rendered_gitlab}[provider][level]
    for capability in CATALOGUE.capabilities:
        for name in capability.paths("demo_model", provider):
            assert (project / name).exists() == (capability.level <= level), (capability.id, name)
    other = {"github": "gitlab", "gitlab": "github"}[provider]
    for capability in CATALOGUE.capabilities:
        for name in capability.ci_files.get(other, ()):
            assert not (project / name).exists(), f"{provider} project has {other}'s {name}"


@pytest.mark.parametrize("level", CATALOGUE.offered)
def test_capability_make_targets_appear_exactly_from_their_level(
    level: int, rendered: dict
) -> None:
    from mlops_ladder.project import make_targets

    targets = make_targets(rendered[level] / "Makefile")
    for capability in CATALOGUE.capabilities:
        for target in capability.make:
            if capability.level <= level:
                assert target in targets, (capability.id, target)
            elif target not in {t for c in CATALOGUE.up_to(level) for t in c.make}:
                assert target not in targets, (capability.id, target)


def test_readme_level_table_is_generated_from_the_catalogue() -> None:
    assert markdown_table(CATALOGUE) in (ROOT / "README.md").read_text()


def test_docs_level_table_is_generated_from_the_catalogue() -> None:
    # The site build fills the marker in (docs/_hooks/generated.py; tests/test_docs.py).
    page = (ROOT / "docs" / "reference" / "levels.md").read_text()
    assert "\n<!-- generated: levels-table -->\n" in page
    assert markdown_table(CATALOGUE).splitlines()[0] not in page, "a copy written by hand"


def test_this_repository_is_ruff_clean() -> None:
    import subprocess
    import sys

    paths = ["src", "tests", "benchmarks"]
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run([*ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [*ruff, "format", "--check", *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


def test_first_steps_are_targets_the_level_has() -> None:
    """Every level lists the make targets that get it working, each one it provides."""
    for level in CATALOGUE.levels:
        provided = {t for cap in CATALOGUE.up_to(level.number) for t in cap.make}
        assert level.first_steps, f"level {level.number} lists no first steps"
        assert level.first_steps[0] == "install"
        assert set(level.first_steps) <= provided, (level.number, level.first_steps)
