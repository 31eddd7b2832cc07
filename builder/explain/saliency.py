"""Saliency: which parts of an input moved the model's score for a class.

Four methods, all with ``tf.GradientTape``:

- vanilla gradients (Simonyan et al., 2013): d score / d input;
- SmoothGrad (Smilkov et al., 2017): gradients averaged over noisy copies;
- Integrated Gradients (Sundararajan et al., 2017): gradients along the straight
  path from a baseline to the input, times (input - baseline);
- Grad-CAM (Selvaraju et al., 2017): a convolutional layer's feature maps weighted
  by the mean gradient of the score with respect to each map.

The score explained is the class's raw score (logit) when the model ends in a
softmax or sigmoid, as the papers do: probabilities saturate and their gradients
vanish. SmoothGrad's noisy copies and Integrated Gradients' steps go through the
model as batches (``batch_size`` rows per call), inside one compiled function per
model, never as a loop of single calls.

Models whose input is token ids (an Input of int32 feeding an Embedding) are
explained in the embedding space: attributions come out per token and embedding
dimension, and :func:`per_position` sums them to one number per token.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from builder import model_output
from builder.vocabulary import format_shape

METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "grad_cam")
METHOD_TITLES = {
    "vanilla": "Vanilla gradients",
    "smoothgrad": "SmoothGrad",
    "integrated_gradients": "Integrated Gradients",
    "grad_cam": "Grad-CAM",
}
CONV_CLASSES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")
MAX_ROWS = 1_000_000  # samples x steps: beyond this a request is surely a mistake


class SaliencyError(ValueError):
    """A saliency request that cannot be met, with the reason and the fix."""


@dataclass(frozen=True)
class Attribution:
    """Attributions for a batch of samples.

    Attributes:
        values: one attribution per input value, shaped like the inputs (or like the
            embedded tokens, ``(n, length, embedding)``, when ``space`` is
            ``"embedding"``); for Grad-CAM, ``(n, height, width)`` in [0, 1].
        targets: the class explained for each sample.
        method: one of :data:`METHODS`.
        space: ``"input"``, ``"embedding"`` or ``"feature_map"`` (Grad-CAM).
        layer: the convolutional layer Grad-CAM used, else ``""``.
    """

    values: np.ndarray
    targets: np.ndarray
    method: str
    space: str
    layer: str = ""


# -- the model, seen as a scorer -------------------------------------------------------


def _output_layer(model):
    """The layer that makes the model's single output (see builder.model_output)."""
    if len(model.outputs) != 1:
        raise SaliencyError(
            f"Saliency explains a model with one output; this one has {len(model.outputs)}. "
            "Explain a design with a single output layer."
        )
    return model_output.output_layer(model)


def output_activation(model) -> str:
    """The output layer's activation name (``"linear"`` when it has none)."""
    layer, _ = _output_layer(model)
    return model_output.activation_name(layer)


