"""The template that ships inside the package, made into a tagged git repository.

copier can only update a project whose template is a git repository with the
commit it was generated from. The installed package holds plain files, so the
first use copies them into a repository in the user's cache, commits and tags
them; each new package version adds a commit and a tag on top, so projects made
with an older version can still be updated offline.
"""

import fcntl
import hashlib
import os
import re
import shutil
from importlib.resources import files
from pathlib import Path

from . import __version__
from .gitcmd import OWN_IDENTITY, git, succeeds

TEMPLATE_ITEMS = ("copier.yml", "levels.yml", "includes", "template")
# What a project made from the embedded template records as its source: the
# same string on every machine, and a path plain copier expands (`~`) itself.
EMBEDDED_SOURCE = "~/.cache/mlops-ladder/template"


def template_root() -> Path:
    """The folder holding copier.yml: inside the wheel, or the source checkout."""
    packaged = Path(str(files("mlops_ladder"))) / "_template"
    if (packaged / "copier.yml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "copier.yml").is_file():
        return checkout
    raise FileNotFoundError("the embedded template is missing: reinstall mlops-ladder")


def cache_home() -> Path:
    if override := os.environ.get("MLOPS_LADDER_HOME"):
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlops-ladder"


def is_embedded(source: str) -> bool:
    """Whether `source` names the embedded template, on this machine or on the maker's."""
    if source == EMBEDDED_SOURCE:
        return True
    path = Path(source).expanduser()
    if path == cache_home() / "template":
        return True
    # Another machine's cache, recorded before EMBEDDED_SOURCE existed.
    return not path.exists() and path.parts[-2:] == ("mlops-ladder", "template")


def reachable_source(source: str) -> str:
    """A source copier can read on this machine for what the project recorded."""
    return str(ensure_template_repo()[0]) if is_embedded(source) else source


RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")


def _history_source() -> Path | None:
    """Where the released versions of the template come from: the wheel or the checkout.

    A wheel carries `history.bundle` (a git bundle of every release, made when
    the wheel was built); a source checkout has its own release tags.
    """
    root = template_root()
    if (root / "history.bundle").is_file():
        return root / "history.bundle"
    return root if (root / ".git").exists() else None


def _import_history(repo: Path) -> None:
    """Add every released version the cache lacks, so older projects still update."""
    source = _history_source()
    if source is None:
        return
    listing = git(repo, "ls-remote", "--tags", "--refs", str(source), check=False)
    have = set(_git(repo, "tag", "--list").split())
    wanted = [
        tag
        for line in listing.splitlines()
        if RELEASE_TAG.fullmatch(tag := line.split("refs/tags/")[-1]) and tag not in have
    ]
    if wanted:
        refspecs = [f"refs/tags/{tag}:refs/tags/{tag}" for tag in wanted]
        _git(repo, "fetch", "--quiet", "--no-tags", str(source), *refspecs)


def has_version(repo: Path, tag: str) -> bool:
    return succeeds(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}")


def _git(repo: Path, *args: str) -> str:
    return git(repo, *OWN_IDENTITY, *args).strip()


def _template_files(source: Path) -> dict[str, Path]:
    """Every file of the template under `source`, by its path relative to `source`."""
    found: dict[str, Path] = {}
    for name in TEMPLATE_ITEMS:
        item = source / name
        paths = item.rglob("*") if item.is_dir() else [item]
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                found[path.relative_to(source).as_posix()] = path
    return found


def _sync_files(source: Path, repo: Path) -> None:
    """Make the repository's files those of `source`, writing only what differs.

    When nothing changed (every run of an installed version) nothing is written, so
    a copier run reading the repository at the same time never sees it half-synced.
    """
    wanted = _template_files(source)
    for path in sorted(repo.rglob("*"), reverse=True):  # a folder after its files
        relative = path.relative_to(repo)
        if relative.parts[0] == ".git" or relative.as_posix() in wanted:
            continue
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink()
    for relative, path in wanted.items():
        target = repo / relative
        data = path.read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            shutil.copymode(path, target)


def _next_tag(repo: Path) -> str:
    existing = set(_git(repo, "tag", "--list").split())
    release = f"v{__version__}"
    if release not in existing:
        return release
    # A source checkout changed the template without a new version number.
    number = sum(tag.startswith(f"{release}+dev.") for tag in existing) + 1
    return f"{release}+dev.{number}"


def ensure_template_repo() -> tuple[Path, str]:
    """The path of the embedded template's git repository and the tag of its current files."""
    repo = cache_home() / "template"
    repo.mkdir(parents=True, exist_ok=True)
    with (cache_home() / "template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (repo / ".git").is_dir():
            _git(repo, "init", "--quiet")
        _sync_files(template_root(), repo)
        _git(repo, "add", "--all")
        if _git(repo, "status", "--porcelain"):
            digest = hashlib.sha256(_git(repo, "write-tree").encode()).hexdigest()[:12]
            _git(repo, "commit", "--quiet", "-m", f"mlops-ladder {__version__} ({digest})")
        tags = _git(repo, "tag", "--points-at", "HEAD").split()
        if not tags:
            tags = [_next_tag(repo)]
            _git(repo, "tag", tags[0])
        _import_history(repo)
    return repo, tags[0]
