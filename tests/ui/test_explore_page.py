"""The Explore page through Streamlit's AppTest, with models trained in the test."""

from __future__ import annotations

import keras
import pytest
from streamlit.testing.v1 import AppTest

from builder import learning_cycle
from builder.data.images import prepare_images
from builder.data.samples import load_sample
from builder.data.tabular import prepare_tabular
from builder.ui import data_page, state
from builder.ui.trained import TrainedModel

SCRIPT = """
from builder.ui import explore_page
explore_page.render()
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


@pytest.fixture(scope="module")
def digits_run():
    data = prepare_images(load_sample("digits"), size=(8, 8), channels=1)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool_1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train, y_train = data.arrays("train")
    fit = model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    history = [{"epoch": i + 1, "loss": loss} for i, loss in enumerate(fit.history["loss"])]
    return data, model, history


def _app(model=None, data=None, history=None) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=180)
    if model is not None:
        at.session_state[state.TRAINED.name] = TrainedModel(
            run_id="session-run", design=None, model=model, history=history or [])
    if data is not None:
        at.session_state[data_page.PREPARED.name] = data
    at.run()
    assert not at.exception, at.exception
    return at


def _charts(at) -> list[dict]:
    import json

    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_with_nothing_trained_the_page_says_what_to_do(home):
    at = _app()
    assert any("Train page" in info.value for info in at.info)


def test_a_model_without_its_data_asks_for_the_data(home, digits_run):
    _, model, _ = digits_run
    at = _app(model)
    assert any("Data page" in info.value for info in at.info)


def test_images_show_metrics_cells_saliency_and_activations(home, digits_run):
    data, model, history = digits_run
    at = _app(model, data, history)
    accuracy = next(m for m in at.metric if m.label == "Accuracy")
    assert float(accuracy.value.rstrip("%")) > 70
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at)]
    assert any(t.startswith("Confusion matrix") for t in titles)
    # Open a confusion cell through the picker (the chart click does the same).
    cell = at.selectbox(key="nc_explore::cell")
    assert cell.value is None
    first = next(option for option in cell.options if option != "none")
    assert "→ predicted" in first  # mistakes are listed first, most frequent first
    cell.set_value(_cell_value(first)).run()
    assert not at.exception, at.exception
    assert any("sample(s): true" in md.value for md in at.markdown)
    # Every saliency method drew its overlay, and the forward pass its layers.
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at)]
    for method in ("Vanilla gradients", "SmoothGrad", "Integrated Gradients",
                   "Grad-CAM on conv_1"):
        assert method in titles, titles
    assert any(t.startswith("conv_1 (Conv2D)") for t in titles)
    assert any(t == "loss" for t in titles)


def _cell_value(label: str) -> tuple[int, int]:
    """The (true, predicted) value behind a label such as 'true 3 → predicted 8 (2)'."""
    true_name = label.split("true ")[1].split(" →")[0]
    predicted_name = label.split("predicted ")[1].split(" (")[0]
    return (int(true_name), int(predicted_name))


def test_learning_cycle_record_is_drawn_from_a_run(home, tmp_path, digits_run):
    from builder import jobs, workspace

    data, model, _ = digits_run
    manager = jobs.manager(workspace.store_path(workspace.ensure(home)))
    record = manager.store.create_run(name="digits cnn", design={"role": "model"},
                                      data={"source": data.source}, config={})
    x, y = data.arrays("train", 32)
    clone = keras.models.clone_model(model)
    clone.compile("adam", "sparse_categorical_crossentropy")
    path = tmp_path / "learning_cycle.json"
    recorder = learning_cycle.LearningCycleRecorder(x, y, path)
    clone.fit(*data.arrays("train"), epochs=2, verbose=0, callbacks=[recorder])
    model_path = tmp_path / "model.keras"
    clone.save(model_path)
    for epoch in (1, 2):
        manager.store.record_epoch(record.id, epoch, {"loss": 1.0 / epoch}, 0.1)
    manager.store.finish(record.id, "finished", artifacts={"model": model_path,
                                                           "learning_cycle": path})
    at = _app(data=data)
    assert at.selectbox(key="nc_explore::source").value == record.id
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at)]
    assert "Gradient norm per layer" in titles
    assert any(t.endswith("distribution per epoch") for t in titles)


def test_tabular_binary_shows_curves_and_feature_attributions(home):
    source = load_sample("breast_cancer")
    data = prepare_tabular(source, source.target, task="binary")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(data.input_shape)
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile("adam", "binary_crossentropy")
    model.fit(*data.arrays("train"), epochs=10, verbose=0)
    at = _app(model, data)
    labels = [m.label for m in at.metric]
    assert "ROC AUC" in labels and "Average precision" in labels
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at)]
    assert {"ROC curve", "Precision-recall curve", "This row"} <= set(titles)
    bars = next(c for c in _charts(at) if c["layout"].get("title", {}).get("text") == "This row")
    assert set(bars["data"][0]["y"]) == set(data.feature_names)


def test_regression_and_text_tabs_render(home):
    source = load_sample("diabetes")
    data = prepare_tabular(source, source.target, task="regression")
    inputs = keras.Input(data.input_shape)
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    at = _app(model, data)
    assert {"MAE", "RMSE", "R²"} <= {m.label for m in at.metric}
    text = prepare_tabular(load_sample("topics").frame, "topic", task="multiclass")
    tokens = keras.Input(text.input_shape, dtype="int32")
    embedded = keras.layers.Embedding(text.info["vocabulary_size"], 8)(tokens)
    pooled = keras.layers.GlobalAveragePooling1D()(embedded)
    classifier = keras.Model(tokens, keras.layers.Dense(text.num_classes,
                                                        activation="softmax")(pooled))
    at = _app(classifier, text)
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at)]
    assert "Per word" in titles


@pytest.fixture(scope="module")
def autoencoder_run():
    """The 2-D-code template trained a little on digits prepared for reconstruction."""
    from builder.data.link import fix_all
    from builder.design import TEMPLATES_DIR, load_template
    from builder.train import TrainConfig, train

    data = prepare_images(load_sample("digits"), size=(8, 8), channels=1, task="reconstruction")
    design = fix_all(load_template(TEMPLATES_DIR / "dense_autoencoder_2d.json").design(), data)
    result = train(design, data, TrainConfig(epochs=3, learning_rate=0.003, seed=0),
                   evaluate_test=False)
    return data, result.model, result.history


def test_an_autoencoder_shows_reconstructions_and_its_2d_code_space(home, autoencoder_run):
    data, model, history = autoencoder_run
    at = _app(model, data, history)
    assert {"Mean squared error", "Mean absolute error"} <= {m.label for m in at.metric}
    charts = _charts(at)
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in charts]
    assert "Originals and reconstructions" in titles
    space = next(c for c in charts if c.get("layout", {}).get("title", {}).get("text", "")
                 .startswith("Code space"))
    assert "labels training did not use" in space["layout"]["title"]["text"]
    # One trace per digit, and every validation sample is a point.
    assert sorted(trace["name"] for trace in space["data"]) == [str(d) for d in range(10)]
    assert sum(_count(trace["x"]) for trace in space["data"]) == len(data.splits["validation"])
    assert any("'code'" in caption.value for caption in at.caption)


def _count(values) -> int:
    """How many values a chart's array holds (Plotly sends NumPy arrays as typed bytes)."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np

        return len(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]))
    return len(values)


