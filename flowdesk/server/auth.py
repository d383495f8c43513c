"""Who is calling: HTTP Basic against a users-and-groups file, or an application's own
authenticator, and the groups the Engine learns for that caller.

Passwords are kept as scrypt hashes (`hashlib.scrypt`, the standard library's memory-hard
key derivation, RFC 7914) with a random salt per user; see docs/dependencies.md for why no
extra package. Basic sends the password with every request, so a verified
(user, password) pair is remembered in memory under a keyed digest for a few minutes rather
than paying scrypt's cost on every call.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

# scrypt's cost: N=2**14, r=8, p=1 uses 16 MiB and ~50 ms per check (the parameters RFC 7914
# and OWASP give for interactive logins); kept in each hash so they can be raised later.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCHEME = "scrypt"
_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: the user name the engine sees, and the user's groups."""

    user: str
    groups: tuple[str, ...] = ()


class Authenticator(Protocol):
    """Tells who sent a request; an embedding application may pass its own.

    `authenticate` returns the caller's `Identity`, or None when the request carries no (or
    wrong) credentials; the server then answers 401. It runs in a worker thread, so it may
    block (a database or directory lookup).
    """

    def authenticate(self, connection: HTTPConnection) -> Identity | None:
        """The caller's identity, or None when the request carries no or wrong credentials."""
        ...


# The identity of the request being served, for the Engine's `groups` function.
_current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "flowdesk_server_identity", default=None
)


def current_identity() -> Identity | None:
    """The identity the request being served authenticated as (None outside a request)."""
    return _current.get()


def run_as(identity: Identity | None, action: Callable[[], Any]) -> Any:
    """Run `action` with `identity` as the current request's caller."""
    token = _current.set(identity)
    try:
        return action()
    finally:
        _current.reset(token)


def request_groups(
    fallback: Callable[[str], Collection[str]] | None = None,
) -> Callable[[str], Collection[str]]:
    """A `groups` function for `flowdesk.Engine`: the groups the authenticator gave the
    caller of the request being served; for any other user, `fallback` (none without one).

    Build the Engine the server embeds with `groups=request_groups()` so that candidate
    groups and four-eyes rules see the groups the request authenticated with.
    """

    def groups_of(user: str) -> Collection[str]:
        identity = _current.get()
        if identity is not None and identity.user == user:
            return identity.groups
        return fallback(user) if fallback is not None else ()

    return groups_of


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, with its parameters, as kept in the users file."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        [_SCHEME, str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, hashed: str) -> bool:
    """Whether `password` matches a hash from `hash_password` (in constant time)."""
    try:
        scheme, n, r, p, salt, digest = hashed.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class UserStore:
    """Users, their password hashes and groups, kept in a JSON file.

    The file looks like `{"users": {"alice": {"password": "scrypt$...", "groups": ["sales"]}}}`;
    `flowdesk users add` writes it. It is read again when it changed on disk, so users added
    while the server runs can log in.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._users: dict[str, dict[str, Any]] = {}

    def _read(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                return {}
            if self._loaded_at != mtime:
                data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
                users = data.get("users", {}) if isinstance(data, dict) else {}
                self._users = {str(k): v for k, v in users.items() if isinstance(v, dict)}
                self._loaded_at = mtime
            return self._users

    def add(self, user: str, password: str, groups: Iterable[str] = ()) -> None:
        """Add a user, or replace their password and groups."""
        if not user.strip() or ":" in user:
            raise ValueError("a user name must be non-empty and hold no ':' (HTTP Basic)")
        users = dict(self._read())
        users[user] = {"password": hash_password(password), "groups": sorted(set(groups))}
        self._write(users)

    def remove(self, user: str) -> bool:
        """Remove a user; False if there was none of that name."""
        users = dict(self._read())
        if users.pop(user, None) is None:
            return False
        self._write(users)
        return True

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"users": users}, indent=2, sort_keys=True) + "\n")
        os.chmod(temporary, 0o600)  # password hashes are for the server's eyes only
        temporary.replace(self.path)

    def users(self) -> dict[str, tuple[str, ...]]:
        """Each user name with their groups."""
        return {name: tuple(entry.get("groups", ())) for name, entry in self._read().items()}

    def groups_of(self, user: str) -> tuple[str, ...]:
        """A user's groups (none for an unknown user); usable as an Engine's `groups`."""
        return tuple(self._read().get(user, {}).get("groups", ()))

    def verify(self, user: str, password: str) -> Identity | None:
        """The user's identity if the password is theirs, else None."""
        entry = self._read().get(user)
        hashed = entry.get("password") if entry else None
        if not isinstance(hashed, str) or not verify_password(password, hashed):
            return None
        return Identity(user, self.groups_of(user))


class BasicAuthenticator:
    """HTTP Basic (`Authorization: Basic base64(user:password)`) against a `UserStore`."""

    def __init__(self, users: UserStore) -> None:
        self.users = users
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def authenticate(self, connection: HTTPConnection) -> Identity | None:
        """The user whose name and password the `Authorization: Basic` header holds and the
        `UserStore` verifies, with their groups; None without that header or when they do not
        verify."""
        header = connection.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            user, colon, password = (
                base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not colon or not user:
            return None
        # The cache key is a keyed digest (the key lives only in this process), so what it
        # holds cannot be turned back into a password.
        token = hmac.new(self._key, f"{user}\0{password}".encode(), "sha256").digest()
        now = time.monotonic()
        with self._lock:
            cached = self._verified.get(token)
        stamp = self.users.path.stat().st_mtime if self.users.path.exists() else 0.0
        if cached is not None and now - cached[0] < _CACHE_SECONDS and cached[1] == str(stamp):
            return Identity(user, self.users.groups_of(user))
        identity = self.users.verify(user, password)
        if identity is not None:
            with self._lock:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[token] = (now, str(stamp))
        return identity
