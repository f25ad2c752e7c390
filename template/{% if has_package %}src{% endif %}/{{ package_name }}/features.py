"""Feature preparation shared by training and scoring."""

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import StandardScaler


def build_preprocessor(features: pd.DataFrame) -> ColumnTransformer:
    """Scale every numeric feature; columns the model was not trained on are dropped."""
    return ColumnTransformer(
        [("scale", StandardScaler(), list(features.columns))],
        remainder="drop",
        verbose_feature_names_out=False,
    )