class _Explainer:
    """Compiled gradient functions for one model, made once and cached."""

    def __init__(self, model, single_output: str):
        import keras
        import tensorflow as tf

        self.model = model
        if len(model.inputs) != 1:
            raise SaliencyError(
                f"Saliency explains a model with one input; this one has {len(model.inputs)}. "
                "Explain a design with a single Input."
            )
        layer, out_tensor = _output_layer(model)
        activation = model_output.activation_name(layer)
        out_shape = tuple(out_tensor.shape[1:])
        if len(out_shape) != 1:
            raise SaliencyError(
                f"Saliency explains one score per class, but this model outputs "
                f"{out_shape} per sample (an autoencoder or a sequence output). Explain a "
                "classifier or a regressor."
            )
        if activation in ("softmax", "sigmoid") and isinstance(layer, keras.layers.Dense):
            features = layer.input
            kernel, bias = layer.kernel, layer.bias
        elif activation in ("softmax", "sigmoid") and isinstance(layer, keras.layers.Activation):
            features, kernel, bias = layer.input, None, None
        else:
            features, kernel, bias = out_tensor, None, None
        self.binary = out_shape[0] == 1 and (
            activation == "sigmoid" or (single_output == "binary"))
        self.num_classes = 2 if self.binary else int(out_shape[0])
        self.input_dtype = str(model.inputs[0].dtype)
        self.embedding = None
        source = model.inputs[0]
        if "int" in self.input_dtype:
            self.embedding = _first_embedding(model)
            source = self.embedding.output
        try:
            self.feature_model = keras.Model(source, features)
        except Exception as exc:  # Keras raises several types for a graph it cannot cut
            raise SaliencyError(
                "The model cannot be split after its Embedding layer (the token ids are used "
                f"by another layer too: {exc}). Feed the token ids only to the Embedding."
            ) from exc
        if self.embedding is not None:
            self.embed_model = keras.Model(model.inputs[0], self.embedding.output)
        self.features = features
        self._kernel, self._bias = kernel, bias
        self._tf = tf
        # Chunks are aligned to samples (see _owner_chunks), so each function sees
        # only a couple of batch shapes and keeps fully static, fast kernels.
        # One graph call at a time per model: Streamlit starts a session's next run before
        # its stopped one has ended, and two threads tracing one function at once once fed
        # one call's float tensor into the other's integer slot (seen on the Explore page).
        self._lock = threading.RLock()
        self.grads = self._one_at_a_time(tf.function(self._grads))
        self.noisy_grads = self._one_at_a_time(tf.function(self._noisy_grads))
        self.path_grads = self._one_at_a_time(tf.function(self._path_grads))
        self.score_fn = self._one_at_a_time(tf.function(self._scores))
        self._cams: dict[str, Callable] = {}

    def _one_at_a_time(self, function):
        def locked(*args, **kwargs):
            with self._lock:
                return function(*args, **kwargs)

        return locked

    # Graph pieces. A target of -1 means "the class this sample is predicted as",
    # found in the same batched pass that takes the gradients.

    def _head(self, features):
        tf = self._tf
        z = tf.cast(features, tf.float32)
        if self._kernel is not None:
            z = tf.matmul(z, tf.cast(self._kernel, tf.float32))
            if self._bias is not None:
                z = z + tf.cast(self._bias, tf.float32)
        if self.binary:
            z = tf.concat([-z, z], axis=-1)
        return z

    def _scores(self, rows):
        return self._head(self.feature_model(rows, training=False))

    def _choose(self, targets, clean_scores):
        tf = self._tf
        predicted = tf.argmax(tf.stop_gradient(clean_scores), axis=1, output_type=tf.int32)
        return tf.where(targets >= 0, targets, predicted)

    def _grads(self, samples, targets):
        """Gradients of each sample's target score; returns (gradients, targets used)."""
        tf = self._tf
        with tf.GradientTape() as tape:
            tape.watch(samples)
            scores = self._scores(samples)
            chosen = self._choose(targets, scores)
            picked = tf.gather(scores, chosen, axis=1, batch_dims=1)
        return tape.gradient(picked, samples), chosen

    def _owned_grads(self, samples, rows, owner, targets):
        """Gradients for ``rows`` (row i derived from ``samples[owner[i]]``).

        The clean samples ride in the same batch, to pick the predicted classes.
        """
        tf = self._tf
        count = tf.shape(samples)[0]
        with tf.GradientTape() as tape:
            tape.watch(rows)
            scores = self._scores(tf.concat([samples, rows], axis=0))
            chosen = self._choose(targets, scores[:count])
            picked = tf.gather(scores[count:], tf.gather(chosen, owner), axis=1, batch_dims=1)
        return tape.gradient(picked, rows), chosen

    def _per_row(self, values, like):
        tf = self._tf
        shape = tf.shape(like)
        return tf.reshape(values, tf.concat([shape[:1], tf.ones_like(shape[1:])], axis=0))

    def _noisy_grads(self, samples, owner, sigma, targets, seed):
        """Summed gradients of noisy copies: row i is a copy of ``samples[owner[i]]``."""
        tf = self._tf
        rows = tf.gather(samples, owner)
        noise = tf.random.stateless_normal(tf.shape(rows), seed=seed, dtype=rows.dtype)
        grads, chosen = self._owned_grads(
            samples, rows + noise * self._per_row(tf.gather(sigma, owner), rows), owner, targets)
        return tf.math.unsorted_segment_sum(grads, owner, tf.shape(samples)[0]), chosen

    def _path_grads(self, samples, baselines, owner, alphas, weights, targets):
        """Weighted sums of gradients along each sample's path from its baseline."""
        tf = self._tf
        inputs = tf.gather(samples, owner)
        bases = tf.gather(baselines, owner)
        rows = bases + self._per_row(alphas, inputs) * (inputs - bases)
        grads, chosen = self._owned_grads(samples, rows, owner, targets)
        grads = grads * self._per_row(weights, grads)
        return tf.math.unsorted_segment_sum(grads, owner, tf.shape(samples)[0]), chosen

    def cam_fn(self, layer_name: str):
        if layer_name not in self._cams:
            import keras

            tf = self._tf
            both = keras.Model(self.model.inputs[0],
                               [self.model.get_layer(layer_name).output, self.features])

            def cam(rows, targets):
                with tf.GradientTape() as tape:
                    maps, features = both(rows, training=False)
                    tape.watch(maps)
                    scores = self._head(features)
                    chosen = self._choose(targets, scores)
                    picked = tf.gather(scores, chosen, axis=1, batch_dims=1)
                grads = tape.gradient(picked, maps)
                maps = tf.cast(maps, tf.float32)
                weights = tf.reduce_mean(tf.cast(grads, tf.float32), axis=(1, 2), keepdims=True)
                return tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)), chosen

            self._cams[layer_name] = self._one_at_a_time(tf.function(cam))
        return self._cams[layer_name]

    # NumPy-facing helpers ----------------------------------------------------------

    def to_space(self, x: np.ndarray) -> np.ndarray:
        """Model inputs -> the space attributions live in (embeddings for token ids)."""
        if self.embedding is None:
            return np.asarray(x, dtype=np.float32)
        return np.asarray(self.embed_model(x, training=False), dtype=np.float32)


