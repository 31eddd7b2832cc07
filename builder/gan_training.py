"""Training a generator against a discriminator, through the same trainer as any design.

:func:`train_gan` joins the two designs in :class:`builder.gan.AdversarialModel`
and hands it to :func:`builder.train.train`, so a GAN run gets everything an
ordinary run gets: live per-batch curves (``d_loss`` and ``g_loss``), stop within
a batch, a checkpoint after every epoch, NaN stops and Continue. What is its own:

- the data: only the images count (labels are unused), and every split is a real
  sample, so :class:`GanImages` trains on all of them;
- the settings (:class:`GanConfig`): DCGAN's Adam (2e-4, beta_1 0.5), label
  smoothing, and how many samples the per-epoch grid shows;
- a grid of samples generated from FIXED noise after every epoch, written to the
  run folder (``grids/epoch_0003.npy``, uint8) and put on the progress
  (:class:`GanProgress`) so the Train page shows the latest one while it trains.

A GAN run's record keeps the generator's design with the discriminator's inside it
(:func:`record_design`), and its settings with ``"kind": "gan"``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from builder import model_output
from builder.design import Design
from builder.train import (
    LiveProgress,
    ProgressSnapshot,
    TrainConfig,
    TrainingError,
    TrainResult,
    checked_settings,
    train,
)

KIND = "gan"
GRIDS_DIR = "grids"
GRID_SEED = 1234  # the fixed noise of the per-epoch grids
PARTNER_KEY = "gan_discriminator"  # the discriminator's design inside the run's design
PAIR_KEY = "gan_pair"  # design.extra: the id shared by the two designs of one template
ROLES = ("generator", "discriminator")
SPLITS = ("train", "validation", "test")
_GRID_FILE = re.compile(r"^epoch_(\d{4,})\.npy$")


@dataclass
class GanConfig:
    """What a person chooses before training a GAN.

    Attributes:
        epochs: passes over all the images, in total.
        batch_size: real images per step (the same number of fakes join them).
        learning_rate: Adam's step size for both networks.
        beta_1: Adam's first-moment decay (0.5 keeps the contest stable, as in DCGAN).
        label_smoothing: real images are labelled ``1 - label_smoothing / 2``, so the
            discriminator does not grow overconfident.
        seed: seeds the weights, the shuffling and the training noise.
        samples: images in the per-epoch grid (from fixed noise).
    """

    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 0.0002
    beta_1: float = 0.5
    label_smoothing: float = 0.1
    seed: int | None = 42
    samples: int = 36
    kind: str = KIND

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> GanConfig:
        """Settings from a run record or a JSON file, checked by name.

        Raises:
            ValueError: not a mapping, or a setting a GAN does not have.
        """
        return cls(**checked_settings(cls, raw, "GAN", hidden=frozenset({"kind"})))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The curves a GAN run draws."""
        return ("d_loss", "g_loss")

    def problems(self, n_images: int | None = None) -> list[str]:
        """Every setting that cannot be used, as sentences naming the fix."""
        found = TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                            learning_rate=self.learning_rate, seed=self.seed).problems(
            "reconstruction", n_images)
        if not _number(self.beta_1) or not 0.0 <= self.beta_1 < 1.0:
            found.append(f"Adam's beta_1 must be at least 0 and below 1; got {self.beta_1!r:.40}. "
                         "GANs usually use 0.5.")
        if not _number(self.label_smoothing) or not 0.0 <= self.label_smoothing <= 0.5:
            found.append(f"Label smoothing must be from 0 to 0.5; got "
                         f"{self.label_smoothing!r:.40}. Use 0.1, or 0 for none.")
        if not isinstance(self.samples, int) or isinstance(self.samples, bool) or not (
                1 <= self.samples <= 256):
            found.append(f"The grid must show from 1 to 256 samples; got {self.samples!r:.40}.")
        return found

    def train_config(self) -> TrainConfig:
        """The generic trainer's settings for this GAN (the epochs, batches and seed)."""
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, seed=self.seed, metrics=())


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------
# The data: every image is a real sample.


