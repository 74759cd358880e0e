"""``dlcv data check``: what in a photo folder would mislead a model or flatter its test score.

Photos taken in bursts, the same picture saved twice, a resized or re-encoded copy: near-identical images
on both sides of a split let a model "recognise" test images it has seen, and inflate test accuracy more
than any change of recipe. The check reads every file once and reports

- exact duplicates (the same bytes) and near duplicates (a perceptual hash: a re-encoded, resized or
  slightly edited copy) — across the split folders of a pre-split dataset (leakage), across classes (one
  picture with two labels), and within a folder that will be split at random (they may land on both
  sides; ``dataset.group_by`` keeps named groups together);
- files that cannot be decoded; images per class and per split (the balance); image sizes.

    audit = audit_folder("datasets/animals")
    audit.problems        # duplicate groups that leak across splits or carry two labels
    print(audit.text())

A label table (``audit_table("labels.csv", images="photos")``) gets the same report, and what only a table
can get wrong: rows naming missing files, files under its images folder that no row names, and files two
rows name.

A pair is near when its perceptual hashes are within ``distance`` bits and its 16x16 grey thumbnails
(mean removed, unit length) correlate at 0.95 or more: on tightly cropped, aligned faces (SMILES) the
hash alone puts different people within 6 bits, while the thumbnails of a copy resized to 60% and
re-encoded still correlate at >= 0.97 and those of different faces at <= 0.90.

The perceptual hash is the classic DCT hash (pHash: the signs of an image's lowest 8x8 frequencies
against their median, 64 bits): OpenCV's own ``img_hash`` module is only in opencv-contrib, which dlcv
does not install, and the imagehash package would bring PyWavelets in for fifteen lines.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import DlcvError
from ..images import UnreadableImage, jpeg_size, read_image
from ..progress import Progress
from .folder import PART_NAMES, list_labelled_images, list_split_images, split_folders
from .loader import label_of

NEAR_DISTANCE = 10
MAX_DISTANCE = 32
"""Bits of the 64-bit hash two near duplicates may differ by: by default, and at most (half the hash)."""
AUDIT_FORMATS = ("text", "json")
"""Bits (of 64) two perceptual hashes may differ by and still be one picture: re-encoding and resizing
move a photo's hash by 0-4 bits, a 64x64 face's by up to 10; unrelated photos differ by about 32."""
SIMILARITY = 0.95
"""Least correlation of two near duplicates' 16x16 thumbnails (the check that follows the hash)."""
NO_LABEL = "(no label)"
"""Where a multi-label table's images of none of its classes are counted."""
PROGRESS_FROM = 1000
"""Files from which a check shows its progress (fewer take a moment)."""
HASH_SIZE = 32  # the grey thumbnail the DCT is taken of
THUMB_SIZE = 16


@dataclass(frozen=True)
class DuplicateGroup:
    kind: str
    """exact (the same bytes) or near (perceptual hashes within the distance; may include exact pairs)."""
    paths: tuple[str, ...]
    """Its files, each once."""
    parts: tuple[str, ...]
    """The split parts its rows are in (train / validation / test), or "" in a folder split at random."""
    classes: tuple[str, ...]
    """The classes its rows are labelled."""
    rows: int = 0
    """The rows naming its files (a label table may name one file in several)."""

    @property
    def across_parts(self) -> bool:
        return len({part for part in self.parts if part}) > 1

    @property
    def across_classes(self) -> bool:
        return len(set(self.classes)) > 1


