"""Unpack an uploaded workspace archive (tar, tar.gz/bz2/xz or zip) into a temporary
folder, treating it as hostile: no path escapes, no links or special files, bounded entry
count and sizes (bytes are counted while extracting; header sizes are never trusted).

`extracted_workspace(data)` yields the workspace folder and always removes it afterwards.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

ARCHIVE_MEDIA_TYPES = (
    "application/gzip",
    "application/x-tar",
    "application/zip",
    "application/octet-stream",
)
WORKSPACE_FOLDERS = ("flows", "segments", "templates", "campaigns")
CHUNK = 64 * 1024
# macOS archivers add these next to the real content; they are skipped, not refused.
IGNORED_TOP_LEVEL = frozenset({"__MACOSX"})


@dataclass(frozen=True)
class Limits:
    max_entries: int = 2_000
    max_file_bytes: int = 2 * 1024 * 1024
    max_total_bytes: int = 20 * 1024 * 1024


class ArchiveError(ValueError):
    """The archive is refused; the message says why. `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def archive_kind(data: bytes) -> str:
    """ "zip" or "tar" from the magic bytes (compressed tars are opened by tarfile)."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if data[257:262] == b"ustar":
        return "tar"
    raise ArchiveError("not a tar, tar.gz or zip archive (unrecognised magic bytes)")


@contextmanager
def extracted_workspace(data: bytes, limits: Limits | None = None) -> Iterator[Path]:
    """The workspace folder of the archive: its root, or its single top-level folder."""
    if not data:
        raise ArchiveError("empty body: upload the workspace as a tar.gz or zip archive")
    kind = archive_kind(data)
    with tempfile.TemporaryDirectory(prefix="workspace-") as tmp:
        root = Path(tmp)
        extractor = _Extractor(root, limits or Limits())
        if kind == "zip":
            extractor.zip(data)
        else:
            extractor.tar(data)
        yield workspace_root(root)


def workspace_root(root: Path) -> Path:
    """`root`, or the one folder wrapping everything; it must hold a workspace folder."""
    entries = [p for p in root.iterdir() if p.name not in IGNORED_TOP_LEVEL]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name not in WORKSPACE_FOLDERS:
        root = entries[0]
    if not any((root / name).is_dir() for name in WORKSPACE_FOLDERS):
        raise ArchiveError(
            "no workspace in the archive: expected flows/, segments/ or templates/ at its "
            "top level (or inside one top-level folder)",
            status=422,
        )
    return root


class _Extractor:
    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits = root, limits
        self.entries = 0
        self.total = 0

    def tar(self, data: bytes) -> None:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                # Iterate lazily: `getmembers()` would read every header of a huge archive
                # before the entry limit could stop it.
                for member in archive:
                    name = self._admit(member.name)
                    if member.isdir():
                        self._directory(name)
                    elif member.isreg():
                        self._check_declared(name, member.size)
                        source = archive.extractfile(member)
                        assert source is not None  # a regular file always has data
                        with source:
                            self._file(name, source)
                    else:
                        raise ArchiveError(f"{member.name}: {_tar_kind(member)} not allowed")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise ArchiveError(f"corrupt archive: {exc}") from exc

    def zip(self, data: bytes) -> None:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
                if len(infos) > self.limits.max_entries:
                    self._too_many()
                for info in infos:
                    name = self._admit(info.filename)
                    mode = info.external_attr >> 16
                    if info.flag_bits & 0x1:
                        raise ArchiveError(f"{info.filename}: encrypted entries not allowed")
                    if stat.S_ISLNK(mode):
                        raise ArchiveError(f"{info.filename}: symbolic link not allowed")
                    # Many zip writers set permission bits only (no file type): regular.
                    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                        raise ArchiveError(f"{info.filename}: special file not allowed")
                    if info.is_dir():
                        self._directory(name)
                        continue
                    self._check_declared(name, info.file_size)
                    with archive.open(info) as source:
                        self._file(name, source)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            EOFError,
            OSError,
            zlib.error,
            NotImplementedError,
        ) as exc:
            raise ArchiveError(f"corrupt archive: {exc}") from exc

    def _admit(self, raw: str) -> PurePosixPath:
        """Count the entry and check its name: relative, inside the folder, plain."""
        self.entries += 1
        if self.entries > self.limits.max_entries:
            self._too_many()
        if not raw or "\x00" in raw:
            raise ArchiveError("an entry has an empty or invalid name")
        if "\\" in raw:
            raise ArchiveError(f"{raw}: backslashes not allowed in entry names")
        path = PurePosixPath(raw)
        if path.is_absolute() or (len(raw) > 1 and raw[1] == ":"):
            raise ArchiveError(f"{raw}: absolute path not allowed")
        if ".." in path.parts:
            raise ArchiveError(f"{raw}: path traversal ('..') not allowed")
        parts = [p for p in path.parts if p != "."]
        if not parts:
            return PurePosixPath(".")
        return PurePosixPath(*parts)

    def _too_many(self) -> None:
        raise ArchiveError(f"more than {self.limits.max_entries} entries in the archive")

    def _check_declared(self, name: PurePosixPath, size: int) -> None:
        # A cheap early refusal; the real limit is the count of bytes actually written.
        if size > self.limits.max_file_bytes:
            self._file_too_large(name)

    def _file_too_large(self, name: PurePosixPath) -> None:
        raise ArchiveError(f"{name}: larger than {self.limits.max_file_bytes} bytes", status=413)

    def _directory(self, name: PurePosixPath) -> None:
        (self.root / name).mkdir(parents=True, exist_ok=True)

    def _file(self, name: PurePosixPath, source: IO[bytes]) -> None:
        if name == PurePosixPath("."):
            raise ArchiveError("a file entry has no name")
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(target, flags, 0o600)
        except FileExistsError as exc:
            raise ArchiveError(f"{name}: appears twice in the archive") from exc
        written = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if written > self.limits.max_file_bytes:
                    self._file_too_large(name)
                if self.total > self.limits.max_total_bytes:
                    raise ArchiveError(
                        f"archive expands to more than {self.limits.max_total_bytes} bytes",
                        status=413,
                    )
                out.write(chunk)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.isfifo():
        return "FIFO"
    if member.ischr() or member.isblk():
        return "device file"
    return "special entry"
