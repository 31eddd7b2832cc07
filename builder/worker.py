"""One training run in its own process: ``python -m builder.worker``.

The app (:mod:`builder.jobs`) starts one worker per training session, spawned, so
that the Streamlit server never trains: watching the live page costs the run
nothing, and a worker that dies (killed, out of memory, a crash inside TensorFlow)
takes no other run and not the server with it.

The protocol is JSON lines, nothing pickled:

- stdin: first the job (one line: run id and folder, design(s), settings, where to
  start; a worker started with ``--spare`` imports TensorFlow while it waits for it),
  then commands: ``stop`` (stop after the current batch). The end of stdin
  (the app went away) stops the run too, keeping what was learned.
- stdout: events, one object a line, each with an ``"event"``: ``status``,
  ``begin``, ``batches`` (the batch reports since the last one, sent at most every
  :data:`FLUSH_SECONDS`), ``epoch_end``, ``record`` (a row for the run store),
  ``final``, ``grid`` (a GAN's sample grid was written for an epoch), and last
  ``done`` (status, message, epochs, files written).

The data arrives as files in the run folder (:mod:`builder.data.handoff`) and is
prepared again here. Anything TensorFlow or Keras prints goes to stderr (the run
folder's ``worker.log``), never into the event stream.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

FLUSH_SECONDS = 0.2
LEARNING_CYCLE_FILE = "learning_cycle.json"
DATA_FOLDER = "data"
WORKER_LOG = "worker.log"


class EventWriter:
    """Writes events to the app, one JSON object a line; safe from any thread."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, event: str, **fields) -> None:
        line = json.dumps({"event": event, **fields}, default=_jsonable, allow_nan=True)
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):  # the app is gone
                pass


def _jsonable(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover - numpy comes with the project
        pass
    return str(value)


class ForwardedProgress:
    """Stands in for :class:`builder.train.LiveProgress`: what training reports goes to the app.

    Batch reports are gathered and sent together, at most every
    :data:`FLUSH_SECONDS`; everything else goes at once (after the batches before it).
    """

    def __init__(self, events: EventWriter):
        self._events = events
        self._lock = threading.Lock()
        self._batches: list = []
        self._last_flush = time.monotonic()

    def _flush(self) -> None:
        with self._lock:
            batches, self._batches = self._batches, []
            self._last_flush = time.monotonic()
        if batches:
            self._events.send("batches", items=batches)

    def set_status(self, status: str, message: str = "") -> None:
        self._flush()
        self._events.send("status", status=status, message=message)

    def set_queue_position(self, position: int) -> None:  # the app keeps the queue
        pass

    def begin(self, **fields) -> None:
        self._flush()
        self._events.send("begin", **fields)

    def batch(self, epoch: int, step: int, logs: dict) -> None:
        numbers = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
        with self._lock:
            self._batches.append([int(epoch), int(step), numbers])
            due = time.monotonic() - self._last_flush >= FLUSH_SECONDS
        if due:
            self._flush()

    def epoch_end(self, row: dict) -> None:
        self._flush()
        self._events.send("epoch_end", row=row)

    def set_final(self, final: dict) -> None:
        self._flush()
        self._events.send("final", final=final)

    def set_grid(self, epoch: int, samples) -> None:
        self._flush()
        self._events.send("grid", epoch=int(epoch))

    def close(self) -> None:
        self._flush()


def _listen(stream, stop_event: threading.Event) -> None:
    """Set ``stop_event`` on a ``stop`` line, or when the app closes our stdin."""
    for line in stream:
        if line.strip() == "stop":
            stop_event.set()
    stop_event.set()


def run(job: dict, events: EventWriter, stop_event: threading.Event) -> None:
    """Train the job; every outcome, failures included, ends with a ``done`` event."""
    progress = ForwardedProgress(events)
    progress.set_status("starting", "Preparing the data...")
    try:
        outcome = _train(job, progress, events, stop_event)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the run's message
        from builder.data.errors import DataError
        from builder.train import TrainingError

        if isinstance(exc, DataError):
            message = f"{exc.problem} {exc.fix}"
        elif isinstance(exc, (ValueError, TrainingError)):
            message = str(exc)
        else:
            traceback.print_exc(file=sys.stderr)
            message = (f"Training failed unexpectedly ({type(exc).__name__}: "
                       f"{' '.join(str(exc).split())[:300]}). The details are in the run "
                       "folder's worker.log.")
        progress.close()
        events.send("done", status="failed", message=message, final={}, epochs_done=None,
                    artifacts={})
        return
    progress.close()
    events.send("done", **outcome)


def _train(job: dict, progress: ForwardedProgress, events: EventWriter,
           stop_event: threading.Event) -> dict:
    from builder import gan_training
    from builder.data import handoff
    from builder.design import Design
    from builder.run_files import save_models
    from builder.train import TrainConfig, learning_cycle_recorder, train

    run_dir = Path(job["run_dir"])
    plan = device_plan(job.get("plan") or {})
    data = handoff.read(run_dir / DATA_FOLDER)
    progress.set_status("starting", "Building the model...")

    def record(row: dict) -> None:
        events.send("record", row=row)

    common = dict(progress=progress, stop_event=stop_event, run_dir=run_dir,
                  initial_epoch=int(job.get("initial_epoch", 0)), resume=bool(job.get("resume")),
                  device_plan=plan, on_epoch=record, report_end=False)
    if job.get("partner") is not None:
        result = gan_training.train_gan(
            Design.from_dict(job["design"]), Design.from_dict(job["partner"]), data,
            gan_training.GanConfig.from_dict(job["config"]), **common)
    else:
        config = TrainConfig.from_dict(job["config"])
        recorder = learning_cycle_recorder(data, config, run_dir / LEARNING_CYCLE_FILE)
        if common["initial_epoch"] or common["resume"]:
            recorder.restore(through=common["initial_epoch"] or _checkpoint_epochs(run_dir))
        result = train(Design.from_dict(job["design"]), data, config, callbacks=[recorder],
                       **common)
    progress.set_status("saving", "Saving the model...")
    message, artifacts = result.message, {}
    try:
        artifacts = save_models(result, data, run_dir, gan=job.get("partner") is not None)
    except OSError as exc:
        message = (message + " " if message else "") + (
            f"The model file could not be written ({exc.strerror}); free some disk space "
            "and press Continue to save it again.")
    except Exception as exc:  # noqa: BLE001 - a model Keras cannot save: training still counts
        traceback.print_exc(file=sys.stderr)
        message = (message + " " if message else "") + (
            f"The trained model could not be saved ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]}).")
    if result.checkpoint is not None:
        artifacts["checkpoint"] = str(Path(result.checkpoint) / "checkpoint.npz")
    if (run_dir / LEARNING_CYCLE_FILE).is_file():
        artifacts["learning_cycle"] = str(run_dir / LEARNING_CYCLE_FILE)
    grids = run_dir / gan_training.GRIDS_DIR
    if job.get("partner") is not None and grids.is_dir():
        artifacts["grids"] = str(grids)
    return {"status": result.status, "message": message, "final": result.final,
            "epochs_done": result.epochs_done, "artifacts": artifacts}


def _checkpoint_epochs(run_dir: Path) -> int:
    from builder.train import read_checkpoint_info

    return int((read_checkpoint_info(run_dir) or {}).get("epochs_done", 0))


def device_plan(spec: dict):
    """The app's device plan, made again here before TensorFlow starts its devices.

    A plan that mirrors over several CPU devices (the multi-device path tested on
    CPU) gets as many logical CPU devices in this process; GPUs keep their names,
    since the worker sees the same GPUs as the app, with memory growth on.
    """
    from builder import strategy as strategy_module

    strategy_module.enable_memory_growth()
    kind, devices = spec.get("kind"), list(spec.get("devices") or [])
    if kind == "mirrored" and not any("gpu" in d.lower() for d in devices):
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in devices])
        return strategy_module.plan([d.name for d in tf.config.list_logical_devices("CPU")])
    if kind in ("mirrored", "gpu"):
        return strategy_module.plan(devices)
    return strategy_module.plan()


