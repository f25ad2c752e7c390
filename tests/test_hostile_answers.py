"""Property: any answer a validator accepts renders as inert data in every file it lands in.

Hostile answers mix quotes of every kind, trailing backslashes, shell and GitHub
expressions, Jinja delimiters, Markdown and YAML specials, scripts of every
direction and very long text. Each drawn answer set is rendered once; a refused
one must be refused in one line, an accepted one must give a project whose every
file parses, lints clean and runs nothing from the answers.

HOSTILE_EXAMPLES sets the number of examples (default 10); HOSTILE_STATS=path
writes the counts of checked files per level and check kind as JSON.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import yaml
from copier import run_copy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_ladder.catalogue import load_catalogue
from mlops_ladder.project import make_targets

from .conftest import ANSWERS, commit_all

OFFERED = load_catalogue().offered
RUFF = Path(sys.executable).with_name("ruff")
SENTINEL = "SENTINEL"  # replaced by an absolute path in the test's own tmp folder
PAYLOADS = [
    "'",
    '"',
    "`",
    "'''",
    '"""',
    "\\",
    "\\$",
    "\\n",
    "$()",
    "$(touch SENTINEL)",
    "`touch SENTINEL`",
    "'; touch SENTINEL; '",
    '"; touch SENTINEL; "',
    '"""; __import__("os").system("touch SENTINEL"); """',
    "'''; __import__('os').system('touch SENTINEL'); '''",
    "${{ github.token }}",
    "${{ secrets.GITHUB_TOKEN }}",
    "{{ 7 * 7 }}",
    "{% if true %}x{% endif %}",
    "{%",
    "}}",
    "{#",
    "#",
    ": ",
    "- ",
    "1. ",
    "> ",
    "&amp;",
    "<b>x</b>",
    "[link](https://example.com)",
    "*",
    "_",
    "|",
    "%",
    "Zoë",
    "Ærø",
    "Straße",
    "Łódź",
    "İstanbul",
    "日本語",
    "模型",
    "😀",
    "👩‍💻",
    "مرحبا",
    "שלום",
    "\u00a0",
    "\u3000",
    "x" * 120,
    "é" * 45,
    "😀" * 30,
]
# Characters the validators refuse in one-line answers.
REFUSED = ["\n", "\r", "\t", "\x00", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u202e", "\u2067"]
CHARS = st.characters(exclude_categories=("Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp"))
EMAILS = ["a@example.com", "first.last+ml@sub.example.co.uk", "x_y%z@e-x.io"]


@st.composite
def free_text(draw: st.DrawFn, max_pieces: int = 5) -> str:
    pieces = draw(
        st.lists(
            st.one_of(st.sampled_from(PAYLOADS), st.text(CHARS, max_size=8)),
            min_size=1,
            max_size=max_pieces,
        )
    )
    if draw(st.integers(0, 23)) == 23:
        pieces.insert(draw(st.integers(0, len(pieces))), draw(st.sampled_from(REFUSED)))
    return "".join(pieces)


@st.composite
def answer_sets(draw: st.DrawFn) -> dict:
    """Mostly answers a validator accepts; now and then one it must refuse."""
    answers = {
        "mlops_level": draw(st.sampled_from(OFFERED)),
        "project_name": draw(st.sampled_from(["Churn ", "Zoë ", ""])) + draw(free_text(3)),
        "description": draw(free_text()),
        "author_name": draw(free_text(3)),
    }
    hostile_email, hostile_package = draw(st.integers(0, 7)) == 7, draw(st.integers(0, 7)) == 7
    email = free_text() if hostile_email else st.sampled_from(EMAILS)
    answers["author_email"] = draw(email)
    if hostile_package:
        answers["package_name"] = draw(free_text())
    elif package := draw(st.none() | st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)):
        answers["package_name"] = package
    return answers


STATS: Counter = Counter()


@pytest.fixture(scope="module")
def stats() -> Iterator[Counter]:
    started = time.monotonic()
    yield STATS
    STATS["seconds"] = round(time.monotonic() - started)
    summary = json.dumps(dict(sorted(STATS.items())), indent=1)
    print(f"\nhostile answers: {summary}")
    if target := os.environ.get("HOSTILE_STATS"):
        Path(target).write_text(summary)


