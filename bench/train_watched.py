"""Training speed while the Train page watches, against plain Keras fit with nobody watching.

The app trains each run in a worker process (builder.worker) and the page polls the
run's progress every LIVE_SECONDS, redrawing the live chart. This benchmark does both
for real: each round trains the same design, data and settings once through the
app's JobManager while a thread of this process does the live page's work as often
(snapshot, the live chart's data and its JSON, the latest rows of the epoch table), and
once with plain ``model.fit`` in this process, watched by nobody. Speed is samples
per second from the end of the first step (both sides: building the model and
tracing are not training), so the worker's start-up is left out; it is printed apart.
The rounds alternate the order. The last line is the median over rounds of
(watched app throughput / plain fit throughput); the target is at least 0.9.

    python bench/train_watched.py [--rounds 5] [--epochs 4] [--samples 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import pandas as pd  # noqa: E402

from bench.train import make_data, make_design  # noqa: E402
from builder import strategy  # noqa: E402
from builder.compile import build_model  # noqa: E402
from builder.jobs import JobManager  # noqa: E402
from builder.run_store import RunStore  # noqa: E402
from builder.train import TrainConfig  # noqa: E402
from builder.ui.live_chart import chart_data  # noqa: E402
from builder.ui.train_page import (  # noqa: E402
    LIVE_POINTS,
    LIVE_SECONDS,
    LIVE_TABLE_ROWS,
    _curve_names,
    _panels,
)

CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)


def watch(job, stop: threading.Event, costs: list[float]) -> None:
    """What the live page does while a run trains."""
    names = _curve_names(job.config)
    while not stop.wait(LIVE_SECONDS):
        started = time.perf_counter()
        snapshot = job.progress.snapshot()
        panels = _panels(snapshot.batch_x, snapshot.batch_series, snapshot.epochs, names,
                         cap=LIVE_POINTS)
        json.dumps(chart_data(panels))
        pd.DataFrame(snapshot.epochs[-LIVE_TABLE_ROWS:])
        costs.append(time.perf_counter() - started)


def run_app(manager: JobManager, design, data, config) -> tuple[float, float, float]:
    """(samples/s from the end of the first step, seconds to start, mean page cost)."""
    submitted = time.perf_counter()
    job = manager.submit(design, data, config)
    stop, costs = threading.Event(), []
    watcher = threading.Thread(target=watch, args=(job, stop, costs), daemon=True)
    watcher.start()
    started = None
    while job.active:
        if started is None and job.progress.snapshot().step > 0:
            started = time.perf_counter() - submitted
        time.sleep(0.05)
    stop.set()
    watcher.join()
    snapshot = job.progress.snapshot()
    assert snapshot.status == "finished", snapshot.message
    return snapshot.samples_per_second, started or 0.0, statistics.mean(costs or [0.0])


class FirstStepClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.mark = None
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.mark is None:
            self.mark = (time.perf_counter(), self.steps)


def run_plain(design, data, config) -> float:
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    model = build_model(design)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")], jit_compile=False)
    train_ds = data.batches("train", config.batch_size, shuffle=True, seed=config.seed)
    val_ds = data.batches("validation", max(config.batch_size, 32))
    clock = FirstStepClock()
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, verbose=0,
              shuffle=False, callbacks=[clock])
    seconds = time.perf_counter() - clock.mark[0]
    return (clock.steps - clock.mark[1]) * config.batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    design, data = make_design(), make_data(args.samples)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=0.001,
                         metrics=("accuracy",), seed=7, keep_best=False)
    print(f"MLP of bench/train.py, {args.samples:,} samples (80% train), batch "
          f"{args.batch_size}, {args.epochs} epochs, {os.cpu_count()} CPU cores")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        manager = JobManager(RunStore(Path(tmp) / "runs.sqlite"), device_plan=CPU)
        run_plain(design, data, TrainConfig(epochs=1, batch_size=args.batch_size))  # warm-up
        for round_number in range(1, args.rounds + 1):
            if round_number % 2:
                plain = run_plain(design, data, config)
                ours, start, cost = run_app(manager, design, data, config)
            else:
                ours, start, cost = run_app(manager, design, data, config)
                plain = run_plain(design, data, config)
            ratios.append(ours / plain)
            print(f"round {round_number}: watched app {ours:,.0f} samples/s (worker start "
                  f"{start:.1f} s, page work {cost * 1000:.0f} ms/s), plain fit "
                  f"{plain:,.0f} samples/s, ratio {ours / plain:.3f}")
    print(f"throughput ratio watched app / plain model.fit (median of {len(ratios)} rounds): "
          f"{statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