def preload() -> None:
    """Import what training needs (TensorFlow and Keras above all, several seconds) before
    a job arrives, so a spare worker started ahead of time trains at once. Importing
    runs no TensorFlow operation, so the device plan can still be set afterwards."""
    import builder.data.images  # noqa: F401
    import builder.data.tabular  # noqa: F401
    import builder.data.timeseries  # noqa: F401
    import builder.gan_training  # noqa: F401
    import builder.learning_cycle  # noqa: F401
    import builder.run_files  # noqa: F401
    import builder.train  # noqa: F401


def _log_to(run_dir: Path) -> None:
    """Send what this process prints from now on to the run folder's log."""
    try:
        log = open(run_dir / WORKER_LOG, "ab", buffering=0)  # noqa: SIM115 - lives as long
    except OSError:
        return
    os.dup2(log.fileno(), sys.stderr.fileno())
    os.dup2(log.fileno(), sys.stdout.fileno())


def main() -> int:
    # The event stream keeps the real stdout; anything else printed goes to stderr.
    events = EventWriter(os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8"))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    if "--spare" in sys.argv[1:]:
        preload()
    line = sys.stdin.readline()
    if not line:  # the app went away before it had a job for us
        return 0
    try:
        job = json.loads(line)
        if not isinstance(job, dict) or "run_dir" not in job:
            raise ValueError("no run folder")
    except ValueError as exc:
        events.send("done", status="failed", message=f"The training process was given no job "
                    f"it can read ({exc}).", final={}, epochs_done=None, artifacts={})
        return 2
    _log_to(Path(job["run_dir"]))
    stop_event = threading.Event()
    threading.Thread(target=_listen, args=(sys.stdin, stop_event), name="worker-commands",
                     daemon=True).start()
    run(job, events, stop_event)
    return 0


if __name__ == "__main__":
    sys.exit(main())
