"""Hostile image zips: pixel bombs are refused from their headers, before any decoding, and
hostile folder names never leave the upload folder (builder.data.images)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from builder.data.errors import DataError
from builder.data.images import MAX_ARCHIVE_PIXELS, load_image_zip
from tests.data.builders import class_zip, image_bytes, zip_bytes


def _blank_png(size, mode="L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")  # a few KB for millions of pixels
    return out.getvalue()


def test_huge_images_are_skipped_by_their_headers(tmp_path):
    bomb = _blank_png((6000, 6000))
    entries = {f"{c}/bomb_{i}.png": bomb for c in ("cats", "dogs") for i in range(30)}
    entries.update({f"{c}/ok_{i}.png": image_bytes(seed=i) for c in ("cats", "dogs")
                    for i in range(3)})
    source = load_image_zip(zip_bytes(entries), tmp_path / "up", name="bombs.zip")
    assert len(source) == 6
    skipped = [s for s in source.skipped if "bomb_" in s.name]
    assert len(skipped) == 60 and all("too large (6000 x 6000" in s.reason for s in skipped)


def test_an_archive_of_more_pixels_than_can_be_decoded_is_refused(tmp_path):
    side = 4000  # under the per-image cap; 40 of them pass the archive's
    picture, half_deep = _blank_png((side, side)), _blank_png((side, side), "I;16")
    count = MAX_ARCHIVE_PIXELS // (side * side) + 2
    entries = {f"{('cats', 'dogs')[i % 2]}/big_{i}.png": (picture, half_deep)[i % 2]
               for i in range(count)}
    with pytest.raises(DataError) as caught:
        load_image_zip(zip_bytes(entries), tmp_path / "up", name="many.zip")
    assert caught.value.code == "too_many_pixels"
    assert "Resize the images" in caught.value.fix


@pytest.mark.parametrize("folder", ["..", ".hidden", "a/../../b", "<img src=x onerror=alert(1)>",
                                    "![T](http://127.0.0.1:9/t.png)"])
def test_hostile_class_folders_stay_inside_the_upload_folder(tmp_path, folder):
    entries = {f"{folder}/x_{i}.png": image_bytes(seed=i) for i in range(3)}
    entries.update({f"plain/y_{i}.png": image_bytes(seed=10 + i) for i in range(3)})
    entries.update({f"other/z_{i}.png": image_bytes(seed=20 + i) for i in range(3)})
    up = tmp_path / "up"
    try:
        source = load_image_zip(zip_bytes(entries), up, name="hostile.zip")
    except DataError as exc:  # refused whole, with the reason: also safe
        assert exc.code == "unsafe_path" and "'..'" in exc.problem
        assert not list(tmp_path.rglob("x_0.png"))
        return
    for path, _ in source.files:
        assert up.resolve() in path.resolve().parents
    assert not any(tmp_path.glob("b")) and not (tmp_path / "x_0.png").exists()
    assert {"other", "plain"} <= set(source.class_names)


def test_a_normal_zip_still_loads(tmp_path):
    source = load_image_zip(class_zip(per_class=3), tmp_path / "up")
    assert len(source) == 6


def test_what_is_not_a_training_image_is_not_kept_in_the_upload_folder(tmp_path):
    entries = {f"{c}/{i}.png": image_bytes(seed=i) for c in ("cats", "dogs") for i in range(3)}
    entries["cats/notes.txt"] = b"x" * 1_000_000
    entries["__MACOSX/cats/._0.png"] = b"junk"
    entries["cats/broken.png"] = b"not a png"
    up = tmp_path / "up"
    source = load_image_zip(zip_bytes(entries), up, name="mixed.zip")
    kept = sorted(p.relative_to(up).as_posix() for p in up.rglob("*") if p.is_file())
    assert len(kept) == 6 and all(name.endswith(tuple(f"{i}.png" for i in range(3)))
                                  for name in kept)
    assert {s.name for s in source.skipped} >= {"cats/notes.txt", "cats/broken.png"}
