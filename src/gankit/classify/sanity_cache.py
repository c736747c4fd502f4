"""A feature-space check computed once per evaluator, data and settings.

The check scores 22 image sets, too slow to repeat at the end of every training run on the
same data with the same evaluator. `cached_check` stores its table as JSON, keyed by what
the result depends on: the evaluator file's bytes (or, without a file, the network's
parameters), the images and labels (their raw bytes and shapes, so any change of one pixel
or label is a new key), the check's settings and a format version. Entries live in
``checks/`` beside the folder cache of ``data/cache.py`` (``$GANKIT_CACHE_DIR/checks``, else
``$XDG_CACHE_HOME/gankit/checks``, else ``~/.cache/gankit/checks``), written atomically. A
damaged entry is rebuilt, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any


from gankit.classify.sanity import check_feature_space
from gankit.classify.sanity_table import VERSION, SanityTable
from gankit.data.base import Dataset
from gankit.data.cache import cache_root, dataset_digest
from gankit.errors import DataError, OutputError
from gankit.files.atomic import write_text

CHUNK = 1 << 20


def default_check_dir() -> Path:
    """``checks/`` beside the folder cache (see the module doc)."""
    return cache_root() / "checks"


def dataset_hash(dataset: Dataset) -> str:
    """A hex digest of the images' and labels' dtypes, shapes and bytes, and the data's name."""
    return dataset_digest(dataset.tensor, dataset.labels, [dataset.name])


def extractor_hash(extractor_file: Path | None, extractor: Any) -> str | None:
    """A hex digest of the evaluator file's bytes; without a file, of the network's parameters
    and buffers (None when the extractor has no network either: then nothing is cached)."""
    digest = hashlib.sha256()
    if extractor_file is not None:
        try:
            with open(extractor_file, "rb") as handle:
                for block in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(block)
        except OSError as exc:
            raise DataError(f"cannot read the evaluator file '{extractor_file}': {exc.strerror or exc}") from None
        return digest.hexdigest()
    network = getattr(extractor, "network", None)
    if network is None:
        return None
    for name, value in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(dataset_digest(value).encode())
    return digest.hexdigest()


def check_key(extractor_key: str, dataset: Dataset, settings: dict[str, Any]) -> str:
    description = {"version": VERSION, "extractor": extractor_key, "data": dataset_hash(dataset),
                   "settings": settings}
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def cached_check(extractor_file: Path | None, extractor: Any, dataset: Dataset, *, n: int = 1000, seed: int = 0,
                 k: int = 5, bootstrap: int = 10, progress: bool = True,
                 cache_dir: Path | None = None) -> SanityTable:
    """`check_feature_space` of ``extractor`` (loaded from ``extractor_file``) on ``dataset``,
    read from the cache when this evaluator, data and settings were checked before."""
    settings = {"n": n, "seed": seed, "k": k, "bootstrap": bootstrap}
    extractor_key = extractor_hash(extractor_file, extractor)
    if extractor_key is None:
        return check_feature_space(extractor, dataset, **settings, progress=progress)
    path = Path(cache_dir or default_check_dir()) / f"{check_key(extractor_key, dataset, settings)}.json"
    if path.is_file():
        try:
            return SanityTable.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, DataError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
            warnings.warn(f"the cached feature-space check '{path}' is damaged ({reason}); computing it again",
                          stacklevel=2)
    table = check_feature_space(extractor, dataset, **settings, progress=progress)
    try:
        write_text(path, json.dumps(table.to_json(), indent=1) + "\n")
    except OutputError as exc:  # a read-only or full cache costs time, not the result
        warnings.warn(f"the feature-space check was not cached: {exc}", stacklevel=2)
    return table
