"""Every family learns: a few epochs on a slice of its real sample, through the app's path.

Each test prepares the sample as the Data page does, fits the template with "Fix
all", trains with ``builder.train.train`` (the Train page's jobs run it) on a
small slice and checks that the training loss went down. The full-size training
with the quality targets is ``bench/families.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench import families as F
from builder.data import PreparedData, SplitArrays
from builder.train import train

# (train samples, validation samples, epochs, batch size) per family: seconds each.
SLICES = {
    "mlp": (160, 40, 4, 16),
    "cnn": (160, 40, 3, 32),
    "lstm-forecast": (192, 48, 3, 32),
    "gru-forecast": (192, 48, 3, 32),
    "sequence-classifier": (192, 48, 4, 32),
    "transformer": (192, 48, 4, 16),
    "autoencoder": (160, 40, 3, 32),
    "autoencoder-2d": (192, 48, 4, 32),
}


def _head(value, n: int):
    return tuple(part[:n] for part in value) if isinstance(value, tuple) else value[:n]


def small(prepared: PreparedData, n_train: int, n_other: int) -> PreparedData:
    """The first rows of each split (raw inputs and kept labels cut to match)."""
    splits = {}
    for name, part in prepared.splits.items():
        n = n_train if name == "train" else n_other
        splits[name] = SplitArrays(
            x=_head(part.x, n), y=part.y[:n],
            raw=lambda limit=None, raw=part.raw, n=n: raw(n if limit is None else min(limit, n)),
            labels=None if part.labels is None else part.labels[:n])
    return dataclasses.replace(prepared, splits=splits, _datasets={})


@pytest.fixture(scope="module")
def prepared():
    """Each family's prepared sample, made once (the two forecasters share theirs)."""
    made: dict[str, PreparedData] = {}
    return lambda family: made.setdefault(family.data + family.template[:3],
                                          family.prepare())


def _train_slice(family: F.Family, data: PreparedData, evaluate_test: bool):
    n_train, n_other, epochs, batch = SLICES[family.name]
    data = small(data, n_train, n_other)
    design = F.fitted_design(family.template, data)
    config = F.suggested_config(design, epochs=epochs, batch_size=batch, seed=3)
    result = train(design, data, config, evaluate_test=evaluate_test)
    assert result.status == "finished", result.message
    return data, result


@pytest.mark.parametrize("name", list(SLICES))
def test_the_family_learns_on_a_slice_of_its_sample(name, prepared):
    family = F.BY_NAME[name]
    units_check = name == "lstm-forecast"
    data, result = _train_slice(family, prepared(family), evaluate_test=units_check)
    losses = [row["loss"] for row in result.history]
    assert len(losses) == SLICES[name][2]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0] * 0.97, losses
    score = family.score(result.model, data)
    assert np.isfinite(score)
    if units_check:
        # The run's final errors are in the target's units, as the Explore page gives them.
        from builder.explain import predictions

        shown = predictions.evaluate(predictions.predict(result.model, data, "validation"))
        assert result.final["val_mae"] == pytest.approx(shown["mae"], rel=1e-4)
        test = predictions.evaluate(predictions.predict(result.model, data, "test"))
        assert result.final["test_mae"] == pytest.approx(test["mae"], rel=1e-4)
        assert result.final["mae"] > 0.3  # demand in its own units, not standard deviations


def test_the_naive_forecast_is_the_last_value_in_target_units(prepared):
    data = prepared(F.BY_NAME["gru-forecast"])
    naive = F.naive_forecast(data, "validation")
    truth = data.to_target_units(data.splits["validation"].y)
    # Windows start one step apart, so each window's last value is the previous target.
    np.testing.assert_allclose(naive[1:], truth[:-1], atol=2e-3)
    assert 30 < float(np.mean(naive)) < 120  # demand units, not standardised


def test_the_waveform_sample_gives_sequences_the_series_classifier_fits(prepared):
    data = prepared(F.BY_NAME["sequence-classifier"])
    assert data.kind == "tabular" and data.task == "multiclass"
    assert data.input_shape == (48,) and data.class_names == ["sawtooth", "sine", "square"]
    assert data.feature_names[:3] == ["t01", "t02", "t03"]
    design = F.fitted_design("lstm_series_classifier", data)
    assert design.node("as_sequence").params["target_shape"] == [48, 1]


def test_the_transformer_template_has_the_encoder_block_parts():
    design = F.template_design("transformer_text")
    types = {node.id: node.type for node in design.nodes}
    for needed in ("Embedding", "PositionEmbedding", "MultiHeadAttention", "Add",
                   "LayerNormalization", "Dense"):
        assert needed in types.values(), needed
    # Each Add joins a sub-layer's output with the sub-layer's own input (the residual).
    for add in (n for n in design.nodes if n.type == "Add"):
        sources = design.inputs_of(add.id)
        assert len(sources) == 2
        inner, skip = sources
        chain = {inner}
        while True:
            before = design.inputs_of(next(iter(chain)))
            if skip in before or not before:
                break
            chain = {before[0]}
        assert skip in design.inputs_of(next(iter(chain))), (add.id, sources)
        (after,) = design.outputs_of(add.id)
        assert types[after] == "LayerNormalization"