@dataclass
class FolderAudit:
    root: str
    split_as_given: bool
    counts: dict[str, dict[str, int]]
    """Images per class, per part ("all" for a folder split at random); a multi-label table's image counts
    for each of its classes, or under :data:`NO_LABEL`."""
    sizes: list[tuple[int, int]] = field(repr=False)
    """(width, height) of every readable image."""
    unreadable: list[str]
    duplicates: list[DuplicateGroup]
    distance: int = NEAR_DISTANCE
    kind: str = "folder"
    """What was read: a class "folder", or a label "table"."""
    missing: list[str] = field(default_factory=list)
    """A label table's rows naming files that are not there ("line N: path")."""
    unlisted: list[str] = field(default_factory=list)
    """Image files under a label table's images folder that no row names."""
    repeated: list[str] = field(default_factory=list)
    """Files two or more rows of a label table name ("lines N and M: path")."""
    images: dict[str, int] = field(default_factory=dict)
    """Readable images (rows) per part, as ``counts`` is keyed."""

    @property
    def problems(self) -> list[DuplicateGroup]:
        """Groups that leak or mislabel: across split folders, across classes, or anywhere in a folder
        that will be split at random (where they may land on both sides)."""
        return [group for group in self.duplicates
                if group.across_parts or group.across_classes or not self.split_as_given]

    def to_dict(self) -> dict:
        widths, heights = (np.array(axis) for axis in zip(*self.sizes)) if self.sizes else ([0], [0])
        return {"root": self.root, "split_as_given": self.split_as_given, "counts": self.counts, "images": self.images,
                "sizes": {"count": len(self.sizes), "min": [int(np.min(widths)), int(np.min(heights))],
                          "median": [int(np.median(widths)), int(np.median(heights))],
                          "max": [int(np.max(widths)), int(np.max(heights))]},
                "unreadable": self.unreadable, "missing": self.missing, "unlisted": self.unlisted,
                "repeated": self.repeated, "near_distance": self.distance,
                "duplicates": [dict(asdict(group), across_parts=group.across_parts,
                                    across_classes=group.across_classes) for group in self.duplicates],
                "problems": len(self.problems)}

    def text(self) -> str:
        """The report a person reads: counts, balance, sizes, then every problem found (nothing more on
        a clean folder)."""
        summary = self.to_dict()
        classes = sorted({name for per_class in self.counts.values() for name in per_class} - {NO_LABEL})
        lines = [f"{self.root}: {sum(self.images.values()):,} images, {len(classes)} classes, " + (
            "split as given: " + ", ".join(f"{part} {self.images.get(part, 0):,}" for part in self.counts)
            if self.split_as_given else f"one {self.kind} (a training run splits it at random)")]
        per_class = {name: sum(c.get(name, 0) for c in self.counts.values()) for name in classes}
        unlabelled = sum(c.get(NO_LABEL, 0) for c in self.counts.values())
        if per_class:  # else nothing was readable: the unreadable files below say why
            smallest, largest = min(per_class.values()), max(per_class.values())
            lines.append("classes: " + ", ".join(f"{name} {n:,}" for name, n in per_class.items())
                         + f" (smallest/largest {smallest / max(largest, 1):.2f})"
                         + (f"; {unlabelled:,} image(s) with no label" if unlabelled else ""))
            sizes = summary["sizes"]
            lines.append(f"sizes: {'x'.join(map(str, sizes['min']))} to {'x'.join(map(str, sizes['max']))}, median "
                         f"{'x'.join(map(str, sizes['median']))} (width x height)")
        for what, unit, names in (("unreadable", "file(s)", self.unreadable),
                                  ("missing", "row(s) naming no file", self.missing),
                                  ("not in the table", "file(s) no row names", self.unlisted),
                                  ("named twice", "file(s) two rows or more name", self.repeated)):
            if names:
                lines.append(f"{what}: {len(names):,} {unit}: " + ", ".join(names[:10])
                             + (", ..." if len(names) > 10 else ""))
        for group in self.duplicates:
            parts = sorted({part for part in group.parts if part}, key=PART_NAMES.index)
            where = (f"across splits ({' and '.join(parts)})" if group.across_parts else "across classes"
                     if group.across_classes else "within one split" if self.split_as_given else "may be split apart")
            members = ", ".join(os.path.relpath(path, self.root) for path in group.paths)
            if group.rows > len(group.paths):
                members += f" (named by {group.rows:,} rows)"
            lines.append(f"{group.kind} duplicates, {where}: {members}")
        problems = self.problems
        if problems:
            advice = ("remove or move them so each picture is in one split" if self.split_as_given else
                      "remove them, or name their groups with dataset.group_by so each stays in one split")
            lines.append(f"found {len(problems)} duplicate group(s) that can leak between splits or carry two "
                         f"labels: {advice}")
        elif not self.duplicates:
            lines.append(f"no duplicates (exact, or near: perceptual hashes within {self.distance} bits and "
                         "thumbnails alike)")
        return "\n".join(lines)


