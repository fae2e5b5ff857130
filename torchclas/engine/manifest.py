"""A checkpoint is several files committed as one: pending files, a manifest, then renames.

``save`` writes each file as ``.<name>.pending`` (fsynced), then the manifest
``<checkpoint>.manifest.json`` listing every file's SHA-256 and size (written atomically:
temp + fsync + rename), then renames the pending files onto their names. The manifest is the
commit point:

- killed before it: the previous checkpoint (files and manifest) is untouched;
- killed after it, mid-rename: ``verify`` finds the pending files that match the manifest and
  finishes the renames (roll forward).

``verify`` therefore says of any checkpoint whether it is complete, and ``find_newest`` picks
the most recently committed complete one in a folder (``Global.checkpoints: auto``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["CheckpointError", "MANIFEST_SUFFIX", "manifest_path", "pending_path", "commit_files",
           "read_manifest", "verify", "find_newest", "fsync_dir"]

log = logging.getLogger("torchclas")

MANIFEST_SUFFIX = ".manifest.json"
FORMAT = "torchclas-checkpoint"


class CheckpointError(ValueError):
    """A checkpoint that is incomplete, half-written or altered; the message names the file."""


def manifest_path(checkpoint: str | Path) -> Path:
    """``out/latest`` (or ``out/latest.safetensors``) → ``out/latest.manifest.json``."""
    path = Path(checkpoint)
    return path.with_name(path.name.removesuffix(".safetensors") + MANIFEST_SUFFIX)


def pending_path(path: Path) -> Path:
    """Where ``path`` is written before the commit: ``.<name>.pending`` beside it."""
    return path.with_name(f".{path.name}.pending")


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _write_synced(path: Path, write: Callable[[str], None]) -> None:
    write(str(path))
    os.chmod(path, 0o644)  # what a plain open() gives under the usual umask; temp files get 0600
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def commit_files(checkpoint: str | Path, writers: dict[Path, Callable[[str], None]],
                 info: dict[str, Any]) -> Path:
    """Write every ``writers[path](tmp)`` and commit them together under one manifest.

    Args:
        checkpoint: the checkpoint's name (``out/latest``); the manifest goes beside it.
        writers: final path → function writing that file's content to the path it is given.
        info: JSON values stored in the manifest (epoch, batch, ...).

    Returns the manifest path. On any error the pending files are removed and the previous
    checkpoint of that name is still complete.
    """
    manifest = manifest_path(checkpoint)
    folder = manifest.parent
    folder.mkdir(parents=True, exist_ok=True)
    if manifest.is_file():  # a commit cut short last time: finish it before overwriting its files
        try:
            verify(checkpoint)
        except CheckpointError:
            pass
    pending = {path: pending_path(path) for path in writers}
    try:
        for path, write in writers.items():
            _write_synced(pending[path], write)
        files = {path.name: {"sha256": _sha256(pending[path]), "bytes": pending[path].stat().st_size}
                 for path in writers}
        body = {"format": FORMAT, "version": 1, "created": time.time(), **info, "files": files}
        tmp = manifest.with_name(f".{manifest.name}.tmp")
        _write_synced(tmp, lambda p: Path(p).write_text(json.dumps(body, indent=1)))
        os.replace(tmp, manifest)
        fsync_dir(folder)
    except BaseException:
        for path in [*pending.values(), manifest.with_name(f".{manifest.name}.tmp")]:
            path.unlink(missing_ok=True)
        raise
    for path in writers:
        os.replace(pending[path], path)
    fsync_dir(folder)
    return manifest


def read_manifest(checkpoint: str | Path) -> dict[str, Any]:
    """The manifest of ``checkpoint`` as a dict; ``CheckpointError`` naming it when unreadable."""
    manifest = manifest_path(checkpoint)
    try:
        body = json.loads(manifest.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{manifest}: no manifest (the checkpoint was never committed)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{manifest}: unreadable manifest: {exc}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT or not isinstance(body.get("files"), dict):
        raise CheckpointError(f"{manifest}: not a torchclas checkpoint manifest")
    return body


def verify(checkpoint: str | Path) -> dict[str, Any]:
    """Check every file of ``checkpoint`` against its manifest; returns the manifest.

    Pending files that match (a commit killed mid-rename) are renamed into place first.
    Raises ``CheckpointError`` naming the first file that is missing or differs.
    """
    body = read_manifest(checkpoint)
    folder = manifest_path(checkpoint).parent
    for name, expected in body["files"].items():
        path = folder / name
        if _matches(path, expected):
            continue
        if _matches(pending_path(path), expected):
            os.replace(pending_path(path), path)
            fsync_dir(folder)
            log.info("checkpoint %s: finished an interrupted commit of %s", manifest_path(checkpoint), name)
            continue
        state = "missing" if not path.exists() else "different from its manifest (half-written or altered)"
        raise CheckpointError(f"{path}: {state}")
    return body


def _matches(path: Path, expected: dict[str, Any]) -> bool:
    try:
        return path.stat().st_size == expected["bytes"] and _sha256(path) == expected["sha256"]
    except (OSError, KeyError, TypeError):
        return False


def find_newest(folder: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The most recently committed complete checkpoint in ``folder``: ``(name, manifest)``.

    ``name`` is the checkpoint path without suffix (``out/latest``). Incomplete ones are
    logged and passed over; ``None`` when there is none.
    """
    candidates = []
    for manifest in Path(folder).glob(f"*{MANIFEST_SUFFIX}"):
        name = manifest.with_name(manifest.name.removesuffix(MANIFEST_SUFFIX))
        try:
            candidates.append((float(read_manifest(name).get("created", 0.0)), name))
        except CheckpointError as exc:
            log.warning("skipping checkpoint: %s", exc)
    for _, name in sorted(candidates, reverse=True):  # newest first: verify reads whole files
        try:
            return name, verify(name)
        except CheckpointError as exc:
            log.warning("skipping incomplete checkpoint: %s", exc)
    return None
