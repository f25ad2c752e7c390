"""The answers schema comes from copier.yml, is valid JSON Schema, and guards the CLI."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue
from mlops_ladder.errors import LadderError
from mlops_ladder.schema import answers_schema, check_answers, questions, schema_json

from .conftest import ANSWERS, ROOT, assert_refused, run_cli, snapshot
from .test_cli import new_project

SCHEMA = answers_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_published_copy_is_the_generated_schema() -> None:
    assert (ROOT / "docs/reference/answers.schema.json").read_text() == schema_json()
    assert run_cli("schema").stdout == schema_json()


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema_has_every_question_and_no_computed_value() -> None:
    properties = SCHEMA["properties"]
    assert list(properties) == list(questions())
    assert {"project_name", "mlops_level", "dvc_remote", "dvc_remote_url"} <= set(properties)
    assert not [name for name in properties if name.startswith("has_")]
    assert "catalogue" not in properties and "project_slug" not in properties
    assert properties["mlops_level"]["enum"] == list(load_catalogue().offered)
    assert properties["dvc_remote"]["enum"] == ["local", "s3", "gs", "azure"]
    assert properties["ci_provider"]["enum"] == ["github", "gitlab"]
    assert properties["ci_provider"]["default"] == "github"


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize("level", load_catalogue().offered)
def test_every_generated_answers_file_is_valid(
    level: int, provider: str, rendered: dict[int, Path], rendered_gitlab: dict[int, Path]
) -> None:
    project = {"github": rendered, "gitlab": rendered_gitlab}[provider][level]
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    VALIDATOR.validate(answers)
    check_answers(answers, source="answers")
    assert answers.get("ci_provider") == (provider if level >= 1 else None)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_nme": "Typo"}, "unknown question 'project_nme'"),
        ({"mlops_level": "two"}, "mlops_level must be a integer, not str 'two'"),
        ({"mlops_level": 9}, "mlops_level is 9; choose one of 0, 1, 2"),
        ({"license": "GPL"}, "license is 'GPL'; choose one of MIT, BSD-3-Clause, Proprietary"),
        ({"dvc_remote": "ftp"}, "dvc_remote is 'ftp'; choose one of local, s3, gs, azure"),
        ({"ci_provider": "bitbucket"}, "ci_provider is 'bitbucket'; choose one of github, gitlab"),
        ({"project_name": ["a", "list"]}, "project_name must be a string"),
        ({"copyright_year": 2026}, "copyright_year must be a string, not int 2026 (quote it"),
    ],
)
def test_check_answers_names_the_key_and_agrees_with_jsonschema(
    answers: dict, message: str
) -> None:
    assert not VALIDATOR.is_valid(ANSWERS | answers)
    with pytest.raises(LadderError, match=message.replace("(", r"\(")):
        check_answers(ANSWERS | answers, source="data file a.yml")


def test_check_answers_accepts_what_the_schema_accepts() -> None:
    good = ANSWERS | {"mlops_level": 2, "dvc_remote": "s3", "_src_path": "/x", "_commit": "v1"}
    VALIDATOR.validate(good)
    check_answers(good, source="data file a.yml")
    # -d values are always text: copier casts them, so only their keys are checked.
    check_answers({"mlops_level": "2", "dvc_remote": "s3"}, source="-d", typed=False)
    with pytest.raises(LadderError, match="-d: unknown question 'level'"):
        check_answers({"level": "2"}, source="-d", typed=False)


def test_new_refuses_a_data_file_with_an_unknown_key(tmp_path: Path) -> None:
    data = tmp_path / "answers.yml"
    data.write_text(yaml.safe_dump(ANSWERS | {"mlops_levle": 1}))
    result = run_cli("new", "project", "--data-file", str(data), cwd=tmp_path)
    assert_refused(result, f"data file {data}: unknown question 'mlops_levle'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.yml"]


def test_new_refuses_an_unknown_dash_d_key(tmp_path: Path) -> None:
    result = run_cli("new", "project", "--defaults", "-d", "projet_name=X", cwd=tmp_path)
    assert result.returncode == 2 and "-d: unknown question 'projet_name'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_climb_refuses_a_bad_data_file_and_changes_nothing(tmp_path: Path) -> None:
    project = new_project(tmp_path, "--level", "1")
    data = tmp_path / "climb.yml"
    data.write_text(json.dumps({"dvc_remote": "dropbox"}))
    before = snapshot(project)
    result = run_cli("climb", "--data-file", str(data), cwd=project)
    assert result.returncode == 2 and "dvc_remote is 'dropbox'" in result.stderr
    assert snapshot(project) == before
