"""Sample datasets that ship: no network at run time.

scikit-learn's bundled sets (breast cancer, iris, diabetes, the 8x8 digits) load
from files inside the package; the text, time series and 2-D toy sets are
generated here with a fixed seed, so every run sees the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from builder.data.errors import DataError


@dataclass(frozen=True)
class Sample:
    """One sample dataset.

    Attributes:
        id: stable id.
        title: name shown to people.
        kind: ``"tabular"``, ``"images"``, ``"text"`` or ``"timeseries"``.
        task: the task it is set up for.
        description: one or two sentences.
        loader: returns a ``TabularSource`` (tables, text, series) or an ``ImageSource``.
    """

    id: str
    title: str
    kind: str
    task: str
    description: str
    loader: Callable[[], object]

    def load(self):
        return self.loader()


def _table(frame: pd.DataFrame, sample_id: str, target: list[str], mode: str = "tabular",
           task: str | None = None):
    from builder.data.columns import frame_source

    sample = _BY_ID[sample_id]
    return frame_source(frame, name=sample.title, target=target, task=task, mode=mode,
                        description=sample.description)


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = np.where(bunch.target == 0, "malignant", "benign")
    return _table(frame, "breast_cancer", ["diagnosis"], task="binary")


def _iris():
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame.columns = [c.replace(" (cm)", "_cm").replace(" ", "_") for c in frame.columns]
    frame["species"] = np.asarray(bunch.target_names)[bunch.target]
    return _table(frame, "iris", ["species"], task="multiclass")


def _diabetes():
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.frame.rename(columns={"target": "progression"})
    return _table(frame, "diabetes", ["progression"], task="regression")


def _digits():
    from sklearn.datasets import load_digits

    from builder.data.images import ImageSource

    bunch = load_digits()
    pixels = np.round(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
    return ImageSource(
        name="Handwritten digits (8x8)", class_names=[str(d) for d in range(10)],
        pixels=pixels, labels=bunch.target.astype(np.int32),
        description=_BY_ID["digits"].description,
    )


def _topics():
    from builder.data.text import synthetic_topics

    return _table(synthetic_topics(), "topics", ["topic"], mode="text", task="multiclass")


def _series():
    from builder.data.timeseries import synthetic_series

    return _table(synthetic_series(), "energy", ["demand"], mode="timeseries",
                  task="regression")


def spirals(n: int = 600, arms: int = 3, noise: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Interleaved spiral arms in the plane, one class per arm."""
    rng = np.random.default_rng(seed)
    per = n // arms
    xs, ys, labels = [], [], []
    for arm in range(arms):
        t = np.linspace(0.0, 1.0, per)
        radius = 0.15 + 0.85 * t
        angle = 3.5 * np.pi * t + 2 * np.pi * arm / arms
        xs.append(radius * np.cos(angle) + rng.normal(0, noise * 0.1, per))
        ys.append(radius * np.sin(angle) + rng.normal(0, noise * 0.1, per))
        labels += [f"arm {arm + 1}"] * per
    order = rng.permutation(len(labels))
    return pd.DataFrame({"x1": np.concatenate(xs)[order].round(4),
                         "x2": np.concatenate(ys)[order].round(4),
                         "label": np.asarray(labels)[order]})


def waveforms(n: int = 900, steps: int = 48, noise: float = 0.35, seed: int = 5) -> pd.DataFrame:
    """Noisy short series to classify by shape: sine, square or sawtooth waves.

    Each row is one series of ``steps`` readings (columns ``t01``, ``t02``...) with
    a random period (8 to 24 steps), phase, amplitude and offset, plus Gaussian
    noise; the ``shape`` column names the wave. Read in order, the readings are a
    sequence: reshape them to ``(steps, 1)`` for an LSTM or GRU.
    """
    rng = np.random.default_rng(seed)
    shapes = ("sawtooth", "sine", "square")
    labels = np.asarray([shapes[i % len(shapes)] for i in range(n)])
    rng.shuffle(labels)
    t = np.arange(steps, dtype=np.float64)
    period = rng.uniform(8.0, 24.0, size=(n, 1))
    phase = rng.uniform(0.0, 1.0, size=(n, 1))
    cycle = (t[None, :] / period + phase) % 1.0  # 0..1 within each period
    wave = np.where(labels[:, None] == "sine", np.sin(2 * np.pi * cycle),
                    np.where(labels[:, None] == "square", np.where(cycle < 0.5, 1.0, -1.0),
                             2.0 * cycle - 1.0))
    amplitude = rng.uniform(0.7, 1.3, size=(n, 1))
    offset = rng.normal(0.0, 0.2, size=(n, 1))
    values = amplitude * wave + offset + rng.normal(0.0, noise, size=(n, steps))
    frame = pd.DataFrame(values.round(4), columns=[f"t{i + 1:02d}" for i in range(steps)])
    frame["shape"] = labels
    return frame


