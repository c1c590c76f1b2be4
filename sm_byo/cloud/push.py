"""``smbyo push``: the local image -> the manifest's ECR repository.

The repository is created when missing (tag mutability and scan-on-push from the manifest's
``ecr:`` section). Credentials come from GetAuthorizationToken and go to docker-py as
``auth_config`` only: never written to ``~/.docker/config.json``, never printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.session import open_aws
from sm_byo.docker import DockerAdapter
from sm_byo.manifest import LoadedManifest
from sm_byo.reporting import Reporter
from sm_byo.specs.names import local_image_tag, repository_name, role_tag


@dataclass
class PushResult:
    image_uri: str
    digest: str
    repository: str
    source: str
    created_repository: bool
    # With image.inference: the serve-only image, pushed to the same repository as ``<tag>-inference``.
    inference: PushedImage | None = None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "image_uri": self.image_uri,
            "digest": self.digest,
            "repository": self.repository,
            "source": self.source,
            "created_repository": self.created_repository,
        }
        if self.inference is not None:
            result["inference"] = self.inference.to_dict()
        return result


@dataclass(frozen=True)
class PushedImage:
    image_uri: str
    digest: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"image_uri": self.image_uri, "digest": self.digest, "source": self.source}


def split_tag(reference: str) -> tuple[str, str]:
    """``host:5000/repo:tag`` -> ``("host:5000/repo", "tag")``; no tag means ``latest``."""
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, "latest"


def ensure_repository(aws: AwsAdapter, loaded: LoadedManifest, reporter: Reporter) -> tuple[dict[str, Any], bool]:
    name = repository_name(loaded.manifest)
    existing = aws.describe_repository(name)
    if existing is not None:
        return existing, False
    ecr = loaded.manifest.ecr
    reporter.step(f"Creating the ECR repository {name} ({ecr.tag_mutability}, scan on push: {ecr.scan_on_push})")
    return aws.create_repository(name, tag_mutability=ecr.tag_mutability, scan_on_push=ecr.scan_on_push), True


def push_image(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    tag: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
    docker: DockerAdapter | None = None,
) -> PushResult:
    """Tag ``<name>:latest`` (or ``tag``) as ``<registry>/<repo>:<tag>`` and push it with layer progress;
    with ``image.inference``, ``<tag>-inference`` too (its shared layers are already there: only its own go up)."""
    from sm_byo.docker import connect as connect_docker

    source = tag or local_image_tag(loaded.manifest)
    sources = [source, role_tag(source, "inference", loaded.manifest)] if loaded.manifest.image.inference else [source]
    engine = docker or connect_docker()
    for image in sources:  # both exist before anything is created or pushed
        engine.inspect_image(image)
    adapter = open_aws(profile, region, aws)
    repository, created = ensure_repository(adapter, loaded, reporter)
    auth = adapter.registry_auth()
    target = str(repository["repositoryUri"])
    pushed = [_push_one(engine, image, target, auth.auth_config(), reporter) for image in sources]
    return PushResult(
        image_uri=pushed[0].image_uri,
        digest=pushed[0].digest,
        repository=str(repository.get("repositoryName", repository_name(loaded.manifest))),
        source=source,
        created_repository=created,
        inference=pushed[1] if len(pushed) > 1 else None,
    )


def _push_one(engine: DockerAdapter, source: str, target: str, auth: dict[str, str], reporter: Reporter) -> PushedImage:
    """Tag ``source`` into the repository ``target`` with its own tag, and push it with layer progress."""
    _, image_tag = split_tag(source)
    engine.tag(source, target, image_tag)
    reporter.step(f"Pushing {source} to {target}:{image_tag}")
    digest = engine.push(target, image_tag, auth, reporter)
    return PushedImage(image_uri=f"{target}:{image_tag}", digest=digest, source=source)