def _first_embedding(model):
    import keras

    source = model.inputs[0]
    users = [layer for layer in model.layers
             if not isinstance(layer, keras.layers.InputLayer)
             and any(t is source or getattr(t, "name", None) == source.name
                     for t in _flat(layer.input))]
    embeddings = [layer for layer in users if isinstance(layer, keras.layers.Embedding)]
    if len(users) != 1 or not embeddings:
        raise SaliencyError(
            "The model takes whole numbers (token ids), which have no gradient; saliency "
            "needs the ids to go straight into one Embedding layer and nowhere else. "
            "Connect the Input only to an Embedding."
        )
    return embeddings[0]


def _flat(value) -> list:
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    return [value]


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def explainer(model, single_output: str = "auto") -> _Explainer:
    """The cached scorer for a model (built on first use).

    Args:
        single_output: how to read a one-unit output: ``"binary"`` (the chance of
            class 1, so there are two classes), ``"value"`` (a regression value,
            one "class"), or ``"auto"`` (binary when the activation is sigmoid).
    """
    if single_output not in ("auto", "binary", "value"):
        raise SaliencyError(
            f"single_output must be 'auto', 'binary' or 'value'; got {single_output!r}."
        )
    with _CACHE_LOCK:
        per_model = _CACHE.setdefault(model, {})
        if single_output not in per_model:
            per_model[single_output] = _Explainer(model, single_output)
        return per_model[single_output]


# -- checks on what callers pass ------------------------------------------------------------


def _batch(model, x) -> np.ndarray:
    expected = tuple(model.inputs[0].shape[1:])
    array = np.asarray(x)
    if array.ndim == len(expected):
        array = array[None]
    if array.ndim != len(expected) + 1 or any(
            e is not None and e != g for e, g in zip(expected, array.shape[1:])):
        raise SaliencyError(
            f"The model takes samples of shape {format_shape(expected)}; got an input of "
            f"shape {format_shape(array.shape)}. Pass one sample, or a batch of them, in the "
            "model's shape."
        )
    if array.shape[0] == 0:
        raise SaliencyError("There is no sample to explain. Pick at least one sample.")
    if array.dtype.kind in "iub":
        if "int" not in str(model.inputs[0].dtype):
            array = array.astype(np.float32)
    elif array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise SaliencyError(
                "The sample holds NaN or infinite values, so gradients are meaningless. "
                "Fill in the missing values first."
            )
        array = array.astype(np.float32)
    else:
        raise SaliencyError(
            f"The sample must hold numbers; got values of type {array.dtype}. Pass the model "
            "input (after preprocessing)."
        )
    return array


