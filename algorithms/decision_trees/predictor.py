"""Serve the decision tree trained by train.py.

smbyo's runtime calls ``load_model(model_dir)`` once at start-up and ``predict(model, rows, context)``
per request, with ``rows`` already parsed into a float64 matrix. The tree is evaluated with numpy
from the arrays in ``model.npz`` (loaded with ``allow_pickle=False``: no code runs on load).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tree:
    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    classes: np.ndarray
    leaf_class: np.ndarray
    max_depth: int
    n_features: int

    def predict(self, rows: np.ndarray) -> np.ndarray:
        node = np.zeros(len(rows), dtype=np.intp)
        index = np.arange(len(rows))
        for _ in range(self.max_depth):
            left = self.children_left[node]
            go_left = rows[index, self.feature[node]] <= self.threshold[node]
            step = np.where(go_left, left, self.children_right[node])
            node = np.where(left == -1, node, step)
        return self.classes[self.leaf_class[node]]


def load_model(model_dir: str) -> Tree:
    with np.load(os.path.join(model_dir, "model.npz"), allow_pickle=False) as saved:
        feature = saved["feature"].astype(np.intp)
        return Tree(
            children_left=saved["children_left"].astype(np.intp),
            children_right=saved["children_right"].astype(np.intp),
            feature=np.where(feature < 0, 0, feature),
            threshold=saved["threshold"],
            classes=saved["classes"],
            leaf_class=np.argmax(saved["value"], axis=1),
            max_depth=int(saved["max_depth"]),
            n_features=int(saved["n_features"]),
        )


def predict(model: Tree, rows: np.ndarray, context) -> np.ndarray:
    if rows.shape[1] != model.n_features:
        raise ValueError(f"expected {model.n_features} features per row, got {rows.shape[1]}")
    return model.predict(rows)