def _waveforms():
    return _table(waveforms(), "waveforms", ["shape"], task="multiclass")


def _toy(maker: str):
    from sklearn.datasets import make_circles, make_moons

    if maker == "spirals":
        return _table(spirals(), "spirals", ["label"], task="multiclass")
    if maker == "moons":
        points, labels = make_moons(n_samples=500, noise=0.15, random_state=0)
    else:
        points, labels = make_circles(n_samples=500, noise=0.08, factor=0.45, random_state=0)
    names = np.array(["blue", "orange"])[labels]
    frame = pd.DataFrame({"x1": points[:, 0].round(4), "x2": points[:, 1].round(4),
                          "label": names})
    return _table(frame, maker, ["label"], task="binary")


SAMPLES: tuple[Sample, ...] = (
    Sample("breast_cancer", "Breast cancer (diagnosis)", "tabular", "binary",
           "569 tumours described by 30 measurements; predict malignant or benign. "
           "From scikit-learn.", _breast_cancer),
    Sample("iris", "Iris flowers", "tabular", "multiclass",
           "150 flowers, 4 measurements each; predict one of three species. From scikit-learn.",
           _iris),
    Sample("diabetes", "Diabetes progression", "tabular", "regression",
           "442 patients, 10 measurements; predict disease progression a year later "
           "(a number). From scikit-learn.", _diabetes),
    Sample("digits", "Handwritten digits (8x8)", "images", "multiclass",
           "1,797 grey 8x8 images of the digits 0-9. From scikit-learn.", _digits),
    Sample("topics", "Short texts by topic", "text", "multiclass",
           "1,200 generated sentences about sport, weather, cooking or technology; predict "
           "the topic from the words.", _topics),
    Sample("energy", "Hourly temperature and demand", "timeseries", "regression",
           "1,500 generated hours with daily and weekly cycles; forecast the next hours of "
           "demand from a window of the past.", _series),
    Sample("waveforms", "Waveform shapes (sequences)", "tabular", "multiclass",
           "900 noisy series of 48 readings each (columns t01-t48), each a sine, square or "
           "sawtooth wave of random period and phase; classify the shape. Read in order, a "
           "row is a sequence: reshape it to (48, 1) for an LSTM or GRU.", _waveforms),
    Sample("spirals", "Spirals (2-D)", "tabular", "multiclass",
           "600 points on three interleaved spiral arms: a classic that needs hidden layers.",
           lambda: _toy("spirals")),
    Sample("moons", "Two moons (2-D)", "tabular", "binary",
           "500 points in two interlocking half-circles.", lambda: _toy("moons")),
    Sample("circles", "Circles (2-D)", "tabular", "binary",
           "500 points: a small circle inside a larger one. No straight line separates them.",
           lambda: _toy("circles")),
)
_BY_ID = {sample.id: sample for sample in SAMPLES}


def list_samples() -> list[Sample]:
    """Every sample, in menu order."""
    return list(SAMPLES)


def get_sample(sample_id: str) -> Sample:
    """The sample with this id.

    Raises:
        DataError: no such sample.
    """
    if sample_id not in _BY_ID:
        raise DataError(f"There is no sample called {sample_id!r}.",
                        "Choose one of: " + ", ".join(_BY_ID) + ".", code="unknown_sample")
    return _BY_ID[sample_id]


def load_sample(sample_id: str):
    """Load a sample: a ``TabularSource`` or an ``ImageSource``."""
    return get_sample(sample_id).load()