def _targets(exp: _Explainer, n: int, target) -> np.ndarray:
    """Per-sample target classes; -1 marks "the predicted class" (found in the graph)."""
    if target is None:
        return np.full(n, -1, dtype=np.int32)
    targets = np.asarray(target).astype(np.int64).reshape(-1)
    if targets.size == 1:
        targets = np.full(n, int(targets[0]))
    if targets.size != n:
        raise SaliencyError(
            f"Give one target class for all samples, or one per sample; got {targets.size} "
            f"targets for {n} samples."
        )
    if targets.min() < 0 or targets.max() >= exp.num_classes:
        wrong = int(targets.max() if targets.max() >= exp.num_classes else targets.min())
        raise SaliencyError(
            f"The model has {exp.num_classes} classes (0 to {exp.num_classes - 1}); got target "
            f"class {wrong}. Pick one of those classes."
        )
    return targets.astype(np.int32)


class _Targets:
    """Collects the classes each graph call used, keeping a sample's first answer."""

    def __init__(self, requested: np.ndarray):
        self.values = requested.copy()

    def update(self, first: int, chosen) -> None:
        chosen = np.asarray(chosen)
        part = self.values[first:first + len(chosen)]
        unset = part < 0
        part[unset] = chosen[unset]


def _check_positive(name: str, value, low: int = 1, high: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            low <= value <= high):
        raise SaliencyError(f"'{name}' must be a whole number from {low} to {high}; got {value!r}.")
    return int(value)


# -- the methods -------------------------------------------------------------------------------


def vanilla_gradients(model, x, target=None, *, batch_size: int = 64,
                      single_output: str = "auto") -> Attribution:
    """Gradient of the target class's score with respect to each input value.

    Args:
        model: a Keras model with one input and one vector output.
        x: one sample or a batch, in the model's input shape.
        target: a class id for all samples, one per sample, or None for the
            predicted class.
        batch_size: samples per model call.
        single_output: see :func:`explainer`.
    """
    batch_size = _check_positive("batch_size", batch_size)
    exp = explainer(model, single_output)
    space_x = exp.to_space(_batch(model, x))
    n = space_x.shape[0]
    targets = _Targets(_targets(exp, n, target))
    grads = []
    for start, stop in _row_chunks(n, batch_size):
        values, chosen = exp.grads(space_x[start:stop], targets.values[start:stop])
        grads.append(np.asarray(values))
        targets.update(start, chosen)
    return Attribution(np.concatenate(grads), targets.values, "vanilla", _space(exp))


def _space(exp: _Explainer) -> str:
    return "input" if exp.embedding is None else "embedding"


def smoothgrad(model, x, target=None, *, samples: int = 25, noise: float = 0.15,
               seed: int = 0, batch_size: int = 64, single_output: str = "auto") -> Attribution:
    """Vanilla gradients averaged over ``samples`` noisy copies of each sample.

    Args:
        samples: noisy copies per sample.
        noise: the noise's standard deviation as a fraction of each sample's value
            range (max - min); Smilkov et al. suggest 0.1 to 0.2.
        seed: makes the noise repeatable.
        batch_size: noisy copies per model call (the clean samples ride along).
    """
    samples = _check_positive("samples", samples)
    batch_size = _check_positive("batch_size", batch_size)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 1:
        raise SaliencyError(f"'noise' must be a fraction from 0 to 1; got {noise!r}.")
    exp = explainer(model, single_output)
    space_x = exp.to_space(_batch(model, x))
    n = space_x.shape[0]
    _check_rows(n, samples, "noisy copies")
    targets = _Targets(_targets(exp, n, target))
    flat = space_x.reshape(n, -1)
    sigma = (noise * (flat.max(axis=1) - flat.min(axis=1))).astype(np.float32)
    total = np.zeros_like(space_x)
    for chunk, (first, last, owner, _) in enumerate(_owner_chunks(n, samples, batch_size)):
        sums, chosen = exp.noisy_grads(
            space_x[first:last], owner, sigma[first:last], targets.values[first:last],
            np.array([int(seed), chunk], dtype=np.int32))
        total[first:last] += np.asarray(sums)
        targets.update(first, chosen)
    return Attribution(total / samples, targets.values, "smoothgrad", _space(exp))


