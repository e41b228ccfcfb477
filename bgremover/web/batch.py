"""Batches: several uploads processed one by one into a ZIP that streams out as each result is ready."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import TYPE_CHECKING

from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from bgremover.errors import BatchDeadlineExceeded, BgRemoverError, InvalidOption
from bgremover.processing import Result

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger("bgremover.batch")
MANIFEST = "manifest.json"


class _Pipe(io.RawIOBase):
    """A write-only, unseekable stream: zipfile writes into it, the response takes out what was written."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        """Everything written since the last take."""
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def download_stem(filename: str | None) -> str:
    """A safe file-name stem from a client's file name (`image` when nothing safe is left)."""
    return secure_filename(PurePath(filename or "").stem)[:100] or "image"


class UniqueNames:
    """`<stem>-no-bg.<ext>` names, made unique within one ZIP with -2, -3, … after the stem."""

    def __init__(self) -> None:
        self.used: set[str] = {MANIFEST}

    def claim(self, filename: str | None, extension: str) -> str:
        """A name not used yet in this ZIP, now taken."""
        stem = download_stem(filename)
        name, n = f"{stem}-no-bg.{extension}", 1
        while name.lower() in self.used:
            n += 1
            name = f"{stem}-{n}-no-bg.{extension}"
        self.used.add(name.lower())
        return name


def _entry(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def read_all(uploads: list[FileStorage]) -> list[tuple[str, bytes]]:
    """(client file name, bytes) of each upload, read now: the request closes its files before a stream runs."""
    return [(upload.filename or "", upload.read()) for upload in uploads]


def _one(data: bytes, process: Callable[[bytes], Result]) -> Result:
    if not data:
        raise InvalidOption("Parameter 'file' is empty", hint="Send a non-empty image file")
    return process(data)


def stream_zip(
    uploads: list[tuple[str, bytes]],
    process: Callable[[bytes], Result],
    deadline_s: float,
    request_id: str,
) -> Iterator[bytes]:
    """The ZIP's bytes, yielded after each file; one bad file gets an error entry in the manifest, not a failure."""
    started = time.monotonic()
    pipe = _Pipe()
    names = UniqueNames()
    files: list[dict[str, object]] = []
    with zipfile.ZipFile(pipe, "w") as archive:
        for index, (filename, data) in enumerate(uploads):
            entry: dict[str, object] = {"index": index, "file": filename[:255]}
            try:
                if time.monotonic() - started > deadline_s:
                    raise BatchDeadlineExceeded(details=f"BATCH_DEADLINE_S is {deadline_s:g} s")
                result = _one(data, process)
                name = names.claim(filename, result.extension)
                archive.writestr(_entry(name, zipfile.ZIP_STORED), result.data)  # images are compressed already
                entry.update(
                    status="ok",
                    output=name,
                    size=result.size,
                    width=result.width,
                    height=result.height,
                    format=result.format,
                    processing_time_ms=round(result.total_ms),
                    certainty=result.certainty,
                )
            except BgRemoverError as exc:
                entry.update(status="error", error=exc.to_dict())
            except Exception:
                log.exception("batch file failed", extra={"request_id": request_id, "index": index})
                entry.update(status="error", error=BgRemoverError().to_dict())
            files.append(entry)
            yield pipe.take()
        succeeded = sum(1 for f in files if f["status"] == "ok")
        manifest = {"request_id": request_id, "succeeded": succeeded, "failed": len(files) - succeeded, "files": files}
        archive.writestr(_entry(MANIFEST, zipfile.ZIP_DEFLATED), json.dumps(manifest, indent=2) + "\n")
    log.info(
        "batch",
        extra={
            "request_id": request_id,
            "files": len(files),
            "succeeded": succeeded,
            "failed": len(files) - succeeded,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )
    yield pipe.take()
