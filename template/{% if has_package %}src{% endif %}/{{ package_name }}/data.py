"""Load the training data and check it against the schema the model expects."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype
from sklearn.datasets import load_breast_cancer

from .errors import ProjectError
from .paths import RAW_DIR

TARGET = "target"


class SchemaError(ProjectError, ValueError):
    """The data does not have the columns or values the model needs."""


def snake_case(name: str) -> str:
    """Normalise a column name: "Mean Radius" becomes "mean_radius"."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def load_demo() -> pd.DataFrame:
    """scikit-learn's bundled breast-cancer data set: 569 rows, 30 features."""
    return load_breast_cancer(as_frame=True).frame.rename(columns=snake_case)


def find_raw_csv(raw_dir: Path = RAW_DIR) -> Path | None:
    """The first CSV in data/raw/ by name, or None when there is none."""
    return next(iter(sorted(raw_dir.glob("*.csv"))), None)


def load_dataset(path: Path | None = None, raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """Load `path`, else the first CSV in `raw_dir`, else the demo data; then validate it."""
    source = path or find_raw_csv(raw_dir)
    frame = load_demo() if source is None else pd.read_csv(source).rename(columns=snake_case)
    validate(frame)
    return frame


def validate(frame: pd.DataFrame, *, require_target: bool = True) -> None:
    """Raise SchemaError naming the first problem that would make training or scoring wrong."""
    if frame.empty:
        raise SchemaError("the data has no rows")
    if require_target:
        _check_target(frame)
    features = frame.drop(columns=[TARGET], errors="ignore")
    if features.columns.empty:
        raise SchemaError("the data has no feature columns")
    non_numeric = [name for name, column in features.items() if not is_numeric_dtype(column)]
    if non_numeric:
        raise SchemaError(f"feature columns must be numeric: {', '.join(non_numeric)}")
    not_finite = [name for name, column in features.items() if not np.isfinite(column).all()]
    if not_finite:
        raise SchemaError(f"missing or infinite values in feature columns: {', '.join(not_finite)}")


def _check_target(frame: pd.DataFrame) -> None:
    if TARGET not in frame.columns:
        raise SchemaError(f"no '{TARGET}' column: add one with the label (0 or 1) of each row")
    labels = set(frame[TARGET].dropna().unique())
    if frame[TARGET].isna().any() or not labels <= {0, 1}:
        raise SchemaError(f"'{TARGET}' must hold only 0 and 1, found {sorted(labels)[:5]}")


def split_features(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Separate the feature columns from the target column."""
    return frame.drop(columns=[TARGET]), frame[TARGET]
