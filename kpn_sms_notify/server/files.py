"""Private files for the server's state: created 0600 in a 0700 directory, never through a
symlink.

Every state file (`sent.jsonl`, `inbound-journal.jsonl`, the JSONL sink) is opened here, so
the mode and the symlink refusal are decided once. A symlink planted where a state file
belongs makes the open fail with ELOOP (an OSError) instead of writing through it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

# O_NOFOLLOW: refuse a symlink as the last path component; O_CLOEXEC: not inherited.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def open_private(path: Path, flags: int) -> int:
    """`os.open` with the given flags (O_WRONLY|O_APPEND|O_CREAT, O_RDONLY, ...): created
    0600, never following a symlink. Returns the file descriptor."""
    return os.open(path, flags | _NOFOLLOW, PRIVATE_FILE)


def read_private(path: Path) -> int | None:
    """A read-only descriptor for an existing state file, or None when there is none.
    A symlink is refused (OSError), not followed."""
    try:
        return open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None


def readable_by_all(path: str | os.PathLike[str]) -> int | None:
    """The file's mode when every user may read it, else None (also when it is missing)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    return mode if mode & 0o004 else None


def ensure_private_dir(path: Path) -> None:
    """Create the directory 0700 (parents as needed); tighten an existing one we own to
    0700. The directory itself may be a symlink an administrator set up; the files in it
    are opened with `open_private`, which does not follow symlinks."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{path} is not a directory")
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)


def ensure_parent(path: Path) -> None:
    """Create a file's missing parent directories 0700; an existing parent is left as it
    is (it may be a shared directory such as /var/log)."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def replace_private(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data` (fsynced, 0600) through `<path>.tmp`.

    Whatever sits at the tmp path (a stale file after a crash, or a planted symlink) is
    removed first (unlinking a symlink leaves its target alone), and the tmp file is then
    created with O_EXCL|O_NOFOLLOW, so a symlink re-planted in between fails the write
    instead of truncating its target.
    """
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
