"""Keras's private parts that builder/keras_internals.py reaches: each is still where
it was. A Keras upgrade that moves one fails here, by name, not deep in a page."""

from __future__ import annotations

import keras
import numpy as np

from builder import keras_internals


def test_the_private_names_are_still_there():
    from keras.src.backend.common import global_state
    from keras.src.backend.common.stateless_scope import StatelessScope

    assert callable(global_state.get_global_attribute)
    assert callable(global_state.set_global_attribute)
    assert "initialize_variables" in StatelessScope.__init__.__code__.co_varnames
    assert callable(keras_internals.tensorflow_trainer().reduce_per_replica)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert callable(model._symbolic_build) and callable(model._maybe_symbolic_build)


def test_layers_built_inside_allocate_no_weights():
    with keras_internals.weights_not_allocated():
        inputs = keras.Input((100_000,))
        outputs = keras.layers.Dense(100_000)(inputs)  # 10 billion weights if allocated
        model = keras.Model(inputs, outputs)
    assert model.count_params() == 100_000 * 100_000 + 100_000


def test_the_layer_that_made_a_tensor_is_found():
    inputs = keras.Input((3,), name="features")
    outputs = keras.layers.Dense(2, name="scores")(inputs)
    assert keras_internals.producing_layer(outputs).name == "scores"
    assert keras_internals.layer_name_of(outputs, "?") == "scores"
    assert keras_internals.producing_layer(np.zeros(2)) is None
    assert keras_internals.layer_name_of(np.zeros(2), "input") == "input"


def test_a_model_built_from_one_batch_skips_fits_own_build():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    batch = (np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32"))
    keras_internals.build_once_from_batch(model, batch)
    assert model.optimizer.built
    model.fit(*batch, epochs=1, verbose=0)
