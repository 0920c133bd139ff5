"""Fetching dataset files from their mirrors, with MD5 checks and a clear offline error.

All network access goes through ``_urlopen`` (a module attribute, so tests can replace it).
"""
import hashlib
import os
import tempfile
import urllib.request

__all__ = ["md5sum", "download_file", "DownloadError"]

_urlopen = urllib.request.urlopen


class DownloadError(RuntimeError):
    """No mirror could provide a file (typically: no network)."""


def md5sum(path, chunk=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url, dest, timeout):
    """Stream ``url`` into ``dest`` through a temporary file (no half-written file is left)."""
    folder = os.path.dirname(dest) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def download_file(urls, dest, md5=None, timeout=30, where_hint=None):
    """Download ``dest`` from the first of ``urls`` that works and matches ``md5``.

    Raises ``DownloadError`` listing every URL tried and why it failed, plus ``where_hint``
    (which file to put where by hand) when given.
    """
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    if os.path.isfile(dest) and (md5 is None or md5sum(dest) == md5):
        return dest
    failures = []
    for url in urls:
        try:
            _fetch(url, dest, timeout)
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            failures.append(f"  {url}: {type(exc).__name__}: {exc}")
            continue
        if md5 is not None and md5sum(dest) != md5:
            os.remove(dest)
            failures.append(f"  {url}: MD5 mismatch (expected {md5})")
            continue
        return dest
    msg = f"could not download {os.path.basename(dest)}; tried:\n" + "\n".join(failures)
    if where_hint:
        msg += "\n" + where_hint
    raise DownloadError(msg)
