"""A folder of images as a `Dataset`: flat, or one subfolder per class.

Layout. If the folder has subfolders, each one is a class (label i is the i-th
name in sorted order of those holding usable images: a class folder without any is left
out with a note; their own subfolders belong to the same class); otherwise
every file in the folder is an unlabelled image. Files lying in the root next to
class folders belong to no class: they are not decoded, and are listed as skipped
("outside the class folders") so that they are not lost silently. Ignored without
a mention: hidden files and folders (names starting with ".") and the OS junk files
in `JUNK_FILE_NAMES` (the cats/dogs archive has a Thumbs.db in each class folder).
Runs and data never mix: gankit's own output folders (run folders, sample exports,
comparisons: any folder its marker records, see `gankit.files.owner`), a folder holding
nothing but those (`runs/`), the files gankit recorded writing into a data folder, and
the `Trash/` folder that quarantine writes are not data: they are skipped and listed
with their reason, so a run kept inside its own data folder never trains on itself.

Every other file is decoded, whatever its extension, so that an image with a
wrong or missing extension is used and a text file named ``.jpg`` is reported.
A file that fails (empty, truncated, not an image, undecodable, too large) is
skipped and listed in `Dataset.skipped` with its reason; `write_skip_list` puts
the list in the run folder. Nothing is deleted. With ``quarantine=True`` the
failed files are moved into ``ROOT/Trash/`` at the same relative path (what
the cats-vs-dogs study did by hand), never overwriting: a numbered name is used instead.

Decoded images are cached (see `gankit.data.cache`), failures included, so a
second run neither decodes again nor loses its skip list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.data.base import Dataset
from gankit.data.cache import DecodedFolder, cache_key, default_cache_dir, load_cached, save_cached
from gankit.data.images import UnusableImage, decode_image
from gankit.errors import DataError
from gankit.files import owner
from gankit.files.atomic import write_text

TRASH_FOLDER = "Trash"
JUNK_FILE_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store"})
OUTSIDE_CLASSES_REASON = "outside the class folders (not used)"
OUTPUT_REASON = "an output folder of gankit's (not data)"
WRITTEN_REASON = "a file gankit wrote (not data)"
TRASH_REASON = "the quarantine folder (not data)"
SKIP_LIST_NAME = "skipped_files.txt"
PROGRESS_MIN_FILES = 200


@dataclass(frozen=True)
class FolderLayout:
    """The files of an image folder, as paths relative to its root ("cat/1.jpg")."""

    class_names: list[str] | None
    images: list[str]
    outside_classes: list[str]
    links_not_followed: list[tuple[str, str]] = ()  # (relative path, why)


def load_folder(
    path: str | Path,
    *,
    channels: int = 1,
    image_size: int = 28,
    quarantine: bool = False,
    cache_dir: Path | None = None,
    progress: bool = False,
    use_cache: bool = True,
) -> Dataset:
    """The images under `path` as (N, channels, image_size, image_size) float32 in [−1, 1].

    Images come in sorted order of their paths relative to `path`. `labels`
    (int64) and `class_names` are set for a folder of class folders. `skipped`
    lists (relative path, reason) of every file not used. `use_cache=False`
    neither reads nor writes the decoded-image cache.
    """
    root = Path(path)
    if channels not in (1, 3):
        raise DataError(f"channels={channels}: use 1 (grayscale) or 3 (RGB)")
    if image_size < 1:
        raise DataError(f"image_size={image_size}: give a positive number of pixels")
    if not root.is_dir():
        problem = "is a file, not a folder" if root.exists() else "not found"
        raise DataError(f"{root}: {problem}; data.path for data.name=folder is a folder of images")
    kind = owner.output_kind(root)
    if kind not in (None, "files", "samples"):  # a sample export is images; a run folder is not data
        raise DataError(f"{root} holds {owner.KINDS[kind]} written by gankit, not images: give the folder of your "
                        "images")
    layout = scan_folder(root)
    if not layout.images:
        raise DataError(
            f"{root}: no image files found (hidden files, Thumbs.db-like junk and Trash/ are "
            "ignored); put the images in the folder or in one subfolder per class"
        )
    files = _file_stats(root, layout.images)
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    key = cache_key(root, channels, image_size, files)
    decoded = load_cached(cache_dir, key) if use_cache else None
    if decoded is None:
        decoded = decode_folder(root, layout.images, channels, image_size, progress=progress)
        if use_cache:
            save_cached(cache_dir, key, decoded)
    if not decoded.paths:
        examples = "; ".join(f"{name}: {reason}" for name, reason in decoded.failures[:3])
        raise DataError(
            f"{root}: none of the {len(layout.images)} files could be decoded as an image "
            f"({examples}); is data.path the right folder?"
        )
    failures = decoded.failures
    if quarantine and failures:
        failures, moved = _quarantine(root, failures)
        if use_cache and moved:  # the same images under the key of the cleaned folder
            remaining = [entry for entry in files if entry[0] not in moved]
            left = [entry for entry in decoded.failures if entry[0] not in moved]
            cleaned = DecodedFolder(decoded.images, decoded.paths, left)
            save_cached(cache_dir, cache_key(root, channels, image_size, remaining), cleaned)
    skipped = sorted(failures + [(name, OUTSIDE_CLASSES_REASON) for name in layout.outside_classes]
                     + list(layout.links_not_followed))
    class_names, notes = classes_with_images(root, layout.class_names, decoded.paths)
    return Dataset(
        name="folder",
        tensor=decoded.images.to(torch.float32).div_(127.5).sub_(1.0),
        geometry=None,
        labels=_labels(decoded.paths, class_names),
        kind="images",
        class_names=class_names,
        skipped=skipped,
        source=str(root),
        notes=notes,
    )


def scan_folder(root: Path) -> FolderLayout:
    """Which files of `root` are images to decode, and under which classes (see module doc).

    Symbolic links to folders are never followed (one could lead out of the tree, or back
    into it: a loop, or every image twice); they, and links that lead nowhere, are listed
    in `links_not_followed`. Links to files are used like the files."""
    subfolders, root_files, unfollowed = [], [], []
    written = owner.listed_files(root)
    for entry in os.scandir(root):
        if entry.name.startswith("."):
            continue
        kind = _path_kind(entry.path)
        reason = _not_data(Path(entry.path), kind, written, top=True)
        if reason:
            unfollowed.append((entry.name + ("/" if kind == "dir" else ""), reason))
        elif kind == "dir":
            subfolders.append(entry.name)
        elif kind == "file" and entry.name.lower() not in JUNK_FILE_NAMES:
            root_files.append(entry.name)
        elif kind not in ("dir", "file", "other"):
            unfollowed.append((entry.name, kind))
    if not subfolders:
        return FolderLayout(None, sorted(root_files), [], sorted(unfollowed))
    class_names = sorted(subfolders)
    images = []
    for class_name in class_names:
        for folder, dirnames, filenames in os.walk(root / class_name):  # never descends into links
            relative = Path(folder).relative_to(root).as_posix()
            written = owner.listed_files(Path(folder))
            outputs = []
            for name in [*dirnames, *filenames]:
                if name.startswith(".") or name.lower() in JUNK_FILE_NAMES:
                    continue
                path = os.path.join(folder, name)
                kind = _path_kind(path)
                reason = _not_data(Path(path), kind, written, top=False)
                if reason:
                    unfollowed.append((f"{relative}/{name}" + ("/" if kind == "dir" else ""), reason))
                    outputs.append(name)
                elif kind == "file":
                    images.append(f"{relative}/{name}")
                elif kind not in ("dir", "other"):
                    unfollowed.append((f"{relative}/{name}", kind))
            dirnames[:] = [name for name in dirnames if not name.startswith(".") and name not in outputs]
    return FolderLayout(class_names, sorted(images), sorted(root_files), sorted(unfollowed))


def _not_data(path: Path, kind: str, written: set[str], top: bool) -> str:
    """Why an entry of a data folder is gankit's own and not data ('' when it is data)."""
    if kind == "file":
        return WRITTEN_REASON if path.name in written else ""
    if kind != "dir":
        return ""
    if top and path.name == TRASH_FOLDER:
        return TRASH_REASON
    if owner.is_output(path):
        return OUTPUT_REASON
    try:
        children = [Path(entry.path) for entry in os.scandir(path) if not entry.name.startswith(".")]
    except OSError:
        return ""
    if children and all(child.is_dir() and not child.is_symlink() and owner.is_output(child) for child in children):
        return "holds only output folders of gankit's (not data)"
    return ""


