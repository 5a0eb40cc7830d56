"""Hostile workspace archives: each refused with a precise message, nothing left behind."""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from connector.api.archive import ArchiveError, Limits, archive_kind, extracted_workspace

FLOW = b"key: welcome\n"


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def workspace_tar(prefix: str = "", mode: str = "w:gz") -> bytes:
    return tar_bytes(
        [
            (entry(f"{prefix}flows/welcome.yaml"), FLOW),
            (entry(f"{prefix}templates/welcome/subject.txt"), b"Hi"),
        ],
        mode,
    )


def zip_bytes(files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, target)
    return buffer.getvalue()


def refused(data: bytes, limits: Limits | None = None) -> ArchiveError:
    before = set(Path(tempfile.gettempdir()).glob("workspace-*"))
    with pytest.raises(ArchiveError) as caught, extracted_workspace(data, limits):
        pass
    # The temporary directory is gone whatever happened.
    assert set(Path(tempfile.gettempdir()).glob("workspace-*")) == before
    return caught.value


@pytest.mark.parametrize("mode", ["w:gz", "w", "w:bz2", "w:xz"])
def test_a_tar_workspace_is_extracted_then_removed(mode: str) -> None:
    with extracted_workspace(workspace_tar(mode=mode)) as folder:
        assert (folder / "flows" / "welcome.yaml").read_bytes() == FLOW
        kept = folder
    assert not kept.exists()


def test_one_top_level_folder_is_unwrapped() -> None:
    with extracted_workspace(workspace_tar(prefix="acme-workspace/")) as folder:
        assert folder.name == "acme-workspace"
        assert (folder / "templates" / "welcome" / "subject.txt").read_bytes() == b"Hi"


def test_a_zip_workspace_with_a_wrapper_and_macos_litter() -> None:
    data = zip_bytes({"ws/flows/welcome.yaml": FLOW, "__MACOSX/._ws": b"junk"})
    with extracted_workspace(data) as folder:
        assert (folder / "flows" / "welcome.yaml").read_bytes() == FLOW


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.yaml", "path traversal"),
        ("flows/../../evil.yaml", "path traversal"),
        ("/etc/passwd", "absolute path"),
        ("C:/windows/evil", "absolute path"),
        ("flows\\..\\evil", "backslashes"),
    ],
)
def test_escaping_names_are_refused(name: str, message: str) -> None:
    error = refused(tar_bytes([(entry(name), b"x")]))
    assert message in str(error) and error.status == 400
    error = refused(zip_bytes({name: b"x"}))
    assert message in str(error)


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (entry("flows/link", tarfile.SYMTYPE, linkname="/etc/passwd"), "symbolic link"),
        (entry("flows/hard", tarfile.LNKTYPE, linkname="flows/welcome.yaml"), "hard link"),
        (entry("flows/dev", tarfile.CHRTYPE, devmajor=1, devminor=3), "device file"),
        (entry("flows/blk", tarfile.BLKTYPE), "device file"),
        (entry("flows/fifo", tarfile.FIFOTYPE), "FIFO"),
    ],
)
def test_links_and_special_files_are_refused(info: tarfile.TarInfo, message: str) -> None:
    data = tar_bytes([(entry("flows/welcome.yaml"), FLOW), (info, None)])
    error = refused(data)
    assert str(error) == f"{info.name}: {message} not allowed"


def test_zip_symlinks_are_refused() -> None:
    error = refused(zip_bytes({"flows/a.yaml": FLOW}, symlinks={"flows/link": "/etc/passwd"}))
    assert str(error) == "flows/link: symbolic link not allowed"


def test_too_many_entries() -> None:
    data = tar_bytes([(entry(f"flows/f{i}.yaml"), b"x") for i in range(11)])
    assert str(refused(data, Limits(max_entries=10))) == "more than 10 entries in the archive"
    data = zip_bytes({f"flows/f{i}.yaml": b"x" for i in range(11)})
    assert str(refused(data, Limits(max_entries=10))) == "more than 10 entries in the archive"


def test_a_file_over_the_limit() -> None:
    error = refused(workspace_tar(), Limits(max_file_bytes=5))
    assert str(error) == "flows/welcome.yaml: larger than 5 bytes" and error.status == 413


def test_a_zip_bomb_is_stopped_by_counting_bytes() -> None:
    # Highly compressible: 64 KiB compressed, 64 MiB expanded, over several files.
    files = {f"templates/t{i}/body.mjml": b"\0" * (8 * 1024 * 1024) for i in range(8)}
    data = zip_bytes(files)
    assert len(data) < 1024 * 1024
    error = refused(data, Limits(max_file_bytes=16 * 1024 * 1024))
    assert "expands to more than 20971520 bytes" in str(error) and error.status == 413


def test_a_lying_zip_header_size_does_not_help() -> None:
    data = bytearray(zip_bytes({"flows/big.yaml": b"a" * 100_000}))
    # Rewrite the uncompressed size in the central directory to 10 bytes.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    error = refused(bytes(data), Limits(max_file_bytes=50_000))
    assert "flows/big.yaml" in str(error) or "corrupt archive" in str(error)


def test_a_tar_bomb_is_stopped_by_the_total() -> None:
    members = [(entry(f"flows/f{i}.yaml"), b"\0" * 1_000_000) for i in range(30)]
    error = refused(tar_bytes(members))
    assert "expands to more than" in str(error)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty body"),
        (b"hello, not an archive", "not a tar, tar.gz or zip archive"),
        (b"\x1f\x8b\x08\x00garbage-after-gzip-magic", "corrupt archive"),
        (b"PK\x03\x04" + b"\0" * 100, "corrupt archive"),
    ],
)
def test_corrupt_or_unknown_bodies(data: bytes, message: str) -> None:
    error = refused(data)
    assert message in str(error) and error.status == 400


def test_truncated_tar_gz_is_corrupt() -> None:
    data = workspace_tar()
    assert "corrupt archive" in str(refused(data[: len(data) // 2]))


def test_duplicate_entries_are_refused() -> None:
    data = tar_bytes([(entry("flows/a.yaml"), FLOW), (entry("flows/a.yaml"), FLOW)])
    assert str(refused(data)) == "flows/a.yaml: appears twice in the archive"


def test_an_archive_without_workspace_folders() -> None:
    error = refused(tar_bytes([(entry("README.md"), b"hi")]))
    assert "expected flows/, segments/ or templates/" in str(error) and error.status == 422


def test_kind_by_magic_bytes() -> None:
    assert archive_kind(workspace_tar()) == "tar"
    assert archive_kind(workspace_tar(mode="w")) == "tar"
    assert archive_kind(zip_bytes({"a": b"b"})) == "zip"
