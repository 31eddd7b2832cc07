"""Training jobs that run outside the page script, one per device at a time.

A :class:`JobManager` lives once per process (:func:`manager`), so Streamlit
reruns, page switches, a closed tab and a second browser tab all see the same
jobs: a page keeps only the run id and polls ``job.progress.snapshot()``.

Each training session runs in its own worker process (:mod:`builder.worker`,
spawned, never forked), so the server never trains: the live page costs the run
nothing, and a worker that dies takes nothing else with it. A thread of this process
watches each job: it waits for the device, starts the worker, turns the worker's
events into the job's :class:`LiveProgress` and the run store, and records the end.
Jobs that want the same device (the same :attr:`DevicePlan.key`) wait in a
first-come queue and know their place in it; one worker per device trains at a time.
The app's manager keeps one spare worker that has already imported TensorFlow, so a
run starts training in about a second instead of waiting for that import.
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
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from builder import gan_training, run_files, worker
from builder import strategy as strategy_module
from builder.data import handoff
from builder.design import Design, DesignFormatError
from builder.run_store import RunRecord, RunStore, default_path
from builder.train import (
    LiveProgress,
    TrainConfig,
    describe_data,
    read_checkpoint_info,
)

log = logging.getLogger(__name__)

ACTIVE = ("queued", "starting", "running", "stopping", "saving")
HEARTBEAT_SECONDS = 20.0
# A worker told to stop finishes its batch and saves; one still running this long after
# Stop is hung (a step that never ends, a stuck device) and is ended.
STOP_GRACE_SECONDS = 120.0
LEARNING_CYCLE_FILE = worker.LEARNING_CYCLE_FILE
WORKER_LOG = worker.WORKER_LOG
SPARE_LOG = "spare-worker.log"


@dataclass
class Job:
    """One run, as this process sees it; its training happens in a worker process.

    Attributes:
        run_id: the run's id in the store.
        progress: what the page polls (fed from the worker's events).
        data: the prepared data in this process (Explore reads it with the model).
        epochs_done: full epochs trained so far.
        artifacts: the files the last session wrote (name -> path).
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
    epochs_done: int = 0
    thread: threading.Thread | None = None
    resume: bool = False
    artifacts: dict = field(default_factory=dict)
    submitted_at: float = field(default_factory=time.time)
    partner: Design | None = None  # a GAN's discriminator (``design`` is its generator)
    owner: str = ""  # the session that started it: only it sees the run live and stops it
    process: subprocess.Popen | None = None
    ended_after_stop: bool = False  # the worker did not stop within the grace and was ended
    _loaded: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _load_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_gan(self) -> bool:
        return self.partner is not None

    @property
    def model(self):
        """The trained Keras model (a GAN's generator and discriminator pair: see
        :attr:`generator`), loaded from the run folder on first use; None before a
        session saved one."""
        return self._load("model") if not self.is_gan else None

    @property
    def serving_model(self):
        """The end-to-end model on raw inputs, or None."""
        return self._load("serving_model")

    @property
    def generator(self):
        """A GAN job's trained generator (None before the first epoch or for other runs)."""
        return self._load("model") if self.is_gan else None

    def _load(self, name: str):
        path = self.artifacts.get(name)
        if not path or self.active or not Path(path).is_file():
            return None
        with self._load_lock:
            stamp = (path, Path(path).stat().st_mtime)
            cached = self._loaded.get(name)
            if cached is None or cached[0] != stamp:
                self._loaded[name] = (stamp, run_files.load_model(path))
            return self._loaded[name][1]

    @property
    def status(self) -> str:
        return self.progress.status

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def stop(self) -> None:
        """Stop after the current batch (or leave the queue); what was learned is kept."""
        with self._lock:
            self.stop_event.set()
            _tell(self.process, "stop")
            if self.process is not None and self.process.poll() is None:
                watchdog = threading.Timer(STOP_GRACE_SECONDS, self._end_if_hung,
                                           args=(self.process,))
                watchdog.daemon = True
                watchdog.start()
        if self.status in ("starting", "running"):
            self.progress.set_status("stopping", "Stopping after the current batch...")

    def _end_if_hung(self, process: subprocess.Popen) -> None:
        with self._lock:
            if process is self.process and process.poll() is None:
                self.ended_after_stop = True
                process.kill()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current session to end; True when it has."""
        thread = self.thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()


def _tell(process: subprocess.Popen | None, command: str) -> None:
    """Send a command line to a worker; a worker already gone needs none."""
    if process is None or process.poll() is not None:
        return
    try:
        process.stdin.write(command + "\n")
        process.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass


class JobManager:
    """The jobs of one process, their device queues and their run records.

    Args:
        store: where runs are recorded; runs left live by a dead process are
            marked interrupted when the manager starts.
        device_plan: where jobs train (default: :func:`strategy.plan`, decided
            on first use).
    """

    def __init__(self, store: RunStore, device_plan: strategy_module.DevicePlan | None = None,
                 *, spare_worker: bool = False):
        self.store = store
        self._plan = device_plan
        self._spare_wanted = spare_worker
        self._spare: subprocess.Popen | None = None
        self._spare_lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queues: dict[str, list[Job]] = {}
        self._cond = threading.Condition()
        self.recovered = store.recover()
        self._heartbeat = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)
        self._heartbeat.start()
        if spare_worker:
            self._start_spare()

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

    def jobs_of(self, owner: str) -> list[Job]:
        """Jobs the session ``owner`` started (or continued), newest first."""
        return [job for job in self.jobs() if job.owner == owner]

    def queue_position(self, job: Job) -> int:
        """0 while training; 1 for the first job waiting behind it, and so on."""
        with self._cond:
            queue = self._queues.get(job.plan.key, [])
            return queue.index(job) if job in queue else 0

    # -- starting -------------------------------------------------------------------

    def submit(self, design: Design, data, config: TrainConfig, *, name: str = "",
               device_plan: strategy_module.DevicePlan | None = None, owner: str = "") -> Job:
        """Queue a new training run and return its job at once.

        ``owner`` names the session that asks (see :attr:`Job.owner`).

        Raises:
            ValueError: a setting cannot be used (one sentence per problem).
        """
        device_plan = device_plan or self.plan
        config = config.with_task(data.task)
        config.validate(task=data.task, n_train=data.size("train") or None,
                        device_plan=device_plan)
        record = self.store.create_run(
            name=name or design.name or "run", design=design.to_dict(),
            data=describe_data(data), config=config.to_dict(), device=device_plan.label)
        job = Job(run_id=record.id, name=record.name, design=design, data=data, config=config,
                  plan=device_plan, run_dir=Path(record.run_dir),
                  progress=LiveProgress(total_epochs=config.epochs, device=device_plan.label),
                  owner=owner)
        self._start(job)
        return job

    def submit_gan(self, generator: Design, discriminator: Design, data,
                   config: gan_training.GanConfig, *, name: str = "",
                   device_plan: strategy_module.DevicePlan | None = None,
                   owner: str = "") -> Job:
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
                  partner=discriminator, owner=owner)
        self._start(job)
        return job

    def continue_run(self, run_id: str, extra_epochs: int, data=None, *,
                     owner: str = "") -> Job:
        """Train a stopped or finished run for more epochs, from its last checkpoint.

        ``data`` defaults to the data the run was trained on in this process; after a
        restart it must be given.

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
        if data is None and job is not None:
            data = job.data
        return self.resume_run(run_id, data, extra_epochs=extra_epochs, after_done=True,
                               owner=owner)

    def resume_run(self, run_id: str, data, extra_epochs: int = 0, *,
                   after_done: bool = False, owner: str = "") -> Job:
        """Rebuild a run from its record and checkpoint and train on.

        Args:
            data: the prepared data to train on; it must have the run's task.
            extra_epochs: epochs beyond the run's planned total (0: just finish it).
            after_done: count ``extra_epochs`` from the epochs done instead (Continue).
            owner: the session that asks; the run is its own from now on.

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
            return self._resume_gan(record, job, data, extra_epochs, after_done, owner)
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
        total = (epochs_done if after_done else max(config.epochs, epochs_done)) + extra_epochs
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
        return self._start_again(
            job, run_id=run_id, name=record.name, design=design, data=data, config=config,
            plan=self.plan, run_dir=Path(record.run_dir), progress=progress,
            epochs_done=epochs_done, resume=True, artifacts=dict(record.artifacts), owner=owner)

    def _resume_gan(self, record: RunRecord, job: Job | None, data, extra_epochs: int,
                    after_done: bool, owner: str) -> Job:
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
        total = (epochs_done if after_done else max(config.epochs, epochs_done)) + extra_epochs
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
        return self._start_again(
            job, run_id=record.id, name=record.name, design=generator, data=data,
            config=config, plan=self.plan, run_dir=Path(record.run_dir), progress=progress,
            epochs_done=epochs_done, resume=True, partner=discriminator,
            artifacts=dict(record.artifacts), owner=owner)

    def _start_again(self, job: Job | None, **fields) -> Job:
        """Start a run's next session: on its job of this process (the handle pages hold),
        or on a new job after a restart."""
        if job is None:
            job = Job(**fields)
        else:
            for name, value in fields.items():
                setattr(job, name, value)
            job.stop_event = threading.Event()
            job.process = None
            job.ended_after_stop = False
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
        job.progress.set_status("starting", "Starting the training process...")
        self.store.set_status(job.run_id, "running")
        try:
            handoff.write(job.data, job.run_dir / worker.DATA_FOLDER)
        except handoff.HandoffError as exc:
            self._fail(job, str(exc))
            return
        outcome = self._run_worker(job)
        status = outcome.get("status") or "failed"
        message = str(outcome.get("message") or "")
        if outcome.get("epochs_done") is not None:
            job.epochs_done = int(outcome["epochs_done"])
        job.resume = False
        artifacts = {**job.artifacts, **dict(outcome.get("artifacts") or {})}
        history_path = job.run_dir / "history.json"
        rows = [{"epoch": r.epoch, **r.metrics, "seconds": r.seconds, "partial": r.partial}
                for r in self.store.epochs(job.run_id)]
        try:
            history_path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
            artifacts["history"] = str(history_path)
        except OSError as exc:
            message = (message + " " if message else "") + (
                f"The history file could not be written ({exc.strerror}).")
        self.store.finish(job.run_id, status, message, dict(outcome.get("final") or {}),
                          artifacts)
        job.artifacts = artifacts
        job.progress.set_status(status, message)

    def _run_worker(self, job: Job) -> dict:
        """Train one session in a worker process; its ``done`` event (or why there was none)."""
        record = {"run_id": job.run_id, "run_dir": str(job.run_dir),
                  "design": job.design.to_dict(),
                  "partner": job.partner.to_dict() if job.partner is not None else None,
                  "config": job.config.to_dict(), "initial_epoch": job.epochs_done,
                  "resume": job.resume,
                  "plan": {"kind": job.plan.kind, "devices": list(job.plan.devices)}}
        with open(job.run_dir / WORKER_LOG, "ab") as log_file:
            with job._lock:
                if job.stop_event.is_set():
                    return {"status": "cancelled" if not job.epochs_done else "stopped",
                            "message": "Stopped before training started."}
                try:
                    job.process = self._take_worker(log_file)
                except OSError as exc:
                    return {"status": "failed", "message": f"The training process could not "
                            f"start ({exc}). Check that the server may start programs."}
            _tell(job.process, json.dumps(record))
            outcome = None
            for line in job.process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    log.warning("run %s: a line from the worker is not an event: %.200s",
                                job.run_id, line)
                    continue
                if event.get("event") == "done":
                    outcome = event
                else:
                    self._apply(job, event)
            code = job.process.wait()
        if outcome is None:  # it died: a checkpoint, when there is one, lets it resume
            checkpoint = read_checkpoint_info(job.run_dir) is not None
            words = _death_words(code, job.run_dir, checkpoint)
            if job.ended_after_stop:
                words = (f"The training process did not stop within {STOP_GRACE_SECONDS:.0f} s "
                         "of Stop (a step that never ends, or a stuck device), so it was ended. "
                         + words.split(". ", 1)[1])
            outcome = {"status": "interrupted" if checkpoint else "failed", "message": words}
        return outcome

    def _spawn_worker(self, log_file, spare: bool) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "builder.worker", *(["--spare"] if spare else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, text=True,
            encoding="utf-8", env=_worker_environment(), cwd=str(self.store.runs_dir))

    def _start_spare(self) -> None:
        """Start a worker that imports TensorFlow now, so the next run need not wait for it."""
        with self._spare_lock:
            if self._spare is not None and self._spare.poll() is None:
                return
            try:
                self.store.runs_dir.mkdir(parents=True, exist_ok=True)
                with open(self.store.runs_dir / SPARE_LOG, "ab") as log_file:
                    self._spare = self._spawn_worker(log_file, spare=True)
            except OSError:  # no spare: runs start their own worker, a few seconds slower
                log.warning("the spare training process could not start", exc_info=True)
                self._spare = None

    def _take_worker(self, log_file) -> subprocess.Popen:
        """The spare worker when one is ready, else a new one; a new spare is started."""
        with self._spare_lock:
            spare, self._spare = self._spare, None
        if spare is None or spare.poll() is not None:
            spare = self._spawn_worker(log_file, spare=False)
        if self._spare_wanted:
            threading.Thread(target=self._start_spare, name="spare-worker", daemon=True).start()
        return spare

    def _apply(self, job: Job, event: dict) -> None:
        """One event from the worker, into the job's progress and the store."""
        kind, progress = event.get("event"), job.progress
        if kind == "batches":
            for epoch, step, logs in event.get("items", []):
                progress.batch(epoch, step, logs)
        elif kind == "status":
            status = event.get("status", "")
            if not (job.stop_event.is_set() and status in ("starting", "running")):
                progress.set_status(status, event.get("message", ""))
        elif kind == "begin":
            fields = {k: event[k] for k in ("total_epochs", "initial_epoch", "steps_per_epoch",
                                            "batch_size", "n_train") if k in event}
            progress.begin(**fields)
            if job.stop_event.is_set():
                progress.set_status("stopping", "Stopping after the current batch...")
        elif kind == "epoch_end":
            progress.epoch_end(event["row"])
        elif kind == "record":
            row = event["row"]
            metrics = {k: v for k, v in row.items() if k not in ("epoch", "seconds", "partial")}
            self.store.record_epoch(job.run_id, row["epoch"], metrics, row.get("seconds", 0.0),
                                    partial=bool(row.get("partial")))
        elif kind == "final":
            progress.set_final(event.get("final") or {})
        elif kind == "grid" and isinstance(progress, gan_training.GanProgress):
            try:
                samples = gan_training.load_grid(job.run_dir / gan_training.GRIDS_DIR,
                                                 int(event["epoch"]))
            except (OSError, ValueError):
                return
            progress.set_grid(int(event["epoch"]), samples)

    def _fail(self, job: Job, message: str) -> None:
        job.progress.set_status("failed", message)
        self.store.finish(job.run_id, "failed", message)

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


def _worker_environment() -> dict:
    """The worker's environment: this one, with the project importable and TensorFlow quiet."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    paths = [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _death_words(code: int, run_dir: Path, checkpoint: bool) -> str:
    """Why a worker ended without saying how its run ended."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        cause = f"was killed ({name}"
        cause += "; the machine may have run out of memory)" if name == "SIGKILL" else ")"
    else:
        cause = f"ended unexpectedly (exit code {code})"
    then = ("What was learned up to the last full epoch is kept: press Resume to go on from "
            "there." if checkpoint else "It had not finished an epoch; start the run again.")
    return f"The training process {cause}. {then} Details: {run_dir / WORKER_LOG}."


def _data_name(record: RunRecord) -> str:
    data = record.data
    return str(data.get("name") or data.get("text") or data.get("source") or "see the run's "
               "data description")


_MANAGERS: dict[str, JobManager] = {}
_MANAGERS_LOCK = threading.Lock()


def manager(store_path: str | Path | None = None, *, start: bool = True) -> JobManager | None:
    """The process-wide job manager of a workspace store (created on first use; with
    ``start=False``, None when none was created yet)."""
    path = Path(store_path) if store_path else default_path()
    key = str(path.resolve())
    with _MANAGERS_LOCK:
        existing = _MANAGERS.get(key)
        if existing is None and start:
            existing = JobManager(RunStore(path), spare_worker=True)
            _MANAGERS[key] = existing
        return existing
