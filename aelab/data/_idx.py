"""Raw IDX files (the MNIST / Fashion-MNIST format): :class:`DataError`, validation and reading.

Used by every lecture through :func:`aelab.data.load_mnist` (lectures 01-07) and
:func:`aelab.data.load_fashion_mnist` (lectures 02 and 06). A raw IDX file is a big-endian header
(magic number, item count, and for images rows and columns) followed by one byte per pixel or
label (LeCun et al.'s MNIST page, "file formats"). A file whose size, header, image dimensions,
item count or label range is wrong raises :class:`DataError` naming the file and the fix; it is
never silently used (docs/architecture.md, "Data").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._validation import choice

__all__ = ["DataError", "IMAGE_SHAPE", "SPLITS"]

#: Shape of one image: ``(channels, height, width)``.
IMAGE_SHAPE = (1, 28, 28)
#: The two splits every image dataset has.
SPLITS = ("train", "test")

# Sizes of the raw IDX files (16-byte header + 28*28 bytes per image; 8-byte header + 1 per label).
_RAW_FILES = {
    "train-images-idx3-ubyte": 16 + 60000 * 784,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 784,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
_SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_SPLIT_COUNTS = {"train": 60000, "test": 10000}
# IDX magic numbers: 0x803 = uint8 data with 3 dimensions (images), 0x801 = uint8, 1 dimension (labels).
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
_N_CLASSES = 10


class DataError(RuntimeError):
    """A dataset file is missing, truncated or corrupted, the data root cannot be written, or no
    source for the dataset is available. The message names the file or folder and the fix."""


def _check_split(split: str) -> str:
    """``split`` if it is one of :data:`SPLITS`; ValueError naming them otherwise."""
    return choice(split, "split", SPLITS)


def _fix(after: str, *paths: Path) -> str:
    """The fix for damaged files: delete them (``it``: the file the message names) and re-run, then ``after``."""
    what = "it" if not paths else str(paths[0]) if len(paths) == 1 else "both " + " and ".join(map(str, paths))
    return f"Fix: delete {what} and re-run: {after}"


def _check_idx(path: Path, after: str) -> int:
    """Check one raw IDX file's header against its size; return the number of items it holds."""
    is_images = "images" in path.name
    header_size = 16 if is_images else 8
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = fh.read(header_size)
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or exc}). {_fix(after)}") from exc
    if len(header) < header_size:
        raise DataError(f"{path} is damaged: {size} bytes, shorter than its {header_size}-byte header "
                        f"(truncated). {_fix(after)}")
    fields = [int.from_bytes(header[i:i + 4], "big") for i in range(0, header_size, 4)]
    magic, count = fields[0], fields[1]
    want_magic = _IMAGE_MAGIC if is_images else _LABEL_MAGIC
    if magic != want_magic:
        kind = "images: uint8, 3 dimensions" if is_images else "labels: uint8, 1 dimension"
        raise DataError(f"{path} has a corrupted header: magic number {magic:#x}, expected {want_magic:#x} "
                        f"(IDX {kind}). {_fix(after)}")
    item_size = 1
    if is_images:
        rows, cols = fields[2], fields[3]
        if (rows, cols) != IMAGE_SHAPE[1:]:
            raise DataError(f"{path} has a corrupted header: it describes {count} images of {rows}x{cols} "
                            f"pixels, expected 28x28. {_fix(after)}")
        item_size = rows * cols
    expected = header_size + count * item_size
    if size != expected:
        what = "images of 28x28" if is_images else "labels"
        raise DataError(f"{path} is damaged: {size} bytes, but its header describes {count} {what} "
                        f"({expected} bytes): truncated or corrupted. {_fix(after)}")
    return count


def _check_raw_files(raw: Path, after: str) -> bool:
    """Check every raw IDX file present under ``raw``; True if all four are there.

    ``after`` says what re-running does once a damaged file is deleted (it ends each fix).

    Raises
    ------
    DataError
        If a present file is truncated or corrupted: its size disagrees with its header, the
        header is not an IDX header of 28x28 uint8 images / uint8 labels, a split's images and
        labels differ in number, a file holds the wrong number of items for its split, or a
        label is outside 0..9. The message names the file(s) and the fix.
    """
    for split, names in _SPLIT_FILES.items():
        expected = _SPLIT_COUNTS[split]
        counts = {p: _check_idx(p, after) for p in (raw / name for name in names) if p.exists()}
        if len(counts) == 2:
            (img, n_img), (lab, n_lab) = counts.items()
            if n_img != n_lab:  # name the file(s) whose count is off: deleting those is the fix
                wrong = [p for p, n in counts.items() if n != expected]
                raise DataError(f"{img} holds {n_img} images but {lab} holds {n_lab} labels (the {split} split "
                                f"has {expected}): the two files do not belong together. {_fix(after, *wrong)}")
        wrong = [p for p, n in counts.items() if n != expected]
        if wrong:
            raise DataError(f"{wrong[0]} holds {counts[wrong[0]]} items, expected {expected} for the {split} "
                            f"split. {_fix(after, *wrong) if len(wrong) > 1 else _fix(after)}")
        labels_path = raw / names[1]
        if labels_path in counts:
            labels = np.fromfile(labels_path, dtype=np.uint8, offset=8)
            bad = np.flatnonzero(labels >= _N_CLASSES)
            if bad.size:
                raise DataError(f"{labels_path} is corrupted: label {labels[bad[0]]} at index {bad[0]} "
                                f"({bad.size} labels outside 0..{_N_CLASSES - 1}). {_fix(after)}")
    return all((raw / name).exists() for name in _RAW_FILES)


def _read_split(raw: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read checked raw IDX files: float32 ``(N, 1, 28, 28)`` in [0, 1] and int64 ``(N,)``."""
    images_name, labels_name = _SPLIT_FILES[split]
    pixels = np.fromfile(raw / images_name, dtype=np.uint8, offset=16).reshape(-1, *IMAGE_SHAPE)
    labels = np.fromfile(raw / labels_name, dtype=np.uint8, offset=8)
    images = torch.from_numpy(pixels).to(torch.float32).div_(255.0)  # (N, 1, 28, 28) in [0, 1]
    return images, torch.from_numpy(labels.astype(np.int64))