def _check_rows(n: int, per: int, what: str) -> None:
    if n * per > MAX_ROWS:
        raise SaliencyError(
            f"{n} samples x {per} {what} is {n * per:,} model rows; the limit is {MAX_ROWS:,}. "
            "Explain fewer samples at once."
        )


def integrated_gradients(model, x, target=None, *, baseline=None, steps: int = 32,
                         batch_size: int = 64, single_output: str = "auto") -> Attribution:
    """Integrated Gradients from ``baseline`` (default: zeros) to each sample.

    The path integral is a trapezoid sum over ``steps`` equal intervals, so the
    attributions of a sample add up to ``score(x) - score(baseline)`` up to the
    error of that sum (:func:`completeness_gap` measures it).

    Args:
        baseline: the reference input, in the model's input shape (or the
            embedding's shape for token models); zeros by default.
        steps: intervals on the path; each sample costs ``steps + 1`` gradient rows.
        batch_size: path points per model call.
    """
    steps = _check_positive("steps", steps, 1, 1000)
    batch_size = _check_positive("batch_size", batch_size)
    exp = explainer(model, single_output)
    space_x = exp.to_space(_batch(model, x))
    n = space_x.shape[0]
    base = _baseline(space_x, baseline)
    per = steps + 1
    _check_rows(n, per, "path points")
    targets = _Targets(_targets(exp, n, target))
    alphas = np.linspace(0.0, 1.0, per, dtype=np.float32)
    # Trapezoid weights: half weight at both ends of the path.
    weights = np.full(per, 1.0 / steps, dtype=np.float32)
    weights[[0, -1]] *= 0.5
    total = np.zeros_like(space_x)
    for first, last, owner, step in _owner_chunks(n, per, batch_size):
        sums, chosen = exp.path_grads(
            space_x[first:last], base[first:last], owner, alphas[step], weights[step],
            targets.values[first:last])
        total[first:last] += np.asarray(sums)
        targets.update(first, chosen)
    return Attribution((space_x - base) * total, targets.values, "integrated_gradients",
                       _space(exp))


def _baseline(space_x: np.ndarray, baseline) -> np.ndarray:
    if baseline is None:
        return np.zeros_like(space_x)
    base = np.asarray(baseline, dtype=np.float32)
    if base.shape == space_x.shape[1:]:
        return np.broadcast_to(base, space_x.shape).copy()
    if base.shape != space_x.shape:
        raise SaliencyError(
            f"The baseline must have one sample's shape {format_shape(space_x.shape[1:])}; got "
            f"{format_shape(base.shape)}. Pass a baseline shaped like the input."
        )
    return base


def _row_chunks(total: int, batch_size: int):
    for start in range(0, total, batch_size):
        yield start, min(total, start + batch_size)


def _owner_chunks(n: int, per: int, batch_size: int):
    """Model calls for ``per`` rows of each of ``n`` samples, about ``batch_size`` rows each.

    Yields ``(first, last, owner, position)``: the calls covers samples
    ``first:last``; row i belongs to sample ``first + owner[i]`` and is that
    sample's ``position[i]``-th row. A call holds whole samples when they fit, else
    one sample's rows are split over several calls.
    """
    if per <= batch_size:
        whole = batch_size // per
        for first in range(0, n, whole):
            last = min(n, first + whole)
            count = last - first
            yield (first, last, np.repeat(np.arange(count, dtype=np.int32), per),
                   np.tile(np.arange(per), count))
        return
    for sample in range(n):
        for start in range(0, per, batch_size):
            stop = min(per, start + batch_size)
            yield (sample, sample + 1, np.zeros(stop - start, dtype=np.int32),
                   np.arange(start, stop))