def md_unescape(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def squeeze(text: str) -> str:
    return "".join(text.split())


def with_sentinel(answers: dict, sentinel: Path) -> dict:
    return {
        key: value.replace(SENTINEL, str(sentinel)) if isinstance(value, str) else value
        for key, value in answers.items()
    }


def run(args: list, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def check_project(project: Path, answers: dict, sentinel: Path) -> None:
    level = answers["mlops_level"]
    files = [p for p in sorted(project.rglob("*")) if p.is_file()]

    def count(kind: str) -> None:
        STATS[f"level{level} {kind}"] += 1

    for path in files:
        name = path.relative_to(project).as_posix()
        if path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), name, "exec")
            count("py compiled")
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
            count("toml parsed")
        elif path.suffix in {".yml", ".yaml"}:
            list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            count("yaml parsed")
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
            count("json parsed")
        elif path.suffix == ".ipynb":
            nbformat.validate(nbformat.read(path, as_version=4))
            count("notebook validated")
        elif path.suffix == ".sh":
            result = run(["bash", "-n", path], project)
            assert result.returncode == 0, f"{name}: {result.stderr}"
            count("sh bash -n")

    stored = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    for key, value in answers.items():
        assert stored[key] == value, key
    count("answers round-tripped")

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == answers["description"]
    assert pyproject["project"]["authors"] == [
        {"name": answers["author_name"], "email": answers["author_email"]}
    ]
    slug = pyproject["project"]["name"]
    assert re.fullmatch(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?", slug), slug
    for namespace in project.glob("deploy/k8s/overlays/*/namespace.yaml"):
        name = yaml.safe_load(namespace.read_text())["metadata"]["name"]
        assert len(name) <= 63 and re.fullmatch(r"[a-z]([a-z0-9-]*[a-z0-9])?", name)

    targets = sorted(t for t in make_targets(project / "Makefile") if not t.startswith("."))
    result = run(["make", "-n", *targets], project)
    assert result.returncode == 0, result.stderr
    STATS[f"level{level} make -n targets"] += len(targets)

    for command in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        result = run([RUFF, *command], project)
        assert result.returncode == 0, result.stdout + result.stderr
    count("ruff check+format projects")

    title = answers["project_name"].strip()
    readme = (project / "README.md").read_text(encoding="utf-8").splitlines()
    assert md_unescape(readme[0]) == f"# {title}"
    assert md_unescape(readme[2]) == answers["description"].strip()
    count("markdown unescaped")
    if (runbook := project / "RUNBOOK.md").is_file():
        first = runbook.read_text(encoding="utf-8").splitlines()[0]
        assert md_unescape(first) == f"# Runbook: {title}"
        count("markdown unescaped")

    for init in project.glob("src/*/__init__.py"):
        script = "import json, runpy, sys; print(json.dumps(runpy.run_path(sys.argv[1])[DOC]))"
        script = script.replace("DOC", "'__doc__'")
        result = run([sys.executable, "-I", "-c", script, init], init.parent)
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert squeeze(doc) == squeeze(f"{answers['project_name']}: {answers['description']}")
        count("__init__ executed")

    assert not sentinel.exists(), "an answer ran a command"


@settings(
    # Cheap examples: three times the profile's count (HYPOTHESIS_PROFILE), or HOSTILE_EXAMPLES.
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", 3 * settings.default.max_examples)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=answer_sets())
def test_accepted_answers_render_as_inert_data(
    drawn: dict, template_repo: tuple[str, str], stats: Counter
) -> None:
    src, tag = template_repo
    with tempfile.TemporaryDirectory(prefix="h") as scratch:
        sentinel = Path(scratch) / "S"
        answers = with_sentinel(drawn, sentinel)
        project = Path(scratch) / "project"
        stats["examples"] += 1
        try:
            run_copy(
                src,
                project,
                data=ANSWERS | answers,
                defaults=True,
                vcs_ref=tag,
                quiet=True,
                unsafe=False,
            )
        except ValueError as error:
            message = str(error)
            assert message.startswith("Validation error for question '"), message
            assert "\n" not in message.strip(), message
            assert not project.exists()
            stats["refused"] += 1
            stats[f"refused by {message.split(chr(39))[1]}"] += 1
            return
        stats["accepted"] += 1
        check_project(project, ANSWERS | answers, sentinel)


# ------------------------------------------------------------------ real installs
SAMPLES = {
    "package-unlike-name": {
        "project_name": 'Zoë "Churn" Modèle',
        "package_name": "churn",
        "description": 'Scores "risky" loans \\ $(touch SENTINEL) `touch SENTINEL` trailing\\',
        "author_name": 'O\'Brien "Bob" \\ Jr.',
        "author_email": "bob.o+ml@example.co.uk",
    },
    "payloads-and-scripts": {
        "project_name": "Ærø Straße — 日本 😀 #1 [beta] ${{ github.token }}",
        "description": '"""; __import__("os").system("touch SENTINEL"); """ {{ 7 * 7 }}',
        "author_name": "Łódź & Co. <ml> 'team'",
        "author_email": "ml-team@example.org",
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("level", [1, 4])
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_hostile_sample_installs_lints_and_tests(
    sample: str, level: int, generate, tmp_path: Path
) -> None:
    from .test_generated import make

    sentinel = tmp_path / "S"
    answers = with_sentinel(SAMPLES[sample], sentinel)
    project = generate(tmp_path / "project", level, **answers)
    commit_all(project, "generated")
    make(project, "install", "lint", "test")
    assert not sentinel.exists()
    shutil.rmtree(project / ".venv", ignore_errors=True)
