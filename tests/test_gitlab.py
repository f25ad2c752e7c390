"""GitLab CI/CD: the pipelines each level gets with ci_provider=gitlab, checked and run.

There is no GitLab runner here. The fast tier merges the pipeline as GitLab does
(local includes, `default:`, `extends:`), evaluates its rules for each kind of
pipeline and checks the result; check-jsonschema validates every file against
GitLab's schema. The slow tier runs the jobs' script lines in a fresh clone of an
installed project, in pipeline order, as a shell runner would.
"""

import copy
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue
from mlops_ladder.project import make_targets

from .conftest import commit_all, git, tiered

CATALOGUE = load_catalogue()
LEVELS = [level for level in CATALOGUE.offered if level >= 1]
# Top-level keys that are not jobs (https://docs.gitlab.com/ci/yaml/).
GLOBAL_KEYS = {
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
}
DEFAULT_KEYS = {"image", "services", "cache", "before_script", "after_script", "interruptible"}
CI_JOBS = ["lint", "test", "build"]
DELIVERY_JOBS = [
    "challenger",
    "build-image",
    "container-tests",
    "publish",
    "release-record",
    "staging",
    "production",
]
MONITOR_JOBS = ["prediction-logs", "drift-check"]
# Variables anyone who can push or open a merge request controls: never in a script.
USER_CONTROLLED = re.compile(
    r"CI_COMMIT_(MESSAGE|TITLE|DESCRIPTION|BRANCH|REF_NAME|REF_SLUG|TAG_MESSAGE|AUTHOR)"
    r"|CI_MERGE_REQUEST_(TITLE|DESCRIPTION|SOURCE_BRANCH_NAME|SOURCE_BRANCH_SHA)"
    r"|CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME"
)
SECRETS = ("CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD", "AWS_ID_TOKEN", "MODEL_SIGNING_KEY")
PINNED_IMAGE = re.compile(r"[\w./-]+(:[\w.-]*\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})")


# ------------------------------------------------------------------ rendering
@pytest.fixture(scope="session")
def gitlab(rendered_gitlab: dict[int, Path]) -> dict[int, Path]:
    """The session's renders with ci_provider=gitlab (tests/conftest.py)."""
    return rendered_gitlab


