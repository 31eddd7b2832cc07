"""Training settings, the training function, live progress, stop, NaN and checkpoints."""

import math
import threading

import numpy as np
import pytest

from builder import strategy
from builder.compile import DesignError, build_model
from builder.data.arrays import InMemoryData
from builder.train import (
    LiveProgress,
    TrainConfig,
    TrainingError,
    preflight,
    read_checkpoint_info,
    restore_checkpoint,
    train,
)
from tests.helpers import chain

CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)
TWO_CPUS = strategy.DevicePlan("mirrored", ("/cpu:0", "/cpu:1"), "CPU:0,CPU:1", "2 CPUs", False)
GPU = strategy.DevicePlan("gpu", ("/gpu:0",), "GPU:0", "GPU", True)


def _binary(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32").reshape(-1, 1)
    cut = int(n * 0.8)
    return InMemoryData((x[:cut], y[:cut]), (x[cut:], y[cut:]), task="binary", num_classes=2)


def _classifier(units=1, activation="sigmoid"):
    return chain(("Dense", {"units": 8}), ("Dense", {"units": units, "activation": activation}),
                 input_shape=(4,))


# -- settings -------------------------------------------------------------------------


def test_default_settings_are_valid_and_fill_the_task_defaults():
    config = TrainConfig()
    assert config.problems() == []
    filled = config.with_task("multiclass")
    assert filled.loss == "sparse_categorical_crossentropy"
    assert filled.metrics == ("accuracy",)
    assert TrainConfig().with_task("regression").loss == "mean_squared_error"
    assert TrainConfig(loss="huber", metrics=("rmse",)).with_task("regression").metrics == (
        "rmse",)


@pytest.mark.parametrize("changes, words", [
    ({"learning_rate": 0}, ["learning rate", "above 0"]),
    ({"learning_rate": float("nan")}, ["learning rate", "must be a number"]),
    ({"optimizer": "adagrad"}, ["Unknown optimizer 'adagrad'", "sgd, adam"]),
    ({"momentum": 1.0}, ["Momentum", "below 1"]),
    ({"epochs": 0}, ["Epochs", "from 1"]),
    ({"epochs": 2.5}, ["Epochs", "whole number"]),
    ({"batch_size": 0}, ["batch size", "from 1"]),
    ({"batch_size": True}, ["batch size", "whole number"]),
    ({"gd_variant": "full"}, ["gradient descent variant 'full'", "mini-batch"]),
    ({"schedule": "cyclic"}, ["schedule 'cyclic'", "cosine"]),
    ({"schedule": "step", "decay_rate": 0.0}, ["decay rate", "above 0"]),
    ({"patience": -1}, ["patience", "switch early stopping off"]),
    ({"seed": -5}, ["seed", "from 0"]),
    ({"clip_norm": 0.0}, ["clipping", "above 0"]),
    ({"metrics": ("f1",)}, ["Unknown metric 'f1'"]),
    ({"metrics": ("accuracy", "accuracy")}, ["listed twice"]),
    ({"loss": "hinge"}, ["Unknown loss 'hinge'"]),
    ({"mixed_precision": "yes"}, ["'mixed_precision' must be true or false"]),
])
def test_bad_settings_are_named_with_a_fix(changes, words):
    problems = TrainConfig(**changes).problems()
    assert len(problems) == 1, problems
    for word in words:
        assert word.lower() in problems[0].lower()
    with pytest.raises(ValueError) as raised:
        TrainConfig(**changes).validate()
    assert str(raised.value) == problems[0]


def test_losses_and_metrics_must_fit_the_task():
    problems = TrainConfig(loss="binary_crossentropy", metrics=("mae",)).problems("multiclass")
    assert any("Binary cross-entropy does not fit a multi-class" in p for p in problems)
    assert any("Mean absolute error does not fit a multi-class" in p for p in problems)
    assert TrainConfig(loss="huber", metrics=("rmse",)).problems("regression") == []
    assert TrainConfig().problems("clustering") == [
        "The task must be one of binary, multiclass, regression, reconstruction; got "
        "'clustering'."]


def test_device_dependent_settings():
    problems = TrainConfig(mixed_precision=True, xla=True).problems(device_plan=CPU)
    assert any("Mixed precision" in p and "Switch mixed precision off" in p for p in problems)
    assert any("XLA" in p and "Switch XLA off" in p for p in problems)
    assert TrainConfig(mixed_precision=True, xla=True).problems(device_plan=GPU) == []
    stochastic = TrainConfig(gd_variant="stochastic").problems(device_plan=TWO_CPUS)
    assert stochastic == ["Stochastic gradient descent (one sample per step) cannot be split "
                          "over 2 devices. Use mini-batch gradient descent."]


def test_gradient_descent_variants_set_the_samples_per_step():
    assert TrainConfig(gd_variant="batch", batch_size=32).effective_batch_size(500) == 500
    assert TrainConfig(gd_variant="stochastic").effective_batch_size(500) == 1
    assert TrainConfig(batch_size=64).effective_batch_size(500) == 64
    assert TrainConfig().problems(n_train=0) == [
        "The training set is empty, so there is nothing to learn from. Prepare data with at "
        "least one training sample."]


def test_settings_round_trip_and_unknown_names_are_refused():
    config = TrainConfig(optimizer="sgd", metrics=("accuracy", "auc"), clip_norm=1.0)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="Unknown training setting 'lr'"):
        TrainConfig.from_dict({"lr": 0.1})
    with pytest.raises(ValueError, match="must be a mapping"):
        TrainConfig.from_dict([1, 2])


