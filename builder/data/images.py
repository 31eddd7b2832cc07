"""Images: a zip of class folders (or an in-memory sample) to a training-ready dataset.

The class of an image is the first folder below the archive's common root, so
``cats/x.png``, ``pets/cats/x.png`` and ``data/train/pets/cats/sub/x.png`` (with
sibling class folders) all work. Every image is opened with Pillow: corrupt
files, non-images and hidden or system files are skipped and listed in the
report; palette, grey, transparent, CMYK and 16-bit images are converted to the
chosen channels (grey or RGB) and resized to the chosen size by the very
``Resizing`` layer the preprocessing model starts with (bilinear, as Keras resizes),
so training, the app's predictions and the exported model see the same values.

Decoded pixels are kept as uint8; the tf.data pipeline scales them to 0..1
(``scale_pixels``), caches the result and prefetches. The preprocessing model (``Resizing`` then
``Rescaling(1/255)``) takes uint8 images of any size, so the exported model does
too.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps

from builder.data import PreparedData, SplitArrays, origin
from builder.data.archive import MAX_ENTRIES, MAX_TOTAL_BYTES, Skipped, is_hidden_or_system
from builder.data.archive import safe_extract as _safe_extract
from builder.data.errors import DataError
from builder.data.splits import split_indices

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif",
                              ".tiff"})
MAX_PIXELS = 4096 * 4096  # one image larger than this is skipped (training uses 512 at most)
MAX_ARCHIVE_PIXELS = 500_000_000  # all images together, counted from their headers
MAX_SIDE = 512
DEFAULT_SIDE = 64
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
AUGMENTATIONS = ("flip", "rotation", "zoom", "translation", "contrast")


@dataclass
class ImageSource:
    """Images with class labels, before the size and channels are chosen.

    Either ``files`` (paths with label indices, from a folder) or ``pixels`` (a
    uint8 ``(n, h, w, c)`` array with ``labels``, for samples) is set.
    """

    name: str
    class_names: list[str]
    files: list[tuple[Path, int]] = field(default_factory=list)
    pixels: np.ndarray | None = None
    labels: np.ndarray | None = None
    skipped: list[Skipped] = field(default_factory=list)
    sizes: Counter = field(default_factory=Counter)
    modes: Counter = field(default_factory=Counter)
    empty_classes: list[str] = field(default_factory=list)
    root: Path | None = None
    description: str = ""

    def counts(self) -> dict[str, int]:
        """Images per class."""
        labels = self.labels if self.pixels is not None else [lab for _, lab in self.files]
        tally = Counter(int(lab) for lab in labels)
        return {name: tally.get(i, 0) for i, name in enumerate(self.class_names)}

    def __len__(self) -> int:
        return len(self.pixels) if self.pixels is not None else len(self.files)

    def default_size(self) -> tuple[int, int]:
        """(height, width): the common size when all agree and are small, else 64 x 64."""
        if self.pixels is not None:
            return int(self.pixels.shape[1]), int(self.pixels.shape[2])
        if len(self.sizes) == 1:
            (width, height), = self.sizes
            if max(width, height) <= 128:
                return int(height), int(width)
        return DEFAULT_SIDE, DEFAULT_SIDE

    def default_channels(self) -> int:
        """1 when every image is grey, else 3."""
        if self.pixels is not None:
            return int(self.pixels.shape[3])
        return 1 if self.modes and all(m in GREY_MODES for m in self.modes) else 3

    def report(self) -> list[dict]:
        """Skipped files and empty class folders, as rows for a table."""
        rows = [{"file": s.name, "reason": s.reason} for s in self.skipped]
        rows += [{"file": f"{c}/", "reason": "empty class folder (no images)"}
                 for c in self.empty_classes]
        return rows


# ---------------------------------------------------------------------------
# Scanning a folder of class folders.


def load_image_zip(data, dest: str | os.PathLike, *, name: str = "images.zip",
                   max_entries: int = MAX_ENTRIES,
                   max_total_bytes: int = MAX_TOTAL_BYTES) -> ImageSource:
    """Safely extract a zip of class folders into ``dest`` and scan it.

    Raises:
        DataError: not a zip, an unsafe or too large archive, fewer than two classes.
    """
    report = _safe_extract(data, dest, name=name, max_entries=max_entries,
                           max_total_bytes=max_total_bytes)
    source = scan_folder(report.root, name=name, skipped=report.skipped,
                         folders=report.folders)
    _remove_unused(Path(report.root), {path for path, _ in source.files})
    return source


def _remove_unused(root: Path, used: set[Path]) -> None:
    """Delete what was unpacked but is not a training image (a 1 GiB text file, say), so
    the upload folder holds only what it is kept for. Links are removed, never followed."""
    for current, _, filenames in os.walk(root, followlinks=False):
        for filename in filenames:
            path = Path(current) / filename
            if path not in used:
                path.unlink(missing_ok=True)


def scan_folder(root: str | os.PathLike, *, name: str | None = None,
                skipped: list[Skipped] | None = None,
                folders: set[PurePosixPath] | None = None) -> ImageSource:
    """Find the class folders and images under ``root`` (headers only, no decoding).

    Args:
        root: the folder to scan; symbolic links in it are not followed.
        name: the name to use in messages.
        skipped: entries already left out (by extraction), to carry into the report.
        folders: folder paths known from the archive, to find empty class folders.

    Raises:
        DataError: no images, images outside class folders only, fewer than two classes.
    """
    root = Path(root)
    name = name or root.name
    skipped = list(skipped or [])
    folders = set(folders or ())
    images: list[tuple[PurePosixPath, tuple[int, int], str]] = []
    pixels = 0
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = PurePosixPath(Path(current).relative_to(root).as_posix())
        keep_dirs = []
        for dirname in sorted(dirnames):
            rel = rel_dir / dirname
            if is_hidden_or_system((dirname,)):
                skipped.append(Skipped(f"{rel}/", "hidden or system folder"))
            elif (Path(current) / dirname).is_symlink():
                skipped.append(Skipped(f"{rel}/", "a link, not a folder"))
            else:
                keep_dirs.append(dirname)
                folders.add(rel if str(rel_dir) != "." else PurePosixPath(dirname))
        dirnames[:] = keep_dirs
        for filename in sorted(filenames):
            rel = (rel_dir / filename) if str(rel_dir) != "." else PurePosixPath(filename)
            path = Path(current) / filename
            if is_hidden_or_system((filename,)):
                skipped.append(Skipped(str(rel), "hidden or system file"))
                continue
            if path.is_symlink():
                skipped.append(Skipped(str(rel), "a link, not a file"))
                continue
            if Path(filename).suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append(Skipped(str(rel), "not an image file"))
                continue
            header = _read_header(path)
            if isinstance(header, str):
                skipped.append(Skipped(str(rel), header))
                continue
            images.append((rel, header[0], header[1]))
            pixels += header[0][0] * header[0][1]
            if pixels > MAX_ARCHIVE_PIXELS:
                raise DataError(
                    f"The images in '{name}' hold more than {MAX_ARCHIVE_PIXELS:,} pixels in "
                    f"all (after {len(images):,} images), more than training here can decode.",
                    f"Resize the images (at most {MAX_SIDE} x {MAX_SIDE} is used for "
                    "training) or upload fewer, and zip them again.", code="too_many_pixels")
    return _classify(root, name, images, skipped, folders)


def _read_header(path: Path) -> tuple[tuple[int, int], str] | str:
    """((width, height), mode), or the reason the file is skipped."""
    try:
        with Image.open(path) as image:
            size, mode = image.size, image.mode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return "corrupt or unreadable image"
    if size[0] * size[1] > MAX_PIXELS:
        return (f"too large ({size[0]} x {size[1]} pixels; at most 4096 x 4096, resize it "
                "first)")
    if size[0] < 1 or size[1] < 1:
        return "empty image (no pixels)"
    return size, mode


def _classify(root: Path, name: str, images, skipped: list[Skipped],
              folders: set[PurePosixPath]) -> ImageSource:
    if not images:
        what = f" ({len(skipped)} file(s) skipped: {_skip_summary(skipped)})" if skipped else ""
        raise DataError(f"'{name}' holds no readable images{what}.",
                        "Put .png or .jpg images in one folder per class, e.g. cats/ and dogs/, "
                        "and zip those folders.", code="no_images")
    dirs = [rel.parts[:-1] for rel, _, _ in images]
    prefix = _common_prefix(dirs)
    if all(len(d) == len(prefix) for d in dirs):
        if not prefix:
            raise DataError(
                f"The images in '{name}' are not in class folders: the class of an image is "
                "the folder it is in.",
                "Make one folder per class (e.g. cats/ and dogs/), move each image into its "
                "class folder, and zip the folders.", code="no_class_folders")
        prefix = prefix[:-1]  # the one folder they share is itself the (only) class
    depth = len(prefix)
    by_class: dict[str, list] = {}
    for (rel, size, mode), parts in zip(images, dirs):
        if len(parts) == depth:
            skipped.append(Skipped(str(rel), "not inside a class folder"))
            continue
        by_class.setdefault(parts[depth], []).append((rel, size, mode))
    siblings = {f.parts[depth] for f in folders
                if len(f.parts) > depth and tuple(f.parts[:depth]) == tuple(prefix)}
    empty = sorted(c for c in siblings if c not in by_class and not is_hidden_or_system((c,)))
    classes = sorted(by_class)
    if len(classes) < 2:
        _too_few_classes(name, classes, by_class, empty)
    base = root.joinpath(*prefix)
    source = ImageSource(name=name, class_names=classes, skipped=skipped, empty_classes=empty,
                         root=base)
    for label, cls in enumerate(classes):
        for rel, size, mode in by_class[cls]:
            source.files.append((root.joinpath(*rel.parts), label))
            source.sizes[size] += 1
            source.modes[mode] += 1
    return source


def _too_few_classes(name: str, classes: list[str], by_class: dict, empty: list[str]) -> None:
    empty_note = ""
    if empty:
        empty_note = (" The folder(s) " + ", ".join(f"'{c}'" for c in empty[:5])
                      + " are empty.")
    if classes:
        only = classes[0]
        raise DataError(
            f"'{name}' has only one class folder with images, '{only}' "
            f"({len(by_class[only])} images); a classifier needs at least two.{empty_note}",
            "Add a folder per class (e.g. cats/ and dogs/) with images in each, and zip "
            "them together.", code="one_class")
    raise DataError(f"'{name}' has no class folders with images.{empty_note}",
                    "Put images in one folder per class and zip the folders.",
                    code="no_images")


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    first = paths[0]
    length = min(len(p) for p in paths)
    i = 0
    while i < length and all(p[i] == first[i] for p in paths):
        i += 1
    return first[:i]


def _skip_summary(skipped: list[Skipped]) -> str:
    reasons = Counter(s.reason for s in skipped)
    return "; ".join(f"{n} {reason}" for reason, n in reasons.most_common(3))


# ---------------------------------------------------------------------------
# Decoding.


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Flatten transparency onto white and convert to grey ("L") or "RGB"."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = array.max() if array.size else 1.0
        array = array / (top if top > 0 else 1.0) * 255.0
        image = Image.fromarray(array.astype(np.uint8), mode="L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("L" if channels == 1 else "RGB")


def decode_file(path: Path, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image file as uint8 ``(height, width, channels)``, resized as the model resizes.

    Raises:
        OSError, ValueError, SyntaxError: the file is not a readable image.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.load()
            converted = _to_mode(image, channels)
    array = np.asarray(converted, dtype=np.uint8).reshape(converted.size[1],
                                                          converted.size[0], channels)
    return resize_pixels(array[None], size)[0]


def _resizing_layer(size: tuple[int, int], name: str = "resize"):
    """The one resize of the project: training data, the app's predictions, the export."""
    import keras

    return keras.layers.Resizing(int(size[0]), int(size[1]), interpolation="bilinear",
                                 name=name)


