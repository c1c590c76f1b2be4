"""Train gradient-boosted trees data-parallel across a job's instances with XGBoost's own collective.

smbyo's runtime calls ``train(env)`` on every host of the job. With one host this is plain
``xgboost.train``. With N hosts each one reads its own share of the ``training`` channel (all of it when
the channel is FullyReplicated, about 1/N of the files when it is ShardedByS3Key) and XGBoost does the
rest: the master host (``env.master_host``, algo-1) runs XGBoost's tracker, every host joins the
communication group through it, and the engine sums the hosts' gradient histograms with its own
all-reduce, so every host grows the same trees. smbyo only says who the hosts are.

Only the master saves the model (``model.json``, XGBoost's JSON format: loading it runs no code): SageMaker
merges every host's /opt/ml/model into one model.tar.gz, so the others write nothing there
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html).
"""

from __future__ import annotations

import socket
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import xgboost
from xgboost import collective
from xgboost.tracker import RabitTracker

MODEL_FILE = "model.json"
# The port of XGBoost's tracker on the master host. Any free port works: every host computes the same one.
TRACKER_PORT = 9099
# XGBoost's own connect retry (dmlc_retry): the n-th attempt waits 2(n-1) s, so 12 attempts wait for a
# tracker that starts up to 132 s after the other hosts (e.g. while the master is still starting up).
CONNECT_ATTEMPTS = 12
# How long a host waits for the master's name to resolve. SageMaker's hosts reach each other by name
# (algo-1..algo-N), and a name can appear in DNS a little after the container starts.
RESOLVE_SECONDS = 120.0


# --- data ----------------------------------------------------------------------------------------------


def read_rows(env: Any) -> np.ndarray:
    """Every CSV row of this host's files of the ``training`` channel, as one float64 matrix.

    A host may get no files (ShardedByS3Key over more hosts than files): it still joins the group, with no
    rows, so the others are not left waiting for it.
    """
    blocks = []
    for stream in env.open_channel("training"):
        block = np.loadtxt(stream, delimiter=",", dtype=np.float64, ndmin=2)
        if block.size:
            blocks.append(block)
    widths = {block.shape[1] for block in blocks}
    if len(widths) > 1:
        raise ValueError(f"the training files have rows of different widths: {sorted(widths)} columns")
    if widths and min(widths) < 2:
        raise ValueError("each row needs the label in column 0 and at least one feature after it")
    return np.concatenate(blocks) if blocks else np.empty((0, 0))


def held_out(rows: np.ndarray, fraction: float) -> np.ndarray:
    """Which rows are validation data: decided by each row's own values (their CRC-32), so a row is held
    out whichever host reads it, and N hosts hold out exactly the rows one host would."""
    cut = fraction * 2**32
    contiguous = np.ascontiguousarray(rows, dtype=np.float64)
    return np.fromiter((zlib.crc32(row.tobytes()) < cut for row in contiguous), dtype=bool, count=len(rows))


def matrix(rows: np.ndarray) -> xgboost.DMatrix:
    """A DMatrix of rows whose column 0 is the label; an empty one for no rows."""
    if rows.shape[0] == 0 or rows.shape[1] < 2:
        return xgboost.DMatrix(np.empty((0, 0)))
    return xgboost.DMatrix(rows[:, 1:], label=rows[:, 0])


def matrices(rows: np.ndarray, fraction: float) -> tuple[xgboost.DMatrix, xgboost.DMatrix]:
    """The training and validation DMatrix of this host's rows.

    Built inside the communication group when there is one: XGBoost agrees on the number of features
    across hosts when a DMatrix is made.
    """
    valid = held_out(rows, fraction)
    return matrix(rows[~valid]), matrix(rows[valid])


# --- the training ----------------------------------------------------------------------------------------


def booster_params(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """XGBoost's parameters: binary classification with the histogram method, whose per-host gradient
    histograms XGBoost sums across hosts, and fixed seeds, so a run is repeatable."""
    return {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "error"],
        "tree_method": "hist",
        "max_depth": hyperparameters["max_depth"],
        "eta": hyperparameters["eta"],
        "min_child_weight": hyperparameters["min_child_weight"],
        "lambda": hyperparameters["reg_lambda"],
        "max_bin": hyperparameters["max_bin"],
        "seed": 0,
        **({"nthread": hyperparameters["nthread"]} if hyperparameters["nthread"] > 0 else {}),
    }