# ------------------------------------------------------ merging as GitLab does
def deep_merge(base: dict, override: dict) -> dict:
    """GitLab's merge for includes and extends: hashes merge key by key, the rest is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merged_config(project: Path) -> dict:
    """.gitlab-ci.yml with its `include: local:` files (wildcards too) merged in."""
    top = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    includes = top.get("include", [])
    merged: dict = {}
    for include in includes if isinstance(includes, list) else [includes]:
        pattern = include["local"] if isinstance(include, dict) else include
        files = sorted(project.glob(pattern.lstrip("/")))
        assert files, f"include {pattern} matches no file"
        for path in files:
            merged = deep_merge(merged, yaml.safe_load(path.read_text()))
    return deep_merge(merged, {key: value for key, value in top.items() if key != "include"})


def _resolve(config: dict, name: str, seen: tuple[str, ...] = ()) -> dict:
    job = config[name]
    parents = job.get("extends", [])
    resolved: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        assert parent in config and parent not in seen, f"{name} extends {parent}"
        resolved = deep_merge(resolved, _resolve(config, parent, (*seen, name)))
    return deep_merge(resolved, {key: value for key, value in job.items() if key != "extends"})


def pipeline_jobs(config: dict) -> dict[str, dict]:
    """Every job, in file order, with `extends:` resolved and `default:` applied."""
    defaults = config.get("default", {})
    jobs = {}
    for name in config:
        if name in GLOBAL_KEYS or name.startswith("."):
            continue
        job = _resolve(config, name)
        jobs[name] = {key: value for key, value in defaults.items() if key not in job} | job
    return jobs


def lines(job: dict) -> list[str]:
    """The shell lines a runner runs for the job: before_script, then script."""
    return [str(line) for key in ("before_script", "script") for line in job.get(key, [])]


# -------------------------------------------------------- evaluating the rules
RULE_TOKEN = re.compile(r'\s*(?:\$(\w+)|"([^"]*)"|(==|!=|&&|\|\||\(|\)))')


def condition(expression: str, env: dict[str, str]) -> bool:
    """A rules:if expression: $VAR, "text", ==, !=, &&, ||, parentheses."""
    python, position = [], 0
    while expression[position:].strip():
        match = RULE_TOKEN.match(expression, position)
        assert match, f"cannot read {expression[position:]!r} in {expression!r}"
        name, text, operator = match.groups()
        if name:
            python.append(repr(env.get(name) or None))  # unset and empty both count as null
        elif text is not None:
            python.append(repr(text))
        else:
            python.append({"&&": "and", "||": "or"}.get(operator, operator))
        position = match.end()
    return bool(eval(" ".join(python), {"__builtins__": {}}))  # only literals and operators


def when(rules: list[dict] | None, env: dict[str, str]) -> str | None:
    """How a job runs in a pipeline with `env` (None: not in it), as GitLab reads rules."""
    if rules is None:
        return "on_success"
    for rule in rules:
        if "if" not in rule or condition(rule["if"], env):
            outcome = rule.get("when", "on_success")
            return None if outcome == "never" else outcome
    return None


def pipeline(config: dict, env: dict[str, str]) -> dict[str, str] | None:
    """The jobs a pipeline with `env` holds and how each runs; None when there is no pipeline."""
    if when(config.get("workflow", {}).get("rules"), env) is None:
        return None
    jobs = pipeline_jobs(config)
    chosen = {name: when(job.get("rules"), env) for name, job in jobs.items()}
    return {name: how for name, how in chosen.items() if how is not None}


MAIN = {"CI_DEFAULT_BRANCH": "main"}
SCENARIOS = {
    "merge request": MAIN | {"CI_PIPELINE_SOURCE": "merge_request_event"},
    "push to main": MAIN | {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"},
    "push to a branch": MAIN | {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "fix"},
    "push to a branch with a merge request": MAIN
    | {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "fix", "CI_OPEN_MERGE_REQUESTS": "!1"},
    "training schedule": MAIN
    | {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "PIPELINE": "train"},
    "training by hand on a branch": MAIN
    | {"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "fix", "PIPELINE": "train"},
    "monitor schedule": MAIN
    | {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "PIPELINE": "monitor"},
    "deploy by hand": MAIN
    | {"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "main", "PIPELINE": "deploy"},
    "deploy by hand on a branch": MAIN
    | {"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "fix", "PIPELINE": "deploy"},
    "started by the monitor": MAIN
    | {"CI_PIPELINE_SOURCE": "pipeline", "CI_COMMIT_BRANCH": "main", "PIPELINE": "deploy"},
}


def expected_pipeline(level: int, scenario: str) -> dict[str, str] | None:
    """What each kind of pipeline must hold at `level`, written out by hand."""
    ci = dict.fromkeys(CI_JOBS + (["integration"] if level >= 3 else []), "on_success")
    delivery = dict.fromkeys(DELIVERY_JOBS, "on_success") | {"production": "manual"}
    delivery = delivery if level >= 3 else {}
    return {
        "merge request": ci,
        "push to main": ci | ({"train": "manual"} if level >= 2 else {}) | delivery,
        "push to a branch": ci,
        "push to a branch with a merge request": None,
        "training schedule": {"train": "on_success"} if level >= 2 else {},
        "training by hand on a branch": {"train": "on_success"} if level >= 2 else {},
        "monitor schedule": dict.fromkeys(MONITOR_JOBS, "on_success") if level >= 4 else {},
        "deploy by hand": delivery,
        "deploy by hand on a branch": {},
        "started by the monitor": delivery,
    }[scenario]


# ------------------------------------------------------------------- fast tier
def gitlab_files(project: Path) -> set[str]:
    names = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    return {name for name in names if name.startswith((".gitlab", ".github"))}


@pytest.mark.parametrize("level", LEVELS)
def test_gitlab_project_has_the_catalogue_files_and_no_github_workflows(
    level: int, gitlab: dict[int, Path]
) -> None:
    project = gitlab[level]
    promised = {
        name
        for capability in CATALOGUE.capabilities
        for name in capability.paths("demo_model", "gitlab")
    }
    for capability in CATALOGUE.capabilities:
        for name in capability.paths("demo_model", "gitlab"):
            assert (project / name).exists() == (capability.level <= level), (capability.id, name)
    assert not (project / ".github").exists()
    # Nothing CI-shaped beyond what the catalogue lists for the level.
    assert gitlab_files(project) <= promised
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["ci_provider"] == "gitlab"


def test_github_project_has_no_gitlab_files(rendered: dict[int, Path]) -> None:
    for level in LEVELS:
        assert not [name for name in gitlab_files(rendered[level]) if ".gitlab" in name]
        answers = yaml.safe_load((rendered[level] / ".copier-answers.yml").read_text())
        assert answers["ci_provider"] == "github"
    answers = yaml.safe_load((rendered[0] / ".copier-answers.yml").read_text())
    assert "ci_provider" not in answers, "level 0 has no CI and must not ask"


def test_every_ci_capability_names_its_files_on_both_providers() -> None:
    from mlops_ladder.schema import answers_schema

    providers = answers_schema()["properties"]["ci_provider"]["enum"]
    assert providers == ["github", "gitlab"]
    with_ci = [cap for cap in CATALOGUE.capabilities if cap.ci_files]
    assert {cap.id for cap in with_ci} == {"ci", "training_ci", "delivery", "monitoring_ci"}
    for capability in with_ci:
        assert sorted(capability.ci_files) == providers, capability.id
        assert all(capability.ci_files.values()), capability.id


@pytest.mark.parametrize("level", LEVELS)
def test_every_file_validates_against_gitlabs_schema(level: int, gitlab: dict[int, Path]) -> None:
    project = gitlab[level]
    files = [project / ".gitlab-ci.yml", *sorted((project / ".gitlab/ci").glob("*.yml"))]
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.gitlab-ci", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_job(gitlab: dict[int, Path], tmp_path: Path) -> None:
    """The validation above can fail: a misspelt keyword is refused."""
    broken = tmp_path / ".gitlab-ci.yml"
    text = (gitlab[1] / ".gitlab/ci/ci.yml").read_text()
    broken.write_text(text.replace("  script:\n    - make lint", "  scripts:\n    - make lint"))
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.gitlab-ci", str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout


@pytest.mark.parametrize("level", LEVELS)
def test_the_top_level_file_is_the_same_at_every_level(level: int, gitlab: dict[int, Path]) -> None:
    """A climb adds files under .gitlab/ci/ and never edits .gitlab-ci.yml."""
    top = (gitlab[level] / ".gitlab-ci.yml").read_text()
    assert top == (gitlab[LEVELS[0]] / ".gitlab-ci.yml").read_text()
    assert yaml.safe_load(top)["include"] == [{"local": ".gitlab/ci/*.yml"}]


@pytest.mark.parametrize("level", LEVELS)
def test_jobs_stages_and_needs_hang_together(level: int, gitlab: dict[int, Path]) -> None:
    config = merged_config(gitlab[level])
    stages = config["stages"]
    jobs = pipeline_jobs(config)
    expected = CI_JOBS + ["train"] * (level >= 2) + ["integration"] * (level >= 3)
    expected += DELIVERY_JOBS * (level >= 3) + MONITOR_JOBS * (level >= 4)
    assert sorted(jobs) == sorted(expected)
    for name, job in jobs.items():
        assert job["stage"] in stages, (name, job["stage"])
        assert lines(job) and job["script"], f"{name} runs nothing"
        for need in job.get("needs", []):
            need = need["job"] if isinstance(need, dict) else need
            assert need in jobs, f"{name} needs {need}, which does not exist"
            assert stages.index(jobs[need]["stage"]) <= stages.index(job["stage"]), (name, need)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_kind_of_pipeline_runs_exactly_its_jobs(
    level: int, scenario: str, gitlab: dict[int, Path]
) -> None:
    config = merged_config(gitlab[level])
    chosen = pipeline(config, SCENARIOS[scenario])
    assert chosen == expected_pipeline(level, scenario)
    jobs = pipeline_jobs(config)
    for name in chosen or {}:
        for need in jobs[name].get("needs", []):
            assert need in chosen, f"{scenario}: {name} needs {need}, which is not in the pipeline"


def ancestors(jobs: dict[str, dict], name: str) -> set[str]:
    found: set[str] = set()
    for need in jobs[name].get("needs", []):
        found |= {need} | ancestors(jobs, need)
    return found


@pytest.mark.parametrize("level", [3, 4])
def test_delivery_runs_in_the_order_of_the_github_deploy_workflow(
    level: int, gitlab: dict[int, Path]
) -> None:
    jobs = pipeline_jobs(merged_config(gitlab[level]))
    for before, after in itertools.pairwise(DELIVERY_JOBS):
        assert before in ancestors(jobs, after), f"{after} does not wait for {before}"
    steps = re.findall(r"\bmake (\w[\w-]*)", "\n".join(jobs["challenger"]["script"]))
    assert steps == ["train", "validate", "promote", "bundle"]
    assert "AB_TEST" in next(line for line in jobs["challenger"]["script"] if "promote" in line)
    assert any("buildah build" in line for line in jobs["build-image"]["script"])
    [service] = jobs["container-tests"]["services"]
    assert service["alias"] == "service"
    assert jobs["container-tests"]["variables"]["SERVICE_URL"] == "http://service:8000"
    assert jobs["container-tests"]["script"] == ["make integration"]
    assert jobs["publish"]["artifacts"]["reports"]["dotenv"] == "release.env"
    assert jobs["release-record"]["script"] == ['make release-record IMAGE="$RELEASED_IMAGE"']
    for environment in ("staging", "production"):
        job = jobs[environment]
        assert job["environment"]["name"] == environment
        assert job["resource_group"] == environment
        assert job["id_tokens"] == {"AWS_ID_TOKEN": {"aud": "sts.amazonaws.com"}}
        assert job["variables"]["AWS_ROLE_ARN"] == "$AWS_DEPLOY_ROLE_ARN"
        assert 'deploy/k8s/deploy.sh "$CI_ENVIRONMENT_NAME" "$RELEASED_IMAGE"' in job["script"]
    assert [rule.get("when") for rule in jobs["production"]["rules"]] == ["never", "manual"]


def test_monitoring_starts_delivery_only_when_the_check_says_retrain(
    gitlab: dict[int, Path],
) -> None:
    jobs = pipeline_jobs(merged_config(gitlab[4]))
    logs, check = jobs["prediction-logs"], jobs["drift-check"]
    assert logs["variables"]["AWS_ROLE_ARN"] == "$AWS_MONITOR_ROLE_ARN"
    assert "id_tokens" not in check, "the drift check itself needs no cloud credentials"
    assert check["needs"] == ["prediction-logs"]
    script = "\n".join(check["script"])
    assert script.index(" retrain --dry-run") < script.index("trigger/pipeline")
    trigger = script[script.index("elif") :]
    assert trigger.startswith('elif [ "$(') and '= "retrain" ]; then' in trigger
    assert '--form "variables[PIPELINE]=deploy"' in trigger
    assert "reports/retrain-plan.json" in check["artifacts"]["paths"]


@pytest.mark.parametrize("level", LEVELS)
def test_security_no_secret_printed_no_injection_least_privilege(
    level: int, gitlab: dict[int, Path]
) -> None:
    project = gitlab[level]
    jobs = pipeline_jobs(merged_config(project))
    raw = yaml.safe_dump(merged_config(project))  # the pipeline itself, comments left out
    assert "privileged" not in raw and "dind" not in raw and "DOCKER_HOST" not in raw
    assert "CI_DEBUG_TRACE" not in raw and "set -x" not in raw
    assert "AWS_ACCESS_KEY_ID" not in raw and "AWS_SECRET_ACCESS_KEY" not in raw
    for name, job in jobs.items():
        shell = lines(job) + [str(v) for v in job.get("variables", {}).values()]
        for line in shell:
            assert not USER_CONTROLLED.search(line), f"{name} expands user input: {line}"
            for secret in SECRETS:
                if f"${secret}" not in line:
                    continue
                # A secret goes to a program's stdin, a file or a form field; never to the log.
                assert (
                    "--password-stdin" in line
                    or re.search(rf"printf '%s' \"\${secret}\" > ", line)
                    or ("--output /dev/null" in line and f'--form "token=${secret}"' in line)
                ), f"{name} may print {secret}: {line}"
        if any("CI_JOB_TOKEN" in line for line in shell):
            # The job token only starts this project's own pipeline.
            assert name == "drift-check", name
            assert "$CI_API_V4_URL/projects/$CI_PROJECT_ID/trigger/pipeline" in "\n".join(shell)
        if "id_tokens" in job:
            assert name in {"staging", "production", "prediction-logs"}, name
        if "environment" in job or "id_tokens" in job:
            # Protected variables and cloud roles: only the default branch's pipelines.
            assert job["rules"][0] == {
                "if": "$CI_COMMIT_BRANCH != $CI_DEFAULT_BRANCH",
                "when": "never",
            }, name


@pytest.mark.parametrize("level", LEVELS)
def test_images_are_pinned_and_match_the_python_version(
    level: int, gitlab: dict[int, Path]
) -> None:
    project = gitlab[level]
    python = (project / ".python-version").read_text().strip()
    for name, job in pipeline_jobs(merged_config(project)).items():
        image = job["image"]["name"] if isinstance(job["image"], dict) else job["image"]
        assert PINNED_IMAGE.fullmatch(image), f"{name}: {image} is not pinned"
        if image.startswith("ghcr.io/astral-sh/uv:"):
            assert f"-python{python}-" in image
        for service in job.get("services", []):
            # The candidate built by this very pipeline: pinned by its commit.
            assert service["name"] == "$CI_REGISTRY_IMAGE/candidate:$CI_COMMIT_SHA", name


def test_another_python_reaches_the_gitlab_image(generate, tmp_path: Path) -> None:
    project = generate(tmp_path / "p", 1, ci_provider="gitlab", python_version="3.12")
    config = merged_config(project)
    assert config["default"]["image"].endswith("-python3.12-bookworm")


@pytest.mark.parametrize("level", LEVELS)
def test_jobs_call_only_targets_the_makefile_has(level: int, gitlab: dict[int, Path]) -> None:
    project = gitlab[level]
    targets = make_targets(project / "Makefile")
    called = set()
    for job in pipeline_jobs(merged_config(project)).values():
        for line in lines(job):
            for match in re.finditer(r"\bmake\s+(.*)", line):
                for word in match.group(1).split():
                    if not re.fullmatch(r"[a-z][\w-]*", word):
                        break
                    called.add(word)
    assert {"install", "lint", "coverage", "build"} <= called
    assert called <= targets, f"jobs call missing targets: {sorted(called - targets)}"


@pytest.mark.parametrize("level", LEVELS)
def test_renovate_watches_every_gitlab_file(level: int, gitlab: dict[int, Path]) -> None:
    project = gitlab[level]
    config = json.loads((project / "renovate.json").read_text())
    assert "helpers:pinGitHubActionDigests" not in config["extends"]
    patterns = [p.strip("/") for p in config["gitlabci"]["managerFilePatterns"]]
    files = [
        ".gitlab-ci.yml",
        *(p.relative_to(project).as_posix() for p in project.glob(".gitlab/ci/*.yml")),
    ]
    for name in files:
        assert any(re.search(pattern, name) for pattern in patterns), name
    assert not any(re.search(pattern, "src/demo_model/data.py") for pattern in patterns)


def test_readme_names_the_gitlab_pipelines(gitlab: dict[int, Path]) -> None:
    readme = (gitlab[4] / "README.md").read_text()
    assert ".gitlab/ci/" in readme and ".github/workflows/" not in readme


# ------------------------------------------------- gitlab-ci-local, if present
# gitlab-ci-local (npm; .ci/gitlab-ci-local pins its last release for Node 20):
# GitLab's merge and rules as another implementation reads them, a check on the helpers
# above. Only --preview and --list are used, so no job runs (running one needs rsync).


def find_gitlab_ci_local() -> str | None:
    """GITLAB_CI_LOCAL (a path or a command; .ci/run sets it), else the one on PATH.

    Once the variable is set, the tests use it and fail if it is not there.
    """
    named = os.environ.get("GITLAB_CI_LOCAL")
    if named:
        return str(Path(named).resolve()) if os.sep in named else named
    return shutil.which("gitlab-ci-local")


GITLAB_CI_LOCAL = find_gitlab_ci_local()
needs_gitlab_ci_local = pytest.mark.skipif(
    not GITLAB_CI_LOCAL,
    reason="gitlab-ci-local is not installed: see CONTRIBUTING.md (CI installs it)",
)
COMPARED_KEYS = ("stage", "script", "before_script", "needs", "rules", "environment", "id_tokens")


def gitlab_ci_local(project: Path, *args: str) -> str:
    result = subprocess.run(
        [str(GITLAB_CI_LOCAL), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"HOME": str(project.parent)},  # its cache, away from the user's
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def committed_gitlab(gitlab: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each level's render in a git repository on main, as gitlab-ci-local needs."""
    base = tmp_path_factory.mktemp("gitlab-ci-local")
    projects = {}
    for level, source in gitlab.items():
        project = base / f"level{level}" / "project"
        shutil.copytree(source, project)
        commit_all(project, "generated")
        projects[level] = project
    return projects


