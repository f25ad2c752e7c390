"""Levels 3 and 4: delivery and monitoring files, checked as rendered."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import project_commands

PINNED = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}")
DIGEST = "ghcr.io/team/demo-model@sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def level3(rendered: dict[int, Path]) -> Path:
    return rendered[3]


def test_level3_commands(level3: Path) -> None:
    scripts = tomllib.loads((level3 / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"demo-model": "demo_model.cli:main"}
    assert project_commands(level3) == {
        "score",
        "train",
        "promote",
        "validate",
        "bundle",
        "ab-report",
        "release-record",
        "serve",
    }
    makefile = (level3 / "Makefile").read_text()
    for target in ("validate", "bundle", "serve", "ab-report", "image", "integration"):
        assert re.search(rf"^{target}:.*## ", makefile, re.MULTILINE), target
    assert "\nlogs/\n" in (level3 / ".gitignore").read_text()


@pytest.mark.parametrize("level", [2, 3])
def test_gate_and_serving_settings_only_from_level3(level: int, rendered: dict[int, Path]) -> None:
    params = yaml.safe_load((rendered[level] / "params.yaml").read_text())
    if level < 3:
        assert "gate" not in params and "serve" not in params
        return
    assert params["gate"] == {"min_roc_auc": 0.9, "min_accuracy": 0.85, "min_improvement": 0.0}
    assert params["serve"] == {
        "challenger_weight": 0.1,
        "max_rows": 1000,
        "max_body_bytes": 1_000_000,
    }


def test_deploy_workflow_gates_tests_and_deploys_in_order(level3: Path) -> None:
    workflow = yaml.safe_load((level3 / ".github/workflows/deploy.yml").read_text())
    assert set(workflow[True]) == {"push", "workflow_dispatch"}
    assert workflow[True]["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert jobs["release"]["permissions"] == {"contents": "read", "packages": "write"}
    runs = [step["run"] for step in jobs["release"]["steps"] if "run" in step]
    order = ["make install", "make train", "make validate", "make promote VERSION="]
    order += ["make image", "docker run", "make integration", "docker push"]
    order += ["make release-record"]
    positions = [next(i for i, run in enumerate(runs) if step in run) for step in order]
    assert positions == sorted(positions)
    for name, needs in [("staging", "release"), ("production", ["release", "staging"])]:
        job = jobs[name]
        assert job["environment"] == name and job["needs"] == needs
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert job["steps"][-1]["run"] == f'deploy/k8s/deploy.sh {name} "$IMAGE"'
    uses = [step["uses"] for job in jobs.values() for step in job["steps"] if "uses" in step]
    assert all(PINNED.fullmatch(item) for item in uses)


def test_deploy_workflow_holds_no_long_lived_credentials(level3: Path) -> None:
    text = (level3 / ".github/workflows/deploy.yml").read_text()
    for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET", "password:"):
        assert forbidden not in text
    assert "role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}" in text


@pytest.mark.parametrize(
    ("level", "name"), [(2, "train.yml"), (3, "deploy.yml"), (4, "monitor.yml")]
)
def test_values_reach_scripts_through_env_never_inline(
    level: int, name: str, rendered: dict[int, Path]
) -> None:
    workflow = yaml.safe_load((rendered[level] / ".github/workflows" / name).read_text())
    runs = [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]
    assert runs and not [run for run in runs if "${{" in run]


def test_an_ab_test_run_skips_only_the_promotion(level3: Path) -> None:
    workflow = yaml.safe_load((level3 / ".github/workflows/deploy.yml").read_text())
    assert workflow[True]["workflow_dispatch"]["inputs"]["ab_test"]["type"] == "boolean"
    steps = workflow["jobs"]["release"]["steps"]
    conditional = [step for step in steps if "if" in step and "always" not in step["if"]]
    conditional = [step for step in conditional if "failure()" not in step["if"]]
    assert [step["run"] for step in conditional] == [
        'make promote VERSION="$(jq --raw-output .challenger.version reports/gate.json)"'
    ]
    assert conditional[0]["if"] == "${{ !inputs.ab_test }}"


def dockerfile_stages(text: str) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck(level3: Path) -> None:
    text = (level3 / "Dockerfile").read_text()
    stages = dockerfile_stages(text)
    assert len(stages) == 3
    runtime = stages[-1]
    assert runtime[0] == "FROM python:3.11-slim-bookworm AS runtime"
    assert "USER 10001" in runtime
    assert any(line.startswith("HEALTHCHECK ") for line in runtime)
    assert "demo_model.service:create_app" in runtime[-1] and runtime[-1].startswith("CMD [")
    for stage in stages:
        image = stage[0].split()[1]
        assert re.fullmatch(r"[\w./-]+:[\w.-]*\d[\w.-]*", image), image  # a versioned tag
    assert "uv sync --locked --no-dev" in text


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "deploy/mlflow/Dockerfile"])
def test_hadolint_finds_nothing(level3: Path, dockerfile: str) -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--format", "json", str(level3 / dockerfile)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stdout


def test_dockerignore_sends_only_what_the_image_copies(level3: Path) -> None:
    lines = (level3 / ".dockerignore").read_text().splitlines()
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert "*" in lines
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src/", "params.yaml"} | {
        "models/serving/"
    }


def test_renovate_pins_docker_digests_only_with_a_dockerfile(rendered: dict[int, Path]) -> None:
    assert "docker" not in json.loads((rendered[2] / "renovate.json").read_text())
    assert json.loads((rendered[3] / "renovate.json").read_text())["docker"] == {"pinDigests": True}


def test_kubernetes_deployment_rolls_safely(level3: Path) -> None:
    deployment = yaml.safe_load((level3 / "deploy/k8s/base/deployment.yaml").read_text())
    spec = deployment["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {m["mountPath"] for m in container["volumeMounts"]} == {
        "/app/logs",
        "/tmp",
        "/var/run/secrets/model-signing",  # the bundle-signing key, read-only
    }


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not found")
@pytest.mark.parametrize(("environment", "replicas"), [("staging", 1), ("production", 3)])
def test_deploy_script_renders_the_overlay_with_the_released_image(
    level3: Path, environment: str, replicas: int
) -> None:
    result = subprocess.run(
        ["bash", "deploy/k8s/deploy.sh", environment, DIGEST],
        cwd=level3,
        env={"DRY_RUN": "1", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    manifests = {doc["kind"]: doc for doc in yaml.safe_load_all(result.stdout)}
    assert set(manifests) == {"Namespace", "Service", "Deployment"}
    deployment = manifests["Deployment"]
    assert deployment["metadata"]["namespace"] == f"demo-model-{environment}"
    assert deployment["spec"]["replicas"] == replicas
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == DIGEST
    assert not list((level3 / "deploy/k8s").glob(".release.*"))  # its scratch folder is gone


def test_deploy_script_refuses_a_tag_instead_of_a_digest(level3: Path) -> None:
    result = subprocess.run(
        ["bash", "deploy/k8s/deploy.sh", "staging", "ghcr.io/team/demo-model:latest"],
        cwd=level3,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "deploy by digest" in result.stderr


def test_local_stack_binds_to_loopback_and_needs_a_password(level3: Path) -> None:
    compose = yaml.safe_load((level3 / "deploy/compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "mlflow", "service"}
    ports = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")
    assert compose["services"]["service"]["read_only"] is True
    server = compose["services"]["mlflow"]["command"]
    assert any(arg.startswith("--backend-store-uri=postgresql://") for arg in server)


@pytest.fixture(scope="module")
def level4(rendered: dict[int, Path]) -> Path:
    return rendered[4]


def test_level4_commands_and_settings(level3: Path, level4: Path) -> None:
    assert project_commands(level4) - project_commands(level3) == {"monitor", "retrain"}
    makefile = (level4 / "Makefile").read_text()
    for target in ("monitor", "retrain"):
        assert re.search(rf"^{target}:.*## ", makefile, re.MULTILINE), target
    monitor = yaml.safe_load((level4 / "params.yaml").read_text())["monitor"]
    assert monitor["psi_threshold"] == 0.2 and monitor["reload_seconds"] == 5


def test_monitor_workflow_checks_and_starts_deploy(level4: Path) -> None:
    workflow = yaml.safe_load((level4 / ".github/workflows/monitor.yml").read_text())
    assert set(workflow[True]) == {"schedule", "workflow_dispatch"}
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["monitor"]
    assert job["permissions"] == {"contents": "read", "id-token": "write", "actions": "write"}
    runs = [step["run"] for step in job["steps"] if "run" in step]
    order = ["make install", "demo-model train prepare", "demo-model retrain --dry-run"]
    order += ["gh workflow run deploy.yml"]
    positions = [next(i for i, run in enumerate(runs) if step in run) for step in order]
    assert positions == sorted(positions)
    assert all("${{" not in run for run in runs)
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert all(PINNED.fullmatch(item) for item in uses)


def test_alert_rules_and_dashboard_are_well_formed(level4: Path) -> None:
    rules = yaml.safe_load((level4 / "deploy/monitoring/alerts.yml").read_text())
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert names == ["ServiceErrors", "SlowPredictions", "ModelDriftDetected", "NoPredictions"]
    runbook = (level4 / "RUNBOOK.md").read_text()
    assert all(f"### {name}\n" in runbook for name in names)
    dashboard = json.loads((level4 / "deploy/monitoring/dashboard.json").read_text())
    assert len(dashboard["panels"]) >= 6
    assert all(panel["targets"][0]["expr"] for panel in dashboard["panels"])
    scrape = yaml.safe_load((level4 / "deploy/monitoring/prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["service:8000"]


@pytest.mark.parametrize("level", [3, 4])
def test_prometheus_only_from_level4(level: int, rendered: dict[int, Path]) -> None:
    compose = yaml.safe_load((rendered[level] / "deploy/compose.yaml").read_text())
    deployment = yaml.safe_load((rendered[level] / "deploy/k8s/base/deployment.yaml").read_text())
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if level < 4:
        assert "prometheus" not in compose["services"] and not annotations
        return
    assert compose["services"]["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]
    assert annotations["prometheus.io/path"] == "/metrics"