# -- training ---------------------------------------------------------------------------


def test_a_short_training_lowers_the_loss_and_reports_live(tmp_path):
    progress = LiveProgress()
    epochs_seen = []
    result = train(_classifier(), _binary(), TrainConfig(epochs=4, learning_rate=0.05),
                   progress=progress, run_dir=tmp_path, on_epoch=epochs_seen.append,
                   device_plan=CPU)
    assert result.status == "finished" and result.message == ""
    assert result.epochs_done == 4
    losses = [row["loss"] for row in result.history]
    assert losses[-1] < 0.7 * losses[0]
    assert [row["epoch"] for row in epochs_seen] == [1, 2, 3, 4]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(
        result.history[-1])
    snapshot = progress.snapshot()
    assert snapshot.status == "finished" and snapshot.fraction == 1.0
    assert snapshot.epoch == 4 and len(snapshot.epochs) == 4
    # 6 batches per epoch: every batch is a point, on a fractional-epoch axis.
    assert len(snapshot.batch_x) == 24 and snapshot.batch_x[-1] == pytest.approx(4.0)
    assert len(snapshot.batch_series["loss"]) == 24
    assert all(math.isfinite(v) for v in snapshot.batch_series["loss"])
    assert snapshot.samples_per_second > 0
    assert "val_accuracy" in result.final and read_checkpoint_info(tmp_path)["epochs_done"] == 4


class _StopAtStep(LiveProgress):
    """Sets the stop event from inside the training thread after a given batch."""

    def __init__(self, event: threading.Event, step: int):
        super().__init__()
        self.event, self.stop_step, self.steps_seen = event, step, 0

    def batch(self, epoch, step, logs):
        super().batch(epoch, step, logs)
        self.steps_seen += 1
        if step == self.stop_step:
            self.event.set()


def test_stop_takes_effect_within_one_batch_and_keeps_what_was_learned(tmp_path):
    event = threading.Event()
    progress = _StopAtStep(event, step=2)
    data = _binary()
    design = _classifier()
    config = TrainConfig(epochs=50, batch_size=4, seed=1)
    result = train(design, data, config, progress=progress, stop_event=event,
                   run_dir=tmp_path, device_plan=CPU)
    assert result.status == "stopped"
    assert progress.steps_seen == 3  # the batch in flight when Stop came, and no more
    assert result.epochs_done == 0 and result.history[0]["partial"] is True
    assert not any(k.startswith("val_") for k in result.history[0])
    assert "what was learned is kept" in result.message
    # The partial epoch's learning is in the model and in the checkpoint.
    fresh = train(design, data, TrainConfig(epochs=1, batch_size=4, seed=1),
                  stop_event=_set_event(), device_plan=CPU)
    moved = [not np.allclose(a, b) for a, b in zip(result.model.get_weights(),
                                                   fresh.model.get_weights())]
    assert any(moved)
    assert read_checkpoint_info(tmp_path)["epochs_done"] == 0
    # Continue trains on from there.
    more = train(design, data, TrainConfig(epochs=2, batch_size=4, seed=1), model=result.model,
                 initial_epoch=result.epochs_done, device_plan=CPU)
    assert more.status == "finished" and more.epochs_done == 2
    assert [row["epoch"] for row in more.history] == [1, 2]


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def test_stop_from_another_thread_stops_within_a_batch():
    event = threading.Event()
    progress = LiveProgress()
    seen_at_stop = []

    def stopper():
        while progress.snapshot().step < 5:
            threading.Event().wait(0.002)
        seen_at_stop.append(progress.snapshot().step)
        event.set()

    thread = threading.Thread(target=stopper)
    thread.start()
    result = train(_classifier(), _binary(), TrainConfig(epochs=5, batch_size=1),
                   progress=progress, stop_event=event, device_plan=CPU)
    thread.join()
    assert result.status == "stopped"
    assert progress.snapshot().step - seen_at_stop[0] <= 1


