"""The scoring command: read rows from a CSV, write a prediction for each."""

import argparse
import sys
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from .data import SchemaError, snake_case, validate
from .model import MODEL_PATH, UntrustedModelError, load_model


def score(model: Pipeline, rows: pd.DataFrame) -> pd.DataFrame:
    """Predictions and positive-class probabilities for `rows`, checked against the model.

    Columns the model was not trained on (an id, say) are ignored.
    """
    rows = rows.rename(columns=snake_case)
    expected = list(model.feature_names_in_)
    missing = [name for name in expected if name not in rows.columns]
    if missing:
        raise SchemaError(f"missing feature columns: {', '.join(missing)}")
    features = rows[expected]
    validate(features, require_target=False)
    return pd.DataFrame(
        {
            "prediction": model.predict(features),
            "probability": model.predict_proba(features)[:, 1].round(6),
        },
        index=rows.index,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("input", type=Path, help="CSV of rows to score")
    parser.add_argument("-o", "--output", type=Path, help="CSV to write (default: stdout)")
    parser.add_argument("-m", "--model", type=Path, default=MODEL_PATH, help="model file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        model = load_model(args.model)
        predictions = score(model, pd.read_csv(args.input))
    except (FileNotFoundError, SchemaError, UntrustedModelError, pd.errors.ParserError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    predictions.to_csv(args.output or sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
