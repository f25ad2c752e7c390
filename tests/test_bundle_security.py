"""Nothing a generated project saves or loads can run code (issue 10, item 3).

The generated projects' own tests build the payloads and show they are refused;
these checks keep the template from drifting back to code-running formats.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue

TEMPLATE = Path(__file__).resolve().parents[1] / "template"
CODE_RUNNING = re.compile(r"(joblib|pickle|cloudpickle)\.(dump|load)")
OFFERED = load_catalogue().offered


def template_files() -> list[Path]:
    return [path for path in TEMPLATE.rglob("*") if path.is_file()]


def test_no_pickle_joblib_or_cloudpickle_dump_or_load_in_the_template() -> None:
    found = [
        f"{path.relative_to(TEMPLATE)}: {line.strip()}"
        for path in template_files()
        for line in path.read_text(encoding="utf-8").splitlines()
        if CODE_RUNNING.search(line)
    ]
    assert found == []


def test_nothing_trusts_everything_or_what_a_file_declares() -> None:
    for path in template_files():
        text = path.read_text(encoding="utf-8")
        assert "trusted=True" not in text, path
        generated_test = path.relative_to(TEMPLATE).parts[0].startswith("{% if has_tests")
        assert "mlflow.sklearn.load_model" not in text or generated_test, path


@pytest.mark.parametrize("level", OFFERED)
def test_every_level_names_the_skops_model_file(level: int, rendered: dict[int, Path]) -> None:
    project = rendered[level]
    assert "skops" in (project / "pyproject.toml").read_text()
    if level == 0:
        notebook = json.loads((project / "notebooks" / "01-baseline.ipynb").read_text())
        code = "".join("".join(cell["source"]) for cell in notebook["cells"])
        assert 'ROOT / "models" / "model.skops"' in code and "skops.io.dump(" in code
        assert "trusted=[]" in code
    else:
        model = (project / "src" / "demo_model" / "model.py").read_text()
        paths = (project / "src" / "demo_model" / "paths.py").read_text()
        assert 'MODEL_PATH = Path("models/model.skops")' in paths
        assert "TRUSTED_TYPES = (" in model and "skops.io.loads(data, trusted=" in model
    if level >= 2:
        dvc = yaml.safe_load((project / "dvc.yaml").read_text())
        assert "models/model.skops" in dvc["stages"]["train"]["outs"]
        tracking = (project / "src" / "demo_model" / "tracking.py").read_text()
        # The switch MLflow's installed version knows: the new name, else the old one.
        assert '"MLFLOW_ALLOW_MODEL_CODE_EXECUTION"\n    if hasattr(' in tracking
        assert 'else "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"' in tracking
        assert 'os.environ[LOADER_SWITCH] = "false"' in tracking


@pytest.mark.parametrize("level", [level for level in OFFERED if level >= 3])
def test_the_deployment_mounts_the_signing_key(level: int, rendered: dict[int, Path]) -> None:
    project = rendered[level]
    deployment = yaml.safe_load((project / "deploy/k8s/base/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert env["MODEL_SIGNING_KEY_FILE"] == f"{mounts['model-signing']}/key"
    [volume] = [volume for volume in pod["volumes"] if volume["name"] == "model-signing"]
    assert volume["secret"]["secretName"] == "demo-model-model-signing"
    compose = yaml.safe_load((project / "deploy/compose.yaml").read_text())
    assert "MODEL_SIGNING_KEY" in compose["services"]["service"]["environment"]
    package = project / "src" / "demo_model"
    bundle = (package / "bundle.py").read_text() + (package / "serving.py").read_text()
    assert 'KEY_VARIABLE = "MODEL_SIGNING_KEY"' in bundle  # serving.py: the reader, no MLflow
    assert "hmac.compare_digest(" in bundle
