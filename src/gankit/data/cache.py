"""On-disk cache of decoded image folders, so the second run does not decode again.

Decoding a folder of photos takes minutes (every file is decoded fully to catch
damaged ones); the result depends only on the files and on the channels and size
asked for. The cache key is a hash of the folder's absolute path, those two
settings, a format version and the sorted (relative path, size, mtime in ns) of
every file considered, so adding, removing, replacing or touching any file
invalidates it. Entries are plain tensors and lists written with `torch.save`
(atomically: a temporary file renamed into place) and read back with
``torch.load(weights_only=True)``, which cannot run code from a tampered file.
An unreadable or malformed entry is treated as missing and rebuilt.

Location: `cache_dir` when given, else ``$GANKIT_CACHE_DIR/folders``, else
``$XDG_CACHE_HOME/gankit/folders``, else ``~/.cache/gankit/folders``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from gankit.errors import OutputError
from gankit.files.atomic import atomic_open

CACHE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class DecodedFolder:
    """What decoding a folder produced: uint8 images (N, C, S, S) and their paths,
    plus the (path, reason) of every file that could not be decoded."""

    images: Tensor
    paths: list[str]
    failures: list[tuple[str, str]]


def cache_root() -> Path:
    """gankit's cache folder: ``$GANKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/gankit``, else
    ``~/.cache/gankit``; decoded folders, self-supervised evaluators and feature-space checks
    each have a subfolder."""
    if os.environ.get("GANKIT_CACHE_DIR"):
        return Path(os.environ["GANKIT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "gankit"


def default_cache_dir() -> Path:
    """Where folder caches live unless the caller says otherwise (see the module doc)."""
    return cache_root() / "folders"


def cache_key(root: Path, channels: int, image_size: int, files: list[tuple[str, int, int]]) -> str:
    """A hex digest identifying a decode of `files` ((relative path, size, mtime_ns))."""
    description = {
        "version": CACHE_FORMAT_VERSION,
        "root": str(root.resolve()),
        "channels": channels,
        "image_size": image_size,
        "files": sorted(files),
    }
    encoded = json.dumps(description, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


def load_cached(cache_dir: Path, key: str) -> DecodedFolder | None:
    """The entry stored under `key`, or None when it is absent, unreadable or malformed."""
    path = cache_dir / f"{key}.pt"
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
        images, paths, failures = entry["images"], entry["paths"], entry["failures"]
        valid = (
            entry["version"] == CACHE_FORMAT_VERSION
            and isinstance(images, Tensor)
            and images.dtype == torch.uint8
            and images.ndim == 4
            and len(paths) == images.shape[0]
            and all(isinstance(item, str) for item in paths)
            and all(len(item) == 2 for item in failures)
        )
    except Exception:  # noqa: BLE001 — any damage to a cache file means "rebuild it"
        return None
    if not valid:
        return None
    return DecodedFolder(images, list(paths), [(str(path_), str(reason)) for path_, reason in failures])


def save_cached(cache_dir: Path, key: str, decoded: DecodedFolder) -> None:
    """Store `decoded` under `key` atomically; warn (do not fail) when that is impossible."""
    entry = {
        "version": CACHE_FORMAT_VERSION,
        "images": decoded.images.contiguous(),
        "paths": list(decoded.paths),
        "failures": [list(item) for item in decoded.failures],
    }
    store_entry(cache_dir / f"{key}.pt", entry, what="the decoded-image cache",
                consequence="the next run will decode again")


def store_entry(path: Path, entry: dict, *, what: str, consequence: str) -> None:
    """``torch.save`` a cache ``entry`` to ``path`` atomically (its folder made when missing);
    warn, do not fail, when that is impossible: a cache is an optimisation."""
    try:
        with atomic_open(path, "wb") as stream:
            torch.save(entry, stream)
    except OutputError as error:
        warnings.warn(f"could not write {what} in {path.parent} ({error}); {consequence} "
                      "(set $GANKIT_CACHE_DIR to a writable folder)", stacklevel=3)


def dataset_digest(images: Tensor, labels: Tensor | None = None, class_names: list[str] | None = None) -> str:
    """A hex digest of a data set's content: the image tensor's bytes, shape and dtype, and the
    labels and class names when there are any. Any changed, added or removed image changes it
    (a touched but unchanged file does not); caches of things computed from the data key on it."""
    digest = hashlib.sha256()
    for part in (images, labels):
        if part is None:
            digest.update(b"none")
            continue
        array = part.detach().cpu().contiguous()
        digest.update(f"{array.dtype}{tuple(array.shape)}".encode())
        # reshape(-1): the same bytes, and a 0-dim tensor (batch norm's step count) can be viewed too
        digest.update(array.reshape(-1).view(torch.uint8).numpy().tobytes() if array.numel() else b"")
    digest.update(json.dumps(list(class_names or [])).encode("utf-8"))
    return digest.hexdigest()[:32]