@needs_gitlab_ci_local
@pytest.mark.parametrize("level", LEVELS)
def test_gitlab_ci_local_merges_the_pipeline_as_we_do(level: int, committed_gitlab: dict) -> None:
    project = committed_gitlab[level]
    preview = yaml.safe_load(gitlab_ci_local(project, "--preview"))
    theirs = {
        name: job
        for name, job in preview.items()
        if name not in GLOBAL_KEYS and not name.startswith(".") and isinstance(job, dict)
    }
    ours = pipeline_jobs(merged_config(project))
    assert sorted(theirs) == sorted(ours)
    for name, job in ours.items():
        # gitlab-ci-local spells each need out in full ({job: ..., artifacts: true}).
        needs = [need["job"] for need in theirs[name].get("needs", [])]
        assert needs == job.get("needs", []), name
        for key in COMPARED_KEYS:
            if key != "needs":
                assert theirs[name].get(key) == job.get(key), (name, key)
    assert [s for s in preview["stages"] if not s.startswith(".")] == merged_config(project)[
        "stages"
    ]


def listed_jobs(output: str) -> dict[str, str]:
    """Job name and `when` from `gitlab-ci-local --list`."""
    rows = [line.split() for line in output.splitlines()]
    header = next(n for n, row in enumerate(rows) if row[:1] == ["name"])
    return {row[0]: row[2] for row in rows[header + 1 :] if len(row) >= 4}