def conv_layer_names(model) -> list[str]:
    """The convolutional layers Grad-CAM can use, first to last (their output is 4-D)."""
    return [layer.name for layer in model.layers
            if type(layer).__name__ in CONV_CLASSES and len(layer.output.shape) == 4]


def grad_cam(model, x, target=None, *, layer: str | None = None, batch_size: int = 64,
             single_output: str = "auto") -> Attribution:
    """Grad-CAM heatmaps, resized to the input's height and width and scaled to [0, 1].

    Args:
        layer: the convolutional layer's name (its node id); the last one by default.
    """
    import tensorflow as tf

    batch_size = _check_positive("batch_size", batch_size)
    exp = explainer(model, single_output)
    array = _batch(model, x)
    if array.ndim != 4:
        raise SaliencyError(
            f"Grad-CAM needs images (height, width, channels); this model takes samples of "
            f"shape {format_shape(array.shape[1:])}. Use another method for this data."
        )
    names = conv_layer_names(model)
    if not names:
        raise SaliencyError(
            "Grad-CAM needs a 2-D convolutional layer, and this model has none. Use "
            "vanilla gradients, SmoothGrad or Integrated Gradients instead."
        )
    if layer is None:
        layer = names[-1]
    if layer not in names:
        raise SaliencyError(
            f"'{layer}' is not a 2-D convolutional layer of this model; choose one of "
            f"{', '.join(names)}."
        )
    targets = _Targets(_targets(exp, len(array), target))
    cam = exp.cam_fn(layer)
    parts = []
    for start, stop in _row_chunks(len(array), batch_size):
        values, chosen = cam(array[start:stop], targets.values[start:stop])
        parts.append(np.asarray(values))
        targets.update(start, chosen)
    maps = np.concatenate(parts)
    resized = np.asarray(tf.image.resize(maps[..., None], array.shape[1:3], method="bilinear"))
    resized = np.maximum(resized[..., 0], 0.0)
    peak = resized.reshape(len(resized), -1).max(axis=1)
    resized = np.where(peak[:, None, None] > 0, resized / np.maximum(peak, 1e-12)[:, None, None],
                       0.0)
    return Attribution(resized.astype(np.float32), targets.values, "grad_cam", "feature_map",
                       layer)


def explain(model, x, method: str, target=None, **options) -> Attribution:
    """Run one of :data:`METHODS` by name (the page's single entry point)."""
    functions = {"vanilla": vanilla_gradients, "smoothgrad": smoothgrad,
                 "integrated_gradients": integrated_gradients, "grad_cam": grad_cam}
    if method not in functions:
        raise SaliencyError(
            f"Unknown saliency method {method!r}; choose one of {', '.join(METHODS)}."
        )
    return functions[method](model, x, target, **options)


def class_scores(model, x, single_output: str = "auto", batch_size: int = 256) -> np.ndarray:
    """The raw per-class scores (logits) saliency explains, for a batch of inputs."""
    exp = explainer(model, single_output)
    space_x = exp.to_space(_batch(model, x))
    return np.concatenate([np.asarray(exp.score_fn(space_x[i:i + batch_size]))
                           for i in range(0, space_x.shape[0], batch_size)])


def completeness_gap(model, x, attribution: Attribution, baseline=None,
                     single_output: str = "auto") -> np.ndarray:
    """Integrated Gradients' check: |sum(attr) - (score(x) - score(baseline))| per sample."""
    exp = explainer(model, single_output)
    space_x = exp.to_space(_batch(model, x))
    base = _baseline(space_x, baseline)
    picked = attribution.targets
    rows = np.arange(len(picked))
    delta = (np.asarray(exp.score_fn(space_x))[rows, picked]
             - np.asarray(exp.score_fn(base))[rows, picked])
    total = attribution.values.reshape(len(picked), -1).sum(axis=1)
    return np.abs(total - delta)


# -- reductions for display ------------------------------------------------------------------------


