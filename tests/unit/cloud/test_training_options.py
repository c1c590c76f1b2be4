"""`smbyo train --dry-run` with the training job's options (instance count, distribution, managed spot,
checkpoints, VPC, KMS, environment, isolation, tags): each flag and each `training.job` default reaches
the CreateTrainingJob request, the plan passes botocore's validator and the service model, and a value
AWS would refuse exits 2 naming the flag or the manifest field (with its line)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE_DIR
from tests.unit.plans import assert_plan_accepted, offline, smbyo

Problems = list[dict[str, Any]]


def project_with(tmp_path: Path, **training: Any) -> Path:
    """A copy of the example project whose manifest's training section has ``training`` merged in."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE_DIR, project)
    manifest = project / "smbyo.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["training"].update(training)
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    return manifest


@pytest.fixture
def distributed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(monkeypatch)
    return project_with(tmp_path, supports_distributed=True)


def train(capsys: pytest.CaptureFixture[str], manifest: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    data = f"training={manifest.parent / 'data' / 'training'}"
    return smbyo(capsys, "train", "--dry-run", "-f", str(manifest), "--data", data, *flags)


def request_of(plan: dict[str, Any]) -> dict[str, Any]:
    (request,) = [step["kwargs"] for step in plan["plan"] if step["operation"] == "CreateTrainingJob"]
    return request


def problems_of(error: dict[str, Any]) -> dict[str, str]:
    """field (a flag or a manifest field) -> message, from a --json pre-flight error."""
    return {problem["field"]: problem["message"] for problem in error["details"]["problems"]}


def test_a_spot_job_on_four_instances_with_checkpoints_is_a_request_aws_accepts(
    capsys: pytest.CaptureFixture[str], distributed: Path
) -> None:
    code, plan = train(
        capsys, distributed, "--instance-count", "4", "--spot", "--max-wait", "7200", "--max-runtime", "3600",
        "--checkpoint-uri", "s3://my-bucket/checkpoints/run-1",
    )  # fmt: skip
    assert code == 0, plan
    assert assert_plan_accepted(plan) == ["Upload", "CreateTrainingJob"]
    request = request_of(plan)
    assert request["ResourceConfig"]["InstanceCount"] == 4
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["CheckpointConfig"] == {
        "S3Uri": "s3://my-bucket/checkpoints/run-1",
        "LocalPath": "/opt/ml/checkpoints",
    }


def test_every_flag_reaches_the_request(capsys: pytest.CaptureFixture[str], distributed: Path) -> None:
    code, plan = train(
        capsys, distributed, "--distribution", "training=ShardedByS3Key", "--volume-size", "200",
        "--checkpoint-uri", "s3://my-bucket/ckpt", "--checkpoint-local-path", "/opt/ml/ckpt",
        "--vpc-subnets", "subnet-0abc,subnet-0def", "--vpc-security-groups", "sg-0123",
        "--volume-kms-key", "arn:aws:kms:us-east-1:123456789012:key/abcd-1234",
        "--output-kms-key", "alias/training-output", "--env", "OMP_NUM_THREADS=4", "--env", "MODE=fast",
        "--network-isolation", "--inter-container-encryption", "--job-tag", "team=ml", "--job-tag", "cost=42",
    )  # fmt: skip
    assert code == 0, plan
    assert_plan_accepted(plan)
    request = request_of(plan)
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert request["ResourceConfig"]["VolumeSizeInGB"] == 200
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/abcd-1234"
    assert request["OutputDataConfig"]["KmsKeyId"] == "alias/training-output"
    assert request["CheckpointConfig"] == {"S3Uri": "s3://my-bucket/ckpt", "LocalPath": "/opt/ml/ckpt"}
    assert request["VpcConfig"] == {"Subnets": ["subnet-0abc", "subnet-0def"], "SecurityGroupIds": ["sg-0123"]}
    assert request["Environment"] == {"OMP_NUM_THREADS": "4", "MODE": "fast"}
    assert request["EnableNetworkIsolation"] is True
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert request["Tags"] == [{"Key": "cost", "Value": "42"}, {"Key": "team", "Value": "ml"}]
    assert "EnableManagedSpotTraining" not in request  # off is SageMaker's default: left out


JOB = {
    "instance_count": 2,
    "volume_size_gb": 100,
    "max_runtime_seconds": 3600,
    "spot": {"enabled": True, "max_wait_seconds": 5400},
    "checkpoint": {"s3_uri": "s3://my-bucket/ckpt", "local_path": "/opt/ml/checkpoints"},
    "vpc": {"subnets": ["subnet-1"], "security_group_ids": ["sg-1"]},
    "volume_kms_key": "alias/volume",
    "output_kms_key": "alias/output",
    "environment": {"THREADS": 8, "MODE": "slow"},
    "network_isolation": True,
    "inter_container_encryption": True,
}


def test_the_manifests_training_job_defaults_reach_the_request_and_flags_override_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    manifest = project_with(tmp_path, supports_distributed=True, job=JOB)
    data = yaml.safe_load(manifest.read_text())
    data["training"]["channels"][0]["distribution"] = "ShardedByS3Key"
    data["tags"] = {"team": "ml"}
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    code, plan = train(capsys, manifest)
    assert code == 0, plan
    assert_plan_accepted(plan)
    request = request_of(plan)
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 100, "VolumeKmsKeyId": "alias/volume",
    }  # fmt: skip
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 5400}
    assert request["EnableManagedSpotTraining"] and request["EnableNetworkIsolation"]
    assert request["EnableInterContainerTrafficEncryption"]
    assert request["CheckpointConfig"] == {"S3Uri": "s3://my-bucket/ckpt", "LocalPath": "/opt/ml/checkpoints"}
    assert request["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert request["OutputDataConfig"]["KmsKeyId"] == "alias/output"
    assert request["Environment"] == {"THREADS": "8", "MODE": "slow"}  # YAML numbers become the strings AWS takes
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert request["Tags"] == [{"Key": "team", "Value": "ml"}]

    code, plan = train(
        capsys, manifest, "--instance-count", "3", "--no-spot", "--max-wait", "9000", "--env", "MODE=fast",
        "--no-network-isolation", "--distribution", "training=FullyReplicated", "--job-tag", "team=data",
        "--checkpoint-uri", "s3://other-bucket/ckpt",
    )  # fmt: skip
    assert code == 2, plan  # --max-wait without spot means nothing: refused
    assert list(problems_of(plan)) == ["--max-wait"]
    assert "only valid with managed spot training" in problems_of(plan)["--max-wait"]

    code, plan = train(capsys, manifest, "--no-spot")  # the manifest's spot section off, its max wait with it
    assert code == 0, plan
    assert "EnableManagedSpotTraining" not in request_of(plan)
    assert request_of(plan)["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}

    code, plan = train(
        capsys, manifest, "--instance-count", "3", "--spot", "--max-wait", "9000", "--env", "MODE=fast",
        "--no-network-isolation", "--distribution", "training=FullyReplicated", "--job-tag", "team=data",
        "--checkpoint-uri", "s3://other-bucket/ckpt",
    )  # fmt: skip
    assert code == 0, plan
    request = request_of(plan)
    assert request["ResourceConfig"]["InstanceCount"] == 3
    assert request["StoppingCondition"]["MaxWaitTimeInSeconds"] == 9000
    assert request["Environment"] == {"THREADS": "8", "MODE": "fast"}
    assert "EnableNetworkIsolation" not in request
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert request["Tags"] == [{"Key": "team", "Value": "data"}]
    assert request["CheckpointConfig"]["S3Uri"] == "s3://other-bucket/ckpt"


def test_spot_with_a_wait_shorter_than_the_runtime_names_both_flags(
    capsys: pytest.CaptureFixture[str], distributed: Path
) -> None:
    code, error = train(capsys, distributed, "--spot", "--max-wait", "600", "--max-runtime", "3600")
    assert code == 2
    message = problems_of(error)["--max-wait"]
    assert "MaxRuntimeInSeconds (3600 s)" in message and "600 s is shorter" in message
    assert "StoppingCondition.MaxWaitTimeInSeconds from --max-wait" in message
    assert "StoppingCondition.MaxRuntimeInSeconds from --max-runtime" in message


def test_spot_with_a_wait_shorter_than_the_runtime_in_the_manifest_names_both_fields_and_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    manifest = project_with(
        tmp_path, job={"max_runtime_seconds": 7200, "spot": {"enabled": True, "max_wait_seconds": 3600}}
    )
    lines = manifest.read_text().splitlines()
    runtime_line = 1 + next(i for i, line in enumerate(lines) if "max_runtime_seconds" in line)
    wait_line = 1 + next(i for i, line in enumerate(lines) if "max_wait_seconds" in line)
    code, error = train(capsys, manifest)
    assert code == 2
    [problem] = error["details"]["problems"]
    assert (problem["field"], problem["line"]) == ("training.job.spot.max_wait_seconds", wait_line)
    assert f"training.job.max_runtime_seconds at smbyo.yaml:{runtime_line}" in problem["message"]
    assert f"training.job.spot.max_wait_seconds at smbyo.yaml:{wait_line}" in problem["message"]
    assert "StoppingCondition.MaxWaitTimeInSeconds" in problem["message"]


def test_a_flag_against_a_manifest_value_names_the_flag_and_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    manifest = project_with(tmp_path, job={"max_runtime_seconds": 7200})
    code, error = train(capsys, manifest, "--spot", "--max-wait", "3600")
    assert code == 2
    message = problems_of(error)["--max-wait"]
    assert "from --max-wait" in message and "from training.job.max_runtime_seconds at smbyo.yaml:" in message


def test_spot_without_a_wait_is_refused_naming_spot(capsys: pytest.CaptureFixture[str], distributed: Path) -> None:
    code, error = train(capsys, distributed, "--spot")
    assert code == 2
    assert "needs StoppingCondition.MaxWaitTimeInSeconds" in problems_of(error)["--spot/--no-spot"]


def test_more_than_one_instance_of_an_algorithm_that_is_not_distributed_names_both(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    manifest = EXAMPLE_DIR / "smbyo.yaml"  # supports_distributed: false
    line = 1 + manifest.read_text().splitlines().index("  supports_distributed: false")
    code, error = train(capsys, manifest, "--instance-count", "2")
    assert code == 2
    message = problems_of(error)["--instance-count"]
    assert "training.supports_distributed is false" in message
    assert f"training.supports_distributed at smbyo.yaml:{line}" in message
    assert "cannot use more than one instance" in message


@pytest.mark.parametrize(
    ("flags", "field", "words"),
    [
        (["--instance-count", "0"], "--instance-count", "at least 1 instance"),
        (["--env", "1BAD=x"], "--env", "[a-zA-Z_][a-zA-Z0-9_]*"),
        (["--env", "BAD-KEY=x"], "--env", "does not match the pattern"),
        (["--env", f"LONG={'x' * 513}"], "--env", "at most 512"),
        (
            [arg for i in range(101) for arg in ("--env", f"V{i}=1")],
            "--env",
            "has 101 entries; AWS accepts at most 100",
        ),
        (["--vpc-subnets", "subnet_1!", "--vpc-security-groups", "sg-1"], "--vpc-subnets", "pattern"),
        (["--vpc-subnets", "subnet-1,", "--vpc-security-groups", "sg-1"], "--vpc-subnets", "pattern"),
        (["--vpc-subnets", "subnet-1"], "--vpc-security-groups", "SecurityGroupIds"),
        (["--vpc-security-groups", "sg-1"], "--vpc-subnets", "Subnets"),
        (["--distribution", "training=Sharded"], "--distribution", "'Sharded' is not one of the values"),
        (["--max-runtime", "0"], "--max-runtime", "valid min value: 1"),
        (["--volume-size", "-1"], "--volume-size", "valid min value: 0"),
        (["--volume-kms-key", "key with spaces"], "--volume-kms-key", "pattern"),
        (["--checkpoint-uri", "checkpoints/"], "--checkpoint-uri", "not an S3 URI"),
        (["--job-tag", f"k={'v' * 257}"], "--job-tag", "at most 256"),
    ],
)
def test_a_bad_value_exits_2_naming_its_flag(
    capsys: pytest.CaptureFixture[str], distributed: Path, flags: list[str], field: str, words: str
) -> None:
    code, error = train(capsys, distributed, *flags)
    assert code == 2, error
    problems = problems_of(error)
    assert field in problems, problems
    assert words in problems[field]


@pytest.mark.parametrize(
    ("job", "field", "words"),
    [
        ({"instance_count": 0}, "training.job.instance_count", "at least 1 instance"),
        ({"environment": {"1BAD": "x"}}, "training.job.environment.1BAD", "pattern"),
        ({"vpc": {"subnets": ["subnet_1"], "security_group_ids": ["sg-1"]}}, "training.job.vpc.subnets[0]", "pattern"),
        ({"spot": {"enabled": True}}, "training.job.spot.enabled", "needs StoppingCondition.MaxWaitTimeInSeconds"),
        ({"volume_size_gb": -5}, "training.job.volume_size_gb", "valid min value: 0"),
    ],
)
def test_a_bad_manifest_value_exits_2_naming_its_field_and_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    job: dict[str, Any],
    field: str,
    words: str,
) -> None:
    offline(monkeypatch)
    manifest = project_with(tmp_path, supports_distributed=True, job=job)
    code, error = train(capsys, manifest)
    assert code == 2, error
    found = {problem["field"]: problem for problem in error["details"]["problems"]}
    assert field in found, found
    assert words in found[field]["message"] and found[field]["line"] is not None


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--distribution", "validation=ShardedByS3Key"], "'validation', which the manifest does not declare"),
        (["--checkpoint-local-path", "/opt/ml/ckpt"], "--checkpoint-local-path needs a checkpoint location"),
        (["--env", "NO_EQUALS_SIGN"], "--env"),
        (["--instance-count", "two"], "--instance-count"),
    ],
)
def test_a_flag_that_cannot_apply_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], distributed: Path, flags: list[str], words: str
) -> None:
    code, error = train(capsys, distributed, *flags)
    assert code == 2, error
    assert words in error["message"]