@needs_gitlab_ci_local
@pytest.mark.parametrize(
    "scenario", [name for name in SCENARIOS if expected_pipeline(4, name) is not None]
)
def test_gitlab_ci_local_chooses_the_same_jobs(scenario: str, committed_gitlab: dict) -> None:
    env = SCENARIOS[scenario]
    args = ["--list"]
    for name, value in env.items():
        args += ["--variable", f"{name}={value}"]
    if "CI_COMMIT_BRANCH" not in env:  # a merge-request pipeline has no branch variable
        args += ["--unset-variable", "CI_COMMIT_BRANCH"]
    listed = listed_jobs(gitlab_ci_local(committed_gitlab[4], *args))
    assert listed == expected_pipeline(4, scenario)


# ------------------------------------------------------------------- slow tier
def job_env(config: dict, job: dict, project: Path) -> dict[str, str]:
    """What a runner sets for a push pipeline on main, plus the pipeline's own variables."""
    from .test_generated import ENV

    env = ENV | {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(project),
        "CI_PIPELINE_SOURCE": "push",
        "CI_COMMIT_BRANCH": "main",
        "CI_DEFAULT_BRANCH": "main",
    }
    for name, value in (config.get("variables", {}) | job.get("variables", {})).items():
        env[name] = str(value)
    return env


