"""The S3 module against moto's server: a job's outputs are listed by folder and downloaded without
trusting their keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.aws import connect
from sm_byo.cloud.s3 import download_outputs, list_outputs, parse_s3_uri
from sm_byo.errors import UsageError
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.harness import MotoHarness

BUCKET = "smbyo-s3-tests"


def _objects(moto: MotoHarness, *keys: str) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())


def test_outputs_are_those_below_the_prefix_as_a_folder(aws_env: dict[str, str], moto: MotoHarness) -> None:
    _objects(moto, "jobs/out/a.csv.out", "jobs/out/nested/b.csv.out", "jobs/out/log.txt", "jobs/out-other/c.csv.out")
    found = list_outputs(connect(), f"s3://{BUCKET}/jobs/out", ".out", "--output")
    assert found == [f"s3://{BUCKET}/jobs/out/a.csv.out", f"s3://{BUCKET}/jobs/out/nested/b.csv.out"]


def test_downloads_keep_paths_below_the_prefix_and_leave_no_partial_names(
    aws_env: dict[str, str], moto: MotoHarness, tmp_path: Path
) -> None:
    _objects(moto, "out/a.out", "out/nested/b.out")
    files = [f"s3://{BUCKET}/out/a.out", f"s3://{BUCKET}/out/nested/b.out"]
    saved = download_outputs(connect(), files, f"s3://{BUCKET}/out/", tmp_path / "got", "--download")
    assert saved == [str(tmp_path / "got" / "a.out"), str(tmp_path / "got" / "nested" / "b.out")]
    assert (tmp_path / "got" / "nested" / "b.out").read_bytes() == b"out/nested/b.out"
    files_there = sorted(p.name for p in (tmp_path / "got").rglob("*") if p.is_file())
    assert files_there == [".smbyo-outputs", "a.out", "b.out"]  # the record of what smbyo wrote there


def test_a_download_replaces_what_smbyo_downloaded_but_never_a_file_of_the_users(
    aws_env: dict[str, str], moto: MotoHarness, tmp_path: Path
) -> None:
    _objects(moto, "out/a.out", "out/b.out")
    files = [f"s3://{BUCKET}/out/a.out", f"s3://{BUCKET}/out/b.out"]
    target = tmp_path / "got"
    download_outputs(connect(), files[:1], f"s3://{BUCKET}/out/", target, "--download")
    download_outputs(connect(), files[:1], f"s3://{BUCKET}/out/", target, "--download")  # again: its own file
    (target / "b.out").write_text("mine")  # a file of the user's at the name of the next output
    (target / "a.out").write_text("stale")
    with pytest.raises(UsageError, match=r"--download .*refusing to replace 1 file\(s\) smbyo did not write: b.out"):
        download_outputs(connect(), files, f"s3://{BUCKET}/out/", target, "--download")
    assert (target / "b.out").read_text() == "mine"
    assert (target / "a.out").read_text() == "stale"  # refused before anything was written


@pytest.mark.parametrize("key", ["out/../../escape.out", "out/../sibling.out", "elsewhere/x.out"])
def test_a_key_that_leaves_the_target_is_refused(
    aws_env: dict[str, str], moto: MotoHarness, tmp_path: Path, key: str
) -> None:
    _objects(moto, key)
    target = tmp_path / "a" / "b" / "got"
    with pytest.raises(UsageError, match="refusing to write it outside"):
        download_outputs(connect(), [f"s3://{BUCKET}/{key}"], f"s3://{BUCKET}/out", target, "--download")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_s3_uris_are_parsed_or_refused_naming_the_flag() -> None:
    assert parse_s3_uri("s3://bucket/a/b", "--output") == ("bucket", "a/b")
    with pytest.raises(UsageError, match="--output"):
        parse_s3_uri("/local/path", "--output")