def perceptual_hash(grey: np.ndarray) -> np.uint64:
    """64-bit DCT hash of a grey image: bit i is set where the i-th of its lowest 8x8 frequencies is
    above their median (robust to resizing, re-encoding and small brightness changes)."""
    small = cv2.resize(grey.reshape(grey.shape[:2]), (HASH_SIZE, HASH_SIZE), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small.astype(np.float32))[:8, :8]
    bits = (low > np.median(low)).ravel()
    return np.packbits(bits).view(">u8")[0].astype(np.uint64)


def audit_dataset(dataset: str, images: str | None = None, distance: int = NEAR_DISTANCE) -> FolderAudit:
    """``dlcv data check``'s audit of a class folder or, by its extension, a label table."""
    from .table import is_table

    if is_table(dataset):
        return audit_table(dataset, images, distance)
    if not Path(dataset).is_dir():
        raise DlcvError(f"dataset folder not found: {dataset!r}; expected a folder of <class>/<image> files or a "
                        "label table (.csv, .jsonl)")
    if images is not None:
        raise DlcvError("--images: applies to a label table; a folder's images are the folder's")
    return audit_folder(dataset, distance)


def audit_folder(root: str | os.PathLike, distance: int = NEAR_DISTANCE, workers: int | None = None) -> FolderAudit:
    """Read every image of a class folder (pre-split or not) once and report what :class:`FolderAudit` holds."""
    _check_distance(distance)
    parts = split_folders(root)
    if parts is not None:
        paths, labels, class_names, given = list_split_images(root, parts)
        part_of = [PART_NAMES[int(g)] for g in given]
    else:
        paths, labels, class_names = list_labelled_images(root)
        part_of = [""] * len(paths)
    audit = _audit(str(root), paths, [(label_of(path),) for path in paths], part_of, distance, workers)
    audit.split_as_given = parts is not None
    return audit


def audit_table(path: str | os.PathLike, images: str | os.PathLike | None = None, distance: int = NEAR_DISTANCE,
                workers: int | None = None) -> FolderAudit:
    """Read every image a label table names once: the folder's report, and the table's own problems (rows
    naming missing files, files no row names, files two rows name)."""
    from ..config import DatasetConfig
    from ..images import list_images
    from .table import read_table

    _check_distance(distance)
    # refused as a training run would refuse it (above dataset.max_missing's default of rows missing)
    table = read_table(path, images, max_missing=DatasetConfig.model_fields["max_missing"].default)
    label_sets = [table.label_names(row) for row in range(len(table.labels))]
    part_of = [""] * len(table.paths) if table.given_split is None else [PART_NAMES[int(g)] for g in table.given_split]
    audit = _audit(str(table.images), table.paths, label_sets, part_of, distance, workers)
    audit.split_as_given, audit.kind = table.given_split is not None, "table"
    named = {os.path.normpath(p) for p in table.paths}
    audit.unlisted = [os.path.relpath(p, table.images) for p in list_images(table.images)
                      if os.path.normpath(p) not in named]
    audit.missing, audit.repeated = table.missing, table.repeated
    return audit


def _check_distance(distance: int) -> None:
    if not 0 <= distance <= MAX_DISTANCE:
        raise DlcvError(f"--distance {distance}: expected 0-{MAX_DISTANCE} bits of the 64-bit perceptual hash")


