"""model.tar.gz: packing, and extraction that refuses malicious archives before writing anything."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sm_byo.errors import UsageError
from sm_byo.local.archive import model_directory, pack_directory, safe_extract


def _malicious(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo("model.npz")
        good.size = 1
        tar.addfile(good, io.BytesIO(b"1"))
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return path


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_pack_then_extract_round_trips(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "model.npz").write_bytes(b"weights")
    (model / "sub" / "vocab.txt").write_text("a\nb\n")
    archive = pack_directory(model, tmp_path / "out" / "model.tar.gz")
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["model.npz", "sub", "sub/vocab.txt"]  # contents, not the directory
    extracted = model_directory(archive, tmp_path)
    assert (extracted / "model.npz").read_bytes() == b"weights"
    assert (extracted / "sub" / "vocab.txt").read_text() == "a\nb\n"
    assert (extracted.stat().st_mode & 0o755) == 0o755  # the container's unprivileged user can read it


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (tarfile.TarInfo("/etc/evil"), "absolute path"),
        (tarfile.TarInfo("../evil"), "'..'"),
        (tarfile.TarInfo("sub/../../evil"), "'..'"),
        (_link("escape", "/etc/passwd", tarfile.SYMTYPE), "symbolic link"),
        (_link("escape", "../../outside", tarfile.SYMTYPE), "symbolic link"),
        (_link("hard", "/etc/passwd", tarfile.LNKTYPE), "hard link"),
        (_link("fifo", "", tarfile.FIFOTYPE), "special file"),
    ],
)
def test_malicious_members_are_refused_and_nothing_is_written(
    tmp_path: Path, member: tarfile.TarInfo, reason: str
) -> None:
    archive = _malicious(tmp_path / "bad.tar.gz", member)
    target = tmp_path / "deep" / "target"
    with pytest.raises(UsageError) as caught:
        safe_extract(archive, target)
    assert reason in caught.value.message
    assert member.name in caught.value.message
    assert caught.value.exit_code == 2
    assert list(target.iterdir()) == []  # refused before the first byte, even the good member
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()


def test_a_link_inside_the_directory_is_fine(tmp_path: Path) -> None:
    archive = _malicious(tmp_path / "ok.tar.gz", _link("alias.npz", "model.npz", tarfile.SYMTYPE))
    extracted = safe_extract(archive, tmp_path / "target")
    assert (extracted / "alias.npz").resolve() == (extracted / "model.npz").resolve()


def test_not_an_archive_and_missing_paths_are_usage_errors(tmp_path: Path) -> None:
    junk = tmp_path / "model.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(UsageError, match=r"not a readable tar\.gz"):
        model_directory(junk, tmp_path)
    with pytest.raises(UsageError, match="no such file or directory"):
        model_directory(tmp_path / "missing.tar.gz", tmp_path)


def test_a_directory_is_used_as_it_is(tmp_path: Path) -> None:
    assert model_directory(tmp_path, tmp_path / "scratch") == tmp_path.resolve()


def _chain(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if member.isfile():
                member.size = 4
                tar.addfile(member, io.BytesIO(b"evil"))
            else:
                tar.addfile(member)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


CHAINS = {
    # each link looks harmless on its own; followed through the one before it, it leads out
    "dir-link then parent link": [
        _link("a", ".", tarfile.SYMTYPE),
        _link("a/b", "..", tarfile.SYMTYPE),
        _file("a/b/evil"),
    ],
    "nested chain": [
        _link("x", ".", tarfile.SYMTYPE),
        _link("x/y", ".", tarfile.SYMTYPE),
        _link("x/y/z", "..", tarfile.SYMTYPE),
        _file("x/y/z/evil"),
    ],
    "hard link through a symlink": [
        _link("s", ".", tarfile.SYMTYPE),
        _link("s/t", "..", tarfile.SYMTYPE),
        _link("h", "s/t/outside.txt", tarfile.LNKTYPE),
    ],
}


@pytest.mark.parametrize("with_data_filter", [True, False], ids=["filter", "no-filter"])
@pytest.mark.parametrize("name", sorted(CHAINS))
def test_link_chains_cannot_lead_out_with_or_without_pythons_data_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, with_data_filter: bool
) -> None:
    """Python < 3.11.4 (Debian 12's 3.11.2) has no tar 'data' filter: smbyo's own checks must suffice."""
    if not with_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tar data filter")
    jail = tmp_path / "jail"
    target = jail / "target"
    target.mkdir(parents=True)
    (jail / "outside.txt").write_text("secret")
    (target / "kept.txt").write_text("was here before")
    archive = _chain(tmp_path / "chain.tar.gz", CHAINS[name])
    with pytest.raises(UsageError, match="refusing to extract") as caught:
        safe_extract(archive, target)
    assert caught.value.exit_code == 2
    assert sorted(p.name for p in jail.iterdir()) == ["outside.txt", "target"]  # nothing written beside it
    assert (jail / "outside.txt").read_text() == "secret"
    assert sorted(p.name for p in target.iterdir()) == ["kept.txt"]  # partial extraction undone, rest kept


def test_a_file_written_through_an_inside_link_stays_inside(tmp_path: Path) -> None:
    archive = _chain(tmp_path / "ok.tar.gz", [_link("sub", ".", tarfile.SYMTYPE), _file("sub/weights.bin")])
    extracted = safe_extract(archive, tmp_path / "target")
    assert (extracted / "weights.bin").read_bytes() == b"evil"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.tar.gz", "target"]
