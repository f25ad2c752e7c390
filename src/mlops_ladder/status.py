"""One project's status: its level, template version, newer version and level doctor."""

from dataclasses import asdict, dataclass, field
from pathlib import Path

from .catalogue import Catalogue
from .gitcmd import is_git_repo, uncommitted
from .project import check_health, load_project
from .render import VersionUnknown, newer_version
from .transaction import pending


@dataclass(frozen=True)
class Missing:
    kind: str  # "file" or "make target"
    name: str
    capability: str
    level: int


@dataclass(frozen=True)
class Status:
    project: str
    level: int
    level_name: str
    template: str | None
    template_version: str | None
    newer_version: str | None  # None when up to date
    version_unknown: str | None  # why the newer version could not be checked
    unfinished: str | None  # an interrupted climb or update, and how to end it
    checked_files: int
    checked_targets: int
    missing: list[Missing] = field(default_factory=list)
    uncommitted: int | None = None  # None outside git

    @property
    def healthy(self) -> bool:
        return not self.missing and self.unfinished is None

    def to_json(self) -> dict:
        """The `status --json` document; newer_version is "unknown" when it was not checked."""
        return {
            "project": self.project,
            "level": self.level,
            "level_name": self.level_name,
            "template": self.template,
            "template_version": self.template_version,
            "newer_version": "unknown" if self.version_unknown else self.newer_version,
            "healthy": self.healthy,
            "unfinished": self.unfinished,
            "checked": {"files": self.checked_files, "make_targets": self.checked_targets},
            "missing": [asdict(item) for item in self.missing],
        }


def project_status(path: Path, catalogue: Catalogue) -> Status:
    """The status of the project at `path`; read-only."""
    project = load_project(path)
    health = check_health(project, catalogue)
    in_git = is_git_repo(project.path)
    journal = pending(project.path) if in_git else None
    try:
        newer, unknown = newer_version(project.template, project.template_version), None
    except VersionUnknown as error:
        newer, unknown = None, str(error)
    return Status(
        project=str(project.path),
        level=project.level,
        level_name=catalogue.level(project.level).name,
        template=project.template,
        template_version=project.template_version,
        newer_version=newer,
        version_unknown=unknown,
        unfinished=journal.advice() if journal else None,
        checked_files=health.checked_files,
        checked_targets=health.checked_targets,
        missing=[
            Missing(f.kind, f.name, f.capability.id, f.capability.level) for f in health.findings
        ],
        uncommitted=len(uncommitted(project.path)) if in_git else None,
    )
