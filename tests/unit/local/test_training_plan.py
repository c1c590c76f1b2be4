"""`smbyo train --local --dry-run` with the training job's options: the request local Docker would run,
printed and checked without Docker; checkpoints name a local directory as file://, options without a
local meaning are noted, and flags that only mean something on SageMaker exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.plans import assert_plan_accepted, example_copy, local_dry_run, offline


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(monkeypatch)
    return example_copy(tmp_path)


def train(capsys: pytest.CaptureFixture[str], manifest: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    return local_dry_run(capsys, "train", manifest, *flags)


def test_a_checkpoint_directory_is_named_as_a_file_uri_and_not_made_by_a_dry_run(
    capsys: pytest.CaptureFixture[str], manifest: Path, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "checkpoints"
    code, plan = train(
        capsys, manifest, "--checkpoint-uri", str(checkpoints), "--spot", "--max-wait", "7200",
        "--max-runtime", "3600", "--env", "STEPS=5", "--network-isolation", "--job-tag", "team=ml",
    )  # fmt: skip
    assert code == 0, plan
    assert assert_plan_accepted(plan, local=True) == ["CreateTrainingJob"]
    request = plan["plan"][0]["kwargs"]
    assert request["CheckpointConfig"] == {"S3Uri": checkpoints.as_uri(), "LocalPath": "/opt/ml/checkpoints"}
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["Environment"] == {"STEPS": "5"} and request["EnableNetworkIsolation"] is True
    assert request["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert not checkpoints.exists()  # a dry run makes nothing
    assert any("managed spot training" in note and "no meaning locally" in note for note in plan["notes"])


def test_spot_is_checked_locally_as_on_sagemaker(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, error = train(capsys, manifest, "--spot", "--max-wait", "60", "--max-runtime", "120")
    assert code == 2
    [problem] = error["details"]["problems"]
    assert problem["field"] == "--max-wait" and "from --max-runtime" in problem["message"]


def test_an_s3_checkpoint_location_is_refused_locally(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, error = train(capsys, manifest, "--checkpoint-uri", "s3://bucket/ckpt")
    assert code == 2
    assert error["message"].startswith("--checkpoint-uri s3://bucket/ckpt: a local training job keeps")


def test_the_manifests_sagemaker_only_settings_are_checked_and_noted_locally(
    capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    data = yaml.safe_load(manifest.read_text())
    data["training"]["job"] = {
        "checkpoint": {"s3_uri": "s3://bucket/ckpt"},
        "vpc": {"subnets": ["subnet-1"], "security_group_ids": ["sg-1"]},
        "output_kms_key": "alias/out",
    }
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    code, plan = train(capsys, manifest)
    assert code == 0, plan
    request = plan["plan"][0]["kwargs"]
    assert "CheckpointConfig" not in request  # s3:// is SageMaker's; a local job needs --checkpoint-uri DIR
    assert request["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}  # the same request
    notes = " ".join(plan["notes"])
    assert "training.job.checkpoint.s3_uri (s3://bucket/ckpt) is for SageMaker" in notes
    assert "VpcConfig is checked and not used locally" in notes
    assert "OutputDataConfig.KmsKeyId is checked and not used locally" in notes

    data["training"]["job"]["vpc"]["subnets"] = ["subnet_1"]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    code, error = train(capsys, manifest)  # checked all the same
    assert code == 2 and error["details"]["problems"][0]["field"] == "training.job.vpc.subnets[0]"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--vpc-subnets", "subnet-1", "--vpc-security-groups", "sg-1"], "--vpc-security-groups, --vpc-subnets"),
        (["--volume-kms-key", "k"], "--volume-kms-key"),
        (["--output-kms-key", "k"], "--output-kms-key"),
        (["--inter-container-encryption"], "--inter-container-encryption/--no-inter-container-encryption"),
        (["--algorithm", "decision-trees"], "--algorithm"),  # a published algorithm runs on SageMaker only
    ],
)
def test_a_flag_with_no_local_meaning_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], manifest: Path, flags: list[str], named: str
) -> None:
    code, error = train(capsys, manifest, *flags)
    assert code == 2
    assert error["message"].startswith(f"{named} only applies on SageMaker")
