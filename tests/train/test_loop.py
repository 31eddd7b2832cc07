"""The training loop: live reports, Stop within a batch, NaN, early stopping, the kept epoch."""

import math
import threading

import numpy as np
import pytest

from builder.compile import build_model
from builder.data.arrays import InMemoryData
from builder.train import (
    LiveProgress,
    TrainConfig,
    read_checkpoint_info,
    train,
)
from tests.helpers import chain
from tests.train.builders import CPU, binary_data, classifier, regression_data


def test_a_short_training_lowers_the_loss_and_reports_live(tmp_path):
    progress = LiveProgress()
    epochs_seen = []
    result = train(classifier(), binary_data(), TrainConfig(epochs=4, learning_rate=0.05),
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
    data = binary_data()
    design = classifier()
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
    result = train(classifier(), binary_data(), TrainConfig(epochs=5, batch_size=1),
                   progress=progress, stop_event=event, device_plan=CPU)
    thread.join()
    assert result.status == "stopped"
    assert progress.snapshot().step - seen_at_stop[0] <= 1


def test_a_loss_that_becomes_nan_stops_the_run_with_advice(tmp_path):
    design = chain(("Dense", {"units": 8, "activation": "linear"}),
                   ("Dense", {"units": 1, "activation": "linear"}), input_shape=(4,))
    progress = LiveProgress()
    result = train(design, regression_data(), TrainConfig(optimizer="sgd", learning_rate=1.0,
                                                      epochs=5),
                   progress=progress, run_dir=tmp_path, device_plan=CPU)
    assert result.status == "diverged"
    message = result.message
    assert "The loss became NaN or infinite in epoch" in message
    assert "lower learning rate" in message and "normalise the inputs" in message
    assert "gradient clipping" in message
    assert progress.snapshot().status == "diverged"
    assert all(math.isfinite(v) for v in progress.snapshot().batch_series.get("loss", []))


class _NaNInEpochTwo(InMemoryData):
    """Clean data in epoch 1; a NaN input appears in epoch 2."""

    def __init__(self):
        x = np.ones((32, 4), "float32")
        super().__init__((x, x.sum(axis=1, keepdims=True)), task="regression",
                         name="nan in epoch two")
        self.calls = 0

    def batches(self, split, batch_size, shuffle=None, seed=None, augment=None):
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


def test_after_nan_the_weights_of_the_last_good_epoch_are_kept(tmp_path):
    design = chain(("Dense", {"units": 1, "activation": "linear"}), input_shape=(4,))
    data = _NaNInEpochTwo()
    result = train(design, data, TrainConfig(epochs=3, batch_size=8), run_dir=tmp_path,
                   device_plan=CPU)
    assert result.status == "diverged"
    assert "epoch 2" in result.message and "last good epoch were kept" in result.message
    assert all(np.isfinite(w).all() for w in result.model.get_weights())
    assert result.epochs_done == 1


def test_early_stopping_keeps_the_best_weights():
    design, data = classifier(), binary_data()
    result = train(design, data, TrainConfig(epochs=60, patience=1, learning_rate=0.5,
                                             optimizer="sgd", momentum=0.0),
                   device_plan=CPU)
    assert result.status == "early_stopped"
    assert "did not improve for 1 epoch" in result.message
    assert result.epochs_done < 60


def test_batch_and_stochastic_gradient_descent_take_the_right_steps():
    progress = LiveProgress()
    train(classifier(), binary_data(n=40), TrainConfig(epochs=1, gd_variant="batch"),
          progress=progress, device_plan=CPU)
    assert progress.snapshot().steps_per_epoch == 1
    train(classifier(), binary_data(n=40), TrainConfig(epochs=1, gd_variant="stochastic"),
          progress=progress, device_plan=CPU)
    assert progress.snapshot().steps_per_epoch == 32


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
    train(classifier(), binary_data(), TrainConfig(epochs=2), run_dir=tmp_path, device_plan=CPU,
          on_epoch=lambda row: events.append(("reported", row["epoch"])))
    assert events[:4] == [("reported", 1), ("checkpoint", 1), ("reported", 2),
                          ("checkpoint", 2)]


def test_a_stop_during_validation_keeps_the_epoch_and_says_why_it_has_no_validation():
    import threading

    from builder.train import stop_message
    from builder.train.loop import _make_callback_class

    stop = threading.Event()
    live = _make_callback_class()(None, stop, steps_per_epoch=3, writer=None, on_epoch=None)
    live.set_model(build_model(classifier()))
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