class GanImages:
    """Prepared data seen as one pool of real samples for a GAN.

    Every split's model inputs (scaled as for any training, never augmented) are
    the "train" split here; there is no validation or test split, and no labels.
    """

    task = "reconstruction"
    num_classes = None
    postprocessing = None

    def __init__(self, data):
        self.data = data
        self.source = getattr(data, "source", "") or getattr(data, "name", "")
        self._sizes = {s: data.size(s) for s in SPLITS}
        self.info: dict = {}
        self._pool = None

    def size(self, split: str) -> int:
        return sum(self._sizes.values()) if split == "train" else 0

    def sample_shape(self) -> tuple | None:
        """The shape of one image, without the batch."""
        shape = getattr(self.data, "input_shape", None)
        if shape is not None:
            return tuple(int(d) for d in shape)
        spec = self.data.batches("train", 2).element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        return tuple(spec.shape[1:])

    def _images(self):
        import tensorflow as tf

        if self._pool is None:
            pool = None
            for split, size in self._sizes.items():
                if not size:
                    continue
                part = self.data.batches(split, 512, shuffle=False, augment=False).unbatch()
                part = part.map(_first, num_parallel_calls=tf.data.AUTOTUNE)
                pool = part if pool is None else pool.concatenate(part)
            pool = pool.cache().apply(tf.data.experimental.assert_cardinality(self.size("train")))
            self._pool = pool
        return self._pool

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Every image of the pool as ``(images, images)`` (a GAN has no labels)."""
        images = np.concatenate([np.asarray(b) for b in self.batches(split, 512)])
        return images, images

    def to_target_units(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values)

    def batches(self, split: str, batch_size: int, shuffle: bool | None = None,
                seed: int | None = None, augment: bool | None = None):
        """The pool in batches of images; GAN images are never augmented."""
        import tensorflow as tf

        if split != "train":
            raise KeyError(f"A GAN trains on all the images as one pool; there is no {split} "
                           "split.")
        dataset = self._images()
        if shuffle:
            dataset = dataset.shuffle(self.size("train"), seed=seed,
                                      reshuffle_each_iteration=True)
        return dataset.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)

    def describe(self) -> dict:
        """The pool as training sees it, with the description of the data it came from."""
        from builder.train import describe_data

        return {"name": self.source, "task": self.task, "sizes": {"train": self.size("train")},
                "source": describe_data(self.data)}


def _first(*parts):
    return parts[0]


def real_images(data, count: int) -> np.ndarray:
    """The first ``count`` real images of the data (model inputs, 0..1)."""
    pool = data if isinstance(data, GanImages) else GanImages(data)
    return np.concatenate([np.asarray(batch) for batch in pool.batches("train", count).take(1)])


# ---------------------------------------------------------------------------
# The pair: which designs, and whether they fit each other and the data.


def partner_role(role: str) -> str:
    """The role a design of ``role`` trains against."""
    return "discriminator" if role == "generator" else "generator"


def order_pair(first: Design, second: Design) -> tuple[Design, Design]:
    """``(generator, discriminator)`` from two designs in either order.

    Raises:
        ValueError: the two are not one generator and one discriminator.
    """
    roles = {first.role, second.role}
    if roles != set(ROLES):
        raise ValueError(f"A GAN needs one design with the role generator and one with the "
                         f"role discriminator; got {first.role} and {second.role}. Open the GAN "
                         "template (Build page, Templates) or set the designs' roles.")
    return (first, second) if first.role == "generator" else (second, first)


def pair_problems(generator: Design, discriminator: Design, data=None,
                  config: GanConfig | None = None) -> list[str]:
    """Every reason the pair could not train on this data, as sentences (empty: it can).

    Cheap enough to call on every redraw: the models are built without weights.
    """
    from builder import graph
    from builder.compile import build_model
    from builder.gan import GanError, check_pair
    from builder.validate import analyze

    found: list[str] = []
    images = None
    if data is not None:
        images = data if isinstance(data, GanImages) else GanImages(data)
    if config is not None:
        found.extend(config.problems(images.size("train") if images is not None else None))
    for design in (generator, discriminator):
        report = analyze(design)
        if not report.ok:
            first = "; ".join(p.message for p in report.problems[:3])
            found.append(f"The {design.role} design '{design.name or design.role}' has "
                         f"{len(report.problems)} problem(s); fix them on the Build page first: "
                         f"{first}")
    if found:
        return found
    with graph.no_weight_allocation():
        made = build_model(generator)
        judge = build_model(discriminator)
    for model, design in ((made, generator), (judge, discriminator)):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            found.append(f"The {design.role} must have one Input and one output; "
                         f"'{design.name or design.role}' has {len(model.inputs)} and "
                         f"{len(model.outputs)}.")
    if found:
        return found
    try:
        check_pair(made, judge)
    except GanError as exc:
        found.append(str(exc))
    if images is not None:
        shape = images.sample_shape()
        produced = tuple(made.output_shape[1:])
        if shape is not None and tuple(shape) != produced:
            found.append(_shape_advice(produced, tuple(shape), getattr(data, "kind", "")))
        activation = model_output.output_activation(made)
        if getattr(data, "kind", "") == "images" and activation == "tanh":
            found.append("The generator's last layer uses tanh (values from -1 to 1), but the "
                         "images are scaled to 0..1. Set its activation to sigmoid.")
    return found


def _shape_advice(produced: tuple, real: tuple, kind: str) -> str:
    text = (f"The generator makes images of shape {produced}, but the prepared images are "
            f"{real}, so the discriminator would compare different things.")
    if kind == "images" and len(produced) == 3:
        height, width, channels = produced
        colour = "grey (1 channel)" if channels == 1 else "RGB (3 channels)"
        return text + (f" On the Data page, choose the image size {height} x {width} and "
                       f"{colour}, then prepare the dataset again (or change the "
                       "generator's last layers).")
    return text + " Prepare data whose samples have the generator's output shape."


def record_design(generator: Design, discriminator: Design) -> dict:
    """The run record's design: the generator's, carrying the discriminator's inside."""
    out = generator.to_dict()
    out[PARTNER_KEY] = discriminator.to_dict()
    return out


