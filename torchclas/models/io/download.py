"""Download a file into the cache: resumable, atomic, checked; with the standard library's urllib.

A download is written to ``<file>.part`` and renamed onto ``<file>`` only once it is complete and
checked, so a file in the cache is always whole: a warm cache needs no network. An interrupted
transfer resumes where it stopped (an HTTP ``Range`` request; a server that ignores it sends the
whole file again, which restarts it), up to ``attempts`` tries. A file whose checksum (sha256 from
the caller, or the server's ``Content-MD5``) or content check fails is moved aside to
``<file>.corrupt`` and named in the error, so the next try downloads it again. Processes that
fetch the same file at once (DDP ranks) take turns through a lock file.

The cache lives under ``$TORCHCLAS_HOME`` (default ``~/.cache/torchclas``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

from ...utils.progress import console

__all__ = ["HOME_ENV", "DownloadError", "cache_home", "download", "quarantine", "file_sha256"]

log = logging.getLogger(__name__)
HOME_ENV = "TORCHCLAS_HOME"
_CHUNK = 1 << 20
_FINAL_HTTP = {400, 401, 403, 404, 405, 410}  # retrying will not help


class DownloadError(RuntimeError):
    """A download that failed, or whose file failed its checks (the message names the file)."""


class _Incomplete(Exception):
    """The transfer stopped early; what arrived stays in the ``.part`` file for the next try."""


def cache_home() -> Path:
    """The cache folder: ``$TORCHCLAS_HOME``, else ``~/.cache/torchclas``.

    Example:
        >>> cache_home()  # doctest: +SKIP
        PosixPath('/home/me/.cache/torchclas')
    """
    return Path(os.environ.get(HOME_ENV) or "~/.cache/torchclas").expanduser()


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def quarantine(path: str | Path) -> Path:
    """Move a bad file aside to ``<path>.corrupt`` (replacing an older one) and return that path."""
    path = Path(path)
    bad = path.with_name(path.name.removesuffix(".part") + ".corrupt")
    os.replace(path, bad)
    return bad


def download(url: str, dest: str | Path, sha256: str | None = None,
             validate: Callable[[Path], None] | None = None, attempts: int = 3, timeout: float = 60.0) -> Path:
    """Return ``dest``, downloading ``url`` into it first unless it is already there.

    Args:
        url: an ``http(s)://`` (or ``file://``) URL.
        dest: the cache file.
        sha256: the file's expected hex sha256, if known.
        validate: called with the finished ``.part`` file; raising refuses the file.
        attempts: tries, each resuming where the previous one stopped.
        timeout: seconds without data before a try gives up.

    Raises:
        DownloadError: the server refused (HTTP 404, ...), every try failed, or the file
            failed a check (names the file, moved to ``<dest>.corrupt``).

    Example:
        >>> download("https://example.com/w.pdparams", cache_home() / "weights" / "w.pdparams")  # doctest: +SKIP
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _lock(dest):
        if dest.is_file():  # another process finished it while we waited
            return dest
        part = dest.with_name(dest.name + ".part")
        server_md5 = _fetch_with_retries(url, part, dest, attempts, timeout)
        _check(part, dest, url, sha256, server_md5, validate)
        os.replace(part, dest)
    log.debug("downloaded %s -> %s", url, dest)
    return dest


def _fetch_with_retries(url: str, part: Path, dest: Path, attempts: int, timeout: float) -> str | None:
    for attempt in range(1, attempts + 1):
        try:
            return _fetch(url, part, timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # the .part is no prefix of this file: start over
                part.unlink(missing_ok=True)
            elif exc.code in _FINAL_HTTP:
                raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
            reason = f"HTTP {exc.code} {exc.reason}"
        except (_Incomplete, OSError, http.client.HTTPException) as exc:
            reason = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        if attempt < attempts:
            have = part.stat().st_size if part.exists() else 0
            log.warning("download of %s: %s (%d bytes so far); trying again (%d of %d)%s", url, reason, have,
                        attempt + 1, attempts, ", resuming" if have else "")
            time.sleep(min(0.5 * attempt, 2.0))
    raise DownloadError(f"cannot download {url} ({reason}) after {attempts} tries; nothing is cached at {dest}; "
                        f"put the file there by hand, or point TORCHCLAS_PRETRAINED_URL_BASE at a mirror")


def _fetch(url: str, part: Path, timeout: float) -> str | None:
    """One try: resume ``part`` from its size. Returns the server's Content-MD5 of a whole-file answer."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "torchclas", **({"Range": f"bytes={have}-"} if have else {})}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
        status = getattr(response, "status", 200) or 200
        if status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                part.unlink(missing_ok=True)
                raise _Incomplete(f"server resumed at byte {start}, not {have}")
            md5 = None  # a partial answer's Content-MD5 covers only its part
        else:
            have, total = 0, _int(response.headers.get("Content-Length"))
            md5 = response.headers.get("Content-MD5")
        with part.open("ab" if have else "wb") as out, _progress(url, total, have) as advance:
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    advance(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise _Incomplete(f"{type(exc).__name__}: {exc}") from None
    size = part.stat().st_size
    if total is not None and size != total:
        if size > total:
            part.unlink()
        raise _Incomplete(f"{size} of {total} bytes")
    return md5


def _check(part: Path, dest: Path, url: str, sha256: str | None, md5: str | None,
           validate: Callable[[Path], None] | None) -> None:
    problem = None
    if sha256 and (got := file_sha256(part)) != sha256.lower():
        problem = f"checksum mismatch: sha256 {got}, expected {sha256}"
    elif md5 and (got := _file_md5_b64(part)) != md5.strip():
        problem = f"checksum mismatch: MD5 {got}, the server's Content-MD5 says {md5}"
    elif validate is not None:
        try:
            validate(part)
        except Exception as exc:  # whatever the check raises, the file is refused
            problem = f"not a valid file ({exc})"
    if problem:
        bad = quarantine(part)
        raise DownloadError(f"{dest}: {problem}; downloaded from {url}, moved to {bad}; "
                            "the next try downloads it again")


def _file_md5_b64(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _content_range(value: str) -> tuple[int, int | None]:
    """``bytes START-END/TOTAL`` -> (START, TOTAL or None when ``*``)."""
    try:
        span, total = value.split(" ", 1)[1].split("/")
        return int(span.split("-")[0]), _int(total)
    except (IndexError, ValueError):
        raise _Incomplete(f"unreadable Content-Range {value!r}") from None


@contextlib.contextmanager
def _progress(url: str, total: int | None, done: int) -> Iterator[Callable[[int], None]]:
    """A rich bytes bar on a terminal; elsewhere one log line."""
    name = url.rsplit("/", 1)[-1]
    if not console.is_terminal:
        log.info("downloading %s%s", url, f" (resuming at byte {done})" if done else "")
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    columns = (name, BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(name, total=total, completed=done)
        yield lambda n: bar.advance(task, n)


@contextlib.contextmanager
def _lock(dest: Path) -> Iterator[None]:
    """An exclusive lock on ``<dest>.lock`` (POSIX ``flock``; no lock where there is none)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(dest.with_name(dest.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