_RESIZERS: dict[tuple[int, int], object] = {}


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 images ``(n, h, w, c)`` at ``size``, computed by the exported model's own layer.

    The preprocessing model starts with the same ``Resizing`` layer, so an image
    given to the exported model at its original size meets the values training saw,
    up to the rounding of the stored uint8 pixels (at most 0.5 / 255 after scaling).
    """
    height, width = int(size[0]), int(size[1])
    if pixels.shape[1:3] == (height, width):
        return pixels
    key = (height, width)
    if key not in _RESIZERS:
        _RESIZERS[key] = _resizing_layer(key)
    resized = np.asarray(_RESIZERS[key](pixels.astype(np.float32)))
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def _resize_pixels(pixels: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    height, width = size
    if pixels.shape[3] != channels:
        converted = np.empty((len(pixels), *pixels.shape[1:3], channels), np.uint8)
        for i, image in enumerate(pixels):
            picture = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
            picture = picture.convert("L" if channels == 1 else "RGB")
            converted[i] = np.asarray(picture, np.uint8).reshape(converted.shape[1:])
        pixels = converted
    return resize_pixels(pixels, (height, width))


def decode(source: ImageSource, size: tuple[int, int], channels: int
           ) -> tuple[np.ndarray, np.ndarray, list[Skipped]]:
    """Every image at ``size`` with ``channels``: (pixels, labels, newly skipped files)."""
    if source.pixels is not None:
        return (_resize_pixels(source.pixels, size, channels),
                np.asarray(source.labels, np.int32), [])
    height, width = size
    pixels = np.empty((len(source.files), height, width, channels), np.uint8)
    labels = np.empty(len(source.files), np.int32)
    bad: list[Skipped] = []
    count = 0
    for path, label in source.files:
        try:
            pixels[count] = decode_file(path, size, channels)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
                Image.DecompressionBombWarning):
            rel = path.relative_to(source.root) if source.root else path
            bad.append(Skipped(str(PurePosixPath(rel.as_posix())), "corrupt or unreadable image"))
            continue
        labels[count] = label
        count += 1
    return pixels[:count], labels[:count], bad


def gallery(source: ImageSource, per_class: int = 6, side: int = 96) -> dict[str, list]:
    """A few images of each class as uint8 arrays, for a preview (unreadable ones left out)."""
    result: dict[str, list] = {name: [] for name in source.class_names}
    if source.pixels is not None:
        for label, name in enumerate(source.class_names):
            for image in source.pixels[np.asarray(source.labels) == label][:per_class]:
                picture = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
                scale = max(1, side // max(picture.size))
                picture = picture.resize((picture.size[0] * scale, picture.size[1] * scale),
                                         Image.Resampling.NEAREST)
                result[name].append(np.asarray(picture))
        return result
    for path, label in source.files:
        name = source.class_names[label]
        if len(result[name]) >= per_class:
            continue
        try:
            with Image.open(path) as image:
                image.load()
                picture = _to_mode(image, 3)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue
        picture.thumbnail((side, side))
        result[name].append(np.asarray(picture))
    return result


# ---------------------------------------------------------------------------
# Preparing for training.


def augmentation_layers(options: Mapping | None):
    """Keras random layers for training batches, or None when no option is on.

    Options: ``flip`` ("horizontal", "vertical", "horizontal_and_vertical"),
    ``rotation`` (share of a full turn), ``zoom``, ``translation`` and
    ``contrast`` (shares, 0 to 0.9).
    """
    import keras

    options = dict(options or {})
    unknown = set(options) - set(AUGMENTATIONS)
    if unknown:
        raise DataError(f"Unknown augmentation option {sorted(unknown)[0]!r}.",
                        "Choose from: " + ", ".join(AUGMENTATIONS) + ".", code="bad_augment")
    layers = []
    flip = options.get("flip")
    if flip:
        if flip not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise DataError(f"Flip must be horizontal, vertical or horizontal_and_vertical; "
                            f"got {flip!r}.", "Choose one of those.", code="bad_augment")
        layers.append(keras.layers.RandomFlip(flip, name="flip"))
    for key in ("rotation", "zoom", "translation", "contrast"):
        value = options.get(key) or 0
        if not isinstance(value, (int, float)) or not 0 <= value <= 0.9:
            raise DataError(f"The {key} amount must be between 0 and 0.9; got {value!r}.",
                            f"Choose a {key} amount such as 0.1.", code="bad_augment")
        if value == 0:
            continue
        if key == "rotation":
            layers.append(keras.layers.RandomRotation(value, name="rotation"))
        elif key == "zoom":
            layers.append(keras.layers.RandomZoom(value, name="zoom"))
        elif key == "translation":
            layers.append(keras.layers.RandomTranslation(value, value, name="translation"))
        else:
            layers.append(keras.layers.RandomContrast(value, value_range=(0, 1),
                                                      name="contrast"))
    return keras.Sequential(layers, name="augmentation") if layers else None


def scale_pixels(pixels):
    """uint8 pixels -> float32 in 0..1, exactly as the preprocessing's Rescaling does."""
    import tensorflow as tf

    return tf.cast(pixels, tf.float32) * np.float32(1.0 / 255.0)


