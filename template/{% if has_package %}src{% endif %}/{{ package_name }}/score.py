"""The scoring command: read rows from a CSV, write a prediction for each.

Columns the model does not use (an id, say) are copied to the output unchanged,
so predictions join back to their rows by key: `--keep COLUMN` copies only the
named ones, `--no-keep` none.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from .data import SchemaError, snake_case, validate
from .errors import handle
from .model import load_model
from .paths import MODEL_PATH

OUTPUTS = ("prediction", "probability")


def score(model: Pipeline, rows: pd.DataFrame, keep: Sequence[str] | None = None) -> pd.DataFrame:
    """Predictions and positive-class probabilities for `rows`, checked against the model.

    The columns named in `keep` (by default every column that is not a feature)
    come first in the result, under their own names and with their own values.
    """
    expected = list(model.feature_names_in_)
    named = rows.rename(columns=snake_case)
    missing = [name for name in expected if name not in named.columns]
    if missing:
        raise SchemaError(f"missing feature columns: {', '.join(missing)}")
    features = named[expected]
    validate(features, require_target=False)
    predictions = pd.DataFrame(
        {
            "prediction": model.predict(features),
            "probability": model.predict_proba(features)[:, 1].round(6),
        },
        index=rows.index,
    )
    return pd.concat([rows[kept_columns(rows, expected, keep)], predictions], axis=1)


def kept_columns(rows: pd.DataFrame, features: list[str], keep: Sequence[str] | None) -> list[str]:
    """The input columns to copy to the output: `keep`, or every non-feature column."""
    if keep is None:
        keep = [name for name in rows.columns if snake_case(name) not in features]
    unknown = [name for name in keep if name not in rows.columns]
    if unknown:
        raise SchemaError(f"no column to keep named: {', '.join(unknown)}")
    clashes = [name for name in keep if name in OUTPUTS]
    if clashes:
        raise SchemaError(
            f"column {', '.join(clashes)} would clash with the predictions: "
            "rename it, or leave it out with --keep or --no-keep"
        )
    return list(dict.fromkeys(keep))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="CSV of rows to score")
    parser.add_argument("-o", "--output", type=Path, help="CSV to write (default: stdout)")
    parser.add_argument("-m", "--model", type=Path, default=MODEL_PATH, help="model file")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument(
        "--keep",
        action="append",
        metavar="COLUMN",
        help="copy this input column to the output (repeat it; default: every non-feature column)",
    )
    kept.add_argument(
        "--no-keep", action="store_true", help="write the predictions only, no input columns"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model = load_model(args.model)
    rows = pd.read_csv(args.input)
    predictions = score(model, rows, keep=[] if args.no_keep else args.keep)
    predictions.to_csv(args.output or sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(handle(main))