def _audit(root: str, paths: list[str], label_sets: list[tuple[str, ...]], part_of: list[str], distance: int,
           workers: int | None) -> FolderAudit:
    """Every file read once (a table's rows may name one file many times): counts per part and class (a
    multi-label row counts once for each of its classes, or under :data:`NO_LABEL`), sizes, unreadable files,
    duplicate groups (a file that several rows name is one, on its own)."""
    fingerprints = _fingerprints(paths, workers)
    counts: dict[str, dict[str, int]] = {}
    images: dict[str, int] = {}
    for names, part, print_ in zip(label_sets, part_of, fingerprints):
        if print_ is not None:
            per_class = counts.setdefault(part or "all", {})
            images[part or "all"] = images.get(part or "all", 0) + 1
            for name in names or (NO_LABEL,):
                per_class[name] = per_class.get(name, 0) + 1
    classes = [" + ".join(names) or NO_LABEL for names in label_sets]  # a duplicate's labels, compared
    rows_of: dict[str, list[int]] = {}
    for row, path in enumerate(paths):
        rows_of.setdefault(os.path.normpath(path), []).append(row)
    files = [rows for rows in rows_of.values() if fingerprints[rows[0]] is not None]  # readable, each once
    digests = [fingerprints[rows[0]][0] for rows in files]
    hashes = np.array([fingerprints[rows[0]][1] for rows in files], np.uint64)
    thumbs = np.array([fingerprints[rows[0]][2] for rows in files], np.float32).reshape(len(files), THUMB_SIZE ** 2)
    groups = _duplicate_groups(digests, hashes, thumbs, distance)
    grouped = {member for group in groups for member in group}
    groups += [[i] for i, rows in enumerate(files) if len(rows) > 1 and i not in grouped]
    duplicates = []
    for members in sorted(groups, key=lambda group: files[group[0]][0]):
        rows = [row for m in members for row in files[m]]
        duplicates.append(DuplicateGroup(
            "exact" if len({digests[m] for m in members}) == 1 else "near", tuple(paths[files[m][0]] for m in members),
            tuple(sorted({part_of[r] for r in rows})), tuple(sorted({classes[r] for r in rows})), len(rows)))
    return FolderAudit(root, False, counts, [fingerprints[rows[0]][3] for rows in files],
                       [paths[rows[0]] for rows in rows_of.values() if fingerprints[rows[0]] is None],
                       duplicates, distance, images=images)


def _fingerprints(paths: list[str], workers: int | None, chunk: int = 1024) -> list:
    """Each path's :func:`_fingerprint`, each distinct file read once, a chunk at a time (what is in flight
    stays bounded on a table of millions of rows), with a progress bar."""
    distinct = list(dict.fromkeys(os.path.normpath(path) for path in paths))
    found: dict[str, tuple | None] = {}
    progress = Progress(len(distinct), "checking", minimum=PROGRESS_FROM)
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool, progress as bar:
        for start in range(0, len(distinct), chunk):
            block = distinct[start:start + chunk]
            found.update(zip(block, pool.map(_fingerprint, block)))
            bar.update(len(block))
    return [found[os.path.normpath(path)] for path in paths]


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """A 16x16 grey thumbnail with its mean removed, scaled to unit length (dot product = correlation)."""
    small = cv2.resize(grey.reshape(grey.shape[:2]), (THUMB_SIZE, THUMB_SIZE), interpolation=cv2.INTER_AREA)
    centred = small.astype(np.float32).ravel() - small.mean()
    return centred / max(float(np.linalg.norm(centred)), 1e-6)


def _fingerprint(path: str) -> tuple[str, np.uint64, np.ndarray, tuple[int, int]] | None:
    """(SHA-256 of the bytes, perceptual hash, thumbnail, (width, height)), or None for a file that is not
    an image."""
    try:
        data = Path(path).read_bytes()
        grey = read_image(path, channels=1, reduce_to=(HASH_SIZE, HASH_SIZE))  # a hash needs no full decode
    except (OSError, UnreadableImage):
        return None
    size = jpeg_size(data) or (grey.shape[1], grey.shape[0])
    return hashlib.sha256(data).hexdigest(), perceptual_hash(grey), thumbnail(grey), size


def _duplicate_groups(digests: list[str], hashes: np.ndarray, thumbs: np.ndarray, distance: int,
                      chunk: int = 512) -> list[list[int]]:
    """Indexes linked by equal digests, or by hashes within ``distance`` bits whose thumbnails correlate
    at :data:`SIMILARITY` or more, as groups (SciPy's connected components of those links), each sorted,
    in the order of their first member."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    first: dict[str, int] = {}
    links = [(i, first.setdefault(digest, i)) for i, digest in enumerate(digests)]
    for start in range(0, len(hashes), chunk):  # all pairs, a block of rows at a time (bounded memory)
        block = np.bitwise_count(hashes[start:start + chunk, None] ^ hashes[None, :])
        rows, cols = np.nonzero(block <= distance)
        links += [(int(i), int(j)) for i, j in zip(rows + start, cols)
                  if i < j and float(thumbs[i] @ thumbs[j]) >= SIMILARITY]
    count = len(digests)
    if not count:
        return []
    sources, targets = (np.array(side, np.int64) for side in zip(*links))
    graph = coo_matrix((np.ones(len(links), np.int8), (sources, targets)), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for i, label in enumerate(component.tolist()):
        members.setdefault(label, []).append(i)
    return sorted((group for group in members.values() if len(group) > 1), key=lambda group: group[0])

