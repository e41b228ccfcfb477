"""API keys at rest: names with SHA-256 hashes (never the keys), from API_KEYS and the API_KEYS_FILE JSON file.

Keys are 256-bit random tokens (`secrets.token_urlsafe(32)`), so a fast hash is enough: a leaked hash cannot
be reversed by guessing, and a slow password hash would only cost CPU on every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

log = logging.getLogger("bgremover.apikeys")
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
FILE_VERSION = 1


class KeyFileError(ValueError):
    """API_KEYS_FILE or an API_KEYS entry is malformed; the message says where."""


@dataclass(frozen=True)
class ApiKey:
    """One key as stored: its name, the SHA-256 of the key, an optional hourly limit, and when it was revoked."""

    name: str
    sha256: str
    limit_per_hour: int | None = None
    created: str | None = None
    revoked: str | None = None
    source: str = "file"  # "file" or "env" (not written to the file)

    def to_json(self) -> dict[str, object]:
        """The entry as written to API_KEYS_FILE."""
        data = asdict(self)
        data.pop("source")
        return data


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, as stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def now() -> str:
    """The current UTC time, as stored in the file."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _checked(name: object, digest: object, limit: object, where: str) -> tuple[str, str, int | None]:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise KeyFileError(f"{where}: the name must be 1-64 of A-Z a-z 0-9 . _ -")
    if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
        raise KeyFileError(f"{where}: key {name!r} needs a sha256 of 64 lower-case hex digits (never the key itself)")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise KeyFileError(f"{where}: key {name!r} has a limit that is not a positive integer")
    return name, digest, limit


def parse_entry(entry: str) -> ApiKey:
    """One API_KEYS entry: `name:sha256hex` or `name:sha256hex:limit_per_hour`."""
    parts = entry.strip().split(":")
    if len(parts) not in (2, 3):
        raise KeyFileError("API_KEYS: each entry is name:sha256hex[:limit_per_hour]")
    limit: object = None
    if len(parts) == 3:
        limit = int(parts[2]) if parts[2].isdigit() else parts[2]
    name, digest, limit = _checked(parts[0], parts[1].lower(), limit, "API_KEYS")
    return ApiKey(name, digest, limit, source="env")


def read_file(path: Path) -> list[ApiKey]:
    """The keys in API_KEYS_FILE; a missing file holds none yet (`bgremover keys add` creates it)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"API_KEYS_FILE {path}: cannot read it as JSON ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), list):
        raise KeyFileError(f'API_KEYS_FILE {path}: expected {{"version": 1, "keys": [...]}}')
    keys = []
    for i, item in enumerate(raw["keys"]):
        where = f"API_KEYS_FILE {path}, entry {i}"
        if not isinstance(item, dict):
            raise KeyFileError(f"{where}: expected an object")
        name, digest, limit = _checked(item.get("name"), item.get("sha256"), item.get("limit_per_hour"), where)
        revoked = item.get("revoked")
        keys.append(ApiKey(name, digest, limit, item.get("created"), str(revoked) if revoked else None))
    return keys


def write_file(path: Path, keys: list[ApiKey]) -> None:
    """Replace API_KEYS_FILE atomically (readers see the old or the new file, never half of one), mode 0600."""
    body = json.dumps({"version": FILE_VERSION, "keys": [k.to_json() for k in keys]}, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".apikeys-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _unique(keys: list[ApiKey]) -> list[ApiKey]:
    seen: set[str] = set()
    for key in keys:
        if key.name in seen:
            raise KeyFileError(f"API key name {key.name!r} appears twice (API_KEYS and API_KEYS_FILE share names)")
        seen.add(key.name)
    return keys


def add_key(path: Path, name: str, limit: int | None) -> tuple[str, ApiKey]:
    """Store a new key's hash under `name` (replacing a revoked one); returns the key, which is not kept."""
    keys = read_file(path)
    if any(k.name == name and not k.revoked for k in keys):
        raise KeyFileError(f"a key named {name!r} exists; revoke it first")
    key = new_key()
    entry = ApiKey(*_checked(name, hash_key(key), limit, "keys add"), created=now())
    write_file(path, [k for k in keys if k.name != name] + [entry])
    return key, entry


def revoke_key(path: Path, name: str) -> ApiKey:
    """Mark the key named `name` revoked (kept, so a client using it is told so)."""
    keys = read_file(path)
    found = next((k for k in keys if k.name == name), None)
    if found is None:
        raise KeyFileError(f"no key named {name!r} in {path}")
    revoked = replace(found, revoked=found.revoked or now())
    write_file(path, [revoked if k.name == name else k for k in keys])
    return revoked


class KeyStore:
    """The keys of API_KEYS and API_KEYS_FILE; the file is re-read when it changes, so revocations apply at once."""

    def __init__(self, env_keys: list[ApiKey], path: Path | None) -> None:
        self.env_keys = env_keys
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keys = _unique(env_keys + (read_file(path) if path else []))
        self._stamp = self._file_stamp()

    @classmethod
    def load(cls, entries: list[str], path: Path | None) -> KeyStore:
        """The store of API_KEYS entries and API_KEYS_FILE (KeyFileError for a malformed entry, file or name)."""
        return cls([parse_entry(e) for e in entries], path)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return (0, 0, 0)
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    @property
    def keys(self) -> list[ApiKey]:
        """The current keys; a file that became malformed is logged and the last good keys are kept."""
        stamp = self._file_stamp()
        if stamp != self._stamp and self.path is not None:
            try:
                self._keys = _unique(self.env_keys + read_file(self.path))
            except KeyFileError as exc:
                log.error("API keys file not reloaded, keeping the previous keys: %s", exc)
            self._stamp = stamp
        return self._keys

    def match(self, key: str) -> ApiKey | None:
        """The stored entry whose hash is the key's, compared in constant time against every entry."""
        digest = hash_key(key)
        found = None
        for entry in self.keys:
            if hmac.compare_digest(entry.sha256, digest):
                found = entry
        return found
