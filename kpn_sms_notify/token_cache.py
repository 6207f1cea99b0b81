"""The CLI's token across runs: a `TokenStore` in a per-user cache file.

One file per account and gateway, in `$XDG_CACHE_HOME/kpn-sms-notify/` (else
`~/.cache/kpn-sms-notify/`), a 0700 directory: `token-<hash>.json`, mode 0600. The hash covers
the gateway URL, the client id and the secret, so a changed secret is checked by the gateway
instead of riding on an old token. The file holds the access token and its expiry, never the
secret. It is written atomically (a temporary file renamed over it); a symlink in its place
is not followed. A file that cannot be read, or that belongs to another account, is ignored
with a DEBUG line: the next token request then replaces it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .models import Token

_LOGGER = logging.getLogger(__name__)

APP_DIR = "kpn-sms-notify"
MAX_FILE_BYTES = 64 * 1024
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CACHE_HOME/kpn-sms-notify`, else `~/.cache/kpn-sms-notify` (XDG: a relative
    XDG_CACHE_HOME is ignored)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / APP_DIR


class FileTokenStore:
    """A `TokenStore` (see auth.py) on one cache file; never raises to its caller's harm:
    the token manager logs and ignores a failing store."""

    def __init__(
        self, *, base_url: str, client_id: str, client_secret: str, directory: Path | None = None
    ) -> None:
        self._base_url = base_url
        self._client_id = client_id
        key = json.dumps([base_url, client_id, client_secret]).encode("utf-8")
        self._dir = directory if directory is not None else cache_dir()
        self.path = self._dir / f"token-{hashlib.sha256(key).hexdigest()[:32]}.json"

    def __repr__(self) -> str:
        return f"FileTokenStore(path={str(self.path)!r})"

    def load(self) -> Token | None:
        data = self._read()
        if data is None:
            return None
        if data.get("client_id") != self._client_id or data.get("base_url") != self._base_url:
            _LOGGER.debug("token cache: %s belongs to another account; ignored", self.path)
            return None
        try:
            token = Token.from_dict(data)
        except (KeyError, TypeError, ValueError):
            _LOGGER.debug("token cache: %s holds no token; ignored", self.path)
            return None
        if token.expires_in() <= 0:
            return None
        _LOGGER.debug("token cache: reusing the token from %s (%s)", self.path, token)
        return token

    def save(self, token: Token) -> None:
        if token.expires_in() <= 1:
            return
        self._ensure_dir()
        body = json.dumps(
            {"client_id": self._client_id, "base_url": self._base_url, **token.to_dict()}
        ).encode("utf-8")
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".token-", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self.path)  # a symlink at self.path is replaced, not followed
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _LOGGER.debug("token cache: saved to %s", self.path)

    def forget(self, token: Token) -> None:
        """The gateway refused `token`: remove the file if it still holds that token."""
        data = self._read()
        if data is None or data.get("access_token") != token.access_token:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        _LOGGER.debug("token cache: dropped the refused token from %s", self.path)

    def _ensure_dir(self) -> None:
        self._dir.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            self._dir.mkdir(mode=0o700)
        info = os.lstat(self._dir)
        if not stat.S_ISDIR(info.st_mode):
            raise OSError(f"token cache: {self._dir} is not a directory")
        if info.st_uid != os.geteuid():
            raise OSError(f"token cache: {self._dir} belongs to another user")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(self._dir, 0o700)

    def _read(self) -> dict[str, Any] | None:
        """The file's JSON object, or None (missing, a symlink, not ours, too big, not JSON)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as err:  # ELOOP: a symlink
            _LOGGER.debug(
                "token cache: cannot open %s (%s); ignored",
                self.path,
                err.strerror or type(err).__name__,
            )
            return None
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if (
                not stat.S_ISREG(info.st_mode)
                or info.st_uid != os.geteuid()
                or stat.S_IMODE(info.st_mode) & 0o077
            ):
                _LOGGER.debug(
                    "token cache: %s is not a private file of this user; ignored", self.path
                )
                return None
            raw = file.read(MAX_FILE_BYTES + 1)
        try:
            data = json.loads(raw) if len(raw) <= MAX_FILE_BYTES else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            _LOGGER.debug("token cache: %s is not a token file; ignored", self.path)
            return None
        return data


def for_cli(
    config: Mapping[str, Any], *, disabled: bool = False, environ: Mapping[str, str] | None = None
) -> FileTokenStore | None:
    """The CLI's store for this config, or None when turned off (`--no-token-cache`, or
    KPN_SMS_NO_TOKEN_CACHE set to anything but "", "0", "false" or "no")."""
    env = os.environ if environ is None else environ
    if disabled or env.get("KPN_SMS_NO_TOKEN_CACHE", "").strip().lower() not in (
        "",
        "0",
        "false",
        "no",
    ):
        return None
    try:
        directory = cache_dir(env)
    except RuntimeError:  # no home directory to put it in
        _LOGGER.debug("token cache: no home directory; not caching the token")
        return None
    return FileTokenStore(
        base_url=str(config["base_url"]),
        client_id=str(config["client_id"]),
        client_secret=str(config["client_secret"]),
        directory=directory,
    )