def _regression(scale=100.0):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 4)) * scale).astype("float32")
    y = (x.sum(axis=1, keepdims=True) * scale).astype("float32")
    return InMemoryData((x, y), task="regression")


def test_a_loss_that_becomes_nan_stops_the_run_with_advice(tmp_path):
    design = chain(("Dense", {"units": 8, "activation": "linear"}),
                   ("Dense", {"units": 1, "activation": "linear"}), input_shape=(4,))
    progress = LiveProgress()
    result = train(design, _regression(), TrainConfig(optimizer="sgd", learning_rate=1.0,
                                                      epochs=5),
                   progress=progress, run_dir=tmp_path, device_plan=CPU)
    assert result.status == "diverged"
    message = result.message
    assert "The loss became NaN or infinite in epoch" in message
    assert "lower learning rate" in message and "normalise the inputs" in message
    assert "gradient clipping" in message
    assert progress.snapshot().status == "diverged"
    assert all(math.isfinite(v) for v in progress.snapshot().batch_series.get("loss", []))


class _NaNInEpochTwo:
    """Clean data in epoch 1; a NaN input appears in epoch 2."""

    task, num_classes = "regression", None

    def __init__(self):
        self.calls = 0

    def size(self, split):
        return 32 if split == "train" else 0

    def batches(self, split, batch_size, shuffle=False, seed=None):
        import tensorflow as tf

        def rows():
            self.calls += 1
            x = np.ones((32, 4), "float32")
            if self.calls > 1:
                x[5, 0] = np.nan
            yield from zip(x, x.sum(axis=1, keepdims=True))

        spec = (tf.TensorSpec((4,), tf.float32), tf.TensorSpec((1,), tf.float32))
        dataset = tf.data.Dataset.from_generator(rows, output_signature=spec)
        return dataset.apply(tf.data.experimental.assert_cardinality(32)).batch(batch_size)

    def describe(self):
        return {"name": "nan in epoch two"}


def test_after_nan_the_weights_of_the_last_good_epoch_are_kept(tmp_path):
    design = chain(("Dense", {"units": 1, "activation": "linear"}), input_shape=(4,))
    data = _NaNInEpochTwo()
    result = train(design, data, TrainConfig(epochs=3, batch_size=8), run_dir=tmp_path,
                   device_plan=CPU)
    assert result.status == "diverged"
    assert "epoch 2" in result.message and "last good epoch were kept" in result.message
    assert all(np.isfinite(w).all() for w in result.model.get_weights())
    assert result.epochs_done == 1


