"""Wheel build hook: ship the template of every released version, not only the current one.

A project made with mlops-ladder X climbs and updates with any later version,
which needs version X's template (copier renders the old version to find the
user's edits). The wheel therefore carries `history.bundle`: a git bundle with
one commit and one `vX.Y.Z` tag per release tag of this repository, holding
only the template's files. The CLI imports the tags its cache lacks.
Built only from a git checkout that has release tags; otherwise skipped.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")
TEMPLATE_ITEMS = ("copier.yml", "levels.yml", "includes", "template")
# Fixed identity and dates: the same releases give the same bundle on every machine.
FIXED = {
    "GIT_AUTHOR_NAME": "mlops-ladder",
    "GIT_AUTHOR_EMAIL": "mlops-ladder@localhost",
    "GIT_COMMITTER_NAME": "mlops-ladder",
    "GIT_COMMITTER_EMAIL": "mlops-ladder@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
}


def _git(path: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", "-C", str(path), "-c", "commit.gpgsign=false", *args],
        input=stdin,
        check=True,
        capture_output=True,
        env=os.environ | FIXED,
    ).stdout


def _version(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.removeprefix("v").split("."))


def build_history(checkout: Path, out: Path) -> Path | None:
    """A bundle of the template at every release tag of `checkout`; None without any."""
    tags = sorted(
        (
            tag
            for tag in _git(checkout, "tag", "--list", "v*").decode().split()
            if RELEASE_TAG.fullmatch(tag)
        ),
        key=_version,
    )
    if not tags:
        return None
    repo = out / "history"
    repo.mkdir(parents=True)
    _git(repo, "init", "--quiet")
    for tag in tags:
        for item in repo.iterdir():
            if item.name != ".git":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        present = _git(checkout, "ls-tree", "--name-only", tag, *TEMPLATE_ITEMS).decode().split()
        archive = _git(checkout, "archive", "--format=tar", tag, *present)
        subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
        _git(repo, "add", "--all")
        _git(repo, "commit", "--quiet", "--allow-empty", "-m", f"mlops-ladder template {tag}")
        _git(repo, "tag", tag)
    bundle = out / "history.bundle"
    _git(repo, "bundle", "create", "--quiet", str(bundle), "--tags")
    return bundle


class TemplateHistoryHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        if self.target_name != "wheel" or version == "editable" or not (root / ".git").exists():
            return
        self._scratch = tempfile.mkdtemp(prefix="mlops-ladder-history-")
        bundle = build_history(root, Path(self._scratch))
        if bundle is not None:
            build_data["force_include"][str(bundle)] = "mlops_ladder/_template/history.bundle"

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        if scratch := getattr(self, "_scratch", None):
            shutil.rmtree(scratch, ignore_errors=True)
