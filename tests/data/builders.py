"""Builders of small data for the data tests: a mixed table, images and zip archives."""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
import pandas as pd
from PIL import Image


def image_bytes(fmt: str = "PNG", size=(12, 10), mode: str = "RGB", seed: int = 0) -> bytes:
    """An image file's bytes with random pixels."""
    rng = np.random.default_rng(seed)
    width, height = size
    channels = {"L": 1, "RGB": 3, "RGBA": 4, "CMYK": 4}.get(mode, 3)
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    if mode == "P":
        picture = Image.fromarray(pixels[:, :, :3], "RGB").convert("P")
    else:
        picture = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode)
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


def zip_bytes(entries: dict) -> bytes:
    """A zip archive: name -> bytes (a file), None (a folder) or ("link", target)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            if content is None:
                archive.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")
            elif isinstance(content, tuple) and content[0] == "link":
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, content[1])
            else:
                archive.writestr(name, content)
    return out.getvalue()


def class_zip(classes=("cats", "dogs"), per_class: int = 8, root: str = "",
              size=(12, 10)) -> bytes:
    """A zip of class folders with ``per_class`` PNG images each."""
    entries = {}
    for c, name in enumerate(classes):
        for i in range(per_class):
            entries[f"{root}{name}/img_{i}.png"] = image_bytes(size=size, seed=c * 100 + i)
    return zip_bytes(entries)


def mixed_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """An id, numbers with gaps, labels with gaps, whole numbers, sentences, a class and a price."""
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, n)
    size[::17] = np.nan
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    colour[::13] = None
    return pd.DataFrame({
        "row_id": np.arange(n),
        "size": size.round(3),
        "colour": colour,
        "rooms": rng.integers(1, 6, n),
        "note": [f"a fairly long note number {i} about this item" for i in range(n)],
        "label": np.where(size > 10, "big", "small"),
        "price": (size * 3 + rng.normal(0, 1, n)).round(2),
    })
