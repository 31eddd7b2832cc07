"""Numeric time series: cut windows for forecasting with recurrent designs.

The rows of the table are time steps, in order (or sorted by a time column). A
window of ``window`` steps of the feature columns is the input; the next
``horizon`` steps of the target columns are what to predict. Windows start every
``stride`` steps.

The split is by time, never at random: the last steps are the test period, the
ones before them validation, the rest training. A window belongs to a period when
all the values it predicts fall inside that period, so no training window ever
sees a validation or test target. Normalisation statistics come from the
training period only, and travel in the model as ``FillMissing`` and
``Normalization`` layers; the end-to-end model takes raw windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd

from builder.data import EPSILON, PreparedData, SplitArrays, origin
from builder.data.errors import DataError

MAX_WINDOW = 10_000
MAX_HORIZON = 1_000


def make_windows(features: np.ndarray, targets: np.ndarray, window: int, horizon: int,
                 stride: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut ``(window, features)`` inputs and the ``horizon`` target steps after each.

    Args:
        features: ``(steps, n_features)`` values.
        targets: ``(steps, n_targets)`` values.
        window, horizon, stride: steps in, steps ahead, steps between window starts.

    Returns:
        ``(x, y, starts)``: x ``(n, window, n_features)``, y ``(n, horizon * n_targets)``
        ordered step by step (all targets of step 1, then step 2...), and the first
        step of each window.
    """
    steps = len(features)
    count = steps - window - horizon + 1
    if count <= 0:
        return (np.zeros((0, window, features.shape[1]), features.dtype),
                np.zeros((0, horizon * targets.shape[1]), targets.dtype), np.zeros(0, int))
    starts = np.arange(0, count, stride)
    inputs = np.lib.stride_tricks.sliding_window_view(features, window, axis=0)
    x = np.ascontiguousarray(inputs[starts].transpose(0, 2, 1))
    ahead = np.lib.stride_tricks.sliding_window_view(targets[window:], horizon, axis=0)
    y = ahead[starts].transpose(0, 2, 1).reshape(len(starts), -1)
    return x, np.ascontiguousarray(y), starts


def _positive(name: str, value, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            1 <= value <= limit):
        raise DataError(f"The {name} must be a whole number from 1 to {limit:,}; got {value!r}.",
                        f"Choose a {name} such as {dict(window=24).get(name, 1)}.",
                        code="bad_window")
    return int(value)