def _preprocessing(size: tuple[int, int], channels: int):
    import keras

    inputs = keras.Input(shape=(None, None, channels), dtype="uint8", name="image")
    resized = _resizing_layer(size)(inputs)
    scaled = keras.layers.Rescaling(1.0 / 255.0, name="scale")(resized)
    return keras.Model(inputs, scaled, name="preprocessing")


@origin.remembered("images")
def prepare_images(
    source: ImageSource,
    *,
    size: tuple[int, int] | None = None,
    channels: int | None = None,
    task: str | None = None,
    validation: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    augment: Mapping | None = None,
) -> PreparedData:
    """Decode, split (stratified) and package images for training.

    Args:
        source: from :func:`load_image_zip`, :func:`scan_folder` or a sample.
        size: (height, width); default :meth:`ImageSource.default_size`.
        channels: 1 (grey) or 3 (RGB); default :meth:`ImageSource.default_channels`.
        task: ``"binary"`` (two classes), ``"multiclass"`` or ``"reconstruction"``
            (autoencoders: the target is the image); default by class count.
        validation, test: shares held out per class.
        seed: the split seed.
        augment: options for :func:`augmentation_layers`.

    Raises:
        DataError: bad size or channels, or too few readable images.
    """
    size = tuple(size or source.default_size())
    channels = int(channels or source.default_channels())
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and 4 <= s <= MAX_SIDE
                                 for s in size):
        raise DataError(f"The image size must be two whole numbers from 4 to {MAX_SIDE}; got "
                        f"{size!r}.", "Choose a size such as 32 x 32 or 64 x 64.",
                        code="bad_size")
    if channels not in (1, 3):
        raise DataError(f"Channels must be 1 (grey) or 3 (RGB); got {channels!r}.",
                        "Choose grey or RGB.", code="bad_channels")
    classes = len(source.class_names)
    if task is None:
        task = "binary" if classes == 2 else "multiclass"
    if task not in ("binary", "multiclass", "reconstruction"):
        raise DataError(f"Images can be classified or reconstructed, not '{task}'.",
                        "Choose binary, multiclass or reconstruction.", code="bad_task")
    if task == "binary" and classes != 2:
        raise DataError(f"Binary classification needs two classes; these images have {classes}.",
                        "Choose multiclass.", code="not_binary")
    augmentation = augmentation_layers(augment)
    pixels, labels, bad = decode(source, size, channels)
    present = sorted(set(labels.tolist()))
    if task != "reconstruction" and len(present) < 2:
        raise DataError(f"Only {len(present)} class(es) of '{source.name}' have readable images "
                        f"({len(bad)} image(s) could not be read).",
                        "Add readable images for at least two classes.", code="one_class")
    train, val, tst = split_indices(len(labels), validation, test, seed, labels)
    order = np.concatenate([train, val, tst])
    pixels, labels = pixels[order], labels[order]
    if task == "binary":
        y = labels.astype(np.float32).reshape(-1, 1)
    elif task == "multiclass":
        y = labels
    else:
        y = pixels  # reconstruction: the target is the (scaled) image itself
    n_train, n_fit = len(train), len(train) + len(val)
    cuts = {"train": slice(0, n_train), "validation": slice(n_train, n_fit),
            "test": slice(n_fit, len(order))}

    def raw_for(part: slice):
        def raw(limit: int | None = None):
            return pixels[part][:limit]

        return raw

    notes = []
    if bad:
        notes.append(f"{len(bad)} image(s) could not be decoded and were skipped.")
    if len(source.sizes) > 1 or (source.sizes and next(iter(source.sizes)) != size[::-1]):
        notes.append(f"Images were resized to {size[0]} x {size[1]} pixels.")
    modes = set(source.modes)
    if modes and (len(modes) > 1 or modes != ({"L"} if channels == 1 else {"RGB"})):
        notes.append(f"Colour modes ({', '.join(sorted(modes))}) were converted to "
                     f"{'grey' if channels == 1 else 'RGB'}.")
    counts = Counter(labels.tolist())
    return PreparedData(
        kind="images", task=task,
        # Reconstruction keeps the class ids beside the images, unused by training, so
        # Explore can colour the code space by them.
        splits={name: SplitArrays(x=pixels[part], y=y[part], raw=raw_for(part),
                                  labels=labels[part] if task == "reconstruction" else None)
                for name, part in cuts.items()},
        preprocessing_factory=partial(_preprocessing, size, channels),
        input_shape=(size[0], size[1], channels), input_dtype="float32",
        raw_spec={"image": ((None, None, channels), "uint8")}, raw_is_dict=False,
        num_classes=classes if task != "reconstruction" else None,
        class_names=list(source.class_names) if task != "reconstruction" else [],
        target_names=["class"] if task != "reconstruction" else ["image"],
        feature_names=["grey"] if channels == 1 else ["red", "green", "blue"],
        augmentation=augmentation, x_map=scale_pixels, cache=True, source=source.name,
        settings=dict(size=list(size), channels=channels, task=task, validation=validation,
                      test=test, seed=seed, augment=dict(augment or {})),
        notes=notes,
        info=dict(class_counts={source.class_names[k]: int(v) for k, v in sorted(counts.items())},
                  skipped=[{"file": s.name, "reason": s.reason} for s in source.skipped + bad],
                  empty_classes=list(source.empty_classes),
                  **({"label_names": list(source.class_names)} if task == "reconstruction"
                     else {})),
    )