def test_the_checkpoint_restores_weights_and_optimizer_state(tmp_path):
    design, data = _classifier(), _binary()
    first = train(design, data, TrainConfig(epochs=2), run_dir=tmp_path, device_plan=CPU)
    resumed = train(design, data, TrainConfig(epochs=3), run_dir=tmp_path, resume=True,
                    device_plan=CPU)
    assert resumed.epochs_done == 3 and [r["epoch"] for r in resumed.history] == [3]
    assert int(resumed.model.optimizer.iterations) == int(first.model.optimizer.iterations) + 6
    other = chain(("Dense", {"units": 5}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                  input_shape=(4,))
    with pytest.raises(TrainingError, match="does not fit|does not match"):
        train(other, data, TrainConfig(epochs=3), run_dir=tmp_path, resume=True,
              device_plan=CPU)
    with pytest.raises(TrainingError, match="no checkpoint"):
        restore_checkpoint(first.model, tmp_path / "empty")


def test_early_stopping_keeps_the_best_weights():
    design, data = _classifier(), _binary()
    result = train(design, data, TrainConfig(epochs=60, patience=1, learning_rate=0.5,
                                             optimizer="sgd", momentum=0.0),
                   device_plan=CPU)
    assert result.status == "early_stopped"
    assert "did not improve for 1 epoch" in result.message
    assert result.epochs_done < 60


def test_designs_that_do_not_fit_the_data_are_refused_with_the_fix():
    data = _binary()
    problems = preflight(_classifier(units=3, activation="softmax"), data, TrainConfig())
    assert any("must give 1 value per sample" in p and "units to 1" in p for p in problems)
    assert len(problems) == 1, problems  # no second sentence that contradicts the first
    wrong_input = chain(("Dense", {"units": 1, "activation": "sigmoid"}), input_shape=(7,))
    assert any("expects samples of shape (7,)" in p and "Set the Input's shape to (4,)" in p
               for p in preflight(wrong_input, data, TrainConfig()))
    relu = _classifier(activation="relu")
    assert any("uses relu" in p and "Set its activation to sigmoid" in p
               for p in preflight(relu, data, TrainConfig()))
    broken = chain(("Dense", {"units": -1}), input_shape=(4,))
    assert any("fix them on the Build page" in p for p in preflight(broken, data, TrainConfig()))
    assert preflight(_classifier(), data, TrainConfig()) == []
    with pytest.raises(TrainingError, match="units to 1"):
        train(_classifier(units=3, activation="softmax"), data, TrainConfig(epochs=1),
              device_plan=CPU)
    with pytest.raises(DesignError):
        train(broken, data, TrainConfig(epochs=1), device_plan=CPU)


def test_two_softmax_units_are_a_binary_classifier_with_binary_scores():
    """Two classes as two softmax probabilities: cross-entropy, accuracy, AUC, precision."""
    data = _binary()
    design = _classifier(units=2, activation="softmax")
    assert preflight(design, data, TrainConfig()) == []
    config = TrainConfig(epochs=4, learning_rate=0.05, seed=1,
                         metrics=("accuracy", "auc", "precision", "recall"))
    result = train(design, data, config, device_plan=CPU)
    assert result.status == "finished"
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    x, y = (np.asarray(t) for t in next(iter(data.batches("validation", 1000, shuffle=False))))
    probabilities = result.model.predict(x, verbose=0)
    positive = probabilities[:, 1] > 0.5
    truth = y.reshape(-1) == 1
    assert result.final["val_accuracy"] == pytest.approx(np.mean(positive == truth), abs=1e-6)
    assert result.final["val_precision"] == pytest.approx(
        np.sum(positive & truth) / max(np.sum(positive), 1), abs=1e-6)
    assert result.final["val_recall"] == pytest.approx(np.sum(positive & truth) / np.sum(truth),
                                                       abs=1e-6)
    assert 0.5 < result.final["val_auc"] <= 1.0


@pytest.mark.parametrize("units, activation, loss, words", [
    (2, "relu", None, ["gives 2 values per sample with relu", "Set its activation to softmax"]),
    (2, "softmax", "mean_squared_error", ["compares one value per sample",
                                          "Choose binary cross-entropy"]),
    (1, "softmax", None, ["softmax over one value", "Use a sigmoid activation"]),
    (3, "softmax", None, ["must give 1 value per sample (sigmoid", "or 2 (softmax",
                          "Set its units to 1"]),
])
def test_binary_outputs_that_cannot_work_get_one_consistent_fix(units, activation, loss, words):
    problems = preflight(_classifier(units=units, activation=activation), _binary(),
                         TrainConfig(loss=loss))
    assert len(problems) == 1, problems
    assert all(word in problems[0] for word in words), problems


def test_linear_outputs_train_with_cross_entropy_on_logits():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 4)).astype("float32")
    y = np.argmax(x[:, :3], axis=1).astype("int32")
    data = InMemoryData((x[:120], y[:120]), (x[120:], y[120:]), task="multiclass",
                        num_classes=3)
    design = _classifier(units=3, activation="linear")
    for loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        result = train(design, data, TrainConfig(epochs=8, learning_rate=0.05, loss=loss),
                       device_plan=CPU)
        assert result.history[-1]["accuracy"] > 0.7, loss


def test_batch_and_stochastic_gradient_descent_take_the_right_steps():
    progress = LiveProgress()
    train(_classifier(), _binary(n=40), TrainConfig(epochs=1, gd_variant="batch"),
          progress=progress, device_plan=CPU)
    assert progress.snapshot().steps_per_epoch == 1
    train(_classifier(), _binary(n=40), TrainConfig(epochs=1, gd_variant="stochastic"),
          progress=progress, device_plan=CPU)
    assert progress.snapshot().steps_per_epoch == 32


