"""Train a scikit-learn decision tree on CSV data whose first column is the label.

smbyo's runtime calls ``train(env)`` inside the container: ``env.hyperparameters`` are already
validated and typed from smbyo.yaml, and ``env.open_channel`` reads File- and Pipe-mode data alike.
The model is saved as plain numpy arrays (``model.npz``), so serving loads it without unpickling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier


def read_training_data(env) -> pd.DataFrame:
    frames = [pd.read_csv(stream, header=None) for stream in env.open_channel("training")]
    if not frames:
        raise ValueError(f"no data in channel 'training' ({env.channel_dir('training')}); give it CSV files")
    return pd.concat(frames, ignore_index=True)


def save_tree(model: DecisionTreeClassifier, path) -> None:
    tree = model.tree_
    np.savez(
        path,
        children_left=tree.children_left,
        children_right=tree.children_right,
        feature=tree.feature,
        threshold=tree.threshold,
        value=tree.value[:, 0, :],
        classes=np.asarray(model.classes_).astype(str),
        max_depth=np.asarray(tree.max_depth),
        n_features=np.asarray(model.n_features_in_),
    )


def train(env) -> None:
    data = read_training_data(env)
    labels = data.iloc[:, 0].astype(str).to_numpy()
    features = data.iloc[:, 1:].to_numpy(dtype=np.float64)
    max_leaf_nodes = env.hyperparameters["max_leaf_nodes"]
    print(f"training on {len(labels)} rows, {features.shape[1]} features, max_leaf_nodes={max_leaf_nodes}")

    x_train, x_valid, y_train, y_valid = train_test_split(
        features, labels, test_size=0.2, random_state=0, stratify=labels
    )
    held_out = DecisionTreeClassifier(max_leaf_nodes=max_leaf_nodes, random_state=0).fit(x_train, y_train)
    print(f"validation-accuracy: {held_out.score(x_valid, y_valid):.4f}")

    model = DecisionTreeClassifier(max_leaf_nodes=max_leaf_nodes, random_state=0).fit(features, labels)
    save_tree(model, env.model_dir / "model.npz")
    print(f"saved a tree with {model.get_n_leaves()} leaves to {env.model_dir / 'model.npz'}")
