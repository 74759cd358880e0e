"""Atomic file output: a reader (or a resumed run) never sees a half-written file.

Every artefact is written to a temporary file in the destination folder and renamed over the final
name with :func:`os.replace`, which is atomic on POSIX filesystems. A run killed mid-write leaves at most
a ``.tmp-*`` file behind, never a truncated ``history.json`` or ``model.h5``.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as name:
    ...     folder = pathlib.Path(name)
    ...     with atomic_path(folder / "model.h5") as tmp:    # tmp keeps the ".h5" suffix Keras dispatches on
    ...         _ = pathlib.Path(tmp).write_bytes(b"weights")  # model.save(tmp)
    ...     sorted(p.name for p in folder.iterdir())         # only the finished file, under its name
    ['model.h5']

A write the machine refuses for a reason the user can fix — no space left, a quota, a read-only file
system, a lost permission — raises :class:`~dlcv.errors.WriteFailed` naming the file (the temporary
file is removed; the previous version of the file, if any, is untouched).
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DlcvError, WriteFailed

TEMP_PREFIX = ".tmp-"
FIXABLE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same suffix); rename it onto ``path`` on success."""
    path = Path(path)
    tmp = None
    try:
        with reporting_write_failures(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix="".join(path.suffixes), dir=path.parent)
            os.close(fd)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs should be as open() makes them
            yield tmp
            os.replace(tmp, path)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)


def link_complete(source: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Give the complete file ``source`` the name ``path`` too (a hard link, renamed onto ``path`` in one
    step), instead of writing the same bytes again; False where the file system links no such pair (another
    device, no hard links), and the caller writes the file. Safe because every file here is replaced by a
    rename, never rewritten in place: replacing either name leaves the other's bytes as they were."""
    path = Path(path)
    tmp = path.with_name(f"{TEMP_PREFIX}{os.urandom(6).hex()}{''.join(path.suffixes)}")
    try:
        os.link(source, tmp)
    except OSError:
        return False
    try:
        with reporting_write_failures(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return True


@contextlib.contextmanager
def reporting_write_failures(path: str | os.PathLike) -> Iterator[None]:
    """Inside the block, a write the machine refuses for a reason the user can fix (no space, a
    read-only file system, a lost permission) becomes :class:`~dlcv.errors.WriteFailed` naming ``path``."""
    try:
        yield
    except Exception as exc:  # Keras and h5py may wrap the OSError; the cause chain still holds it
        reason = None if isinstance(exc, WriteFailed) else _fixable(exc)
        if reason is None:
            raise
        raise WriteFailed(f"cannot write {path} ({reason})") from exc


def _fixable(exc: BaseException) -> str | None:
    """The reason of a write failure the user can fix (no space, read-only, permission), else None."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in FIXABLE_ERRNOS:
            return os.strerror(exc.errno)
        exc = exc.__cause__ or exc.__context__
    return None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def temporary_dir(parent: str | os.PathLike, prefix: str = "") -> Path:
    """A new ``.tmp-*`` folder in ``parent`` (for a folder output to be renamed into place), with the
    permissions ``mkdir`` would give it (mkdtemp's are 0700)."""
    path = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX + prefix, dir=parent))
    os.chmod(path, 0o777 & ~_umask())
    return path


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_json(path: str | os.PathLike, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_image(path: str | os.PathLike, image: Any) -> None:
    """Encode a BGR (or grey) uint8 image in the format its suffix names, and write it atomically."""
    import cv2

    path = Path(path)
    try:
        ok, encoded = cv2.imencode(path.suffix, image)
    except cv2.error:
        ok = False
    if not ok:
        raise DlcvError(f"cannot write an image as {path.name!r}; expected a .png or .jpg file name")
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(encoded.tobytes())


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and prove we can write into it, before any long work starts."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise DlcvError(f"output folder {str(path)!r} is not writable ({exc.strerror}); "
                        + _how_to_make_writable(path)) from None
    return path


def _how_to_make_writable(path: Path) -> str:
    if not os.environ.get("DLCV_CONTAINER"):
        return "expected a folder this user can create files in"
    # In dlcv's image: the folder is (under) a mount, owned by someone the container's user is not.
    return (f"this container runs as uid {os.getuid()}: run it as the owner of the mounted folder (docker run "
            "--user \"$(id -u):$(id -g)\" ...), or give that user the host folder (sudo chown -R "
            "\"$(id -u):$(id -g)\" output)")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the ``.tmp-*`` files a killed writer left in ``folder`` and its sub-folders (ours, by prefix)."""
    removed = []
    for path in Path(folder).rglob(f"{TEMP_PREFIX}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
