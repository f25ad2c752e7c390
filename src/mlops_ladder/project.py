"""A generated project on disk: its answers, its git state and its health."""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .catalogue import DEFAULT_CI_PROVIDER, Capability, Catalogue, load_catalogue, read_yaml
from .errors import LadderError

ANSWERS_FILE = ".copier-answers.yml"


@dataclass
class Project:
    path: Path
    answers: dict

    @property
    def level(self) -> int:
        return self.answers["mlops_level"]

    @property
    def package_name(self) -> str:
        return self.answers.get("package_name", "")

    @property
    def ci_provider(self) -> str:
        """The project's CI provider; a level-0 project has none yet and counts as GitHub."""
        return self.answers.get("ci_provider", DEFAULT_CI_PROVIDER)

    @property
    def template(self) -> str | None:
        source = self.answers.get("_src_path")
        return None if source is None else str(source)

    @property
    def template_version(self) -> str | None:
        version = self.answers.get("_commit")
        return None if version is None else str(version)

    def user_answers(self) -> dict:
        """The answers without copier's private keys, ready to pass as data."""
        return {key: value for key, value in self.answers.items() if not key.startswith("_")}


def load_project(path: Path) -> Project:
    answers_path = path / ANSWERS_FILE
    if not answers_path.is_file():
        raise LadderError(
            f"{path} has no {ANSWERS_FILE}: run this inside a project made by mlops-ladder"
        )
    try:
        answers = read_yaml(answers_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0]
        raise LadderError(f"{answers_path} cannot be read ({first}): restore it from git") from None
    if not isinstance(answers, dict):
        raise LadderError(f"{answers_path} is not a mapping of answers: restore it from git")
    level = answers.get("mlops_level")
    levels = [known.number for known in load_catalogue().levels]
    if not isinstance(level, int) or isinstance(level, bool) or level not in levels:
        raise LadderError(
            f"{answers_path} has no valid mlops_level (found {level!r}): "
            "it was not made by mlops-ladder, or the file was edited by hand"
        )
    return Project(path=path.resolve(), answers=answers)


@dataclass
class Finding:
    capability: Capability
    kind: str  # "file" or "make target"
    name: str

    def describe(self) -> str:
        return (
            f"missing {self.kind} {self.name} "
            f"(level {self.capability.level}, {self.capability.title})"
        )


@dataclass
class Health:
    checked_files: int = 0
    checked_targets: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def make_targets(makefile: Path) -> set[str]:
    if not makefile.is_file():
        return set()
    text = makefile.read_text(encoding="utf-8")
    heads = re.findall(r"^([A-Za-z0-9_. -]+?)\s*:(?!=)", text, flags=re.MULTILINE)
    return {target for head in heads for target in head.split()}


def check_health(project: Project, catalogue: Catalogue) -> Health:
    """What the project's level promises, each checked on disk: files and make targets."""
    health = Health()
    targets = make_targets(project.path / "Makefile")
    for capability in catalogue.up_to(project.level):
        for name in capability.paths(project.package_name, project.ci_provider):
            health.checked_files += 1
            if not (project.path / name).exists():
                health.findings.append(Finding(capability, "file", name))
        for target in capability.make:
            health.checked_targets += 1
            if target not in targets:
                health.findings.append(Finding(capability, "make target", target))
    return health
