"""Jobs: training outside the page, the per-device queue, Continue, resume after a crash."""

import os
import signal
import sqlite3
import time

import keras
import numpy as np
import pytest

from builder import jobs, learning_cycle, strategy
from builder.data.arrays import InMemoryData
from builder.jobs import JobManager
from builder.run_store import RunStore
from builder.train import TrainConfig, read_checkpoint_info
from tests.helpers import chain

CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)


def _data(n=160):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] - x[:, 2] > 0).astype("float32").reshape(-1, 1)
    cut = int(n * 0.75)
    return InMemoryData((x[:cut], y[:cut]), (x[cut:], y[cut:]), task="binary", num_classes=2,
                        name="toy")


def _design():
    design = chain(("Dense", {"units": 8}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                   input_shape=(4,))
    design.name = "toy mlp"
    return design


@pytest.fixture
def manager(tmp_path):
    manager = JobManager(RunStore(tmp_path / "neural_canvas.sqlite"), device_plan=CPU)
    yield manager
    for job in manager.active_jobs():  # leave no training thread behind
        job.stop()
        job.wait(60)


def _wait(job, timeout=60):
    assert job.wait(timeout), f"job {job.run_id} did not end in {timeout} s"


def _wait_until(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_job_trains_in_the_background_and_records_the_run(manager):
    job = manager.submit(_design(), _data(), TrainConfig(epochs=3, learning_rate=0.05))
    assert manager.get(job.run_id) is job
    _wait(job)
    snapshot = job.progress.snapshot()
    assert snapshot.status == "finished" and snapshot.epoch == 3
    record = manager.store.get(job.run_id)
    assert record.status == "finished" and record.epochs_done == 3
    assert record.name == "toy mlp" and record.device == "CPU"
    assert record.design["nodes"][1]["params"]["units"] == 8
    assert record.data["name"] == "toy" and record.data["sizes"]["train"] == 120
    assert record.config["epochs"] == 3 and record.config["loss"] == "binary_crossentropy"
    assert [e.epoch for e in manager.store.epochs(job.run_id)] == [1, 2, 3]
    assert "val_accuracy" in record.final
    model = keras.saving.load_model(record.artifacts["model"])
    assert model.predict(np.zeros((2, 4), "float32"), verbose=0).shape == (2, 1)
    assert record.checkpoint is not None
    assert '"epoch": 3' in open(record.artifacts["history"]).read()
    cycle = learning_cycle.load(record.artifacts["learning_cycle"])
    assert cycle["gradient_norms"]["epochs"] == [0, 1, 2, 3]


def test_a_second_job_waits_in_the_device_queue_and_knows_its_place(manager):
    slow = manager.submit(_design(), _data(), TrainConfig(epochs=200, gd_variant="stochastic"))
    _wait_until(lambda: slow.progress.snapshot().status == "running")
    second = manager.submit(_design(), _data(), TrainConfig(epochs=1))
    third = manager.submit(_design(), _data(), TrainConfig(epochs=1))
    _wait_until(lambda: third.progress.snapshot().queue_position == 2)
    assert second.progress.snapshot().status == "queued"
    assert second.progress.snapshot().queue_position == 1
    assert manager.queue_position(third) == 2
    assert manager.store.get(second.run_id).status == "queued"
    # Leaving the queue before the turn comes cancels the run.
    third.stop()
    _wait(third)
    assert third.progress.snapshot().status == "cancelled"
    assert manager.store.get(third.run_id).status == "cancelled"
    assert second.progress.snapshot().queue_position == 1
    slow.stop()
    _wait(slow)
    _wait(second)
    assert slow.progress.snapshot().status == "stopped"
    assert second.progress.snapshot().status == "finished"
    assert slow.progress.snapshot().epoch < 200


def test_stop_then_continue_trains_more_epochs_from_the_same_model(manager):
    job = manager.submit(_design(), _data(), TrainConfig(epochs=50, batch_size=4))
    _wait_until(lambda: job.progress.snapshot().epoch >= 1)
    manager.stop(job.run_id)
    _wait(job)
    assert job.status == "stopped"
    assert not manager.stop(job.run_id)
    done = job.epochs_done
    weights = [w.copy() for w in job.model.get_weights()]
    again = manager.continue_run(job.run_id, 2)
    assert again is job
    _wait(job)
    assert job.status == "finished" and job.epochs_done == done + 2
    assert any(not np.allclose(a, b) for a, b in zip(weights, job.model.get_weights()))
    epochs = [e.epoch for e in manager.store.epochs(job.run_id)]
    assert epochs == list(range(1, done + 3))
    assert manager.store.get(job.run_id).config["epochs"] == done + 2
    # The new worker keeps the learning-cycle record of the sessions before it.
    cycle = learning_cycle.load(job.artifacts["learning_cycle"])
    assert cycle["gradient_norms"]["epochs"] == list(range(0, done + 3))
    assert cycle["weight_histograms"]["epochs"] == list(range(0, done + 3))
    with pytest.raises(ValueError, match="extra epochs"):
        manager.continue_run(job.run_id, 0)


def test_a_run_cut_short_by_a_crash_is_interrupted_and_resumes_from_its_checkpoint(tmp_path):
    path = tmp_path / "neural_canvas.sqlite"
    first = JobManager(RunStore(path), device_plan=CPU)
    job = first.submit(_design(), _data(), TrainConfig(epochs=3))
    _wait(job)
    # The server died mid-run: the record still says running, owned by a process now gone.
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET status = 'running', owner_token = 'dead', owner_pid = "
                     "999999999 WHERE id = ?", (job.run_id,))
        conn.execute("DELETE FROM run_epochs WHERE run_id = ? AND epoch = 3", (job.run_id,))
    info = read_checkpoint_info(job.run_dir)
    assert info["epochs_done"] == 3

    restarted = JobManager(RunStore(path), device_plan=CPU)
    assert restarted.recovered == [job.run_id]
    record = restarted.store.get(job.run_id)
    assert record.status == "interrupted" and "Resume" in record.message
    with pytest.raises(ValueError, match="needs the run's data"):
        restarted.resume_run(job.run_id, None)
    regression = InMemoryData((np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32")),
                              task="regression")
    with pytest.raises(ValueError, match="trained for binary"):
        restarted.resume_run(job.run_id, regression)

    resumed = restarted.resume_run(job.run_id, _data(), extra_epochs=2)
    _wait(resumed)
    assert resumed.status == "finished" and resumed.epochs_done == 5
    assert [e.epoch for e in restarted.store.epochs(job.run_id)] == [1, 2, 4, 5]
    assert restarted.store.get(job.run_id).status == "finished"


def test_training_runs_in_a_worker_process_that_can_die_alone(manager):
    job = manager.submit(_design(), _data(), TrainConfig(epochs=400, batch_size=4))
    _wait_until(lambda: read_checkpoint_info(job.run_dir) is not None)
    worker_pid = job.process.pid
    assert worker_pid != os.getpid()
    os.kill(worker_pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    _wait(job)
    snapshot = job.progress.snapshot()
    assert snapshot.status == "interrupted"
    assert "killed (SIGKILL" in snapshot.message and "Resume" in snapshot.message
    record = manager.store.get(job.run_id)
    assert record.status == "interrupted" and record.epochs_done >= 1
    # The server and its other runs go on: this run resumes from its last full epoch.
    resumed = manager.resume_run(job.run_id, _data(), extra_epochs=0)
    assert resumed is job
    job.stop()
    _wait(job)
    assert job.status in ("stopped", "finished")
    other = manager.submit(_design(), _data(), TrainConfig(epochs=1))
    _wait(other)
    assert other.status == "finished"


def test_a_worker_that_does_not_stop_after_stop_is_ended_and_can_resume(manager, monkeypatch):
    from builder import jobs

    monkeypatch.setattr(jobs, "STOP_GRACE_SECONDS", 1.0)
    job = manager.submit(_design(), _data(), TrainConfig(epochs=400, batch_size=4))
    _wait_until(lambda: read_checkpoint_info(job.run_dir) is not None)
    os.kill(job.process.pid, signal.SIGSTOP)  # hung: it can no longer read "stop"
    job.stop()
    _wait(job)
    snapshot = job.progress.snapshot()
    assert snapshot.status == "interrupted", snapshot.message
    assert "did not stop within 1 s of Stop" in snapshot.message
    assert "press Resume" in snapshot.message
    resumed = manager.resume_run(job.run_id, _data(), extra_epochs=0)
    resumed.stop()
    _wait(resumed)
    assert resumed.status in ("stopped", "finished")


def test_a_spare_worker_waits_with_tensorflow_loaded_and_takes_the_next_run(tmp_path):
    manager = JobManager(RunStore(tmp_path / "neural_canvas.sqlite"), device_plan=CPU,
                         spare_worker=True)
    spare = manager._spare
    assert spare is not None and spare.poll() is None
    job = manager.submit(_design(), _data(), TrainConfig(epochs=1))
    _wait(job)
    assert job.process is spare and job.status == "finished"
    _wait_until(lambda: manager._spare is not None and manager._spare is not spare)
    assert (job.run_dir / jobs.WORKER_LOG).is_file()
    second = manager.submit(_design(), _data(), TrainConfig(epochs=1))
    _wait(second)
    assert second.status == "finished" and second.process.pid != spare.pid
    last = manager._spare
    last.stdin.close()  # as when the app goes away: the spare ends quietly
    assert last.wait(60) == 0


def test_the_live_progress_comes_from_the_worker_batch_by_batch(manager):
    job = manager.submit(_design(), _data(), TrainConfig(epochs=2, batch_size=8))
    _wait(job)
    snapshot = job.progress.snapshot()
    assert snapshot.steps_per_epoch == 15 and snapshot.epoch == 2
    assert len(snapshot.batch_x) == 30 and snapshot.batch_x[-1] == pytest.approx(2.0)
    assert {"loss", "accuracy"} <= set(snapshot.batch_series)
    assert [row["epoch"] for row in snapshot.epochs] == [1, 2]
    assert snapshot.final and snapshot.samples_per_second > 0
    log_text = (job.run_dir / jobs.WORKER_LOG).read_text()
    assert "Traceback" not in log_text


def test_a_job_that_cannot_train_fails_with_the_sentence(manager):
    wrong = chain(("Dense", {"units": 3, "activation": "softmax"}), input_shape=(4,))
    job = manager.submit(wrong, _data(), TrainConfig(epochs=1))
    _wait(job)
    snapshot = job.progress.snapshot()
    assert snapshot.status == "failed"
    assert "must give 1 value per sample" in snapshot.message
    assert manager.store.get(job.run_id).status == "failed"
    with pytest.raises(ValueError, match="learning rate"):
        manager.submit(_design(), _data(), TrainConfig(learning_rate=-1.0))


def test_the_manager_is_one_per_workspace_and_process(tmp_path):
    path = tmp_path / "neural_canvas.sqlite"
    assert jobs.manager(path) is jobs.manager(path)
    other = tmp_path / "other" / "neural_canvas.sqlite"
    assert jobs.manager(other) is not jobs.manager(path)


def test_forget_removes_a_finished_run(manager):
    job = manager.submit(_design(), _data(), TrainConfig(epochs=1))
    _wait(job)
    folder = job.run_dir
    manager.forget(job.run_id, delete_files=True)
    assert manager.get(job.run_id) is None and manager.store.get(job.run_id) is None
    assert not folder.exists()


# -- GAN runs: a generator against a discriminator, through the same queue -----------------


def _gan_pair(image=(8, 8, 1)):
    from tests.test_gan import tiny_pair

    generator, discriminator = tiny_pair(image=image)
    generator.name, generator.role = "tiny generator", "generator"
    discriminator.name, discriminator.role = "tiny discriminator", "discriminator"
    return generator, discriminator


def _halves(n=96):
    from tests.test_gan import _images

    return _images(n)


def test_a_gan_run_records_both_designs_losses_grids_and_the_generator(manager):
    from builder import gan_training
    from builder.gan_training import GanConfig

    generator, discriminator = _gan_pair()
    job = manager.submit_gan(generator, discriminator, _halves(),
                             GanConfig(epochs=2, batch_size=16, samples=9))
    _wait(job)
    snapshot = job.progress.snapshot()
    assert snapshot.status == "finished" and snapshot.epoch == 2
    assert {"d_loss", "g_loss"} <= set(snapshot.batch_series)
    assert snapshot.grid.shape == (9, 8, 8, 1) and snapshot.grid_epoch == 2
    record = manager.store.get(job.run_id)
    assert record.status == "finished" and record.name == "tiny generator"
    assert record.design["role"] == "generator"
    pair = gan_training.designs_of(record.design)
    assert [d.role for d in pair] == ["generator", "discriminator"]
    assert record.config["kind"] == "gan" and record.config["epochs"] == 2
    rows = manager.store.epochs(job.run_id)
    assert [e.epoch for e in rows] == [1, 2]
    assert all({"d_loss", "g_loss"} <= set(e.metrics) for e in rows)
    assert gan_training.grid_epochs(record.artifacts["grids"]) == [0, 1, 2]
    generator_model = keras.saving.load_model(record.artifacts["model"])
    assert generator_model.predict(np.zeros((3, 8), "float32"), verbose=0).shape == (3, 8, 8, 1)
    judge = keras.saving.load_model(record.artifacts["discriminator"])
    assert judge.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0).shape == (2, 1)
    assert record.checkpoint is not None


def test_a_gan_run_stops_within_an_epoch_and_continues(manager):
    from builder.gan_training import GanConfig

    generator, discriminator = _gan_pair()
    job = manager.submit_gan(generator, discriminator, _halves(),
                             GanConfig(epochs=500, batch_size=4, samples=4))
    _wait_until(lambda: job.progress.snapshot().epoch >= 1)
    manager.stop(job.run_id)
    _wait(job)
    assert job.status == "stopped" and job.epochs_done < 500
    done = job.epochs_done
    weights = [w.copy() for w in job.generator.get_weights()]
    again = manager.continue_run(job.run_id, 2)
    assert again is job
    _wait(job)
    assert job.status == "finished" and job.epochs_done == done + 2
    assert any(not np.allclose(a, b) for a, b in zip(weights, job.generator.get_weights()))
    assert [e.epoch for e in manager.store.epochs(job.run_id)] == list(range(1, done + 3))
    assert manager.store.get(job.run_id).config["epochs"] == done + 2


def test_a_gan_run_resumes_after_a_restart_from_its_checkpoint(tmp_path):
    from builder.gan_training import GanConfig

    path = tmp_path / "neural_canvas.sqlite"
    first = JobManager(RunStore(path), device_plan=CPU)
    generator, discriminator = _gan_pair()
    job = first.submit_gan(generator, discriminator, _halves(),
                           GanConfig(epochs=1, batch_size=16, samples=4))
    _wait(job)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET status = 'running', owner_token = 'dead', owner_pid = "
                     "999999999 WHERE id = ?", (job.run_id,))
    restarted = JobManager(RunStore(path), device_plan=CPU)
    assert restarted.recovered == [job.run_id]
    resumed = restarted.resume_run(job.run_id, _halves(), extra_epochs=1)
    _wait(resumed)
    assert resumed.status == "finished" and resumed.epochs_done == 2
    assert resumed.is_gan and [e.epoch for e in restarted.store.epochs(job.run_id)] == [1, 2]


def test_a_gan_whose_images_do_not_fit_is_refused_with_the_shapes(manager):
    from builder.gan_training import GanConfig

    generator, discriminator = _gan_pair(image=(6, 6, 1))
    with pytest.raises(ValueError, match=r"\(6, 6, 1\).*\(8, 8, 1\)"):
        manager.submit_gan(generator, discriminator, _halves(), GanConfig(epochs=1))
    assert manager.store.list_runs() == []
