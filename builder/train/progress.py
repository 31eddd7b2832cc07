"""A run's live progress, written by the training thread and read by pages: per-batch
smoothed values, per-epoch rows, speed and time left.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class ProgressSnapshot:
    """A consistent copy of a run's progress, for one redraw of the page."""

    status: str
    message: str
    epoch: int  # epochs completed
    total_epochs: int
    step: int  # steps done in the current epoch
    steps_per_epoch: int
    fraction: float
    samples_per_second: float
    eta_seconds: float | None
    elapsed_seconds: float
    batch_x: list[float]  # in epochs: 0.5 is halfway through the first, 1.0 its end
    batch_series: dict[str, list[float]]
    epochs: list[dict]  # per-epoch rows: {"epoch": 1, "loss": ..., "val_loss": ...}
    final: dict
    queue_position: int
    device: str
    version: int


class LiveProgress:
    """What a running training reports, safe to read from other threads.

    The training thread writes; pages call :meth:`snapshot` to read a copy. Per-
    batch values are the individual batch loss (and metrics), recovered from Keras's
    running epoch means, smoothed with an exponential moving average; at most
    ``max_points`` are kept (older points are thinned out evenly).
    """

    SMOOTHING = 0.9

    def __init__(self, total_epochs: int = 0, max_points: int = 1500, device: str = ""):
        self._lock = threading.Lock()
        self.max_points = max_points
        self.status = "queued"
        self.message = ""
        self.device = device
        self.total_epochs = total_epochs
        self.initial_epoch = 0
        self.epoch = 0
        self.step = 0
        self.steps_per_epoch = 0
        self.batch_size = 0
        self.n_train = 0
        self.queue_position = 0
        self.batch_x: list[float] = []
        self.batch_series: dict[str, list[float]] = {}
        self.epochs: list[dict] = []
        self.final: dict = {}
        self.version = 0
        self._stride = 1
        self._counter = 0
        self._ema: dict[str, float] = {}
        self._ema_weight = 0.0
        self._previous_means: dict[str, float] = {}
        self._session_start: float | None = None
        self._session_steps = 0
        self._session_samples = 0
        self._elapsed_before = 0.0
        self._last_speed = 0.0
        self._rate_mark: tuple[float, int, int] | None = None

    # -- writing (training thread) ---------------------------------------------

    def set_status(self, status: str, message: str = "") -> None:
        with self._lock:
            self.status = status
            self.message = message
            if status not in ("queued", "starting", "running", "stopping"):
                self._close_session()
            self.version += 1

    def set_queue_position(self, position: int) -> None:
        with self._lock:
            if position != self.queue_position:
                self.queue_position = position
                self.version += 1

    def begin(self, *, total_epochs: int, initial_epoch: int, steps_per_epoch: int,
              batch_size: int, n_train: int, device: str = "") -> None:
        """A training session starts (a fresh run, a continue or a resume)."""
        with self._lock:
            self.status = "running"
            self.message = ""
            self.total_epochs = total_epochs
            self.initial_epoch = initial_epoch
            self.epoch = initial_epoch
            self.step = 0
            self.steps_per_epoch = max(1, steps_per_epoch)
            self.batch_size = batch_size
            self.n_train = n_train
            self.queue_position = 0
            if device:
                self.device = device
            # Rows of epochs that will be trained again (a partial epoch) go.
            self.epochs = [row for row in self.epochs if row["epoch"] <= initial_epoch]
            keep = [i for i, x in enumerate(self.batch_x) if x <= initial_epoch]
            self.batch_x = [self.batch_x[i] for i in keep]
            self.batch_series = {k: [v[i] for i in keep] for k, v in self.batch_series.items()}
            self._previous_means = {}
            self._session_start = time.monotonic()
            self._session_steps = 0
            self._session_samples = 0
            self._rate_mark = None
            self.version += 1

    def batch(self, epoch: int, step: int, logs: dict) -> None:
        """One training step ended (``epoch`` and ``step`` are 0-based)."""
        with self._lock:
            n = step + 1
            self.epoch = epoch
            self.step = n
            self._session_steps += 1
            self._session_samples += self.batch_size
            if self._rate_mark is None:
                # Speed is measured from the end of the first step: that one also pays
                # for building the model and tracing the training function.
                self._rate_mark = (time.monotonic(), self._session_steps,
                                   self._session_samples)
            if step == 0:
                self._previous_means = {}
            weight = self.SMOOTHING * self._ema_weight + (1 - self.SMOOTHING)
            for name, mean in logs.items():
                if not isinstance(mean, (int, float)) or not math.isfinite(mean):
                    continue
                previous = self._previous_means.get(name)
                value = mean if previous is None else n * mean - (n - 1) * previous
                self._previous_means[name] = mean
                ema = self._ema.get(name, 0.0)
                self._ema[name] = self.SMOOTHING * ema + (1 - self.SMOOTHING) * value
            self._ema_weight = weight
            self._counter += 1
            if self._counter % self._stride:
                return
            self.batch_x.append(epoch + n / self.steps_per_epoch)
            for name, ema in self._ema.items():
                series = self.batch_series.setdefault(name, [])
                # A metric that appears late is padded so all series align with batch_x.
                series.extend([ema / weight] * (len(self.batch_x) - len(series)))
            if len(self.batch_x) > self.max_points:
                self.batch_x = self.batch_x[::2]
                self.batch_series = {k: v[::2] for k, v in self.batch_series.items()}
                self._stride *= 2
            self.version += 1

    def epoch_end(self, row: dict) -> None:
        """One epoch ended; ``row`` holds its 1-based "epoch" number and metrics."""
        with self._lock:
            self.epochs = [r for r in self.epochs if r["epoch"] != row["epoch"]]
            self.epochs.append(dict(row))
            self.epochs.sort(key=lambda r: r["epoch"])
            if not row.get("partial"):
                self.epoch = row["epoch"]
                self.step = 0
            self.version += 1

    def set_final(self, final: dict) -> None:
        with self._lock:
            self.final = dict(final)
            self.version += 1

    def _close_session(self) -> None:
        if self._session_start is not None:
            now = time.monotonic()
            session = now - self._session_start
            self._elapsed_before += session
            if self._rate_mark is not None and self._session_steps > self._rate_mark[1]:
                since, _, mark_samples = self._rate_mark
                self._last_speed = (self._session_samples - mark_samples) / max(now - since,
                                                                                1e-9)
            elif session > 0 and self._session_samples:
                self._last_speed = self._session_samples / session
            self._session_start = None

    # -- reading (any thread) -------------------------------------------------------

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            now = time.monotonic()
            session = (now - self._session_start) if self._session_start is not None else 0.0
            per_step, speed = None, self._last_speed
            if self._session_start is not None and self._rate_mark is not None:
                since, mark_steps, mark_samples = self._rate_mark
                if self._session_steps > mark_steps and now > since:
                    per_step = (now - since) / (self._session_steps - mark_steps)
                    speed = (self._session_samples - mark_samples) / (now - since)
                elif session > 0:
                    per_step = session / self._session_steps
                    speed = self._session_samples / session
            completed = sum(1 for r in self.epochs if not r.get("partial"))
            epochs_done = max(completed, self.initial_epoch if self.status == "running" else 0)
            total_steps = max(1, self.total_epochs * self.steps_per_epoch)
            done_steps = min(total_steps, self.epoch * self.steps_per_epoch + self.step)
            if self.status in ("finished", "early_stopped"):
                fraction = 1.0
            else:
                fraction = done_steps / total_steps if self.steps_per_epoch else 0.0
            eta = None
            if self.status == "running" and per_step is not None:
                eta = max(0.0, (total_steps - done_steps) * per_step)
            return ProgressSnapshot(
                status=self.status, message=self.message, epoch=epochs_done,
                total_epochs=self.total_epochs, step=self.step,
                steps_per_epoch=self.steps_per_epoch, fraction=min(1.0, fraction),
                samples_per_second=speed, eta_seconds=eta,
                elapsed_seconds=self._elapsed_before + session,
                batch_x=list(self.batch_x),
                batch_series={k: list(v) for k, v in self.batch_series.items()},
                epochs=[dict(r) for r in self.epochs], final=dict(self.final),
                queue_position=self.queue_position, device=self.device, version=self.version,
            )
