"""The training entrypoint stops at SIGTERM, as SageMaker's StopTrainingJob expects (it is PID 1 in the container,
where an unhandled SIGTERM does nothing): the reason is written, ``finally`` blocks run, exit 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TRAIN = """
import time

def train(env):
    try:
        print("training started", flush=True)
        while True:
            time.sleep(0.05)
    finally:
        (env.model_dir / "partial.txt").write_text("cleaned up")
"""


def test_sigterm_stops_training_with_a_reason_and_exit_143(tmp_path: Path) -> None:
    ml, code = tmp_path / "ml", tmp_path / "code"
    (ml / "input" / "config").mkdir(parents=True)
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    (tmp_path / "spec.json").write_text(json.dumps({"code": {"train": "train.py"}, "hyperparameters": []}))
    env = {
        **os.environ,
        "SMBYO_ML_ROOT": str(ml),
        "SMBYO_CODE_DIR": str(code),
        "SMBYO_SPEC": str(tmp_path / "spec.json"),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from sm_byo.runtime.training import main; main()"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "training started"
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert time.monotonic() - began < 10
    assert "stopped" in (ml / "output" / "failure").read_text()
    assert (ml / "model" / "partial.txt").read_text() == "cleaned up"