def test_schedules_change_the_learning_rate():
    design, data = _classifier(), _binary()
    rates = {}
    for schedule in ("constant", "step", "cosine"):
        result = train(design, data, TrainConfig(epochs=3, schedule=schedule, decay_epochs=1,
                                                 decay_rate=0.5, learning_rate=0.01),
                       device_plan=CPU)
        rates[schedule] = [row["learning_rate"] for row in result.history]
    assert rates["constant"] == pytest.approx([0.01, 0.01, 0.01])
    assert rates["step"] == pytest.approx([0.005, 0.0025, 0.00125])
    assert rates["cosine"][0] > rates["cosine"][1] > rates["cosine"][2]


def test_live_progress_thins_points_and_recovers_batch_values():
    progress = LiveProgress(max_points=10)
    progress.begin(total_epochs=2, initial_epoch=0, steps_per_epoch=30, batch_size=1,
                   n_train=30)
    # Keras reports running means; a constant batch loss of 2.0 stays 2.0.
    for step in range(30):
        progress.batch(0, step, {"loss": 2.0})
    snapshot = progress.snapshot()
    assert len(snapshot.batch_x) <= 10
    assert snapshot.batch_series["loss"] == pytest.approx([2.0] * len(snapshot.batch_x))
    assert snapshot.fraction == pytest.approx(0.5)
    assert snapshot.eta_seconds is not None


def test_mixed_precision_keeps_the_output_float32():
    import keras

    from builder.train import build_training_model

    config = TrainConfig(mixed_precision=True).with_task("binary")
    model = build_training_model(_classifier(), _binary(), config, steps_per_epoch=6)
    assert model.get_layer("n1").compute_dtype == "float16"
    assert model.outputs[0].dtype == "float32"
    assert model.layers[-1].name == "n2_float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # The policy is set only while building, and only in this thread.
    assert keras.config.dtype_policy().name == "float32"


def test_xla_compilation_reaches_the_model():
    import tensorflow as tf

    result = train(_classifier(), _binary(), TrainConfig(epochs=1, xla=True), device_plan=GPU,
                   strategy=tf.distribute.get_strategy())
    assert result.status == "finished" and result.model.jit_compile is True


def test_regression_errors_are_reported_in_the_targets_own_units(tmp_path):
    """Training sees standardised targets; the per-epoch MAE and the final one read in units."""
    import keras

    from builder.data.samples import load_sample
    from builder.data.tabular import prepare_tabular
    from builder.target_metrics import TargetUnitsError
    from tests.helpers import chain

    source = load_sample("diabetes")
    data = prepare_tabular(source, source.target, task="regression")
    std = float(np.asarray(data.info["target_std"]).reshape(-1)[0])
    assert std > 10  # disease progression spreads over tens of points
    design = chain(("Dense", {"units": 16, "activation": "relu"}), ("Dense", {"units": 1}),
                   input_shape=data.input_shape)
    result = train(design, data, TrainConfig(epochs=2, metrics=("mae", "rmse"), seed=0),
                   run_dir=tmp_path)
    last = [row for row in result.history if not row.get("partial")][-1]
    assert last["val_mae"] == pytest.approx(result.final["val_mae"], rel=1e-3)
    assert last["val_rmse"] == pytest.approx(result.final["val_rmse"], rel=1e-3)
    assert last["val_mae"] > 1.0  # in points of progression, not standard deviations
    saved = tmp_path / "regression.keras"
    result.model.save(saved)
    loaded = keras.models.load_model(saved, safe_mode=True)  # the metric is registered
    assert loaded.count_params() == result.model.count_params()

    metric = TargetUnitsError([2.0, 10.0], kind="rmse")
    metric.update_state(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]))
    assert float(metric.result()) == pytest.approx(np.sqrt((4 + 100) / 2))
    again = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert again.get_config() == metric.get_config()


def test_each_epoch_is_reported_before_its_checkpoint_is_written(tmp_path, monkeypatch):
    # A run killed in between must not resume past an epoch its history never got.
    from builder.train import checkpoints

    events = []
    save = checkpoints._CheckpointWriter.save

    def recorded_save(self, model, epochs_done):
        events.append(("checkpoint", epochs_done))
        save(self, model, epochs_done)

    monkeypatch.setattr(checkpoints._CheckpointWriter, "save", recorded_save)
    train(_classifier(), _binary(), TrainConfig(epochs=2), run_dir=tmp_path, device_plan=CPU,
          on_epoch=lambda row: events.append(("reported", row["epoch"])))
    assert events[:4] == [("reported", 1), ("checkpoint", 1), ("reported", 2),
                          ("checkpoint", 2)]


