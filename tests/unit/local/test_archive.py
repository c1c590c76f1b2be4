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
    archive = pack_directory(model, tmp_path / "out" / "model.tar.gz").path
    assert archive.stat().st_mode & 0o044 == 0o044  # readable by others, as the model it replaces was
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


# --- more link-chain classes: loops, links already in the target, devices ----------------------------


def _device(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3
    return info


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE], ids=["char-device", "block-device"])
def test_device_members_are_refused(tmp_path: Path, kind: bytes) -> None:
    archive = _malicious(tmp_path / "bad.tar.gz", _device("dev", kind))
    with pytest.raises(UsageError, match="special file"):
        safe_extract(archive, tmp_path / "target")
    assert list((tmp_path / "target").iterdir()) == []


LOOPS = {
    "two links pointing at each other": [
        _link("a", "b", tarfile.SYMTYPE),
        _link("b", "a", tarfile.SYMTYPE),
        _file("a/evil"),
    ],
    "a link to itself": [_link("self", "self", tarfile.SYMTYPE), _file("self/evil")],
    "a hard link through a loop": [
        _link("a", "b", tarfile.SYMTYPE),
        _link("b", "a", tarfile.SYMTYPE),
        _link("h", "a/outside.txt", tarfile.LNKTYPE),
    ],
}


@pytest.mark.parametrize("with_data_filter", [True, False], ids=["filter", "no-filter"])
@pytest.mark.parametrize("name", sorted(LOOPS))
def test_link_loops_are_a_usage_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, with_data_filter: bool
) -> None:
    """Python 3.11's Path.resolve raises RuntimeError on a loop; that must not escape as a bug report."""
    if not with_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tar data filter")
    target = tmp_path / "target"
    target.mkdir()
    archive = _chain(tmp_path / "loop.tar.gz", LOOPS[name])
    with pytest.raises(UsageError, match=r"refusing to extract|not a readable") as caught:
        safe_extract(archive, target)
    assert caught.value.exit_code == 2
    assert list(target.iterdir()) == []


@pytest.mark.parametrize(
    "members",
    [
        [_file("planted/evil")],  # a file written through the link
        [_link("planted/x", ".", tarfile.SYMTYPE)],  # a link made inside it
        [tarfile.TarInfo("planted")],  # replacing the link with a file must not write through it
        [_link("h", "planted/outside.txt", tarfile.LNKTYPE)],  # a hard link to what it points at
        [_file("unrelated.npz")],  # extracted; making the tree readable must not chmod through the link
    ],
    ids=["file-through", "link-inside", "same-name", "hard-link-through", "unrelated"],
)
def test_a_link_already_in_the_target_is_not_followed_out(tmp_path: Path, members: list[tarfile.TarInfo]) -> None:
    jail = tmp_path / "jail"
    (jail / "outside").mkdir(parents=True)
    (jail / "outside" / "outside.txt").write_text("secret")
    target = jail / "target"
    target.mkdir()
    (target / "planted").symlink_to(jail / "outside")
    (jail / "outside").chmod(0o700)
    archive = _chain(tmp_path / "planted.tar.gz", members)
    try:
        safe_extract(archive, target)
    except UsageError as exc:
        assert exc.exit_code == 2
    assert sorted(p.name for p in (jail / "outside").iterdir()) == ["outside.txt"]
    assert (jail / "outside" / "outside.txt").read_text() == "secret"
    assert not (target / "h").exists() or (target / "h").read_text() != "secret"
    assert (jail / "outside").stat().st_mode & 0o777 == 0o700  # making the model readable did not reach it


# --- packing a tree a container wrote ---------------------------------------------------------------


def test_pack_leaves_out_links_fifos_and_what_they_point_to(tmp_path: Path) -> None:
    import os

    secret_dir = tmp_path / "host"
    secret_dir.mkdir()
    (secret_dir / "credentials").write_text("secret")
    model = tmp_path / "ml" / "model"
    (model / "sub").mkdir(parents=True)
    (model / "model.npz").write_bytes(b"weights")
    (model / "sub" / "vocab.txt").write_text("a\n")
    (model / "creds").symlink_to(secret_dir / "credentials")
    (model / "hostdir").symlink_to(secret_dir)
    (model / "sub" / "alias.npz").symlink_to(model / "model.npz")  # even a link inside the tree
    os.mkfifo(model / "pipe")  # opening it for reading would block
    packed = pack_directory(model, tmp_path / "out" / "model.tar.gz", root=tmp_path / "ml")
    with tarfile.open(packed.path) as tar:
        assert sorted(tar.getnames()) == ["model.npz", "sub", "sub/vocab.txt"]
        assert all(member.isfile() or member.isdir() for member in tar.getmembers())
    assert packed.files == 2
    assert sorted(packed.skipped) == [
        "creds: a symbolic link",
        "hostdir: a symbolic link",
        "pipe: a FIFO",
        "sub/alias.npz: a symbolic link",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.tar.gz"]  # no temporary left


@pytest.mark.parametrize("planted", ["model", "output"], ids=["the-directory", "a-directory-on-the-way"])
def test_pack_does_not_follow_a_linked_directory_or_one_on_the_way(tmp_path: Path, planted: str) -> None:
    host = tmp_path / "host"
    (host / "data").mkdir(parents=True)
    (host / "data" / "id_rsa").write_text("secret")
    (host / "id_rsa").write_text("secret")
    root = tmp_path / "ml"
    root.mkdir()
    (root / planted).symlink_to(host)
    source = root / "model" if planted == "model" else root / "output" / "data"
    packed = pack_directory(source, tmp_path / "out.tar.gz", root=root)
    with tarfile.open(packed.path) as tar:
        assert tar.getnames() == []
    assert packed.skipped and "symbolic link" in packed.skipped[0]


def test_pack_writes_under_a_temporary_name_and_leaves_nothing_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.npz").write_bytes(b"weights")
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.tar.gz").write_bytes(b"the earlier one")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(tarfile.TarFile, "addfile", broken)
    with pytest.raises(OSError, match="disk full"):
        pack_directory(model, out / "model.tar.gz")
    assert sorted(p.name for p in out.iterdir()) == ["model.tar.gz"]
    assert (out / "model.tar.gz").read_bytes() == b"the earlier one"  # untouched until a complete one is ready


def test_several_hosts_trees_merge_into_one_archive_the_first_copy_of_a_clash_kept(tmp_path: Path) -> None:
    from sm_byo.local.archive import pack_directories

    roots = []
    for host in ("algo-1", "algo-2"):
        model = tmp_path / host / "model"
        (model / "shared").mkdir(parents=True)
        (model / f"{host}.txt").write_text(host)
        (model / "shared" / "same.txt").write_text(host)
        roots.append((tmp_path / host, model))
    (roots[1][1] / "algo-1.txt").mkdir()  # a directory where the first host wrote a file
    packed = pack_directories(roots, tmp_path / "model.tar.gz")
    with tarfile.open(packed.path) as tar:
        names = tar.getnames()
        assert sorted(names) == ["algo-1.txt", "algo-2.txt", "shared", "shared/same.txt"]
        member = tar.extractfile("shared/same.txt")
        assert member is not None and member.read() == b"algo-1"
    assert sorted(packed.clashes) == ["algo-1.txt", "shared/same.txt"]