def image_heatmap(attribution: Attribution, percentile: float = 99.0) -> np.ndarray:
    """(n, height, width) maps in [0, 1] for drawing over images.

    Gradient methods take the largest absolute value over channels (Simonyan et
    al.) and clip at the ``percentile``-th value so that a few pixels do not wash
    out the rest (Smilkov et al.); Grad-CAM maps pass through.
    """
    values = np.asarray(attribution.values, dtype=np.float32)
    if attribution.method == "grad_cam":
        return values
    if values.ndim != 4:
        raise SaliencyError(
            f"An image heatmap needs attributions shaped (n, height, width, channels); got "
            f"{format_shape(values.shape)}. Use per_position() for sequences."
        )
    maps = np.abs(values).max(axis=-1)
    top = np.percentile(maps.reshape(len(maps), -1), percentile, axis=1)
    top = np.where(top > 0, top, 1.0)
    return np.clip(maps / top[:, None, None], 0.0, 1.0)


def per_position(attribution: Attribution) -> np.ndarray:
    """(n, length): one signed number per token or time step (summed over features)."""
    values = np.asarray(attribution.values, dtype=np.float32)
    if values.ndim == 2:
        return values
    if values.ndim != 3:
        raise SaliencyError(
            f"Per-position attributions need sequences (n, steps, features); got "
            f"{format_shape(values.shape)}."
        )
    return values.sum(axis=-1)


