"""Benchmark: a 1,000,000-row CSV through one training epoch, against pandas and plain fit.

Generates a CSV of 1,000,000 rows by 20 columns (16 numeric with 1% missing
values, 3 categorical, 1 binary target), then measures in separate processes the
same work done two ways, up to the end of one training epoch:

  plain   ``pandas.read_csv(path)``; the hand-written pandas preparation a person would
          write (missing numbers filled with the training mean, categories one-hot
          encoded, numbers standardised with the training statistics, an 80/10/10
          split); ``model.fit`` of a small MLP for one epoch on the NumPy arrays, with
          the validation split evaluated at its end.
  ingest  ``load_csv(path)`` (with its checks: ragged rows, missing counts) ->
          ``prepare_tabular(...)`` (type detection, target, stratified split,
          training statistics) -> ``builder.train.train`` of the same MLP for one
          epoch, as the app trains: the tf.data pipeline that gathers, encodes and
          standardises rows batch by batch, live progress, and the validation split.

Both sides build and compile the model inside the clock, use batches of 256 and the
same optimiser, and see the same rows. Timing pairs a plain run and an ingest back to
back in the same process (which goes first alternates), a few times over, in fresh
processes whose imports (pandas, TensorFlow) are done before the clock starts. The
first pair of a process is cold (first use of the code paths, fresh memory), the
others warm (as in a running app). Peak memory (VmHWM) comes from separate one-run
processes, one per side. CPU time (all threads) is reported too. The last line is
the warm and cold ratio ingest / plain (medians of the pair ratios).

Usage: python bench/data.py [--rows N] [--repeat K] [--processes P] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMERIC, CATEGORICAL = 16, 3


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write the benchmark CSV."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(NUMERIC):
        values = np.round(rng.normal(i, i + 1, rows), 4)
        values[rng.random(rows) < 0.01] = np.nan
        columns[f"num_{i}"] = values
    for i, labels in enumerate((["red", "green", "blue"],
                                ["north", "south", "east", "west", "centre"],
                                [f"shop_{k:02d}" for k in range(40)])):
        columns[f"cat_{i}"] = rng.choice(np.array(labels), rows)
    score = columns["num_0"] - columns["num_1"] / 2 + (columns["cat_0"] == "red")
    columns["target"] = np.where(np.nan_to_num(score) > 0, "yes", "no")
    pd.DataFrame(columns).to_csv(path, index=False)


def _peak_mb() -> float:
    """This process's peak resident memory in MB (VmHWM: reset by exec, unlike ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


BATCH = 256
HIDDEN = 64


def _mlp(width: int):
    """The plain side's model: the same layers as :func:`_design`'s."""
    import keras

    return keras.Sequential([keras.Input((width,)), keras.layers.Dense(HIDDEN, activation="relu"),
                             keras.layers.Dense(1, activation="sigmoid")])


def _design(width: int):
    from builder.design import Design

    return Design.from_dict({"version": 1, "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [width]}},
        {"id": "h", "type": "Dense", "params": {"units": HIDDEN, "activation": "relu"}},
        {"id": "out", "type": "Dense", "params": {"units": 1, "activation": "sigmoid"}}],
        "edges": [{"source": "x", "target": "h"}, {"source": "h", "target": "out"}]})


def _ingest(path: str) -> dict:
    """One ingest and one training epoch through the app's path, timed by step."""
    import keras

    from builder.data.csv_reading import load_csv
    from builder.data.tabular import prepare_tabular
    from builder.train import TrainConfig, train

    keras.backend.clear_session()
    start, cpu = time.perf_counter(), time.process_time()
    source = load_csv(path)
    read = time.perf_counter()
    prepared = prepare_tabular(source, "target", validation=0.1, test=0.1, seed=0)
    made = time.perf_counter()
    result = train(_design(int(prepared.input_shape[-1])), prepared,
                   TrainConfig(epochs=1, batch_size=BATCH, learning_rate=0.001, seed=0),
                   evaluate_test=False)
    end = time.perf_counter()
    assert result.status == "finished", result.message
    return {"seconds": end - start, "cpu": time.process_time() - cpu,
            "steps": {"load_csv": read - start, "prepare_tabular": made - read,
                      "one epoch (train)": end - made},
            "sizes": prepared.sizes, "width": int(prepared.input_shape[-1]),
            "val_accuracy": result.history[-1].get("val_accuracy")}


def _plain(path: str) -> dict:
    """pandas.read_csv, a hand-written preparation and one plain ``fit`` epoch."""
    import keras
    import numpy as np
    import pandas as pd

    keras.backend.clear_session()
    start, cpu = time.perf_counter(), time.process_time()
    frame = pd.read_csv(path)
    read = time.perf_counter()
    order = np.random.default_rng(0).permutation(len(frame))
    cut_train, cut_val = int(len(frame) * 0.8), int(len(frame) * 0.9)
    train_rows, val_rows = order[:cut_train], order[cut_train:cut_val]
    y = (frame.pop("target") == "yes").to_numpy("float32")
    numeric = frame.select_dtypes("number")
    means = numeric.iloc[train_rows].mean()
    numeric = numeric.fillna(means)
    numeric = (numeric - means) / numeric.iloc[train_rows].std().replace(0, 1)
    x = pd.concat([numeric, pd.get_dummies(frame.select_dtypes(exclude="number"))], axis=1)
    x = x.to_numpy("float32")
    made = time.perf_counter()
    model = _mlp(x.shape[1])
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x[train_rows], y[train_rows], batch_size=BATCH, epochs=1, verbose=0,
                        validation_data=(x[val_rows], y[val_rows]), shuffle=True)
    end = time.perf_counter()
    return {"seconds": end - start, "cpu": time.process_time() - cpu,
            "steps": {"read_csv": read - start, "pandas preparation": made - read,
                      "one epoch (fit)": end - made},
            "width": int(x.shape[1]), "val_accuracy": history.history["val_accuracy"][-1]}


