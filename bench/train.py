"""Wall time of builder.train (live reporting, stop checks, checkpoints) against plain fit.

The same design, data and settings are trained twice per round: once through
``builder.train.train`` with a LiveProgress receiving every batch, a stop event
checked every batch and a checkpoint written every epoch, and once by building
the same Keras model and calling ``model.fit`` on the same tf.data datasets with
no callbacks. A warm-up round first pays TensorFlow's one-off start-up costs for
both; the timed rounds alternate the order, so the two runs of a round see about the
same load from other processes. It prints the ratio of the fastest run of each side,
then, on the last line, the median over rounds of the per-round ratio builder.train /
plain fit (target: at most 1.05).

    python bench/train.py [--rounds 11] [--epochs 3] [--samples 40000]
"""

from __future__ import annotations

import argparse
import gc
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
import numpy as np  # noqa: E402

from builder.compile import build_model  # noqa: E402
from builder.data.arrays import InMemoryData  # noqa: E402
from builder.design import Design  # noqa: E402
from builder.train import LiveProgress, TrainConfig, train  # noqa: E402

FEATURES = 32


def make_design() -> Design:
    layers = [("d1", 128, "relu"), ("d2", 128, "relu"), ("d3", 64, "relu"),
              ("out", 1, "sigmoid")]
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [FEATURES]}}]
    edges = []
    previous = "x"
    for node_id, units, activation in layers:
        nodes.append({"id": node_id, "type": "Dense",
                      "params": {"units": units, "activation": activation}})
        edges.append({"source": previous, "target": node_id})
        previous = node_id
    return Design.from_dict({"version": 1, "nodes": nodes, "edges": edges})


def make_data(samples: int) -> InMemoryData:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, FEATURES)).astype("float32")
    w = rng.normal(size=(FEATURES,)).astype("float32")
    y = ((x @ w + 0.5 * rng.normal(size=samples)) > 0).astype("float32")
    cut = int(samples * 0.8)
    return InMemoryData((x[:cut], y[:cut]), (x[cut:], y[cut:]), task="binary",
                        num_classes=2, name="synthetic")


def _fresh_start() -> None:
    """Drop the previous run's models, so neither side pays for the other's garbage."""
    keras.backend.clear_session()
    gc.collect()


def run_builder(design, data, config, folder) -> tuple[float, float, float]:
    _fresh_start()
    progress = LiveProgress()
    stop = threading.Event()
    cpu = time.process_time()
    started = time.perf_counter()
    result = train(design, data, config, progress=progress, stop_event=stop, run_dir=folder,
                   evaluate_test=False)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    assert result.status == "finished", result.message
    assert len(progress.snapshot().batch_x) > 0
    return seconds, cpu, result.history[-1]["val_loss"]


def run_plain(design, data, config) -> tuple[float, float, float]:
    _fresh_start()
    cpu = time.process_time()
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    model = build_model(design)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
                  jit_compile=False)
    train_ds = data.batches("train", config.batch_size, shuffle=True, seed=config.seed)
    val_ds = data.batches("validation", max(config.batch_size, 32))
    history = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, verbose=0,
                        shuffle=False)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return seconds, cpu, history.history["val_loss"][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=40_000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    design = make_design()
    data = make_data(args.samples)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=0.001,
                         metrics=("accuracy",), seed=7)
    steps = -(-int(args.samples * 0.8) // args.batch_size)
    print(f"MLP {FEATURES}-128-128-64-1, {args.samples:,} samples (80% train), batch "
          f"{args.batch_size} ({steps} steps/epoch), {args.epochs} epochs, "
          f"{os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        warm = TrainConfig(epochs=1, batch_size=args.batch_size, seed=7, metrics=("accuracy",))
        run_builder(design, data, warm, Path(tmp) / "warm")
        run_plain(design, data, warm)
        ratios, cpu_ratios, ours_all, plain_all = [], [], [], []
        for round_number in range(1, args.rounds + 1):
            folder = Path(tmp) / f"round{round_number}"
            if round_number % 2:
                plain, plain_cpu, plain_loss = run_plain(design, data, config)
                ours, our_cpu, our_loss = run_builder(design, data, config, folder)
            else:
                ours, our_cpu, our_loss = run_builder(design, data, config, folder)
                plain, plain_cpu, plain_loss = run_plain(design, data, config)
            ratios.append(ours / plain)
            cpu_ratios.append(our_cpu / plain_cpu)
            ours_all.append(ours)
            plain_all.append(plain)
            print(f"round {round_number}: builder.train {ours:.2f} s (val_loss {our_loss:.4f}), "
                  f"plain fit {plain:.2f} s (val_loss {plain_loss:.4f}), "
                  f"ratio {ours / plain:.3f} (CPU time ratio {our_cpu / plain_cpu:.3f})")
    print(f"fastest builder.train {min(ours_all):.2f} s, fastest plain fit {min(plain_all):.2f} s, "
          f"ratio {min(ours_all) / min(plain_all):.3f}; median CPU time ratio "
          f"{statistics.median(cpu_ratios):.3f}")
    print(f"wall-time ratio builder.train / plain model.fit (median of {len(ratios)} rounds): "
          f"{statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
