"""Serve the XGBoost model trained by train.py: the probability of class 1 for each row.

smbyo's runtime calls ``load_model(model_dir)`` once at start-up and ``predict(model, rows, context)``
per request, with ``rows`` already parsed into a float64 matrix of finite numbers. The model is XGBoost's
JSON format (``model.json``): loading it parses data and runs no code, unlike a pickle.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xgboost

MODEL_FILE = "model.json"


def load_model(model_dir: str) -> xgboost.Booster:
    path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{MODEL_FILE} not found in {model_dir}: train with train.py first")
    booster = xgboost.Booster()
    booster.load_model(path)
    # One thread per request: gunicorn runs one worker per CPU already.
    booster.set_param({"nthread": 1})
    return booster


def predict(model: xgboost.Booster, rows: np.ndarray, context: Any) -> np.ndarray:
    expected = model.num_features()
    if rows.shape[1] != expected:
        raise ValueError(f"expected {expected} features per row, got {rows.shape[1]}")
    return model.inplace_predict(rows, validate_features=False)
