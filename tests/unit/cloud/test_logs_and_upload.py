"""Log following and data upload against moto's server (real CloudWatch Logs and S3 HTTP APIs)."""

from __future__ import annotations

import time
from pathlib import Path

from sm_byo.aws import connect
from sm_byo.cloud.logs import training_logs
from sm_byo.cloud.s3 import upload_path
from sm_byo.reporting import RecordingReporter
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.harness import MotoHarness

GROUP = "/aws/sagemaker/TrainingJobs"


def put(moto: MotoHarness, stream: str, *lines: str) -> None:
    logs = moto.client("logs")
    existing = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]}
    if stream not in existing:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def test_every_instance_stream_is_followed_without_duplicates_or_gaps(aws_env, moto: MotoHarness) -> None:
    reporter = RecordingReporter()
    follower = training_logs(connect(), "job-1", reporter)
    assert follower.poll() == 0  # the group does not exist yet: nothing, no error
    moto.client("logs").create_log_group(logGroupName=GROUP)
    put(moto, "job-1/algo-1-1", "one", "two")
    put(moto, "job-10/algo-1-1", "another job's line")
    assert follower.poll() == 2
    put(moto, "job-1/algo-1-1", "three")
    put(moto, "job-1/algo-2-1", "second instance")
    assert follower.poll() == 2
    assert follower.poll() == 0
    assert reporter.of_kind("log") == [
        ("algo-1-1", "one"),
        ("algo-1-1", "two"),
        ("algo-1-1", "three"),
        ("algo-2-1", "second instance"),
    ]


def test_unchanged_files_are_not_uploaded_again(aws_env, tmp_path: Path) -> None:
    aws = connect()
    aws.create_bucket("smbyo-cloud-data")
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("1,2\n")
    (data / "sub" / "b.csv").write_text("3,4\n")
    first = upload_path(aws, data, "smbyo-cloud-data", "in/training", RecordingReporter(), "--data", project="demo")
    again = upload_path(aws, data, "smbyo-cloud-data", "in/training", RecordingReporter(), "--data", project="demo")
    assert (first.uploaded, first.skipped) == (2, 0)
    assert (again.uploaded, again.skipped) == (0, 2) and again.uri == first.uri
    (data / "a.csv").write_text("5,6\n")
    changed = upload_path(aws, data, "smbyo-cloud-data", "in/training", RecordingReporter(), "--data", project="demo")
    assert changed.uri != first.uri, "changed data goes to a new prefix: no stale files in the channel"
    keys = sorted(item["Key"] for item in aws.list_objects("smbyo-cloud-data", changed.uri.split("/", 3)[3]))
    assert [key.split("/", 3)[3] for key in keys] == ["a.csv", "sub/b.csv"]
    marks = [(aws.head_object("smbyo-cloud-data", key) or {})["Metadata"]["smbyo-project"] for key in keys]
    assert marks == ["demo", "demo"], "each object names the project that uploaded it (`delete project --data`)"


def test_hidden_files_are_uploaded_like_any_data_and_named_in_a_warning(aws_env, tmp_path: Path) -> None:
    aws = connect()
    aws.create_bucket("smbyo-cloud-data")
    data = tmp_path / "data"
    (data / ".git").mkdir(parents=True)
    (data / "a.csv").write_text("1,2\n")
    (data / ".env").write_text("SECRET=1\n")
    (data / ".git" / "config").write_text("[core]\n")
    reporter = RecordingReporter()
    outcome = upload_path(aws, data, "smbyo-cloud-data", "in/training", reporter, "--data", project="demo")
    assert outcome.uploaded == 3  # as a local run mounts them: both modes see the same files
    (warning,) = [str(args[0]) for args in reporter.of_kind("warn")]
    assert "2 hidden file(s)" in warning and ".env" in warning
