"""The one poller: backoff, terminal states, failures, timeout, Ctrl-C, transient errors (simulated clock)."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sm_byo.aws import AwsAdapter
from sm_byo.aws.errors import AwsCredentialsError, TransientAwsError
from sm_byo.errors import Interrupted, JobFailed
from sm_byo.polling import Backoff, PollTimeout, Watch, poll
from sm_byo.reporting import RecordingReporter
from sm_byo.signals import Stopped


class FakeClock:
    """Time that moves only when the poller sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def job_finishing_at(clock: FakeClock, seconds: float, final: str = "Completed", **extra: Any):  # type: ignore[no-untyped-def]
    calls: list[float] = []

    def describe() -> Mapping[str, Any]:
        calls.append(clock.now)
        if clock.now >= seconds:
            return {"TrainingJobStatus": final, "SecondaryStatus": final, **extra}
        return {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"}

    return describe, calls


def training_watch(describe: Any) -> Watch:
    return Watch(
        "training-job",
        "job-1",
        describe,
        "TrainingJobStatus",
        frozenset({"Completed"}),
        frozenset({"Failed", "Stopped"}),
        "SecondaryStatus",
    )


def test_backoff_grows_to_the_cap() -> None:
    delays = Backoff(initial=2, factor=2, cap=10).delays()
    assert [next(delays) for _ in range(6)] == [2, 4, 8, 10, 10, 10]


def test_polls_until_completed_and_reports_status_changes() -> None:
    clock, reporter = FakeClock(), RecordingReporter()
    describe, calls = job_finishing_at(clock, 60)
    outcome = poll(training_watch(describe), reporter, clock=clock, sleep=clock.sleep)
    assert outcome.succeeded and outcome.status == "Completed"
    assert outcome.polls == len(calls)
    assert outcome.history == ["InProgress / Training", "Completed"]
    assert clock.now - 60 <= Backoff().cap


def test_failed_job_raises_job_failed_with_the_reason() -> None:
    clock = FakeClock()
    describe, _ = job_finishing_at(clock, 5, final="Failed", FailureReason="ValueError: bad rows")
    outcome = poll(training_watch(describe), RecordingReporter(), clock=clock, sleep=clock.sleep)
    with pytest.raises(JobFailed) as failure:
        outcome.raise_if_failed()
    assert failure.value.exit_code == 1
    assert "bad rows" in failure.value.message


def test_timeout_stops_waiting_with_the_resume_command() -> None:
    clock = FakeClock()
    describe, _ = job_finishing_at(clock, 10_000)
    with pytest.raises(PollTimeout) as stopped:
        poll(training_watch(describe), RecordingReporter(), timeout=30, clock=clock, sleep=clock.sleep)
    assert "smbyo wait training-job job-1" in (stopped.value.hint or "")
    assert clock.now <= 30


def test_ctrl_c_becomes_interrupted_130_with_the_resume_command() -> None:
    clock = FakeClock()
    describe, _ = job_finishing_at(clock, 10_000)

    def interrupted_sleep(_seconds: float) -> None:
        raise KeyboardInterrupt

    watch = Watch(
        "endpoint",
        "ep-1",
        describe,
        "TrainingJobStatus",
        frozenset({"Completed"}),
        frozenset(),
        resume_flags=" --region eu-west-1",
    )
    with pytest.raises(Interrupted) as stopped:
        poll(watch, RecordingReporter(), clock=clock, sleep=interrupted_sleep)
    assert stopped.value.exit_code == 130
    assert stopped.value.hint == "Resume waiting with `smbyo wait endpoint ep-1 --region eu-west-1`."


def test_sigterm_while_waiting_is_ctrl_c_with_its_own_exit_code() -> None:
    """A CI cancel (SIGTERM) while waiting: exit 143, the job keeps running, the resume command is given."""
    clock = FakeClock()
    describe, _ = job_finishing_at(clock, 10_000)

    def terminated_sleep(_seconds: float) -> None:
        raise Stopped(signal.SIGTERM)

    with pytest.raises(Interrupted) as stopped:
        poll(training_watch(describe), RecordingReporter(), clock=clock, sleep=terminated_sleep)
    assert stopped.value.exit_code == 143
    assert "SIGTERM" in stopped.value.message and "keeps running on AWS" in stopped.value.message
    assert stopped.value.hint == "Resume waiting with `smbyo wait training-job job-1`."


def test_transient_errors_are_retried_not_fatal() -> None:
    clock, reporter = FakeClock(), RecordingReporter()
    answers: list[Any] = [
        TransientAwsError("throttled"),
        TransientAwsError("throttled"),
        {"TrainingJobStatus": "Completed"},
    ]

    def describe() -> Mapping[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = poll(training_watch(describe), reporter, clock=clock, sleep=clock.sleep)
    assert outcome.succeeded and outcome.transient_errors == 2
    assert len(reporter.of_kind("warn")) == 2


def test_persistent_transient_errors_give_up_eventually() -> None:
    clock = FakeClock()

    def describe() -> Mapping[str, Any]:
        raise TransientAwsError("throttled")

    with pytest.raises(TransientAwsError):
        poll(training_watch(describe), RecordingReporter(), clock=clock, sleep=clock.sleep, max_consecutive_errors=3)


def test_credential_errors_are_not_retried() -> None:
    def describe() -> Mapping[str, Any]:
        raise AwsCredentialsError("expired")

    with pytest.raises(AwsCredentialsError):
        poll(training_watch(describe), RecordingReporter(), clock=FakeClock(), sleep=lambda _s: None)


def test_throttling_from_sagemaker_is_retried_through_the_adapter() -> None:
    """botocore's Stubber produces the ThrottlingException a server will not; the poller retries it."""
    session = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    adapter = AwsAdapter(session, max_attempts=1)
    client = adapter.client("sagemaker")
    clock = FakeClock()
    with Stubber(client) as stub:
        stub.add_client_error("describe_training_job", "ThrottlingException", "Rate exceeded", 400)
        stub.add_client_error("describe_training_job", "ThrottlingException", "Rate exceeded", 400)
        stub.add_response(
            "describe_training_job",
            {
                "TrainingJobName": "job-1",
                "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1",
                "TrainingJobStatus": "Completed",
                "SecondaryStatus": "Completed",
                "ModelArtifacts": {"S3ModelArtifacts": "s3://b/job-1/output/model.tar.gz"},
                "AlgorithmSpecification": {"TrainingInputMode": "File"},
                "ResourceConfig": {"VolumeSizeInGB": 30},
                "StoppingCondition": {},
                "CreationTime": "2026-01-01T00:00:00Z",
            },
        )
        outcome = poll(
            training_watch(lambda: adapter.describe_training_job("job-1")),
            RecordingReporter(),
            clock=clock,
            sleep=clock.sleep,
        )
        stub.assert_no_pending_responses()
    assert outcome.succeeded and outcome.transient_errors == 2 and outcome.polls == 3