def run_job(
    config: dict,
    name: str,
    repo: Path,
    workdir: Path,
    upstream: dict[str, Path] | None = None,
    variables: dict[str, str] | None = None,
) -> str:
    """A fresh clone of `repo` in `workdir`, then the job's lines in one bash, as a runner does.

    `upstream` maps the jobs it needs to their folders: their artifacts are copied in
    first, as the runner downloads them. `variables` stand for those other jobs set.
    The job's `cache:` paths are restored from, and saved to, `repo`'s sibling
    folder `runner-cache/` (every job here has the same key, uv.lock), as the runner
    does: the first job of a test starts with an empty cache and fills it.
    """
    job = pipeline_jobs(config)[name]
    git(repo, "clone", "--quiet", str(repo), str(workdir))
    [cache] = job["cache"]["paths"] if isinstance(job["cache"], dict) else [[]]
    store = repo.parent / "runner-cache" / cache
    if cache and store.is_dir():
        shutil.move(store, workdir / cache)
    jobs = pipeline_jobs(config)
    for need, folder in (upstream or {}).items():
        assert need in job.get("needs", []), f"{name} does not need {need}"
        for pattern in jobs[need].get("artifacts", {}).get("paths", []):
            for path in folder.glob(pattern.rstrip("/")):
                target = workdir / path.relative_to(folder)
                if path.is_dir():
                    shutil.copytree(path, target, dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
    script = "\n".join(lines(job))
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=workdir,
        env=job_env(config, job, workdir) | (variables or {}),
        capture_output=True,
        text=True,
    )
    if cache and (workdir / cache).is_dir():
        store.parent.mkdir(exist_ok=True)
        shutil.move(workdir / cache, store)
    assert result.returncode == 0, f"job {name} failed:\n{result.stdout}\n{result.stderr}"
    for pattern in job.get("artifacts", {}).get("paths", []):
        assert list(workdir.glob(pattern.rstrip("/"))), f"{name}: artifact {pattern} is missing"
    return result.stdout + result.stderr