def classes_with_images(root: Path, class_names: list[str] | None,
                        paths: list[str]) -> tuple[list[str] | None, list[str]]:
    """The class folders that hold at least one usable image, and a note naming any left out:
    a class without images could never be trained (a conditional generator would learn
    nothing for it, yet offer it), so it is dropped rather than kept silently."""
    if class_names is None:
        return None, []
    used = {path.split("/", 1)[0] for path in paths}
    kept = [name for name in class_names if name in used]
    empty = [name for name in class_names if name not in used]
    if not empty:
        return class_names, []
    listed = ", ".join(f"{name}/" for name in empty)
    return kept, [f"{root}: class folder(s) {listed} hold no usable images and are left out; "
                  f"the data has {len(kept)} class(es): {', '.join(kept)}"]


LINK_TO_FOLDER = "link to a folder (not followed)"
BROKEN_LINK = "link that leads nowhere or loops (not followed)"


def _path_kind(path: str) -> str:
    """'file', 'dir', 'other' (a socket, a fifo), or why a link is not followed."""
    try:
        if os.path.islink(path):
            if os.path.isdir(path):
                return LINK_TO_FOLDER
            os.stat(path)  # ELOOP, ENOENT for a link that leads nowhere
            return "file" if os.path.isfile(path) else "other"
        if os.path.isdir(path):
            return "dir"
        return "file" if os.path.isfile(path) else "other"
    except OSError:
        return BROKEN_LINK


