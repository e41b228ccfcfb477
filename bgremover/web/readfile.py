"""Serve image files from beneath READ_FILE_DIR only, walking the path on file descriptors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from werkzeug.exceptions import NotFound

from bgremover.errors import BgRemoverError
from bgremover.processing.decode import INPUT_MIMETYPES, sniff

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO never hangs


class FileNotServed(NotFound):
    """The one answer to every refusal, so nothing about the file system outside is revealed."""

    description = "No such image file"


def _components(path: object) -> list[str]:
    if not isinstance(path, str) or not path or len(path) > 1024 or "\0" in path or "\\" in path:
        raise FileNotServed()
    if not path.isascii():
        try:
            path.encode("utf-8")  # a lone surrogate ("\ud800" in JSON) names no file
        except UnicodeEncodeError:
            raise FileNotServed() from None
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise FileNotServed()
    return parts


def read_image(base: Path, path: object, cap: int) -> tuple[bytes, str]:
    """(bytes, mimetype) of a regular image file under `base`; FileNotServed for anything else."""
    parts = _components(path)
    fds = [os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for part in parts[:-1]:
            fds.append(os.open(part, DIR_FLAGS, dir_fd=fds[-1]))
        fds.append(os.open(parts[-1], FILE_FLAGS, dir_fd=fds[-1]))
        info = os.fstat(fds[-1])
        if not stat.S_ISREG(info.st_mode) or info.st_size > cap:
            raise FileNotServed()
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fds[-1], min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b"".join(chunks)
        if total > cap:
            raise FileNotServed()
        return data, INPUT_MIMETYPES[sniff(data)]
    except (OSError, ValueError, BgRemoverError):  # ValueError: what os.open refuses to encode
        raise FileNotServed() from None
    finally:
        for fd in fds:
            os.close(fd)
