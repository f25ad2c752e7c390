"""Build, fit, evaluate, save and load the model."""

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from .data import TARGET, split_features
from .errors import ProjectError
from .features import build_preprocessor
from .paths import MODEL_PATH

SEED = 42
# Every type a saved model may hold. Loading refuses a file that names any other,
# so a model file cannot run code (a pickle or joblib file can). When you change
# the model, add the types the error names, once you have read their code.
TRUSTED_TYPES = (
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.slice",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
)


class UntrustedModelError(ProjectError, ValueError):
    """A model file that is not a skops file, or names a type outside TRUSTED_TYPES."""


def build_model(features: pd.DataFrame, *, c: float = 1.0, seed: int = SEED) -> Pipeline:
    """A scaled logistic regression: a strong, fast baseline for tabular data."""
    classifier = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    return Pipeline([("features", build_preprocessor(features)), ("classifier", classifier)])


def split(
    frame: pd.DataFrame, *, test_size: float = 0.25, seed: int = SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified train/test split of the rows."""
    return train_test_split(frame, test_size=test_size, random_state=seed, stratify=frame[TARGET])


def train(frame: pd.DataFrame, *, c: float = 1.0, seed: int = SEED) -> Pipeline:
    """Fit a new model on every row of `frame`."""
    features, target = split_features(frame)
    return build_model(features, c=c, seed=seed).fit(features, target)


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict[str, float]:
    """Accuracy and ROC AUC of `model` on the labelled rows of `frame`."""
    features, target = split_features(frame)
    return {
        "accuracy": float(accuracy_score(target, model.predict(features))),
        "roc_auc": float(roc_auc_score(target, model.predict_proba(features)[:, 1])),
    }


def save_model(model: Pipeline, path: Path = MODEL_PATH) -> Path:
    """Save `model` with skops, after checking that it will load back.

    The same model gives the same bytes, so DVC and git see a retrain on the same
    data and parameters as no change.
    """
    data = reproducible(skops.io.dumps(model))
    read_model(data, "the model")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def reproducible(data: bytes) -> bytes:
    """The skops archive `data` with fixed timestamps, arrays and ids numbered in order.

    skops stamps each file with the time, and names arrays and objects after their
    memory addresses; without this, every save of the same model would differ.
    """
    target = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(target, "w") as archive:
        files = source.namelist()
        names = {old: f"{n}.npy" for n, old in enumerate(files) if old.endswith(".npy")}
        for name in files:
            content = source.read(name)
            if name == "schema.json":
                content = _renumbered(json.loads(content), names)
            archive.writestr(zipfile.ZipInfo(names.get(name, name)), content)
    return target.getvalue()


def _renumbered(schema: Any, names: dict[str, str]) -> bytes:
    """schema.json with array files renamed by `names` and object ids by order of appearance."""
    ids: dict[int, int] = {}
    pending = [schema]
    while pending:
        node = pending.pop(0)
        if isinstance(node, dict):
            if "__id__" in node:
                node["__id__"] = ids.setdefault(node["__id__"], len(ids))
            if node.get("file") in names:
                node["file"] = names[node["file"]]
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return json.dumps(schema, indent=2).encode()


def load_model(path: Path = MODEL_PATH) -> Pipeline:
    """Load a model saved by `save_model`; nothing in the file can run code."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no model at {path}: train one first (make train, or make run-notebook below level 2)"
        )
    return read_model(path.read_bytes(), str(path))


def read_model(data: bytes, source: str) -> Pipeline:
    """The Pipeline in a skops file, built only after every type in it is found trusted."""
    untrusted = sorted(types_in(data, source) - set(TRUSTED_TYPES))
    if untrusted:
        raise UntrustedModelError(
            f"{source} holds types this project does not load: {', '.join(untrusted)} "
            "(TRUSTED_TYPES in model.py lists the ones it does)"
        )
    try:
        model = skops.io.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as error:  # skops refuses, or the file is damaged
        raise UntrustedModelError(f"{source} does not load: {error}") from error
    if not isinstance(model, Pipeline):
        raise UntrustedModelError(f"{source} holds a {type(model).__name__}, not a Pipeline")
    return model


def types_in(data: bytes, source: str) -> set[str]:
    """Every type a skops file names, read from its schema: nothing is imported or run."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError) as error:
        raise UntrustedModelError(f"{source} is not a skops model file") from error
    found: set[str] = set()
    pending: list[object] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found