def committed_with_lock(rendered: Path, factory: pytest.TempPathFactory) -> Path:
    """The project as its team pushes it: uv.lock written by `make install` and committed."""
    from .test_generated import make

    project = factory.mktemp("gitlab-repo") / rendered.name
    shutil.copytree(rendered, project)
    commit_all(project, "generated")
    make(project, "install")
    shutil.rmtree(project / ".venv")
    commit_all(project, "lock")
    return project


@pytest.mark.slow
def test_level1_jobs_run_and_leave_their_artifacts(
    gitlab: dict[int, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = committed_with_lock(gitlab[1], tmp_path_factory)
    config = merged_config(repo)
    stages = config["stages"]
    jobs = pipeline_jobs(config)
    runs = tmp_path_factory.mktemp("gitlab-jobs")
    order = sorted(
        pipeline(config, SCENARIOS["push to main"]), key=lambda n: stages.index(jobs[n]["stage"])
    )
    assert order == ["lint", "test", "build"]
    logs = {name: run_job(config, name, repo, runs / name) for name in order}

    assert "All checks passed!" in logs["lint"]
    # The coverage regex finds the total in the job log, as GitLab reads it.
    coverage = re.search(jobs["test"]["coverage"].strip("/"), logs["test"], re.MULTILINE)
    assert coverage and 80 <= float(coverage.group(1)) <= 100, logs["test"]
    report = jobs["test"]["artifacts"]["reports"]
    assert report["coverage_report"]["coverage_format"] == "cobertura"
    cobertura = ET.parse(runs / "test" / report["coverage_report"]["path"]).getroot()
    assert cobertura.tag == "coverage" and float(cobertura.get("line-rate")) >= 0.8
    assert any("demo_model" in (c.get("filename") or "") for c in cobertura.iter("class"))
    junit = ET.parse(runs / "test" / report["junit"]).getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert int(suite.get("tests")) > 0 and suite.get("failures") == "0"
    assert [p.name for p in (runs / "build" / "dist").glob("*.whl")] == [
        "demo_model-0.1.0-py3-none-any.whl"
    ]


@pytest.mark.slow
def test_level2_training_job_runs_and_keeps_the_model_and_report(
    gitlab: dict[int, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = committed_with_lock(gitlab[2], tmp_path_factory)
    config = merged_config(repo)
    assert pipeline(config, SCENARIOS["training schedule"]) == {"train": "on_success"}
    workdir = tmp_path_factory.mktemp("gitlab-train") / "train"
    run_job(config, "train", repo, workdir)
    assert (workdir / "reports" / "model_card.md").is_file()
    assert json.loads((workdir / "data/processed/data.json").read_text())
    assert (workdir / "models" / "model.skops").stat().st_size > 0
    assert os.listdir(workdir / "reports")


# ------------------------------------------------------------ switching later
def edit_outside_ci(project: Path) -> None:
    """A team's edits that have nothing to do with CI: they must survive a switch."""
    from .test_climb import OUR_FUNCTION, OUR_TEST, edit_like_a_user

    edit_like_a_user(project)
    with (project / "src/demo_model/features.py").open("a") as features:
        features.write(OUR_FUNCTION)
    (project / "tests/test_ratio.py").write_text(OUR_TEST)


SWITCHES = [(level, how) for level in LEVELS for how in ("copier update", "mlops-ladder update")]


@pytest.mark.parametrize(
    ("level", "how"),
    tiered(SWITCHES, fast=[(2, "mlops-ladder update")]),
)
def test_switching_to_gitlab_equals_a_fresh_gitlab_copy_with_our_edits(
    level: int,
    how: str,
    rendered: dict[int, Path],
    rendered_gitlab: dict[int, Path],
    tmp_path: Path,
) -> None:
    from mlops_ladder.embedded import EMBEDDED_SOURCE
    from mlops_ladder.render import write_source

    from .conftest import run_cli, snapshot

    project = tmp_path / "project"
    shutil.copytree(rendered[level], project)
    commit_all(project, "generated with GitHub Actions")
    edit_outside_ci(project)
    commit_all(project, "our edits")

    if how == "copier update":
        command = [sys.executable, "-m", "copier", "update", "--defaults"]
        command += ["-d", "ci_provider=gitlab", "--vcs-ref=:current:"]
        result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    else:
        result = run_cli("update", "-d", "ci_provider=gitlab", cwd=project)
        assert "Files deleted: .github/workflows/ci.yml" in result.stdout
    assert result.returncode == 0, result.stdout + result.stderr

    expected = tmp_path / "expected"
    shutil.copytree(rendered_gitlab[level], expected)
    edit_outside_ci(expected)
    if how != "copier update":  # the CLI records the embedded template's portable source
        write_source(expected, EMBEDDED_SOURCE)
    after = snapshot(project)
    assert not [name for name, data in after.items() if b"<<<<<<<" in data]
    assert after == snapshot(expected)
    assert not (project / ".github").exists()


def test_update_refuses_a_level_or_an_unknown_provider_and_changes_nothing(
    rendered: dict[int, Path], tmp_path: Path
) -> None:
    from .conftest import assert_refused, run_cli, snapshot

    project = tmp_path / "project"
    shutil.copytree(rendered[1], project)
    commit_all(project, "generated")
    before = snapshot(project)
    assert_refused(run_cli("update", "-d", "mlops_level=2", cwd=project), "update keeps the level")
    result = run_cli("update", "-d", "ci_provider=bitbucket", cwd=project)
    assert_refused(result, "'bitbucket' is not in ['github', 'gitlab']")
    assert snapshot(project) == before
    assert git(project, "status", "--porcelain") == ""


def test_runbook_says_how_to_stop_the_gitlab_schedule(
    rendered: dict[int, Path], rendered_gitlab: dict[int, Path]
) -> None:
    gitlab_runbook = (rendered_gitlab[4] / "RUNBOOK.md").read_text()
    assert "Pipeline schedules" in gitlab_runbook and "gh workflow" not in gitlab_runbook
    assert "gh workflow disable monitor.yml" in (rendered[4] / "RUNBOOK.md").read_text()


# The delivery jobs that cannot run here, and why; every other job runs in the test below.
NEEDS_REGISTRY_OR_CLOUD = {
    "build-image": "Buildah pushes the candidate to the project's container registry",
    "container-tests": "the runner starts the candidate image from the registry as a service",
    "publish": "Buildah copies the candidate to the release tag in the registry",
    "staging": "the AWS CLI trades a GitLab ID token for a role, then kubectl applies to EKS",
    "production": "the same, for production",
}
# What `publish` hands on (its dotenv report), standing in for the registry's answer.
RELEASED_IMAGE = "registry.example.com/team/demo-model@sha256:" + "ab" * 32


@pytest.mark.slow
def test_level3_delivery_jobs_that_need_no_registry_run_in_order(
    gitlab: dict[int, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = committed_with_lock(gitlab[3], tmp_path_factory)
    config = merged_config(repo)
    delivery = [
        name for name in pipeline(config, SCENARIOS["push to main"]) if name in DELIVERY_JOBS
    ]
    assert set(delivery) - set(NEEDS_REGISTRY_OR_CLOUD) == {"challenger", "release-record"}
    runs = tmp_path_factory.mktemp("gitlab-delivery")
    log = run_job(config, "challenger", repo, runs / "challenger")
    assert "Promoted" in log or "champion" in log, log
    gate = json.loads((runs / "challenger/reports/gate.json").read_text())
    assert gate["challenger"]["version"]
    assert list((runs / "challenger/models/serving").glob("*/lineage.json"))
    run_job(
        config,
        "release-record",
        repo,
        runs / "release-record",
        upstream={"challenger": runs / "challenger"},
        variables={"RELEASED_IMAGE": RELEASED_IMAGE},
    )
    record = json.loads((runs / "release-record/reports/release.json").read_text())
    assert RELEASED_IMAGE in json.dumps(record)


def test_the_level_docs_say_what_each_level_adds_on_either_provider() -> None:
    from mlops_ladder.catalogue import ci_table

    from .conftest import ROOT

    table = ci_table(CATALOGUE)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert sorted(rows) == ["1", "2", "3", "4"]
    for capability in CATALOGUE.capabilities:
        for names in capability.ci_files.values():
            for name in names:
                assert f"`{name}`" in rows[str(capability.level)], name
    assert "\n<!-- generated: ci-table -->\n" in (ROOT / "docs/reference/levels.md").read_text()


def test_status_checks_the_files_of_the_projects_own_provider(
    rendered_gitlab: dict[int, Path], tmp_path: Path
) -> None:
    from mlops_ladder.project import check_health, load_project

    project = tmp_path / "project"
    shutil.copytree(rendered_gitlab[4], project)
    assert check_health(load_project(project), CATALOGUE).ok
    (project / ".gitlab/ci/monitor.yml").unlink()
    findings = check_health(load_project(project), CATALOGUE).findings
    assert [(f.capability.id, f.name) for f in findings] == [
        ("monitoring_ci", ".gitlab/ci/monitor.yml")
    ]
