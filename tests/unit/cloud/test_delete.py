"""The pure parts of `smbyo delete`: reading its arguments, which image tags a project's resources run, the order."""

from __future__ import annotations

import pytest

from sm_byo.cloud.delete import DELETERS, Target, _in_order, delete_command, image_tags_in
from sm_byo.errors import UsageError
from sm_byo.options import CloudOptions

CLOUD = CloudOptions()


def command(*arguments: str, data: bool = False, images: bool = False):  # type: ignore[no-untyped-def]
    return delete_command(arguments, dry_run=False, data=data, images=images, cloud=CLOUD)


def test_a_kind_and_names_or_the_project() -> None:
    named = command("model", "a", "b")
    assert (named.kind, named.names, named.legacy) == ("model", ("a", "b"), False)
    arns = command("model-package", "arn:aws:sagemaker:us-east-1:123456789012:model-package/p/3")
    assert arns.names == ("arn:aws:sagemaker:us-east-1:123456789012:model-package/p/3",)
    assert command("endpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e-1").kind == "endpoint"
    project = command("project", data=True, images=True)
    assert (project.kind, project.names, project.data, project.images) == ("project", (), True, True)


def test_one_argument_that_is_not_a_kind_is_the_endpoint_form_of_earlier_versions() -> None:
    legacy = command("my-endpoint")
    assert (legacy.kind, legacy.names, legacy.legacy) == ("endpoint", ("my-endpoint",), True)


@pytest.mark.parametrize(
    ("arguments", "flags", "says"),
    [
        ((), {}, "name what to delete"),
        (("my-endpoint", "extra"), {}, "'my-endpoint' is not a kind"),
        (("project", "x"), {}, "takes no NAME"),
        (("model",), {}, "needs the NAME or ARN"),
        (("endpoint", "e"), {"data": True}, "--data applies to `smbyo delete project` only"),
        (("model", "m"), {"images": True}, "--images applies to `smbyo delete project` only"),
        (("endpoint", ""), {}, "'' is not a valid SageMaker name"),
        (("model", "m\n"), {}, "'m\\n' is not a valid SageMaker name"),
        (("../../etc",), {}, "is not a valid SageMaker name"),
        (("algorithm", "a" * 64), {}, "is not a valid SageMaker name"),
        (("model-package", "arn:aws:sagemaker:us-east-1:123456789012:model/x"), {}, "is not the ARN of"),
        (("endpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/a;b"), {}, "is not a valid SageMaker name"),
    ],
)
def test_what_cannot_be_meant_exits_2_saying_why(arguments: tuple[str, ...], flags: dict[str, bool], says: str) -> None:
    with pytest.raises(UsageError) as raised:
        command(*arguments, **flags)
    assert says in raised.value.message


def test_a_kind_named_alone_says_how_to_delete_an_endpoint_of_that_name() -> None:
    with pytest.raises(UsageError) as raised:
        command("algorithm")
    assert raised.value.hint is not None and "`smbyo delete endpoint algorithm`" in raised.value.hint


REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/algo"


def test_image_tags_are_those_of_the_project_repository_only() -> None:
    images = [f"{REPO}:v1", f"{REPO}-other:v9", f"{REPO}@sha256:{'0' * 64}", "public.ecr.aws/x/algo:v3"]
    assert image_tags_in(images, REPO, inference_pair=False) == {"v1"}


def test_with_an_inference_image_each_tag_brings_its_partner() -> None:
    assert image_tags_in([f"{REPO}:v1"], REPO, inference_pair=True) == {"v1", "v1-inference"}
    assert image_tags_in([f"{REPO}:v2-inference"], REPO, inference_pair=True) == {"v2", "v2-inference"}


def test_what_uses_a_resource_goes_before_it_and_nothing_twice() -> None:
    found = [
        Target("ecr-image", "algo:v1"),
        Target("algorithm", "a"),
        Target("model", "m"),
        Target("endpoint", "e"),
        Target("model", "m"),
        Target("s3-object", "s3://b/k"),
        Target("model-package", "p"),
        Target("endpoint-config", "e"),
    ]
    ordered = [target.kind for target in _in_order(found)]
    assert ordered == ["endpoint", "endpoint-config", "model", "model-package", "algorithm", "s3-object", "ecr-image"]
    assert list(DELETERS) == ordered
