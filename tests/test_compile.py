"""build_model(): a working functional model named after the nodes, or a DesignError."""

import numpy as np
import pytest

from builder.compile import DesignError, build_model
from tests.helpers import chain, design


def test_builds_a_model_whose_layers_are_the_nodes():
    model = build_model(chain(("Dense", {"units": 5}), ("Dense", {"units": 2,
                                                                   "activation": "softmax"}),
                              input_shape=(3,)))
    assert [layer.name for layer in model.layers] == ["inp", "n1", "n2"]
    out = model.predict(np.zeros((4, 3), "float32"), verbose=0)
    assert out.shape == (4, 2) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


def test_invalid_design_raises_design_error_with_the_report():
    with pytest.raises(DesignError) as caught:
        build_model(chain(("Dense", {"units": -4})))
    assert caught.value.report.problems_for("n1")[0].code == "bad_param"
    assert "[n1] bad_param" in str(caught.value)


def test_multi_input_multi_output_in_node_order():
    d = design([("a", "Input", {"shape": [2]}), ("b", "Input", {"shape": [3]}),
                ("c", "Concatenate"), ("y", "Dense", {"units": 1}), ("z", "Dense", {"units": 4})],
               [("b", "c", 1), ("a", "c", 0), ("c", "y"), ("c", "z")])
    model = build_model(d)
    assert [t.name for t in model.inputs] == ["a", "b"]
    outputs = model.predict([np.ones((1, 2)), np.ones((1, 3))], verbose=0)
    assert [o.shape for o in outputs] == [(1, 1), (1, 4)]


def test_bidirectional_recurrent_and_attention_build():
    d = design([("t", "Input", {"shape": [7], "dtype": "int32"}),
                ("e", "Embedding", {"input_dim": 20, "output_dim": 8}),
                ("p", "PositionEmbedding", {"max_length": 7}),
                ("a", "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}),
                ("r", "LSTM", {"units": 3, "bidirectional": True})],
               [("t", "e"), ("e", "p"), ("p", "a"), ("a", "r")])
    model = build_model(d)
    assert model.output_shape == (None, 6)
    assert model.predict(np.ones((2, 7), "int32"), verbose=0).shape == (2, 6)
