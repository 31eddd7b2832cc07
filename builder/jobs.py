"""Training jobs that run outside the page script, one per device at a time.

A :class:`JobManager` lives once per process (:func:`manager`), so Streamlit
reruns, page switches, a closed tab and a second browser tab all see the same
jobs: a page keeps only the run id and polls ``job.progress.snapshot()``.

Each job trains in its own thread. Jobs that want the same device (the same
:attr:`DevicePlan.key`) wait in a first-come queue and know their place in it.
Every run is recorded in the :class:`RunStore`: its status, per-epoch metrics,
final scores and files; a run whose process died shows as interrupted after a
restart and can be resumed from its last checkpoint.

A GAN (a generator design against a discriminator design, :func:`JobManager.submit_gan`)
is a run like any other: the same queue, stop, Continue and resume; its job holds
the discriminator as ``partner`` and trains through :mod:`builder.gan_training`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from builder import gan_training
from builder import strategy as strategy_module
from builder.design import Design, DesignFormatError
from builder.run_store import RunRecord, RunStore, default_path
from builder.train import (
    LiveProgress,
    TrainConfig,
    TrainingError,
    describe_data,
    learning_cycle_recorder,
    read_checkpoint_info,
    split_size,
    train,
)

log = logging.getLogger(__name__)

ACTIVE = ("queued", "starting", "running", "stopping", "saving")
HEARTBEAT_SECONDS = 20.0
LEARNING_CYCLE_FILE = "learning_cycle.json"


@dataclass
class Job:
    """One run's training, live in this process.

    Attributes:
        run_id: the run's id in the store.
        progress: what the page polls.
        model: the trained model after a session (Continue trains it further).
        epochs_done: full epochs trained so far.
    """

    run_id: str
    name: str
    design: Design
    data: object
    config: TrainConfig
    plan: strategy_module.DevicePlan
    run_dir: Path
    progress: LiveProgress
    stop_event: threading.Event = field(default_factory=threading.Event)
    model: object = None
    epochs_done: int = 0
    thread: threading.Thread | None = None
    resume: bool = False
    serving_model: object = None
    recorder: object = None
    artifacts: dict = field(default_factory=dict)
    submitted_at: float = field(default_factory=time.time)
    partner: Design | None = None  # a GAN's discriminator (``design`` is its generator)

    @property
    def is_gan(self) -> bool:
        return self.partner is not None

    @property
    def generator(self):
        """A GAN job's trained generator (None before the first epoch or for other runs)."""
        return getattr(self.model, "generator", None) if self.is_gan else None

    @property
    def status(self) -> str:
        return self.progress.status

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def stop(self) -> None:
        """Stop after the current batch (or leave the queue); what was learned is kept."""
        self.stop_event.set()
        if self.status in ("starting", "running"):
            self.progress.set_status("stopping", "Stopping after the current batch...")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current session to end; True when it has."""
        thread = self.thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()


class JobManager:
    """The jobs of one process, their device queues and their run records.

    Args:
        store: where runs are recorded; runs left live by a dead process are
            marked interrupted when the manager starts.
        device_plan: where jobs train (default: :func:`strategy.plan`, decided
            on first use).
    """

    def __init__(self, store: RunStore, device_plan: strategy_module.DevicePlan | None = None):
        self.store = store
        self._plan = device_plan
        self._jobs: dict[str, Job] = {}
        self._queues: dict[str, list[Job]] = {}
        self._cond = threading.Condition()
        self.recovered = store.recover()
        self._heartbeat = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)
        self._heartbeat.start()

    # -- queries ------------------------------------------------------------------

    @property
    def plan(self) -> strategy_module.DevicePlan:
        if self._plan is None:
            strategy_module.enable_memory_growth()
            self._plan = strategy_module.plan()
        return self._plan

    def get(self, run_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(run_id)

    def jobs(self) -> list[Job]:
        """Jobs of this process, newest first."""
        with self._cond:
            return sorted(self._jobs.values(), key=lambda j: j.submitted_at, reverse=True)

    def active_jobs(self) -> list[Job]:
        return [job for job in self.jobs() if job.active]

    def queue_position(self, job: Job) -> int:
        """0 while training; 1 for the first job waiting behind it, and so on."""
        with self._cond:
            queue = self._queues.get(job.plan.key, [])
            return queue.index(job) if job in queue else 0

    # -- starting -------------------------------------------------------------------

    def submit(self, design: Design, data, config: TrainConfig, *, name: str = "",
               device_plan: strategy_module.DevicePlan | None = None) -> Job:
        """Queue a new training run and return its job at once.

        Raises:
            ValueError: a setting cannot be used (one sentence per problem).
        """
        device_plan = device_plan or self.plan
        config = config.with_task(data.task)
        config.validate(task=data.task, n_train=split_size(data, "train") or None,
                        device_plan=device_plan)
        record = self.store.create_run(
            name=name or design.name or "run", design=design.to_dict(),
            data=describe_data(data), config=config.to_dict(), device=device_plan.label)
        job = Job(run_id=record.id, name=record.name, design=design, data=data, config=config,
                  plan=device_plan, run_dir=Path(record.run_dir),
                  progress=LiveProgress(total_epochs=config.epochs, device=device_plan.label))
        self._start(job)
        return job

    def submit_gan(self, generator: Design, discriminator: Design, data,
                   config: gan_training.GanConfig, *, name: str = "",
                   device_plan: strategy_module.DevicePlan | None = None) -> Job:
        """Queue a GAN run: ``generator`` trained against ``discriminator`` on the images.

        Raises:
            ValueError: a setting, a design or the data's image shape does not fit (one
                sentence per problem, each naming the fix).
        """
        device_plan = device_plan or self.plan
        problems = gan_training.pair_problems(generator, discriminator, data, config)
        if problems:
            raise ValueError(" ".join(problems))
        record = self.store.create_run(
            name=name or generator.name or "GAN",
            design=gan_training.record_design(generator, discriminator),
            data=describe_data(data), config=config.to_dict(), device=device_plan.label)
        job = Job(run_id=record.id, name=record.name, design=generator, data=data,
                  config=config, plan=device_plan, run_dir=Path(record.run_dir),
                  progress=gan_training.GanProgress(total_epochs=config.epochs,
                                                    device=device_plan.label),
                  partner=discriminator)
        self._start(job)
        return job

    def continue_run(self, run_id: str, extra_epochs: int, data=None) -> Job:
        """Train a stopped or finished run for more epochs, from where it is.

        A run trained in this process goes on from the model in memory; otherwise
        (after a restart) from its last checkpoint, for which ``data`` is needed.

        Raises:
            ValueError: the run cannot be continued (still training, no checkpoint,
                other data), with the reason and the fix.
        """
        if not isinstance(extra_epochs, int) or isinstance(extra_epochs, bool) or not (
                1 <= extra_epochs <= 10_000):
            raise ValueError(f"Continue needs a whole number of extra epochs from 1 to 10,000; "
                             f"got {extra_epochs!r:.40}.")
        job = self.get(run_id)
        if job is not None and job.active:
            raise ValueError("This run is still training. Stop it first, or wait for it.")
        if job is not None and job.model is not None:
            job.config = dataclasses.replace(job.config, epochs=job.epochs_done + extra_epochs)
            job.resume = False
            self.store.update_config(run_id, job.config.to_dict())
            self.store.claim(run_id)
            job.stop_event = threading.Event()
            job.progress.total_epochs = job.config.epochs
            self._start(job)
            return job
        return self.resume_run(run_id, data, extra_epochs=extra_epochs)

    def resume_run(self, run_id: str, data, extra_epochs: int = 0) -> Job:
        """Rebuild a run from its record and checkpoint and train on.

        Args:
            data: the prepared data to train on; it must have the run's task.
            extra_epochs: epochs beyond the run's planned total (0: just finish it).

        Raises:
            ValueError: no such run, no checkpoint, or data of another kind.
        """
        record = self.store.get(run_id)
        if record is None:
            raise ValueError(f"There is no run {run_id!r:.40} in the history.")
        job = self.get(run_id)
        if job is not None and job.active:
            raise ValueError("This run is still training. Stop it first, or wait for it.")
        if data is None:
            raise ValueError("Resuming needs the run's data. Prepare the data it was trained on "
                             f"({_data_name(record)}) on the Data page, then resume.")
        if gan_training.is_gan_record(record):
            return self._resume_gan(record, job, data, extra_epochs)
        task = record.data.get("task")
        if task and task != data.task:
            raise ValueError(f"The run was trained for {task}, but the data prepared now is for "
                             f"{data.task}. Prepare the data it was trained on "
                             f"({_data_name(record)}) first.")
        info = read_checkpoint_info(record.run_dir)
        if info is None:
            raise ValueError("This run has no checkpoint to resume from (it stopped before its "
                             "first epoch ended). Start a new run instead.")
        try:
            design = Design.from_dict(record.design)
            config = TrainConfig.from_dict(record.config)
        except (DesignFormatError, ValueError, TypeError) as exc:
            raise ValueError(f"The run's saved design or settings cannot be read ({exc}). "
                             "Start a new run instead.") from exc
        epochs_done = int(info.get("epochs_done", 0))
        total = max(config.epochs, epochs_done) + extra_epochs
        if total <= epochs_done:
            total = epochs_done + 1
        config = dataclasses.replace(config, epochs=total)
        self.store.claim(run_id)
        self.store.update_config(run_id, config.to_dict())
        self.store.drop_epochs_after(run_id, epochs_done)
        progress = job.progress if job is not None else LiveProgress(device=self.plan.label)
        if job is None:
            for row in self.store.epochs(run_id):
                progress.epoch_end({"epoch": row.epoch, **row.metrics, "partial": row.partial})
        progress.total_epochs = total
        job = Job(run_id=run_id, name=record.name, design=design, data=data, config=config,
                  plan=self.plan, run_dir=Path(record.run_dir), progress=progress,
                  epochs_done=epochs_done, resume=True)
        self._start(job)
        return job

    def _resume_gan(self, record: RunRecord, job: Job | None, data, extra_epochs: int) -> Job:
        info = read_checkpoint_info(record.run_dir)
        if info is None:
            raise ValueError("This run has no checkpoint to resume from (it stopped before its "
                             "first epoch ended). Start a new run instead.")
        try:
            generator, discriminator = gan_training.designs_of(record.design)
            config = gan_training.GanConfig.from_dict(record.config)
        except (DesignFormatError, ValueError, TypeError) as exc:
            raise ValueError(f"The run's saved designs or settings cannot be read ({exc}). "
                             "Start a new run instead.") from exc
        problems = gan_training.pair_problems(generator, discriminator, data)
        if problems:
            raise ValueError(" ".join(problems))
        epochs_done = int(info.get("epochs_done", 0))
        total = max(config.epochs, epochs_done) + extra_epochs
        config = dataclasses.replace(config, epochs=max(total, epochs_done + 1))
        self.store.claim(record.id)
        self.store.update_config(record.id, config.to_dict())
        self.store.drop_epochs_after(record.id, epochs_done)
        progress = job.progress if job is not None and isinstance(
            job.progress, gan_training.GanProgress) else gan_training.GanProgress(
            device=self.plan.label)
        if job is None or progress is not job.progress:
            for row in self.store.epochs(record.id):
                progress.epoch_end({"epoch": row.epoch, **row.metrics, "partial": row.partial})
        progress.total_epochs = config.epochs
        job = Job(run_id=record.id, name=record.name, design=generator, data=data,
                  config=config, plan=self.plan, run_dir=Path(record.run_dir),
                  progress=progress, epochs_done=epochs_done, resume=True,
                  partner=discriminator)
        self._start(job)
        return job

    def _start(self, job: Job) -> None:
        job.progress.set_status("queued", "")
        self.store.set_status(job.run_id, "queued")
        with self._cond:
            self._jobs[job.run_id] = job
            self._queues.setdefault(job.plan.key, []).append(job)
            self._update_positions(job.plan.key)
            self._cond.notify_all()
        job.thread = threading.Thread(target=self._work, args=(job,),
                                      name=f"train-{job.run_id}", daemon=True)
        job.thread.start()

    # -- the worker -------------------------------------------------------------------

    def _update_positions(self, key: str) -> None:
        for index, queued in enumerate(self._queues.get(key, [])):
            queued.progress.set_queue_position(index)

    def _wait_for_device(self, job: Job) -> bool:
        """Block until the job heads its device queue; False when stopped while waiting."""
        with self._cond:
            while True:
                queue = self._queues[job.plan.key]
                if job.stop_event.is_set():
                    queue.remove(job)
                    self._update_positions(job.plan.key)
                    self._cond.notify_all()
                    return False
                if queue[0] is job:
                    return True
                self._cond.wait(timeout=0.5)

    def _release(self, job: Job) -> None:
        with self._cond:
            queue = self._queues.get(job.plan.key, [])
            if job in queue:
                queue.remove(job)
            self._update_positions(job.plan.key)
            self._cond.notify_all()

    def _work(self, job: Job) -> None:
        if not self._wait_for_device(job):
            job.progress.set_status("cancelled", "Left the queue before training started.")
            self.store.finish(job.run_id, "cancelled", "Left the queue before training started.")
            return
        try:
            self._train(job)
        except Exception as exc:  # the store failed: the page still learns why
            log.error("run %s could not be recorded:\n%s", job.run_id, traceback.format_exc())
            job.progress.set_status("failed", f"The run could not be recorded ({exc}). Check "
                                    "that the workspace folder is writable.")
        finally:
            self._release(job)

    def _train(self, job: Job) -> None:
        job.progress.set_status("starting", "Building the model...")
        self.store.set_status(job.run_id, "running")

        def record(row: dict) -> None:
            metrics = {k: v for k, v in row.items() if k not in ("epoch", "seconds", "partial")}
            self.store.record_epoch(job.run_id, row["epoch"], metrics, row.get("seconds", 0.0),
                                    partial=bool(row.get("partial")))

        try:
            if job.is_gan:
                result = gan_training.train_gan(
                    job.design, job.partner, job.data, job.config, progress=job.progress,
                    stop_event=job.stop_event, run_dir=job.run_dir, model=job.model,
                    initial_epoch=job.epochs_done, resume=job.resume, device_plan=job.plan,
                    on_epoch=record, report_end=False)
            else:
                if job.recorder is None:
                    job.recorder = learning_cycle_recorder(job.data, job.config,
                                                           job.run_dir / LEARNING_CYCLE_FILE)
                result = train(
                    job.design, job.data, job.config, progress=job.progress,
                    stop_event=job.stop_event, run_dir=job.run_dir, model=job.model,
                    initial_epoch=job.epochs_done, resume=job.resume, device_plan=job.plan,
                    on_epoch=record, report_end=False, callbacks=[job.recorder],
                )
        except (ValueError, TrainingError) as exc:
            self._fail(job, str(exc))
            return
        except Exception as exc:  # a bug or a library failure: say so, keep the server up
            log.error("training run %s failed:\n%s", job.run_id, traceback.format_exc())
            self._fail(job, f"Training failed unexpectedly ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:300]}). The details are in the "
                            "server log.")
            return
        job.model = result.model
        job.epochs_done = result.epochs_done
        job.resume = False
        job.progress.set_status("saving", "Saving the model...")
        try:
            message = self._save_artifacts(job, result)
        except Exception as exc:  # a model Keras cannot save: training itself still counts
            log.error("run %s: saving failed:\n%s", job.run_id, traceback.format_exc())
            message = (result.message + " " if result.message else "") + (
                f"The trained model could not be saved ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]}); it stays usable in this session.")
        self.store.finish(job.run_id, result.status, message, result.final, job.artifacts)
        job.progress.set_status(result.status, message)

    def _fail(self, job: Job, message: str) -> None:
        job.progress.set_status("failed", message)
        self.store.finish(job.run_id, "failed", message)

    def _save_artifacts(self, job: Job, result) -> str:
        """Write the model files and history; return the run's message."""
        artifacts: dict = {}
        job.artifacts = artifacts
        message = result.message
        if result.checkpoint is not None:
            artifacts["checkpoint"] = str(Path(result.checkpoint) / "checkpoint.npz")
        if (job.run_dir / LEARNING_CYCLE_FILE).is_file():
            artifacts["learning_cycle"] = str(job.run_dir / LEARNING_CYCLE_FILE)
        history_path = job.run_dir / "history.json"
        rows = [{"epoch": r.epoch, **r.metrics, "seconds": r.seconds, "partial": r.partial}
                for r in self.store.epochs(job.run_id)]
        try:
            history_path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
            artifacts["history"] = str(history_path)
            grids = job.run_dir / gan_training.GRIDS_DIR
            if job.is_gan and grids.is_dir():
                artifacts["grids"] = str(grids)
            if job.is_gan and result.model is not None and result.epochs_done > 0:
                artifacts.update(gan_training.save_pair(result.model, job.run_dir))
            elif result.model is not None and result.epochs_done > 0:
                model_path = job.run_dir / "model.keras"
                result.model.save(model_path)
                artifacts["model"] = str(model_path)
                serving = serving_model(job.data, result.model)
                if serving is not None:
                    serving_path = job.run_dir / "serving_model.keras"
                    serving.save(serving_path)
                    artifacts["serving_model"] = str(serving_path)
                    job.serving_model = serving
                    examples = save_example_inputs(job.data, job.run_dir)
                    if examples is not None:
                        artifacts["examples"] = str(examples)
        except OSError as exc:
            message = (message + " " if message else "") + (
                f"The model file could not be written ({exc.strerror}); free some disk space "
                "and press Continue to save it again.")
        return message

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            for job in self.active_jobs():
                try:
                    self.store.heartbeat(job.run_id)
                except Exception:  # the store is busy or gone; the next beat tries again
                    log.debug("heartbeat for %s failed", job.run_id, exc_info=True)

    # -- housekeeping ---------------------------------------------------------------------

    def stop(self, run_id: str) -> bool:
        """Stop a job of this process; False when there is no such live job."""
        job = self.get(run_id)
        if job is None or not job.active:
            return False
        job.stop()
        return True

    def forget(self, run_id: str, delete_files: bool = False) -> None:
        """Drop a finished run from memory and the store (and its folder, if asked).

        Raises:
            ValueError: the run is still training.
        """
        job = self.get(run_id)
        if job is not None and job.active:
            raise ValueError("This run is still training. Stop it first.")
        record = self.store.get(run_id)
        with self._cond:
            self._jobs.pop(run_id, None)
        self.store.delete(run_id)
        if delete_files and record is not None and record.run_dir:
            shutil.rmtree(record.run_dir, ignore_errors=True)


