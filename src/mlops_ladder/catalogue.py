"""The MLOps levels and their capabilities, read from levels.yml.

levels.yml is the single source of truth: copier.yml includes it to render the
template, and this module reads the same file for the CLI, the docs and the tests.
"""

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .embedded import template_root
from .errors import LadderError

# libyaml's loader when PyYAML was built with it: it parses levels.yml ten times faster.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> Any:
    """The YAML document in `text`, with plain data types only (no tags that run code)."""
    return yaml.load(text, Loader=SafeLoader)


class Downgrade(LadderError):
    """A climb to the project's own level or lower."""


class NotOffered(LadderError):
    """A level the template does not offer."""


# The ci_provider answers (copier.yml); a project without one (level 0) counts as GitHub.
CI_PROVIDERS = ("github", "gitlab")
DEFAULT_CI_PROVIDER = CI_PROVIDERS[0]


@dataclass(frozen=True)
class Capability:
    id: str
    level: int
    title: str
    adds: str
    files: tuple[str, ...]
    make: tuple[str, ...]
    # A CI/CD capability's files on each CI provider, beside the files every provider has.
    ci_files: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def files_for(self, ci_provider: str = DEFAULT_CI_PROVIDER) -> tuple[str, ...]:
        """The files this capability brings to a project on `ci_provider`."""
        return self.files + self.ci_files.get(ci_provider, ())

    def paths(self, package_name: str, ci_provider: str = DEFAULT_CI_PROVIDER) -> list[str]:
        return [
            name.replace("{package_name}", package_name) for name in self.files_for(ci_provider)
        ]


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    built: bool
    summary: str
    first_steps: tuple[str, ...] = ()  # make targets, in the order they must run

    @property
    def label(self) -> str:
        return f"{self.number} - {self.name}"


@dataclass(frozen=True)
class Catalogue:
    levels: tuple[Level, ...]
    capabilities: tuple[Capability, ...]
    offered: tuple[int, ...]
    choice_labels: dict[str, int]

    @property
    def top(self) -> int:
        return self.levels[-1].number

    def level(self, number: int) -> Level:
        return self.levels[number]

    def up_to(self, level: int) -> list[Capability]:
        """Every capability a project at `level` holds."""
        return [cap for cap in self.capabilities if cap.level <= level]

    def gained(self, current: int, target: int) -> list[Capability]:
        """The capabilities a climb from `current` to `target` adds."""
        return [cap for cap in self.capabilities if current < cap.level <= target]


@dataclass(frozen=True)
class ClimbPlan:
    """Where a climb goes and what it adds; refusals are raised when it is made."""

    current: int
    target: int
    gained: tuple[Capability, ...]


def plan_climb(catalogue: Catalogue, current: int, to: int | None) -> ClimbPlan:
    """The climb from `current` to `to` (the next level when None), or why there is none."""
    target = current + 1 if to is None else to
    if target <= current:
        raise Downgrade(
            f"the project is at level {current} and levels only go up: "
            f"a downgrade would delete files; give --to {current + 1} or higher"
        )
    if target not in catalogue.offered:
        offered = ", ".join(map(str, catalogue.offered))
        raise NotOffered(f"level {target} is not offered by this template (offered: {offered})")
    return ClimbPlan(current, target, tuple(catalogue.gained(current, target)))


def levels_file() -> Path:
    return template_root() / "levels.yml"


@cache
def load_catalogue(path: Path | None = None) -> Catalogue:
    document = read_yaml((path or levels_file()).read_text(encoding="utf-8"))
    body = document["catalogue"]["default"]
    choices = document["mlops_level"]["choices"]
    return Catalogue(
        levels=tuple(
            Level(**level | {"first_steps": tuple(level.get("first_steps", ()))})
            for level in body["levels"]
        ),
        capabilities=tuple(
            Capability(
                id=key,
                level=cap["level"],
                title=cap["title"],
                adds=cap["adds"],
                files=tuple(cap["files"]),
                make=tuple(cap["make"]),
                ci_files={
                    provider: tuple(names) for provider, names in cap.get("ci_files", {}).items()
                },
            )
            for key, cap in body["capabilities"].items()
        ),
        offered=tuple(sorted(choices.values())),
        choice_labels=dict(choices),
    )


def ci_table(catalogue: Catalogue) -> str:
    """What each level adds to CI/CD on each provider, from the capabilities' ci_files."""
    names = {"github": "GitHub Actions", "gitlab": "GitLab CI/CD"}
    rows = [
        "| Level | " + " | ".join(names[p] for p in CI_PROVIDERS) + " |",
        "| --- |" + " --- |" * len(CI_PROVIDERS),
    ]
    for level in catalogue.levels:
        caps = [cap for cap in catalogue.capabilities if cap.level == level.number and cap.ci_files]
        if not caps:
            continue
        cells = [
            "; ".join(
                f"{cap.title}: " + ", ".join(f"`{name}`" for name in cap.ci_files[provider])
                for cap in caps
            )
            for provider in CI_PROVIDERS
        ]
        rows.append(f"| {level.number} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def markdown_table(catalogue: Catalogue) -> str:
    """The level table used in README.md and docs/, generated from the catalogue."""
    rows = ["| Level | Name | What it adds | Offered |", "| --- | --- | --- | --- |"]
    for level in catalogue.levels:
        adds = "; ".join(cap.title for cap in catalogue.capabilities if cap.level == level.number)
        offered = "yes" if level.number in catalogue.offered else "not yet"
        rows.append(f"| {level.number} | {level.name} | {adds or level.summary} | {offered} |")
    return "\n".join(rows) + "\n"
