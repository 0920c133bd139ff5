"""Atomic file writes: a crash or an exception mid-save never destroys the previous file.

The data goes to a temporary file in the same directory (so ``os.replace`` is a rename on
one filesystem, which POSIX and Windows make atomic), is flushed and fsynced, and only then
replaces the target. On failure the temporary file is removed and the old file is untouched.

    with atomic_write("model.safetensors") as f:
        f.write(data)
"""
import contextlib
import os
import tempfile

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]

# Read once at import: os.umask can only be read by setting it, which races with threads.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _fsync_dir(directory):
    # The rename itself lives in the directory entry; without this a power cut may forget it.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None, newline=None):
    """Context manager yielding a file object whose content replaces ``path`` on success."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        if mode == "w":
            f = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        else:
            f = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def atomic_write_bytes(path, data):
    with atomic_write(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text, encoding="utf-8"):
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)
