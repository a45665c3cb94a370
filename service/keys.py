"""API keys (``--api-key-file``): who may use the REST API, and each key's share of the queue.

The file has one key per line: ``NAME KEY [running=N] [queued=N]``; ``#`` starts a comment.
NAME is what the job store records as the owner (never the key itself); ``running`` and
``queued`` override the server's per-key limits. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from service.jobs import WEB_OWNER, Limits

MIN_KEY_LENGTH = 16


class KeyFileError(ValueError):
    """The key file cannot be used; the message names the line."""


@dataclass(frozen=True)
class ApiKey:
    """One key: its owner name and limits."""

    name: str
    secret: str
    limits: Limits


def read_key_file(path: str | Path, defaults: Limits) -> list[ApiKey]:
    """Parse the key file; KeyFileError on a malformed line, a short key or a repeated name."""
    keys: list[ApiKey] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2:
            raise KeyFileError(f"{path}:{number}: expected 'NAME KEY [running=N] [queued=N]'")
        name, secret, *settings = words
        if len(secret) < MIN_KEY_LENGTH:
            raise KeyFileError(f"{path}:{number}: the key for {name!r} is shorter than {MIN_KEY_LENGTH} characters")
        if name == WEB_OWNER or any(key.name == name for key in keys):
            raise KeyFileError(f"{path}:{number}: the name {name!r} is reserved or used twice")
        running, queued = defaults.per_key_running, defaults.per_key_queued
        for setting in settings:
            field, _, value = setting.partition("=")
            if field not in ("running", "queued") or not value.isdigit() or int(value) < 1:
                raise KeyFileError(f"{path}:{number}: unknown setting {setting!r} (running=N or queued=N)")
            running, queued = (int(value), queued) if field == "running" else (running, int(value))
        keys.append(ApiKey(name, secret, Limits(defaults.max_queued, queued, running)))
    if not keys:
        raise KeyFileError(f"{path} holds no key")
    return keys


class KeyRing:
    """The configured keys; empty when the API is open."""

    def __init__(self, keys: list[ApiKey] | None = None) -> None:
        self.keys = keys or []

    @property
    def required(self) -> bool:
        """Keys are configured: a request without a valid one is refused."""
        return bool(self.keys)

    def find(self, presented: str | None) -> ApiKey | None:
        """The key matching ``presented`` (compared in constant time), else None."""
        if not presented:
            return None
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.secret.encode(), presented.encode()):
                found = key
        return found

    def limits(self) -> dict[str, Limits]:
        """Each owner's limits, for the runner's claims."""
        return {key.name: key.limits for key in self.keys}
