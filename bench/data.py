"""Benchmark: a 1,000,000-row CSV to a training-ready tf.data dataset, against pandas.

Generates a CSV of 1,000,000 rows by 20 columns (16 numeric with 1% missing
values, 3 categorical, 1 binary target), then measures in separate processes:

  bare    ``pandas.read_csv(path)``
  ingest  ``load_csv(path)`` (with its checks: ragged rows, missing counts) ->
          ``prepare_tabular(...)`` (type detection, target, stratified split,
          training statistics; the columns kept once in file order, each split
          holding shuffled row positions) -> ``prepared.train``, the tf.data
          dataset that gathers and standardises rows batch by batch, and its
          first element. The Keras preprocessing model is built on first use
          (checking, export), not here; building it takes about 0.05 s.

Timing pairs a bare read and an ingest back to back in the same process (which goes
first alternates), a few times over, in fresh processes whose imports (pandas,
TensorFlow) are done before the clock starts; on a busy machine the pair shares the
load, so the median pair ratio is steadier than a ratio of separate bests. The first
pair of a process is cold (first use of the code paths, fresh memory), the others
warm (as in a running app). Peak memory (VmHWM) comes from separate one-run
processes, one per phase. CPU time (all threads) is reported too, a second view: on
a machine that other work keeps busy the wall-clock ratios scatter widely, the CPU-
time ratio less. The last line is the ratio ingest / bare (target: at most 1.5).

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


def _ingest(path: str) -> dict:
    """One ingest, timed by step."""
    from builder.data.csv_reading import load_csv
    from builder.data.tabular import prepare_tabular

    start, cpu = time.perf_counter(), time.process_time()
    source = load_csv(path)
    read = time.perf_counter()
    prepared = prepare_tabular(source, "target", validation=0.1, test=0.1, seed=0)
    made = time.perf_counter()
    element = next(iter(prepared.train))
    end = time.perf_counter()
    return {"seconds": end - start, "cpu": time.process_time() - cpu,
            "steps": {"load_csv": read - start, "prepare_tabular": made - read,
                      "tf.data first element": end - made},
            "sizes": prepared.sizes, "input_shape": list(prepared.input_shape),
            "element": [list(t.shape) for t in element]}


def _bare(path: str) -> dict:
    import pandas as pd

    start, cpu = time.perf_counter(), time.process_time()
    frame = pd.read_csv(path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    del frame
    return {"seconds": seconds, "cpu": cpu}


def _pair(path: str, bare_first: bool) -> tuple[dict, dict]:
    """A bare read and an ingest back to back; which goes first alternates, since the
    second of a pair runs on memory the first has just freed."""
    if bare_first:
        bare = _bare(path)
        return bare, _ingest(path)
    ingest = _ingest(path)
    return _bare(path), ingest


def phase(kind: str, path: str, runs: int) -> dict:
    """Run in a fresh process: ``bare``, ``ingest`` or ``pairs`` (see :func:`_pair`)."""
    import pandas as pd  # noqa: F401 - imported before the clock

    if kind != "bare":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        sys.path.insert(0, str(ROOT))
        import tensorflow as tf  # noqa: F401 - imported before the clock, as the app has it

        import builder.data.csv_reading  # noqa: F401
        import builder.data.tabular  # noqa: F401
    baseline = _peak_mb()
    if kind == "bare":
        result = {"times": [_bare(path) for _ in range(runs)]}
    elif kind == "ingest":
        result = {"runs": [_ingest(path) for _ in range(runs)]}
    else:
        result = {"pairs": [_pair(path, bare_first=i % 2 == 0) for i in range(runs)]}
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
    parser.add_argument("--repeat", type=int, default=5,
                        help="bare/ingest pairs per process (the first is the cold one)")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV")
    parser.add_argument("--phase", choices=("bare", "ingest", "pairs"), help=argparse.SUPPRESS)
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
        memory = {kind: _run_phase(kind, path, 1) for kind in ("bare", "ingest")}
        pairs = [_run_phase("pairs", path, max(args.repeat, 2))["pairs"]
                 for _ in range(args.processes)]
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            folder.rmdir()

    cold = [p[0] for p in pairs]
    warm = [pair for p in pairs for pair in p[1:]]
    warm_ratios = sorted(ingest["seconds"] / bare["seconds"] for bare, ingest in warm)
    cold_ratios = sorted(ingest["seconds"] / bare["seconds"] for bare, ingest in cold)
    cpu_ratios = sorted(ingest["cpu"] / bare["cpu"] for bare, ingest in warm)
    best_bare = min(bare["seconds"] for bare, _ in warm)
    best = min((ingest for _, ingest in warm), key=lambda run: run["seconds"])
    print(f"bare pandas.read_csv: best warm {best_bare:.3f} s; peak RSS "
          f"{memory['bare']['peak_mb']:,.0f} MB (after imports "
          f"{memory['bare']['baseline_mb']:,.0f} MB)")
    print(f"ingest to tf.data:    best warm {best['seconds']:.3f} s; peak RSS "
          f"{memory['ingest']['peak_mb']:,.0f} MB (after imports "
          f"{memory['ingest']['baseline_mb']:,.0f} MB)")
    print("  its steps: " + ", ".join(f"{k} {v:.3f} s" for k, v in best["steps"].items()))
    print(f"  splits {best['sizes']}, model input {best['input_shape']}, first element shapes "
          f"{best['element']}")
    print("  warm pair ratios (bare and ingest back to back, same process): "
          + ", ".join(f"{r:.2f}" for r in warm_ratios)
          + "; cold (first pair of a process): " + ", ".join(f"{r:.2f}" for r in cold_ratios))
    print("  warm CPU-time ratios (all threads; steadier on a busy machine): "
          + ", ".join(f"{r:.2f}" for r in cpu_ratios))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  load average at the end: {load:.1f} on {os.cpu_count()} cores")
    print(f"ratio ingest / bare read_csv: {statistics.median(warm_ratios):.2f}x warm (median; "
          f"best {warm_ratios[0]:.2f}x; CPU time {statistics.median(cpu_ratios):.2f}x), "
          f"{statistics.median(cold_ratios):.2f}x cold (target <= 1.5x)")


if __name__ == "__main__":
    main()
