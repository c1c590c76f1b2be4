"""build's result: the JSON keeps every layer whole; a terminal gets each instruction on one short line."""

from __future__ import annotations

from sm_byo.build import INSTRUCTION_WIDTH, BuildResult, shorten

LONG_RUN = "RUN set -eu;     packages=nginx;\n    apt-get update;     apt-get install -y $packages; " + "x " * 60


def result() -> BuildResult:
    layers = [
        {"step": 1, "instruction": "FROM base", "cached": False},
        {"step": 2, "instruction": LONG_RUN, "cached": True},
    ]
    return BuildResult(
        image_id="sha256:1", tag="a:latest", platform="linux/amd64", size_bytes=10, seconds=1.234, layers=layers
    )


def test_the_json_document_keeps_the_instructions_whole() -> None:
    data = result().to_dict()
    assert data["layers"][1]["instruction"] == LONG_RUN
    assert list(data) == ["image_id", "tag", "platform", "size_bytes", "seconds", "cached_layers", "layers"]
    assert data["cached_layers"] == 1


def test_the_terminal_view_cuts_each_instruction_to_one_short_line() -> None:
    view = result().human_view()
    short = view["layers"][1]["instruction"]
    assert short.startswith("RUN set -eu; packages=nginx; apt-get update;")
    assert len(short) == INSTRUCTION_WIDTH and short.endswith("…")
    assert view["layers"][0] == {"step": 1, "instruction": "FROM base", "cached": False}
    assert {key: value for key, value in view.items() if key != "layers"} == {
        key: value for key, value in result().to_dict().items() if key != "layers"
    }


def test_shorten_leaves_a_short_line_alone() -> None:
    assert shorten("COPY  a\n b") == "COPY a b"
    assert shorten("abcdef", limit=4) == "abc…"


def test_a_split_build_nests_the_inference_image_whole_in_json_and_on_one_line_in_a_terminal() -> None:
    split = result()
    split.inference = BuildResult(image_id="sha256:2", tag="a:latest-inference", platform="linux/amd64",
                                  size_bytes=5, seconds=0.2, layers=result().layers)  # fmt: skip
    data = split.to_dict()
    assert data["inference"]["tag"] == "a:latest-inference"
    assert data["inference"]["layers"][1]["instruction"] == LONG_RUN
    assert split.human_view()["inference"] == {
        "image_id": "sha256:2", "tag": "a:latest-inference", "platform": "linux/amd64", "size_bytes": 5,
        "seconds": 0.2, "cached_layers": 1,
    }  # fmt: skip
    assert "inference" not in result().to_dict()
