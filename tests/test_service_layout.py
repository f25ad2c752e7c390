"""The service reads as one program per level.

service.py is plain Python at level 3; each level-4 capability that touches the
service brings its own module, which the service picks up with no Jinja in its
body. Copier computes the has_* flags from the level and no answer overrides
them, so each case renders a copy of this template whose copier.yml switches on
one level-4 capability at level 3: the real path gating and the real Jinja
settings, one capability alone.
"""

import ast
import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from copier import run_copy

from .conftest import ANSWERS, ROOT, tiered

SERVICE_TEMPLATE = (
    ROOT
    / "template"
    / "{% if has_package %}src{% endif %}"
    / "{{ package_name }}"
    / "{% if has_service %}service.py{% endif %}"
)
# The level-4 capabilities that add to the service, and the module each brings.
ALONE = {
    "prediction_logging": {"prediction_log.py"},
    "metrics": {"metrics.py"},
    "drift_detection": set(),  # `make monitor` only: its gauges are the metrics module's
    "retraining": {"reload.py"},
}
EXTENSIONS = {"prediction_log.py", "metrics.py", "reload.py"}
# The fast tier renders one capability alone: retraining, where a review once found
# DRIFT_JSON imported under has_retraining but used under has_metrics.
CASES = tiered([None, *ALONE], fast=["retraining"])


def render_with_only(capability: str | None, dest: Path) -> Path:
    """A level-3 project of a copy of this template with `capability` switched on."""
    template = dest.parent / f"template-{capability}"
    for name in ("copier.yml", "levels.yml"):
        template.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, template / name)
    for name in ("includes", "template"):
        shutil.copytree(ROOT / name, template / name)
    if capability is not None:
        settings = template / "copier.yml"
        flag = re.compile(
            rf'(has_{capability}:\n(?:  .*\n)*?  default: )"\{{\{{ mlops_level >= [^"]*"'
        )
        text, found = flag.subn(r'\1"{{ true }}"', settings.read_text())
        assert found == 1, f"copier.yml has no computed has_{capability}"
        settings.write_text(text)
    run_copy(str(template), dest, data=ANSWERS | {"mlops_level": 3}, defaults=True, quiet=True)
    return dest / "src" / "demo_model"


Alone = Callable[[str | None], Path]


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> Alone:
    """The package rendered at level 3 (None) or with one capability alone, when first asked."""
    base = tmp_path_factory.mktemp("alone")
    return functools.cache(lambda case: render_with_only(case, base / str(case)))


def test_service_is_a_plain_file_with_no_jinja() -> None:
    assert SERVICE_TEMPLATE.is_file() and not SERVICE_TEMPLATE.with_suffix(".py.jinja").exists()
    text = SERVICE_TEMPLATE.read_text()
    assert not re.search(r"\{\{|\{%|\{#", text)


def test_route_handlers_are_at_module_level_and_create_app_is_short() -> None:
    tree = ast.parse(SERVICE_TEMPLATE.read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    create_app = functions["create_app"]
    assert create_app.end_lineno - create_app.lineno < 25
    nested = [node for node in ast.walk(create_app) if isinstance(node, ast.AsyncFunctionDef)]
    assert not nested and not any(isinstance(n, ast.FunctionDef) for n in create_app.body)
    routes = {
        node.name
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef) and node.decorator_list
    }
    assert {"health", "ready", "metadata", "predict"} <= routes


@pytest.mark.parametrize("case", CASES)
def test_each_capability_alone_adds_only_its_module(case: str | None, alone: Alone) -> None:
    present = {path.name for path in alone(case).glob("*.py")} & EXTENSIONS
    assert present == (ALONE[case] if case else set())
    assert (alone(case) / "service.py").read_bytes() == SERVICE_TEMPLATE.read_bytes()


@pytest.mark.parametrize("case", CASES)
def test_each_capability_alone_is_ruff_clean(case: str | None, alone: Alone) -> None:
    project = alone(case).parents[1]
    ruff = [sys.executable, "-m", "ruff"]
    for command in (["check", "--no-cache", "src"], ["format", "--check", "--no-cache", "src"]):
        result = subprocess.run([*ruff, *command], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def defined(module: Path) -> set[str]:
    """The names a module defines at its top level."""
    names: set[str] = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return names


def imported_modules(package: Path, start: str) -> dict[str, set[str]]:
    """Every package module `start` imports, directly or not, with the names taken from it."""
    seen: dict[str, set[str]] = {}
    todo = [start]
    while todo:
        module = package / f"{todo.pop()}.py"
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module is None:  # from . import a, b
                    targets = {alias.name: set() for alias in node.names}
                else:
                    targets = {node.module: {alias.name for alias in node.names}}
                for target, names in targets.items():
                    if target not in seen:
                        todo.append(target)
                    seen.setdefault(target, set()).update(names)
    return seen


@pytest.mark.parametrize("case", CASES)
def test_each_capability_alone_imports_only_what_it_renders(case: str | None, alone: Alone) -> None:
    """Every module the service and its extensions import exists, with every name taken."""
    package = alone(case)
    starts = ["service", *(name.removesuffix(".py") for name in ALONE.get(case) or ())]
    for start in starts:
        for module, names in imported_modules(package, start).items():
            path = package / f"{module}.py"
            assert path.is_file(), f"{start} imports .{module}, which this render lacks"
            assert names <= defined(path), (start, module, names - defined(path))


@pytest.mark.slow
def test_each_capability_alone_imports_in_a_real_environment(
    alone: Alone, rendered: dict[int, Path], tmp_path_factory
) -> None:
    """The service and the extensions it finds import with the level-4 dependencies."""
    from .test_generated import installed_copy

    python = installed_copy(rendered[4], tmp_path_factory) / ".venv" / "bin" / "python"
    probe = (
        "import demo_model.service as s; "
        "print(sorted(f.__module__.split('.')[-1] for f in s.extensions()))"
    )
    for case in [None, *ALONE]:
        package = alone(case)
        env = {"PYTHONPATH": str(package.parent), "PATH": "/usr/bin:/bin"}
        result = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, env=env, cwd=package.parent
        )
        assert result.returncode == 0, (case, result.stderr)
        expected = sorted(name.removesuffix(".py") for name in (ALONE.get(case) or ()))
        assert result.stdout.strip() == str(expected), case
