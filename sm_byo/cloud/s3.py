"""smbyo's one S3 module: parsing S3 URIs, uploading local data (only what changed), listing and
downloading a job's outputs without trusting the keys.

Uploads:
A directory goes under a prefix named after a digest of its content (relative paths + MD5s), so a
channel's S3 prefix holds exactly the files given, never leftovers of an earlier run; and a file
whose object already exists with the same size and MD5 (the ETag of a single-part upload, or the
``smbyo-md5`` metadata smbyo sets for multipart ones) is not uploaded again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.session import ensure_bucket
from sm_byo.errors import UsageError
from sm_byo.local.outputs import OutputDirectory, temporary_beside
from sm_byo.reporting import Reporter
from sm_byo.rules import is_hidden

CHUNK = 1024 * 1024
# User metadata on every object smbyo writes (S3 returns it as x-amz-meta-*, HeadObject's ``Metadata``:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata). The MD5 lets a re-run
# skip an unchanged multipart file; the project (the manifest's name) marks the object as smbyo's, so
# `smbyo delete project --data` removes only objects smbyo wrote for that project.
MD5_METADATA = "smbyo-md5"
PROJECT_METADATA = "smbyo-project"


def parse_s3_uri(uri: str, flag: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> ``("bucket", "key/prefix")``; anything else is a usage error naming ``flag``."""
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise UsageError(f"{flag} {uri!r} is not an s3:// URI", hint=f"Pass {flag} s3://bucket/prefix.")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@dataclass(frozen=True)
class LocalFile:
    path: Path
    relative: str
    size: int
    md5: str


@dataclass
class UploadOutcome:
    uri: str
    uploaded: int = 0
    skipped: int = 0


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def local_files(source: Path, flag: str) -> list[LocalFile]:
    if not source.exists():
        raise UsageError(f"{flag}: {source} does not exist", hint=f"Pass {flag} with an existing file or directory.")
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    if not paths:
        raise UsageError(f"{flag}: {source} holds no files", hint="Point it at a directory with the data files.")
    base = source.parent if source.is_file() else source
    return [LocalFile(p, p.relative_to(base).as_posix(), p.stat().st_size, md5_of(p)) for p in paths]


def content_digest(files: list[LocalFile]) -> str:
    digest = hashlib.sha256()
    for item in files:
        digest.update(f"{item.relative}\0{item.md5}\n".encode())
    return digest.hexdigest()[:16]


def _unchanged(head: dict[str, Any] | None, item: LocalFile) -> bool:
    if head is None or int(head.get("ContentLength", -1)) != item.size:
        return False
    etag = str(head.get("ETag", "")).strip('"')
    return etag == item.md5 or head.get("Metadata", {}).get(MD5_METADATA) == item.md5


@dataclass(frozen=True)
class PlannedUpload:
    """A local file or directory and the S3 prefix it will have (named after its content)."""

    source: Path
    bucket: str
    prefix: str
    files: tuple[LocalFile, ...]
    project: str  # the manifest's name, written on every object as its PROJECT_METADATA: `delete project --data`

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}/"


def plan_upload(source: Path, bucket: str, base_key: str, flag: str, *, project: str) -> PlannedUpload:
    """Where ``source`` goes: ``s3://bucket/<base_key>/<digest>/`` (reads the files; sends nothing)."""
    files = local_files(source, flag)
    return PlannedUpload(source, bucket, f"{base_key.strip('/')}/{content_digest(files)}", tuple(files), project)


def plan_upload_at(source: Path, uri: str, flag: str, *, project: str) -> PlannedUpload:
    """Where ``source`` goes when the request names the prefix itself (``s3://bucket/prefix/``)."""
    bucket, prefix = parse_s3_uri(uri, flag)
    return PlannedUpload(source, bucket, prefix.strip("/"), tuple(local_files(source, flag)), project)


