"""A JSON Schema for answers and data files, generated from copier.yml.

The questions, their types, choices, help texts and plain defaults come from
copier.yml (and levels.yml, which it includes); nothing here repeats them.
Copier still runs each question's own validator when it renders.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .catalogue import SafeLoader, read_yaml
from .embedded import template_root
from .errors import LadderError

SCHEMA_ID = "https://github.com/mlops-ladder/mlops-ladder/answers.schema.json"
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


def copier_documents(root: Path) -> list[dict[str, Any]]:
    """copier.yml's YAML documents, with `!include` resolved, settings first."""

    class Loader(SafeLoader):  # type: ignore[valid-type,misc]
        pass

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        return read_yaml((root / loader.construct_scalar(node)).read_text(encoding="utf-8"))

    Loader.add_constructor("!include", include)
    text = (root / "copier.yml").read_text(encoding="utf-8")
    return [doc for doc in yaml.load_all(text, Loader=Loader) if isinstance(doc, dict)]


def questions(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The questions a user can answer, in order: settings and computed values left out."""
    merged: dict[str, Any] = {}
    for document in copier_documents(root or template_root()):
        merged.update(document)
    return {
        name: spec
        for name, spec in merged.items()
        if not name.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
    }


def _property(spec: dict[str, Any]) -> dict[str, Any]:
    prop: dict[str, Any] = {}
    if spec.get("help"):
        prop["description"] = spec["help"]
    if spec.get("type", "str") in JSON_TYPES:
        prop["type"] = JSON_TYPES[spec.get("type", "str")]
    choices = spec.get("choices")
    if choices:
        prop["enum"] = list(choices.values() if isinstance(choices, dict) else choices)
    default = spec.get("default")
    if default is not None and "{{" not in str(default) and "{%" not in str(default):
        prop["default"] = default
    return prop


@cache
def answers_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a data file or a project's answers file."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mlops-ladder answers",
        "description": (
            "Answers for `mlops-ladder new --data-file`, `copier copy --data-file` and "
            "a project's .copier-answers.yml. Generated from copier.yml."
        ),
        "type": "object",
        "properties": {name: _property(spec) for name, spec in questions().items()},
        # copier's own keys in an answers file: _src_path, _commit.
        "patternProperties": {"^_": {}},
        "additionalProperties": False,
    }


def schema_json() -> str:
    return json.dumps(answers_schema(), indent=2, ensure_ascii=False) + "\n"


def check_answers(answers: dict[str, Any], *, source: str, typed: bool = True) -> None:
    """Raise LadderError naming the first key the schema refuses, and why.

    `typed` is False for -d values, which are strings that copier casts itself.
    """
    properties = answers_schema()["properties"]
    for key, value in answers.items():
        if str(key).startswith("_"):
            continue
        if key not in properties:
            known = ", ".join(properties)
            raise LadderError(f"{source}: unknown question {key!r}; the questions are {known}")
        prop = properties[key]
        if typed and not _has_type(value, prop.get("type")):
            hint = " (quote it in YAML)" if prop["type"] == "string" else ""
            raise LadderError(
                f"{source}: {key} must be a {prop['type']}, not {type(value).__name__} "
                f"{value!r}{hint}"
            )
        if typed and "enum" in prop and value not in prop["enum"]:
            options = ", ".join(map(str, prop["enum"]))
            raise LadderError(f"{source}: {key} is {value!r}; choose one of {options}")


def _has_type(value: Any, json_type: str | None) -> bool:
    if json_type is None:
        return True
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool}[json_type])
