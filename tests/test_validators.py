"""Every validator refuses bad input with its message and leaves nothing on disk."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy

from .conftest import ANSWERS, run_cli, tiered

LEVEL2_S3 = {"mlops_level": 2, "dvc_remote": "s3"}


def first_of_each(cases: list, key: Callable[[Any], object]) -> list:
    """The first case of each kind: the fast tier's representatives, one per validator."""
    first: dict[object, Any] = {}
    for case in cases:
        first.setdefault(key(case), case)
    return list(first.values())


COPIE_CASES = [
    ({"project_name": "   "}, "The project name is empty"),
    ({"package_name": "Churn-Model"}, "is not a lowercase Python identifier"),
    ({"package_name": "1model"}, "is not a lowercase Python identifier"),
    ({"package_name": "class"}, "is a Python keyword"),
    ({"package_name": "json"}, "shadows a standard-library or dependency module"),
    ({"package_name": "test"}, "shadows a standard-library or dependency module"),
    ({"package_name": "mlflow"}, "shadows a standard-library or dependency module"),
    ({"package_name": "fastapi"}, "shadows a standard-library or dependency module"),
    ({"author_email": "not-an-email"}, "is not an email address"),
    ({"author_name": " "}, "The author name is empty"),
    ({"copyright_year": "26"}, "is not a year"),
    ({"description": "two\nlines"}, "must be one line"),
    (LEVEL2_S3 | {"dvc_remote_url": ""}, "is not a s3 bucket URL"),
    (LEVEL2_S3 | {"dvc_remote_url": "gs://bucket/path"}, "is not a s3 bucket URL"),
    (LEVEL2_S3 | {"dvc_remote_url": "s3://B/path"}, "is not a s3 bucket URL"),
    (LEVEL2_S3 | {"dvc_remote_url": "s3://bucket/a path"}, "is not a s3 bucket URL"),
    (LEVEL2_S3 | {"dvc_remote": "gs", "dvc_remote_url": "gs:/b"}, "is not a gs bucket URL"),
    ({"mlops_level": 2, "dvc_remote": "azure"}, 'Question "dvc_remote_url" is required'),
]


@pytest.mark.parametrize(
    ("answers", "message"),
    tiered(COPIE_CASES, fast=first_of_each(COPIE_CASES, key=lambda case: case[1])),
)
def test_copie_reports_the_validator_message(answers: dict, message: str, copie) -> None:
    result = copie.copy(extra_answers=ANSWERS | answers)
    assert result.exit_code == -1
    assert message in str(result.exception)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"package_name": "json"}, "shadows a standard-library"),
        ({"author_email": "x"}, "is not an email address"),
        ({"mlops_level": 7}, "Invalid choice for 'mlops_level'"),
        ({"python_version": "2.7"}, "Invalid choice for 'python_version'"),
        ({"mlops_level": 2, "dvc_remote": "ftp"}, "Invalid choice for 'dvc_remote'"),
        (LEVEL2_S3 | {"dvc_remote_url": "http://x"}, "is not a s3 bucket URL"),
    ],
)
def test_bad_answer_leaves_no_destination(
    answers: dict, message: str, template_repo, tmp_path: Path
) -> None:
    src, tag = template_repo
    dest = tmp_path / "project"
    with pytest.raises(ValueError, match=message):
        run_copy(src, dest, data=ANSWERS | answers, defaults=True, vcs_ref=tag, quiet=True)
    assert not dest.exists()


def test_level_seven_is_refused(template_repo, tmp_path: Path) -> None:
    src, tag = template_repo
    with pytest.raises(ValueError, match="Invalid choice for 'mlops_level'"):
        run_copy(src, tmp_path / "p", data=ANSWERS | {"mlops_level": 7}, defaults=True, vcs_ref=tag)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "7"], "level 7 is not offered: choose one of 0, 1, 2"),
        (["--level", "2", "-d", "dvc_remote=s3"], "dvc_remote_url has no default and needs an"),
        (["--level", "2", "-d", "dvc_remote=s3", "-d", "dvc_remote_url=s3:/x"], "not a s3 bucket"),
        (["-d", "package_name=json"], "shadows a standard-library"),
        (["-d", "author_email=nope"], "is not an email address"),
        (["-d", "project_name="], "The project name is empty"),
        (["-d", "no-equals-sign"], "is not KEY=VALUE"),
        (["--data-file", "missing.yml"], "data file missing.yml does not exist"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli("new", "project", "-d", "project_name=Demo", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("mlops-ladder: error: ")
    assert list(tmp_path.iterdir()) == []


LONG = "Churn-Model " * 20


LENGTH_CASES = [
    {"project_name": ""},
    {"project_name": LONG},
    {"project_name": "Churn\u202eModel"},
    {"project_name": "予測モデル 😀"},
    {"package_name": LONG},
    {"package_name": "churn\nmodel"},
    {"package_name": "x" * 33},
    {"package_name": "nonlocal"},
    {"package_name": "prometheus_client"},
    {"description": "two\nlines"},
    {"description": LONG},
    {"description": "bell\x07"},
    {"author_name": " "},
    {"author_name": LONG},
    {"author_name": "Bob\u2066"},
    {"author_email": LONG},
    {"author_email": "bob@example.com\n"},
    {"author_email": '"bob"@example.com'},
    {"copyright_year": "26"},
    LEVEL2_S3 | {"dvc_remote_url": "s3:/x"},
]


# The fast tier: a long answer for each text question, which the message must not echo whole.
@pytest.mark.parametrize(
    "answers", tiered(LENGTH_CASES, fast=[case for case in LENGTH_CASES if LONG in case.values()])
)
def test_validator_messages_fit_80_columns(answers: dict, template_repo, tmp_path: Path) -> None:
    """One line; at most 80 characters, or the part before its first colon is."""
    src, tag = template_repo
    with pytest.raises(ValueError, match=r"^Validation error for question") as error:
        run_copy(src, tmp_path / "p", data=ANSWERS | answers, defaults=True, vcs_ref=tag)
    message = str(error.value).split("': ", 1)[1]
    assert "\n" not in message
    assert len(message) <= 80 or len(message.split(": ")[0]) <= 80, message