def run_upload(aws: AwsAdapter, planned: PlannedUpload, reporter: Reporter) -> UploadOutcome:
    """Send the planned files that S3 does not already hold (same size and MD5)."""
    bucket, prefix = planned.bucket, planned.prefix
    outcome = UploadOutcome(uri=planned.uri)
    hidden = [item.relative for item in planned.files if is_hidden(PurePosixPath(item.relative))]
    if hidden:
        reporter.warn(
            f"{planned.source}: {len(hidden)} hidden file(s) (e.g. {hidden[0]}) are uploaded too: SageMaker hands "
            "every object under the prefix to the job. Remove them if they are not data (.env, .git, ...)."
        )
    for item in planned.files:
        key = f"{prefix}/{item.relative}"
        if _unchanged(aws.head_object(bucket, key), item):
            outcome.skipped += 1
            reporter.detail(f"{item.relative}: unchanged in s3://{bucket}/{key}, not uploaded again")
            continue
        sent = 0

        def on_bytes(count: int, task: str = item.relative, total: int = item.size) -> None:
            nonlocal sent
            sent += count
            reporter.progress(f"upload {task}", sent, total)

        metadata = {MD5_METADATA: item.md5, PROJECT_METADATA: planned.project}
        aws.upload_file(item.path, bucket, key, metadata=metadata, on_bytes=on_bytes)
        outcome.uploaded += 1
    return outcome


def send_uploads(aws: AwsAdapter, uploads: Sequence[PlannedUpload], reporter: Reporter) -> list[UploadOutcome]:
    """A plan's uploads, in order, each bucket created first when it does not exist; each reported."""
    outcomes = []
    ready: set[str] = set()
    for upload in uploads:
        if upload.bucket not in ready:
            ensure_bucket(aws, upload.bucket, reporter)
            ready.add(upload.bucket)
        reporter.step(f"Uploading {upload.source} to {upload.uri}")
        outcome = run_upload(aws, upload, reporter)
        reporter.detail(f"{outcome.uploaded} uploaded, {outcome.skipped} unchanged")
        outcomes.append(outcome)
    return outcomes


def upload_path(
    aws: AwsAdapter, source: Path, bucket: str, base_key: str, reporter: Reporter, flag: str, *, project: str
) -> UploadOutcome:
    """Upload a file or directory to ``s3://bucket/<base_key>/<digest>/``; returns that prefix URI."""
    return run_upload(aws, plan_upload(source, bucket, base_key, flag, project=project), reporter)


# --- a job's outputs -------------------------------------------------------------------------------


def _as_folder(prefix: str) -> str:
    """``out`` -> ``out/``: a prefix that matches only what is below it (``out-other/`` is another job's)."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def list_outputs(aws: AwsAdapter, output: str, suffix: str, flag: str) -> list[str]:
    """The S3 URIs of the objects below the prefix ``output`` whose key ends with ``suffix``."""
    bucket, prefix = parse_s3_uri(output, flag)
    folder = _as_folder(prefix)
    return [
        f"s3://{bucket}/{item['Key']}"
        for item in aws.list_objects(bucket, folder)
        if item["Key"].startswith(folder) and item["Key"].endswith(suffix)
    ]


def download_outputs(aws: AwsAdapter, files: list[str], output: str, target: Path, flag: str) -> list[str]:
    """Download ``files`` (below ``output``) into ``target``, keeping their paths below the prefix.

    Keys come from S3 and may be anything: one whose path would leave ``target`` (``..``, an absolute
    path) is refused. The files land as local results do (:class:`~sm_byo.local.outputs.OutputDirectory`):
    a file smbyo did not write at one of their names refuses the whole download before anything is
    written (the objects stay in S3), and each file is written under a temporary name and renamed when
    complete.
    """
    wanted = [(uri, _below(uri, output, target, flag)) for uri in files]
    results = OutputDirectory(target, flag)
    results.refuse_foreign(relative for _, relative in wanted)
    saved: list[str] = []
    for uri, relative in wanted:
        bucket, key = parse_s3_uri(uri, flag)
        descriptor, partial = temporary_beside(target / relative)
        os.close(descriptor)
        try:
            aws.download_file(bucket, key, partial)
            saved.append(str(results.publish(partial, relative)))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return saved


def _below(uri: str, output: str, target: Path, flag: str) -> str:
    """``uri``'s path below the ``output`` prefix, refused when it would not land inside ``target``."""
    _, prefix = parse_s3_uri(output, flag)
    folder = _as_folder(prefix)
    _, key = parse_s3_uri(uri, flag)
    relative = key[len(folder) :] if key.startswith(folder) else ""
    root = target.resolve()
    path = (root / relative).resolve()
    if not relative or not path.is_relative_to(root) or path == root:
        raise UsageError(
            f"{uri}: its key does not name a file below {output}; refusing to write it outside {target}",
            hint="Download that object by hand if you trust it.",
        )
    return path.relative_to(root).as_posix()