def designs_of(record_design_dict: dict) -> tuple[Design, Design] | None:
    """``(generator, discriminator)`` of a GAN run's recorded design, or None."""
    if not isinstance(record_design_dict, dict) or PARTNER_KEY not in record_design_dict:
        return None
    own = {k: v for k, v in record_design_dict.items() if k != PARTNER_KEY}
    generator = Design.from_dict(own)
    discriminator = Design.from_dict(record_design_dict[PARTNER_KEY])
    return generator, discriminator


def is_gan_record(record) -> bool:
    return isinstance(getattr(record, "config", None), dict) and record.config.get(
        "kind") == KIND


# ---------------------------------------------------------------------------
# Live progress with the latest grid.


@dataclass
class GanSnapshot(ProgressSnapshot):
    """A progress snapshot with the latest generated grid (uint8 samples) and its epoch."""

    grid: np.ndarray | None = None
    grid_epoch: int = -1


class GanProgress(LiveProgress):
    """:class:`LiveProgress` that also holds the latest grid of generated samples."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._grid: np.ndarray | None = None
        self._grid_epoch = -1

    def set_grid(self, epoch: int, samples: np.ndarray) -> None:
        with self._lock:
            self._grid = samples
            self._grid_epoch = int(epoch)
            self.version += 1

    def snapshot(self) -> GanSnapshot:
        base = super().snapshot()
        with self._lock:
            grid, epoch = self._grid, self._grid_epoch
        values = {f.name: getattr(base, f.name) for f in dataclasses.fields(ProgressSnapshot)}
        return GanSnapshot(**values, grid=grid, grid_epoch=epoch)


# ---------------------------------------------------------------------------
# Per-epoch grids on disk.


def grid_path(folder: str | os.PathLike, epoch: int) -> Path:
    return Path(folder) / f"epoch_{int(epoch):04d}.npy"


def grid_epochs(folder: str | os.PathLike | None) -> list[int]:
    """Epochs (0 is before training) whose grid is in ``folder``, in order."""
    if not folder or not Path(folder).is_dir():
        return []
    found = (_GRID_FILE.match(p.name) for p in Path(folder).iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def load_grid(folder: str | os.PathLike, epoch: int) -> np.ndarray:
    """The uint8 samples generated after ``epoch`` (from the run's fixed noise)."""
    return np.load(grid_path(folder, epoch), allow_pickle=False)


def _grid_recorder_class():
    import keras

    class GridRecorder(keras.callbacks.Callback):
        """After every epoch: samples from fixed noise, to disk and to the progress."""

        def __init__(self, gan, count: int, folder: Path | None, progress,
                     on_grid: Callable[[int, np.ndarray], None] | None):
            super().__init__()
            self.gan = gan
            self.count = count
            self.folder = folder
            self.progress = progress
            self.on_grid = on_grid
            self.initial_epoch = 0

        def record(self, epoch: int) -> None:
            from builder.gan import generate, to_uint8

            samples = to_uint8(generate(self.gan.generator, self.count, seed=GRID_SEED))
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                target = grid_path(self.folder, epoch)
                temporary = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")
                with open(temporary, "wb") as handle:
                    np.save(handle, samples, allow_pickle=False)
                os.replace(temporary, target)
            if self.progress is not None and hasattr(self.progress, "set_grid"):
                self.progress.set_grid(epoch, samples)
            if self.on_grid is not None:
                self.on_grid(epoch, samples)

        def on_train_begin(self, logs=None):
            if self.initial_epoch == 0:
                self.record(0)  # the untrained generator: noise, for comparison

        def on_epoch_end(self, epoch, logs=None):
            self.record(epoch + 1)

    return GridRecorder


# ---------------------------------------------------------------------------
# Training.


def build_gan_model(generator: Design, discriminator: Design, config: GanConfig):
    """Build both designs, join and compile them with the config's optimizer.

    Raises:
        DesignError: a design has problems.
        GanError: the two do not fit together.
    """
    import keras

    from builder.gan import build_gan

    seed = int(config.seed) if config.seed is not None else 0
    gan = build_gan(generator, discriminator, seed=seed)
    gan.compile(optimizer=keras.optimizers.Adam(float(config.learning_rate),
                                                beta_1=float(config.beta_1)),
                label_smoothing=float(config.label_smoothing))
    return gan


def train_gan(generator: Design, discriminator: Design, data, config: GanConfig, *,
              progress: LiveProgress | None = None,
              stop_event: threading.Event | None = None,
              run_dir: str | os.PathLike | None = None,
              model=None,
              initial_epoch: int = 0,
              resume: bool = False,
              device_plan=None,
              on_epoch: Callable[[dict], None] | None = None,
              on_grid: Callable[[int, np.ndarray], None] | None = None,
              report_end: bool = True) -> TrainResult:
    """Train the generator against the discriminator on the data's images.

    Args:
        generator / discriminator: the two designs (ignored when ``model`` is given).
        data: prepared data; every split's images are real samples.
        config: the GAN settings; ``config.epochs`` is the total epoch count.
        model: an :class:`~builder.gan.AdversarialModel` trained before (Continue).
        run_dir: where the checkpoint and the per-epoch grids go.
        on_grid: called with ``(epoch, uint8 samples)`` after every epoch.
        The rest are :func:`builder.train.train`'s.

    Returns:
        The trainer's result; its ``model`` is the AdversarialModel.

    Raises:
        ValueError: a setting cannot be used, or the designs or the data do not fit.
        TrainingError: training failed.
    """
    images = data if isinstance(data, GanImages) else GanImages(data)
    if model is None:
        problems = pair_problems(generator, discriminator, images.data, config)
        if problems:
            raise TrainingError(" ".join(problems))
        model = build_gan_model(generator, discriminator, config)
    else:
        problems = config.problems(images.size("train"))
        if problems:
            raise ValueError(" ".join(problems))
    folder = Path(run_dir) if run_dir is not None else None
    recorder = _grid_recorder_class()(model, int(config.samples),
                                      folder / GRIDS_DIR if folder is not None else None,
                                      progress, on_grid)
    recorder.initial_epoch = initial_epoch
    if resume and folder is not None:
        from builder.train import read_checkpoint_info

        info = read_checkpoint_info(folder) or {}
        recorder.initial_epoch = int(info.get("epochs_done", 0))
    return train(generator, images, config.train_config(), progress=progress,
                 stop_event=stop_event, run_dir=run_dir, model=model,
                 initial_epoch=initial_epoch, resume=resume, device_plan=device_plan,
                 on_epoch=on_epoch, evaluate_test=False, report_end=report_end,
                 callbacks=[recorder])


def save_pair(model, folder: str | os.PathLike) -> dict:
    """Write the trained generator and discriminator as .keras files; their paths."""
    folder = Path(folder)
    paths = {"model": folder / "generator.keras", "discriminator": folder / "discriminator.keras"}
    model.generator.save(paths["model"])
    model.discriminator.save(paths["discriminator"])
    return {k: str(v) for k, v in paths.items()}


def data_fit(design: Design, data) -> tuple[bool, str]:
    """Whether a GAN design fits prepared images: ``(fits, a sentence for the Data page)``.

    A generator's output and a discriminator's Input must both have the images' shape.
    """
    from builder import graph
    from builder.compile import build_model

    try:
        with graph.no_weight_allocation():
            model = build_model(design)
    except Exception as exc:  # a design with problems: the Build page lists them
        return False, (f"The {design.role} cannot be built yet ({' '.join(str(exc).split())[:200]}"
                       "); fix it on the Build page.")
    real = tuple(int(d) for d in getattr(data, "input_shape", ()) or ())
    if design.role == "generator":
        shape, what = tuple(model.output_shape[1:]), "makes images of shape"
    else:
        shape, what = tuple(model.input_shape[1:]), "takes images of shape"
    if shape == real:
        return True, (f"The {design.role} {what} {shape}, the shape of these images: the GAN "
                      "pair can train on them on the Train page (labels are not used).")
    return False, _shape_advice(shape, real, getattr(data, "kind", "")).replace(
        "The generator makes images", f"The {design.role} {what.split(' images')[0]} images", 1)