def test_a_stop_during_validation_keeps_the_epoch_and_says_why_it_has_no_validation():
    import threading

    from builder.train import stop_message
    from builder.train.loop import _make_callback_class

    stop = threading.Event()
    live = _make_callback_class()(None, stop, steps_per_epoch=3, writer=None, on_epoch=None)
    live.set_model(build_model(_classifier()))
    live.on_epoch_begin(0)
    for step in range(3):
        live.on_train_batch_end(step, {"loss": 0.5})
    stop.set()
    live.on_test_batch_end(0)  # the stop arrives while validating
    live.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.9})
    (row,) = live.rows
    assert "partial" not in row and "val_loss" not in row  # a full epoch, no validation
    message = stop_message(1, live.validation_cut_epoch)
    assert "Stopped after 1 full epoch(s)" in message
    assert "epoch 1 was being validated" in message
    assert "being validated" not in stop_message(3, 0)


def test_scores_of_a_standardised_regression_say_their_units():
    from builder.train import score_words

    assert score_words("test_loss", True) == "test loss (standardised target)"
    assert score_words("val_mae", True) == "val mae (target units)"
    assert score_words("val_accuracy", True) == "val accuracy"
    assert score_words("test_loss", False) == "test loss"


def test_the_best_epochs_weights_are_kept_and_the_run_says_which():
    """Validation loss rises after its lowest point: the model ends with the best epoch."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32").reshape(-1, 1)
    noisy = y.copy()
    noisy[:20] = 1 - noisy[:20]  # training labels mostly flipped: fitting them hurts
    data = InMemoryData((x[:32], noisy[:32]), (x[32:], y[32:]), task="binary", num_classes=2)
    design = chain(("Dense", {"units": 32}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                   input_shape=(4,))
    config = TrainConfig(epochs=25, batch_size=8, learning_rate=0.05, seed=0)
    result = train(design, data, config, device_plan=CPU)
    losses = [row["val_loss"] for row in result.history]
    best = int(np.argmin(losses)) + 1
    assert best < 25, losses  # the data makes the last epoch worse than the best
    assert result.kept_epoch == best and result.final["kept_epoch"] == best
    assert f"Kept the weights of epoch {best}" in result.message
    assert result.final["val_loss"] == pytest.approx(losses[best - 1])
    scores = result.model.evaluate(x[32:], y[32:], verbose=0, return_dict=True)
    assert scores["loss"] == pytest.approx(losses[best - 1], rel=1e-4)
    last = train(design, data, TrainConfig(epochs=25, batch_size=8, learning_rate=0.05,
                                           seed=0, keep_best=False), device_plan=CPU)
    assert last.kept_epoch == 0
    assert last.final["val_loss"] == pytest.approx(last.history[-1]["val_loss"])


def test_a_continue_whose_epochs_are_all_worse_keeps_the_earlier_best(tmp_path):
    """The best epoch is kept across sessions: Continue (and Resume after a restart) in a
    new process must not end with a worse model than the one it started from."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32").reshape(-1, 1)
    clean = InMemoryData((x[:48], y[:48]), (x[48:], y[48:]), task="binary", num_classes=2)
    flipped = InMemoryData((x[:48], 1 - y[:48]), (x[48:], y[48:]), task="binary",
                           num_classes=2)  # fitting these labels can only hurt validation
    design = chain(("Dense", {"units": 16}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                   input_shape=(4,))
    first = train(design, clean, TrainConfig(epochs=6, batch_size=8, learning_rate=0.05,
                                             seed=0), run_dir=tmp_path, device_plan=CPU)
    best_value = min(row["val_loss"] for row in first.history)
    best_epoch = 1 + [row["val_loss"] for row in first.history].index(best_value)
    more = train(design, flipped, TrainConfig(epochs=10, batch_size=8, learning_rate=0.05,
                                              seed=0), run_dir=tmp_path, resume=True,
                 device_plan=CPU)
    assert min(row["val_loss"] for row in more.history) > best_value
    assert more.kept_epoch == best_epoch and more.final["kept_epoch"] == best_epoch
    assert more.final["val_loss"] == pytest.approx(best_value)
    assert f"Kept the weights of epoch {best_epoch}" in more.message
    scores = more.model.evaluate(x[48:], y[48:], verbose=0, return_dict=True)
    assert scores["loss"] == pytest.approx(best_value, rel=1e-4)