def rank_correlation(a, b) -> float:
    """Spearman rank correlation of two maps (flattened), as the sanity-check paper uses."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size != b.size or a.size < 2:
        raise SaliencyError(f"Maps to compare must have the same size; got {a.size} and {b.size}.")
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denominator) if denominator else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as scipy.stats.rankdata."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    boundaries = np.r_[True, sorted_values[1:] != sorted_values[:-1], True]
    starts = np.flatnonzero(boundaries)
    ranks_sorted = np.empty(values.size)
    for begin, end in zip(starts[:-1], starts[1:]):
        ranks_sorted[begin:end] = (begin + end - 1) / 2.0 + 1.0
    ranks = np.empty(values.size)
    ranks[order] = ranks_sorted
    return ranks


def randomized_copy(model, seed: int = 0):
    """The same architecture with random weights (the model-randomisation test).

    Each trainable weight is drawn afresh from a zero-mean normal distribution
    with the spread the trained weight has (a weight that is constant, such as an
    unused bias, keeps its fresh initial value), from ``seed``, so the check is
    repeatable and the random model works at the trained model's scale.
    """
    import keras

    copy = keras.models.clone_model(model)
    rng = np.random.default_rng(seed)
    for trained, variable in zip(model.trainable_weights, copy.trainable_weights):
        values = np.asarray(trained)
        spread = float(values.std())
        if spread > 0:
            variable.assign(rng.normal(0.0, spread, values.shape).astype(values.dtype))
    return copy


def model_randomization_check(model, x, method: str = "vanilla", target=None, seed: int = 0,
                              **options) -> dict:
    """Adebayo et al.'s check: a faithful map changes when the weights are randomised.

    Returns:
        ``{"correlations": per-sample Spearman correlations between the heatmaps of
        the trained and the randomised model, "mean": their mean}``; a mean near 1
        means the map ignores what the model learned.
    """
    trained = explain(model, x, method, target, **options)
    copy = randomized_copy(model, seed)
    randomized = explain(copy, x, method, trained.targets, **options)
    if trained.space == "input" and np.asarray(trained.values).ndim == 4 or method == "grad_cam":
        a, b = image_heatmap(trained), image_heatmap(randomized)
    else:
        a, b = np.abs(trained.values), np.abs(randomized.values)
    correlations = np.array([rank_correlation(a[i], b[i]) for i in range(len(a))])
    return {"correlations": correlations, "mean": float(correlations.mean())}


# -- tabular data through its preprocessing ------------------------------------------------------


@dataclass(frozen=True)
class FeatureAttribution:
    """Integrated Gradients per raw feature (column) of tabular rows.

    Attributes:
        names: the raw feature names.
        values: (rows, features) signed attributions; each row sums to
            ``score(row) - score(baseline)`` up to the integration error.
        targets: the class explained per row.
        baseline: the raw baseline value of each feature.
    """

    names: list[str]
    values: np.ndarray
    targets: np.ndarray
    baseline: dict

    def mean_absolute(self) -> np.ndarray:
        """Mean |attribution| per feature over the rows (global importance)."""
        return np.abs(self.values).mean(axis=0)


def raw_baseline(reference: Mapping[str, Any]) -> dict:
    """A neutral raw row: the median of each numeric column, the commonest text value."""
    baseline = {}
    for name, column in reference.items():
        array = np.asarray(column)
        if len(array) == 0:
            raise SaliencyError(
                f"The reference rows are empty, so no baseline for '{name}' can be made. "
                "Use a split with rows."
            )
        if array.dtype.kind in "iuf":
            baseline[name] = np.median(array, axis=0).astype(array.dtype)
        else:
            values, counts = np.unique(array.reshape(len(array), -1)[:, 0].astype(str),
                                       return_counts=True)
            # The commonest value, in one row's shape ((1,) for a category column).
            baseline[name] = np.full(array.shape[1:], values[np.argmax(counts)], dtype=object)
    return baseline


def tabular_attributions(model, preprocessing: Callable, rows: Mapping[str, Any],
                         baseline: Mapping[str, Any], target=None, *, steps: int = 32,
                         batch_size: int = 256, single_output: str = "auto"
                         ) -> FeatureAttribution:
    """Integrated Gradients on raw table features, through the preprocessing.

    Raw columns may be text (categories) and so have no gradient. The attribution
    is therefore computed on the preprocessed vector, from the preprocessed
    baseline to the preprocessed row, and each preprocessed column's share is
    credited to the raw feature that moves it: a column belongs to feature ``f``
    when setting only ``f`` to the row's value (in the baseline row) changes it.
    For normalised numbers this equals Integrated Gradients on the raw value; for
    one-hot categories it is the sum over the category's columns.

    Args:
        preprocessing: raw column dict -> the model's input vectors.
        rows: raw columns, name -> array of values (one per row).
        baseline: raw baseline value per column (see :func:`raw_baseline`).
    """
    names = list(rows)
    missing = [n for n in names if n not in baseline]
    if missing:
        raise SaliencyError(
            f"The baseline has no value for {', '.join(repr(m) for m in missing)}. Build it "
            "with raw_baseline() over the same columns."
        )
    columns = {n: np.asarray(rows[n]) for n in names}
    counts = {len(c) for c in columns.values()}
    if len(counts) != 1 or 0 in counts:
        raise SaliencyError(
            "Each raw column must hold the same number of rows (at least one); got lengths "
            f"{sorted(counts)}. Pass whole rows."
        )
    n = counts.pop()

    def encode(frame: dict) -> np.ndarray:
        return np.asarray(preprocessing({k: _tensor(v) for k, v in frame.items()}),
                          dtype=np.float32)

    base_row = {k: np.repeat(np.asarray(baseline[k])[None], n, axis=0)
                .astype(columns[k].dtype) for k in names}
    z = encode(columns)
    z_base = encode(base_row)
    # Which encoded columns each raw feature moves, row by row.
    owners = np.full(z.shape, -1, dtype=np.int64)
    for index, name in enumerate(names):
        changed = encode({**base_row, name: columns[name]}) != z_base
        overlap = changed & (owners >= 0)
        if overlap.any():
            raise SaliencyError(
                f"The preprocessing mixes '{name}' with another column into one value (a "
                "feature cross), so attributions cannot be split per raw column."
            )
        owners[changed] = index
    attribution = integrated_gradients(model, z, target, baseline=z_base, steps=steps,
                                       batch_size=batch_size, single_output=single_output)
    values = np.zeros((n, len(names)), dtype=np.float64)
    flat_owner = owners.reshape(n, -1)
    flat_values = attribution.values.reshape(n, -1)
    for index in range(len(names)):
        values[:, index] = np.where(flat_owner == index, flat_values, 0.0).sum(axis=1)
    return FeatureAttribution(names, values, attribution.targets,
                              {k: np.asarray(v).tolist() for k, v in baseline.items()})


def _tensor(values):
    import tensorflow as tf

    array = np.asarray(values)
    if array.dtype.kind in "OUS":
        return tf.constant(array.astype(str))
    return tf.constant(array)