def _pair(path: str, plain_first: bool) -> tuple[dict, dict]:
    """A plain run and an ingest back to back; which goes first alternates, since the
    second of a pair runs on memory the first has just freed."""
    if plain_first:
        plain = _plain(path)
        return plain, _ingest(path)
    ingest = _ingest(path)
    return _plain(path), ingest


def phase(kind: str, path: str, runs: int) -> dict:
    """Run in a fresh process: ``plain``, ``ingest`` or ``pairs`` (see :func:`_pair`)."""
    import pandas as pd  # noqa: F401 - imported before the clock

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    import tensorflow as tf  # noqa: F401 - imported before the clock, as the app has it

    import builder.data.csv_reading  # noqa: F401
    import builder.data.tabular  # noqa: F401
    import builder.train  # noqa: F401
    baseline = _peak_mb()
    if kind == "plain":
        result = {"runs": [_plain(path) for _ in range(runs)]}
    elif kind == "ingest":
        result = {"runs": [_ingest(path) for _ in range(runs)]}
    else:
        result = {"pairs": [_pair(path, plain_first=i % 2 == 0) for i in range(runs)]}
    return {**result, "peak_mb": _peak_mb(), "baseline_mb": baseline}


def _run_phase(kind: str, path: Path, runs: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", kind, "--csv", str(path), "--repeat", str(runs)],
        capture_output=True, text=True, check=False,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES=""),
    )
    if done.returncode != 0:
        raise SystemExit(f"phase {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="plain/ingest pairs per process (the first is the cold one)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV")
    parser.add_argument("--phase", choices=("plain", "ingest", "pairs"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.csv, args.repeat)))
        return

    folder = Path(tempfile.mkdtemp(prefix="nc-bench-data-"))
    path = folder / "bench.csv"
    start = time.perf_counter()
    generate(path, args.rows)
    print(f"generated {args.rows:,} rows x 20 columns ({path.stat().st_size / 2**20:,.0f} MB) "
          f"in {time.perf_counter() - start:.1f} s: {path}")
    try:
        memory = {kind: _run_phase(kind, path, 1) for kind in ("plain", "ingest")}
        pairs = [_run_phase("pairs", path, max(args.repeat, 2))["pairs"]
                 for _ in range(args.processes)]
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            folder.rmdir()

    cold = [p[0] for p in pairs]
    warm = [pair for p in pairs for pair in p[1:]]
    warm_ratios = sorted(ingest["seconds"] / plain["seconds"] for plain, ingest in warm)
    cold_ratios = sorted(ingest["seconds"] / plain["seconds"] for plain, ingest in cold)
    cpu_ratios = sorted(ingest["cpu"] / plain["cpu"] for plain, ingest in warm)
    for name, side in (("plain (pandas + fit)", 0), ("ingest (app path)", 1)):
        runs = [pair[side] for pair in warm]
        best = min(runs, key=lambda run: run["seconds"])
        kind = "plain" if side == 0 else "ingest"
        print(f"{name:22s} warm median {statistics.median(r['seconds'] for r in runs):.2f} s, "
              f"best {best['seconds']:.2f} s; cold median "
              f"{statistics.median(pair[side]['seconds'] for pair in cold):.2f} s; peak RSS "
              f"{memory[kind]['peak_mb']:,.0f} MB (after imports "
              f"{memory[kind]['baseline_mb']:,.0f} MB)")
        print("  its steps (best warm run): "
              + ", ".join(f"{k} {v:.2f} s" for k, v in best["steps"].items())
              + f"; model input width {best['width']}, val accuracy "
              f"{best['val_accuracy'] or float('nan'):.3f}")
    print("  warm pair ratios (same process, back to back): "
          + ", ".join(f"{r:.2f}" for r in warm_ratios)
          + "; cold (first pair of a process): " + ", ".join(f"{r:.2f}" for r in cold_ratios))
    print("  warm CPU-time ratios (all threads): " + ", ".join(f"{r:.2f}" for r in cpu_ratios))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  load average at the end: {load:.1f} on {os.cpu_count()} cores")
    print(f"ratio ingest + one epoch / pandas + plain fit epoch: "
          f"{statistics.median(warm_ratios):.2f}x warm, {statistics.median(cold_ratios):.2f}x "
          f"cold (medians; CPU time {statistics.median(cpu_ratios):.2f}x warm)")


if __name__ == "__main__":
    main()