def serving_model(data, model):
    """The end-to-end model (raw inputs -> preprocessing -> model), or None.

    Prepared data that carries its preprocessing (``builder.data.PreparedData``)
    joins it in front of the trained model, so the saved model takes raw rows,
    pixels or strings.
    """
    end_to_end = getattr(data, "end_to_end", None)
    if not callable(end_to_end) or getattr(data, "preprocessing", None) is None:
        return None
    return end_to_end(model)


def save_example_inputs(data, run_dir: Path) -> Path | None:
    """Keep a few raw validation inputs in the run folder, for the export's README."""
    from builder.export import EXAMPLE_ROWS, EXAMPLES_FILE, save_examples

    raw = getattr(data, "raw", None)
    sizes = getattr(data, "sizes", {}) or {}
    split = next((s for s in ("validation", "test", "train") if sizes.get(s)), None)
    if not callable(raw) or split is None:
        return None
    path = Path(run_dir) / EXAMPLES_FILE
    save_examples(raw(split, EXAMPLE_ROWS), path)
    return path


def _data_name(record: RunRecord) -> str:
    data = record.data
    return str(data.get("name") or data.get("text") or data.get("source") or "see the run's "
               "data description")


_MANAGERS: dict[str, JobManager] = {}
_MANAGERS_LOCK = threading.Lock()


def manager(store_path: str | Path | None = None) -> JobManager:
    """The process-wide job manager of a workspace store (created on first use)."""
    path = Path(store_path) if store_path else default_path()
    key = str(path.resolve())
    with _MANAGERS_LOCK:
        existing = _MANAGERS.get(key)
        if existing is None:
            existing = JobManager(RunStore(path))
            _MANAGERS[key] = existing
        return existing