def test_a_wide_bottleneck_says_why_there_is_no_map(home):
    data = prepare_images(load_sample("digits"), size=(8, 8), channels=1, task="reconstruction")
    inputs = keras.Input((8, 8, 1), name="image")
    squeezed = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="encode")(inputs)
    grown = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid",
                                         name="decode")(squeezed)
    at = _app(keras.Model(inputs, grown), data)
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at)]
    assert "Originals and reconstructions" in titles
    assert not any(t.startswith("Code space") for t in titles)
    assert any("'encode' gives 64 numbers per sample" in c.value for c in at.caption)


def _stored_run(home, model, name: str) -> str:
    """A finished run in the workspace's store whose saved model is ``model``."""
    from builder.run_store import RunStore

    store = RunStore(home / "neural_canvas.sqlite")
    record = store.create_run(name=name, design={}, data={"source": "digits"}, config={})
    path = home / f"{record.id}.keras"
    model.save(path)
    store.finish(record.id, "finished", "", {}, {"model": str(path)})
    return record.id


def test_a_run_that_finishes_later_is_shown_and_the_session_model_is_not_listed_twice(
        home, digits_run):
    import time

    _, model, _ = digits_run
    home.mkdir(parents=True, exist_ok=True)
    first = _stored_run(home, model, "first")
    at = _app()
    assert at.selectbox(key="nc_explore::source").value == first
    time.sleep(1.1)  # runs are ordered by creation time, in seconds
    second = _stored_run(home, model, "second")
    # What the Train page hands over, for the run it belongs to:
    at.session_state[state.TRAINED.name] = TrainedModel(run_id=second, design=None, model=model)
    at.run()
    assert not at.exception
    source = at.selectbox(key="nc_explore::source")
    assert source.value == second  # the newer run, without a click
    # The session's model is the second run's: listed once, as that run.
    assert len(source.options) == 2 and "This session's model" not in source.options


def test_a_run_still_training_is_listed_and_says_when_it_can_be_explored(home, digits_run):
    from builder.run_store import RunStore

    home.mkdir(parents=True, exist_ok=True)
    store = RunStore(home / "neural_canvas.sqlite")
    record = store.create_run(name="live one", design={}, data={"source": "digits"}, config={},
                              status="running")
    at = _app()
    source = at.selectbox(key="nc_explore::source")
    assert source.value == record.id and "running" in source.options[0]
    assert any("can be explored when it finishes" in i.value for i in at.info)
