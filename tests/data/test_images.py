"""Image folders: classes from folders, the skip report, conversion and the tf.data pipeline."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from builder.data.errors import DataError
from builder.data.images import gallery, load_image_zip, prepare_images, scan_folder
from tests.data.builders import class_zip, image_bytes, zip_bytes


def _load(data: bytes, uploads, **kwargs):
    return load_image_zip(data, uploads, name="pets.zip", **kwargs)


def _refused(data: bytes, uploads) -> DataError:
    with pytest.raises(DataError) as caught:
        _load(data, uploads)
    assert caught.value.problem and caught.value.fix
    return caught.value


def test_classes_come_from_folders_below_a_common_root(uploads):
    source = _load(class_zip(("dogs", "cats"), per_class=5, root="a/b/pets/"), uploads)
    assert source.class_names == ["cats", "dogs"]
    assert source.counts() == {"cats": 5, "dogs": 5}
    assert source.default_size() == (10, 12) and source.default_channels() == 3
    assert source.report() == []


def test_images_deeper_inside_a_class_folder_belong_to_it(uploads):
    entries = {"cats/a.png": image_bytes(seed=1), "cats/indoor/b.png": image_bytes(seed=2),
               "dogs/c.png": image_bytes(seed=3)}
    source = _load(zip_bytes(entries), uploads)
    assert source.counts() == {"cats": 2, "dogs": 1}


def test_mixed_formats_sizes_and_modes_are_converted(uploads):
    entries = {
        "cats/rgb.png": image_bytes(size=(20, 10)),
        "cats/grey.png": image_bytes(mode="L", size=(8, 8)),
        "cats/alpha.png": image_bytes(mode="RGBA", size=(30, 30)),
        "dogs/palette.gif": image_bytes("GIF", mode="P", size=(16, 12)),
        "dogs/photo.jpg": image_bytes("JPEG", size=(40, 20)),
        "dogs/cmyk.jpg": image_bytes("JPEG", mode="CMYK", size=(9, 9)),
        "dogs/old.bmp": image_bytes("BMP", size=(5, 7)),
    }
    for channels in (1, 3):
        source = _load(zip_bytes(entries), uploads / str(channels))
        assert source.default_size() == (64, 64)  # sizes differ
        for _copy in range(3):  # a few copies so that each split gets images
            for name in list(entries):
                source.files.append((source.files[0][0].parent.parent / name, 0 if
                                     name.startswith("cats") else 1))
        prepared = prepare_images(source, size=(16, 16), channels=channels, validation=0.2,
                                  test=0.2)
        x, _ = prepared.arrays("train")
        assert x.shape[1:] == (16, 16, channels) and x.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert any("resized" in note for note in prepared.notes)
        assert any("converted" in note for note in prepared.notes)


def test_non_images_corrupt_files_and_hidden_folders_are_skipped_and_listed(uploads):
    entries = {
        "cats/a.png": image_bytes(seed=1), "cats/b.png": image_bytes(seed=2),
        "dogs/c.png": image_bytes(seed=3), "dogs/d.png": image_bytes(seed=4),
        "dogs/readme.txt": b"hello", "dogs/broken.png": b"not really a png",
        "cats/.hidden/e.png": image_bytes(seed=5), "__MACOSX/cats/._a.png": b"junk",
    }
    source = _load(zip_bytes(entries), uploads)
    assert source.counts() == {"cats": 2, "dogs": 2}
    reasons = {row["file"]: row["reason"] for row in source.report()}
    assert reasons["dogs/readme.txt"] == "not an image file"
    assert reasons["dogs/broken.png"] == "corrupt or unreadable image"
    assert any("hidden" in r for f, r in reasons.items() if ".hidden" in f or "MACOSX" in f)


def test_truncated_images_are_found_when_decoding(uploads):
    good = [image_bytes(seed=i) for i in range(12)]
    entries = {f"c{i % 2}/img{i}.png": data for i, data in enumerate(good)}
    whole = image_bytes(size=(60, 60), seed=99)
    entries["c0/cut.png"] = whole[: len(whole) // 2]  # a valid header, half the data
    source = _load(zip_bytes(entries), uploads)
    prepared = prepare_images(source, size=(8, 8), validation=0.2, test=0.0)
    assert sum(prepared.sizes.values()) == 12
    assert any(s["file"].endswith("cut.png") for s in prepared.info["skipped"])
    assert any("could not be decoded" in note for note in prepared.notes)


def test_archive_with_one_class(uploads):
    error = _refused(class_zip(("cats",), per_class=4), uploads)
    assert error.code == "one_class" and "'cats'" in error.problem
    assert "folder per class" in error.fix


def test_empty_class_folders_are_named(uploads):
    data = zip_bytes({"cats/a.png": image_bytes(), "cats/b.png": image_bytes(seed=2),
                      "dogs/": None})
    error = _refused(data, uploads)
    assert error.code == "one_class" and "'dogs'" in error.problem and "empty" in error.problem
    data = zip_bytes({"cats/a.png": image_bytes(), "dogs/b.png": image_bytes(seed=2),
                      "birds/": None, "fish/notes.txt": b"no images here"})
    source = _load(data, uploads / "again")
    assert source.class_names == ["cats", "dogs"]
    assert source.empty_classes == ["birds", "fish"]
    assert {"file": "birds/", "reason": "empty class folder (no images)"} in source.report()


def test_images_without_class_folders(uploads):
    data = zip_bytes({"a.png": image_bytes(), "b.png": image_bytes(seed=2)})
    error = _refused(data, uploads)
    assert error.code == "no_class_folders"


def test_loose_images_beside_class_folders_are_skipped(uploads):
    data = class_zip(per_class=3)
    extra = zip_bytes({"loose.png": image_bytes(seed=9)})
    merged = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(merged, "w") as out:
        for blob in (data, extra):
            with zipfile.ZipFile(io.BytesIO(blob)) as src:
                for info in src.infolist():
                    out.writestr(info, src.read(info))
    source = _load(merged.getvalue(), uploads)
    assert source.counts() == {"cats": 3, "dogs": 3}
    assert {"file": "loose.png", "reason": "not inside a class folder"} in source.report()


def test_no_images_at_all(uploads):
    error = _refused(zip_bytes({"cats/a.txt": b"x", "dogs/b.csv": b"1,2"}), uploads)
    assert error.code == "no_images" and "not an image file" in error.problem


def test_a_text_file_named_zip(uploads):
    assert _refused(b"hello, I am text", uploads).code == "not_zip"


def test_scan_does_not_follow_links(tmp_path):
    root = tmp_path / "set"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            (root / cls / f"{i}.png").write_bytes(image_bytes(seed=i))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(image_bytes(seed=7))
    (root / "a" / "sneaky").symlink_to(outside, target_is_directory=True)
    source = scan_folder(root)
    assert source.counts() == {"a": 2, "b": 2}
    assert any(row["file"] == "a/sneaky/" for row in source.report())


def test_preprocessing_matches_the_pipeline_and_takes_any_size(uploads):
    source = _load(class_zip(per_class=10), uploads)
    prepared = prepare_images(source, size=(10, 12), channels=3)
    assert prepared.task == "binary" and prepared.input_shape == (10, 12, 3)
    raw = prepared.raw("test")
    assert raw.dtype == np.uint8
    x, y = prepared.arrays("test")
    assert np.allclose(np.asarray(prepared.preprocessing(raw)), x, atol=1e-6)
    pipeline_x = np.stack([a.numpy() for a, _ in prepared.test])
    assert np.allclose(pipeline_x, x, atol=1e-7)
    assert int(prepared.batches("train", 4).cardinality()) == -(-prepared.sizes["train"] // 4)
    bigger = np.asarray(Image.fromarray(raw[0]).resize((48, 40)))[None]
    assert np.asarray(prepared.preprocessing(bigger)).shape == (1, 10, 12, 3)
    assert y.shape == (len(raw), 1)


def test_augmentation_applies_to_training_batches_only():
    from builder.data.samples import load_sample

    source = load_sample("digits")
    prepared = prepare_images(source, size=(16, 16), augment={"flip": "horizontal",
                                                               "rotation": 0.2,
                                                               "contrast": 0.3})
    clean = prepared.arrays("train", 32)[0]
    augmented = next(iter(prepared.batches("train", 32, shuffle=False)))[0].numpy()
    assert augmented.shape == clean.shape and not np.allclose(augmented, clean)
    val = next(iter(prepared.batches("validation", 32)))[0].numpy()
    assert np.allclose(val, prepared.arrays("validation", 32)[0])
    with pytest.raises(DataError):
        prepare_images(source, augment={"blur": 0.5})
    with pytest.raises(DataError):
        prepare_images(source, augment={"zoom": 2.0})


def test_reconstruction_targets_are_the_images():
    from builder.data.samples import load_sample

    prepared = prepare_images(load_sample("digits"), task="reconstruction")
    x, y = next(iter(prepared.batches("validation", 8)))
    assert np.array_equal(x.numpy(), y.numpy())
    assert prepared.expected_output().activation == "sigmoid"
    assert prepared.num_classes is None


@pytest.mark.parametrize("kwargs, code", [
    ({"size": (2, 2)}, "bad_size"), ({"size": (8, 9000)}, "bad_size"),
    ({"channels": 2}, "bad_channels"), ({"task": "regression"}, "bad_task"),
    ({"task": "binary"}, "not_binary"),
])
def test_bad_choices(kwargs, code):
    from builder.data.samples import load_sample

    with pytest.raises(DataError) as caught:
        prepare_images(load_sample("digits"), **kwargs)
    assert caught.value.code == code


def test_gallery_shows_each_class(uploads):
    source = _load(class_zip(per_class=4), uploads)
    pictures = gallery(source, per_class=3)
    assert list(pictures) == ["cats", "dogs"]
    assert all(len(v) == 3 and v[0].shape[2] == 3 for v in pictures.values())


def _smooth_png(width: int, height: int, seed: int) -> bytes:
    """A photo-like image (smooth gradients plus noise), so resizing has work to do."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = 127 + 100 * np.sin(xx / (3 + seed)) * np.cos(yy / 5)
    pixels = np.clip(base + rng.normal(0, 20, size=(height, width)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "L").save(out, format="PNG")
    return out.getvalue()


def test_training_pixels_equal_what_the_exported_model_makes_of_the_original_file(uploads):
    """One resize path: oversized and odd-sized files, training values vs the export's."""
    sizes = [(64, 64), (37, 23), (9, 31), (200, 120)]
    entries = {f"{'ab'[i % 2]}/{i}.png": _smooth_png(*sizes[i % 4], seed=i) for i in range(12)}
    source = _load(zip_bytes(entries), uploads)
    prepared = prepare_images(source, size=(16, 16), channels=1, validation=0.25, test=0.25)
    originals = {}
    for path, _label in source.files:
        with Image.open(path) as image:
            originals[path.name] = np.asarray(image.convert("L"), np.uint8)[None, :, :, None]
    train_x = prepared.arrays("train")[0]
    seen = 0
    for stored in train_x:
        # The stored image came from one original; find it by what the model makes of it.
        made = {name: np.asarray(prepared.preprocessing(original))[0]
                for name, original in originals.items()}
        best = min(made.values(), key=lambda m: float(np.abs(m - stored).max()))
        # Equal up to the rounding of the stored uint8 pixels (0.5 / 255 on the 0-1 scale).
        assert float(np.abs(best - stored).max()) <= 0.5 / 255 + 1e-6
        seen += 1
    assert seen == len(train_x) > 0
    # An image already at the model's size passes the preprocessing unchanged.
    raw = prepared.raw("train")
    np.testing.assert_allclose(np.asarray(prepared.preprocessing(raw)), train_x, atol=1e-6)