def fit(env: Any, rows: np.ndarray) -> xgboost.Booster:
    """Train and print the validation metrics (the manifest's regexes read them from the log). In a group,
    XGBoost sums the metrics across hosts too, so every host prints the job's figures."""
    hyperparameters = env.hyperparameters
    train_matrix, valid_matrix = matrices(rows, hyperparameters["validation_fraction"])
    print(f"{env.current_host}: {train_matrix.num_row()} training rows, {valid_matrix.num_row()} validation rows")
    history: dict[str, Any] = {}
    booster = xgboost.train(
        booster_params(hyperparameters),
        train_matrix,
        num_boost_round=hyperparameters["num_round"],
        evals=[(valid_matrix, "validation")],
        evals_result=history,
        verbose_eval=10,
    )
    for metric, series in history["validation"].items():
        print(f"validation-{metric}: {series[-1]:.6f}", flush=True)
    return booster


# --- the hosts -----------------------------------------------------------------------------------------


def resolve(host: str, seconds: float = RESOLVE_SECONDS) -> str:
    """The IPv4 address of ``host``, waiting up to ``seconds`` for its name to resolve."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return socket.gethostbyname(host)
        except OSError:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the host name {host!r} did not resolve within {seconds:g} s") from None
            time.sleep(1.0)


@contextmanager
def tracker(env: Any) -> Iterator[None]:
    """On the master host, XGBoost's tracker for the job's hosts, until every host has left the group.

    It binds to the master's address as the other hosts resolve ``env.master_host`` (not the loopback
    address the name may also have inside the container), on ``TRACKER_PORT``. Ranks follow the task ids
    each host gives (``sortby="task"``), so XGBoost's rank 0 is the master.
    """
    if not env.is_master:
        yield
        return
    address = resolve(env.master_host)
    print(f"{env.current_host}: XGBoost tracker for {env.num_hosts} hosts on {address}:{TRACKER_PORT}", flush=True)
    rabit = RabitTracker(n_workers=env.num_hosts, host_ip=address, port=TRACKER_PORT, sortby="task")
    rabit.start()
    yield
    rabit.wait_for()


def communicator_args(env: Any) -> dict[str, str | int]:
    """How this host joins the group: the tracker by the master's host name, this host's rank as its task
    id, and XGBoost's own connect retry for a tracker that is not up yet."""
    return {
        "dmlc_communicator": "rabit",
        "dmlc_tracker_uri": env.master_host,
        "dmlc_tracker_port": TRACKER_PORT,
        "dmlc_task_id": str(env.host_rank),
        "dmlc_retry": CONNECT_ATTEMPTS,
    }


def train(env: Any) -> None:
    """Train on this host's share of the data; with several hosts, as one of XGBoost's group.

    SageMaker names the hosts algo-1..algo-N in resourceconfig.json and they resolve each other by name
    (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
    #your-algorithms-training-algo-running-container-dist-training); ``env`` reads that file.
    """
    hosts = ", ".join(env.hosts)
    print(f"{env.current_host}: host {env.host_rank + 1} of {env.num_hosts} ({hosts}); master {env.master_host}")
    if env.num_hosts == 1:
        rows = read_rows(env)
        if rows.shape[0] == 0:
            raise ValueError(f"no data in channel 'training' ({env.channel_dir('training')}); give it CSV files")
        booster = fit(env, rows)
    else:
        with tracker(env):
            rows = read_rows(env)
            resolve(env.master_host)
            with collective.CommunicatorContext(**communicator_args(env)):
                print(f"{env.current_host}: joined as XGBoost rank {collective.get_rank()}", flush=True)
                booster = fit(env, rows)
    if env.is_master:
        path = env.model_dir / MODEL_FILE
        booster.save_model(str(path))
        print(f"{env.current_host}: saved {booster.num_boosted_rounds()} trees to {path}")
    else:
        print(f"{env.current_host}: the master host saves the model; nothing written to {env.model_dir}")