def decode_folder(
    root: Path, names: list[str], channels: int, image_size: int, *, progress: bool = False
) -> DecodedFolder:
    """Decode every file in `names` (relative to `root`); failures are recorded, not raised."""
    images = torch.empty((len(names), channels, image_size, image_size), dtype=torch.uint8)
    kept: list[str] = []
    failures: list[tuple[str, str]] = []
    for name in _progress(names, progress):
        try:
            array = decode_image(root / name, channels, image_size)
        except UnusableImage as unusable:
            failures.append((name, unusable.reason))
            continue
        images[len(kept)] = torch.from_numpy(array)
        kept.append(name)
    return DecodedFolder(images[: len(kept)].clone(), kept, failures)


def write_skip_list(dataset: Dataset, run_dir: str | Path) -> int:
    """Write `run_dir/skipped_files.txt` ("path<TAB>reason" lines); return how many it lists."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    header = (
        f"# files under {dataset.source or 'the data folder'} that were not used for training\n"
        f"# {len(dataset.skipped)} skipped; one per line: path relative to the folder<TAB>reason\n"
    )
    lines = "".join(f"{name}\t{reason}\n" for name, reason in dataset.skipped)
    write_text(run_dir / SKIP_LIST_NAME, header + lines)
    return len(dataset.skipped)


def _file_stats(root: Path, names: list[str]) -> list[tuple[str, int, int]]:
    stats = []
    for name in names:
        try:
            status = (root / name).stat()
        except OSError:  # vanished or unreadable: decode_image reports it
            stats.append((name, -1, -1))
            continue
        stats.append((name, status.st_size, status.st_mtime_ns))
    return stats


def _labels(paths: list[str], class_names: list[str] | None) -> torch.Tensor | None:
    if class_names is None:
        return None
    index = {name: label for label, name in enumerate(class_names)}
    return torch.tensor([index[path.split("/", 1)[0]] for path in paths], dtype=torch.int64)


def _quarantine(
    root: Path, failures: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], set[str]]:
    """Move each failed file to ROOT/Trash/<same relative path>, saying where in its
    reason; return the amended failures and the names that were moved."""
    reported, moved = [], set()
    for name, reason in failures:
        if owner.governed(root / name):  # a file of gankit's own outputs is never moved
            reported.append((name, f"{reason}; not moved (gankit wrote it)"))
            continue
        target = _free_name(root / TRASH_FOLDER / name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(root / name, target)
        except OSError as error:
            reported.append((name, f"{reason}; could not move to {TRASH_FOLDER}/ ({error.strerror})"))
            continue
        reported.append((name, f"{reason}; moved to {target.relative_to(root).as_posix()}"))
        moved.add(name)
    return reported, moved


def _free_name(target: Path) -> Path:
    """`target`, or `stem-1.ext`, `stem-2.ext`, … when that name is taken."""
    candidate, number = target, 0
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
    return candidate


def _progress(names: list[str], enabled: bool):
    """`names`, with a rich progress bar when asked for and the folder is large."""
    if not enabled or len(names) < PROGRESS_MIN_FILES:
        yield from names
        return
    from rich.progress import track

    yield from track(names, description="decoding images", transient=True)