@origin.remembered("timeseries")
def prepare_timeseries(
    source,
    targets: str | Sequence[str],
    *,
    features: Sequence[str] | None = None,
    window: int = 24,
    horizon: int = 1,
    stride: int = 1,
    validation: float = 0.15,
    test: float = 0.15,
    time_column: str | None = None,
) -> PreparedData:
    """Forecasting windows from a table whose rows are time steps.

    Args:
        source: a ``TabularSource`` or a DataFrame.
        targets: the column(s) to forecast.
        features: the columns the window shows; default every numeric column
            except the time column (targets included: their past helps).
        window, horizon, stride: steps in, steps ahead, steps between windows.
        validation, test: shares of the time steps held out, at the end.
        time_column: sort the rows by this column first.

    Raises:
        DataError: non-numeric columns, too short a series, bad window settings.
    """
    from builder.data.columns import TabularSource, detect_columns, frame_source
    from builder.data.targets import EncodedTarget, finish_targets

    if not isinstance(source, TabularSource):
        source = frame_source(pd.DataFrame(source))
    frame = source.frame
    targets = [targets] if isinstance(targets, str) else list(targets)
    window = _positive("window", window, MAX_WINDOW)
    horizon = _positive("horizon", horizon, MAX_HORIZON)
    stride = _positive("stride", stride, MAX_WINDOW)
    for label, value in (("validation", validation), ("test", test)):
        if not 0 <= value <= 0.5:
            raise DataError(f"The {label} share must be between 0 and 0.5; got {value!r}.",
                            f"Choose a {label} share such as 0.15.", code="bad_split")
    if not targets:
        raise DataError("No column to forecast was chosen.", "Pick a target column.",
                        code="no_target")
    notes = list(source.notes)
    if time_column is not None:
        if time_column not in frame.columns:
            raise DataError(f"The table has no column {time_column!r}.",
                            "Pick the time column from the table's header.",
                            code="unknown_column")
        key = frame[time_column]
        if not pd.api.types.is_numeric_dtype(key.dtype):
            parsed = pd.to_datetime(key, errors="coerce", format="mixed")
            if parsed.isna().mean() > 0.5:
                raise DataError(f"The time column '{time_column}' holds neither numbers nor "
                                "dates.", "Choose a column of dates or step numbers, or none.",
                                code="bad_time_column")
            key = parsed
        frame = frame.iloc[np.argsort(key.to_numpy(), kind="stable")]
        notes.append(f"Rows sorted by '{time_column}'.")
    if features is None:
        kinds = detect_columns(frame)
        features = [c for c in frame.columns if c != time_column and (
            kinds[c].kind == "numeric" or c in targets)]
    features = list(features)
    for column in [*features, *targets]:
        if column not in frame.columns:
            raise DataError(f"The table has no column {column!r}.",
                            "Pick columns from the table's header.", code="unknown_column")
    values = {}
    for column in dict.fromkeys([*features, *targets]):
        series = pd.to_numeric(frame[column], errors="coerce")
        if series.notna().sum() == 0:
            raise DataError(f"The column '{column}' has no numbers, so it cannot be part of a "
                            "numeric time series.",
                            "Leave it out, or choose numeric columns.", code="not_numeric")
        gaps = int(series.isna().sum())
        if gaps:
            series = series.interpolate(limit_direction="both")
            notes.append(f"'{column}': filled {gaps:,} missing or non-numeric value(s) by "
                         "interpolating between neighbours.")
        values[column] = series.to_numpy(dtype=np.float32)
    steps = len(frame)
    train_end = steps - int(round(steps * validation)) - int(round(steps * test))
    val_end = steps - int(round(steps * test))
    feats = np.stack([values[c] for c in features], axis=1)
    targs = np.stack([values[c] for c in targets], axis=1)
    x_raw, y_raw, starts = make_windows(feats, targs, window, horizon, stride)
    target_start = starts + window
    target_end = target_start + horizon  # exclusive
    masks = {
        "train": target_end <= train_end,
        "validation": (target_start >= train_end) & (target_end <= val_end),
        "test": target_start >= val_end,
    }
    sizes = {name: int(mask.sum()) for name, mask in masks.items()}
    short = [name for name, share in (("train", 1.0), ("validation", validation),
                                      ("test", test)) if share > 0 and sizes[name] == 0]
    if short:
        needed = window + horizon
        raise DataError(
            f"The series has {steps:,} steps, too few for a window of {window} plus a horizon "
            f"of {horizon} in the {short[0]} period (each period needs at least {needed} "
            "steps).",
            "Shorten the window or horizon, lower the held-out shares, or use a longer series.",
            code="series_too_short",
        )
    order = np.concatenate([np.flatnonzero(masks[n]) for n in ("train", "validation", "test")])
    n_train = sizes["train"]
    n_fit = n_train + sizes["validation"]
    head = feats[:train_end].astype(np.float64)
    mean = head.mean(axis=0)
    var = head.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    mean32, var32 = mean.astype(np.float32), var.astype(np.float32)
    std32 = np.maximum(np.sqrt(var32), np.float32(EPSILON))
    x_all = ((x_raw[order] - mean32) / std32).astype(np.float32)
    raw_all = x_raw[order]

    encoded = EncodedTarget("regression", y_raw.astype(np.float64), None, [], list(targets), [])
    y_all, postprocessing, info = finish_targets(encoded, order, n_train)
    cuts = {"train": slice(0, n_train), "validation": slice(n_train, n_fit),
            "test": slice(n_fit, len(order))}

    def raw_for(part: slice):
        def raw(limit: int | None = None):
            return raw_all[part][:limit]

        return raw

    target_names = [t if horizon == 1 else f"{t} (t+{h + 1})"
                    for h in range(horizon) for t in targets]
    info.update(window=window, horizon=horizon, stride=stride, features=features,
                targets=targets, time_column=time_column, steps=steps,
                periods={"train_end": int(train_end), "validation_end": int(val_end)},
                feature_means=mean32.tolist(), feature_variances=var32.tolist())
    notes.append(f"{len(order):,} windows of {window} steps predicting {horizon} step(s) "
                 f"ahead; the last {steps - train_end:,} steps are held out in time order.")
    settings = dict(targets=targets, features=features, window=window, horizon=horizon,
                    stride=stride, validation=validation, test=test, time_column=time_column,
                    task="regression")
    return PreparedData(
        kind="timeseries", task="regression",
        splits={name: SplitArrays(x=x_all[part], y=y_all[part], raw=raw_for(part))
                for name, part in cuts.items()},
        preprocessing_factory=partial(_preprocessing, window, mean32, var32),
        input_shape=(window, len(features)), input_dtype="float32",
        raw_spec={"window": ((window, len(features)), "float32")}, raw_is_dict=False,
        target_names=target_names, feature_names=features, postprocessing=postprocessing,
        source=source.name, settings=settings, notes=notes, info=info,
    )


def _preprocessing(window: int, mean: np.ndarray, var: np.ndarray):
    import keras

    from builder.custom_layers import FillMissing

    inputs = keras.Input(shape=(window, len(mean)), dtype="float32", name="window")
    filled = FillMissing(mean, name="fill_missing")(inputs)
    scaled = keras.layers.Normalization(axis=-1, mean=mean.tolist(), variance=var.tolist(),
                                        name="normalize")(filled)
    return keras.Model(inputs, scaled, name="preprocessing")


def synthetic_series(steps: int = 1500, seed: int = 3) -> pd.DataFrame:
    """A fixed-seed hourly series: temperature with daily and weekly cycles, and demand.

    Demand follows temperature two hours later plus a weekday pattern and noise,
    so a window of past values predicts the next hours well but not perfectly.
    """
    rng = np.random.default_rng(seed)
    hour = np.arange(steps)
    temperature = (14 + 6 * np.sin(2 * np.pi * (hour - 9) / 24)
                   + 2.5 * np.sin(2 * np.pi * hour / (24 * 7)) + 0.002 * hour
                   + rng.normal(0, 0.6, steps))
    lagged = np.concatenate([temperature[:2], temperature[:-2]])
    weekday = ((hour // 24) % 7 < 5).astype(float)
    demand = 40 + 1.8 * lagged + 8 * weekday + rng.normal(0, 1.5, steps)
    return pd.DataFrame({"hour": hour, "temperature": np.round(temperature, 3),
                         "demand": np.round(demand, 3)})
