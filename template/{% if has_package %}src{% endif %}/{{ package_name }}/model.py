"""Build, fit, evaluate, save and load the model."""

from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from .data import TARGET, split_features
from .features import build_preprocessor

MODEL_PATH = Path("models/model.joblib")
SEED = 42


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
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    return path


def load_model(path: Path = MODEL_PATH) -> Pipeline:
    """Load a model saved by this project. Loading runs code: only load files you made."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no model at {path}: train one first (make train, or make run-notebook below level 2)"
        )
    return joblib.load(path)
