"""How long analyze() takes for 20, 100 and 500-node designs.

Baseline, measured in the same run: the same network built by hand with plain Keras's
functional API (keras.Input, layer calls, keras.Model, count_params), which is what a
person would otherwise do to learn shapes and parameter counts. Both sides do the same
work: analyze never allocates weights (a ten-billion-parameter layer costs it nothing),
so the plain build runs inside the same Keras scope that defers variable creation
(StatelessScope without initialisation), and its weights are never made either.

Each size is timed in ROUNDS rounds; the order of the two sides alternates from round to
round, and the figures are medians. The last line is the ratio analyze / plain Keras
for the 100-node design.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from builder import validate  # noqa: E402
from builder.design import Design  # noqa: E402
from builder.keras_internals import weights_not_allocated  # noqa: E402

ROUNDS = 7

KINDS = [("Dense", {"units": 32}), ("Dropout", {"rate": 0.1}),
         ("BatchNormalization", {}), ("Activation", {"activation": "gelu"})]


def make_design(size: int) -> Design:
    nodes = [{"id": "inp", "type": "Input", "params": {"shape": [32]}}]
    edges = []
    for i in range(1, size):
        type_id, params = KINDS[i % len(KINDS)]
        nodes.append({"id": f"n{i}", "type": type_id, "params": params})
        edges.append({"source": nodes[i - 1]["id"], "target": f"n{i}"})
    return Design.from_dict({"version": 1, "nodes": nodes, "edges": edges})


def plain_keras(size: int) -> int:
    with weights_not_allocated():
        x = inputs = keras.Input((32,))
        for i in range(1, size):
            type_id, params = KINDS[i % len(KINDS)]
            x = getattr(keras.layers, type_id)(**params)(x)
        return keras.Model(inputs, x).count_params()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    validate.analyze(make_design(5))  # import and warm Keras
    plain_keras(5)
    ratio = None
    for size in (20, 100, 500):
        design = make_design(size)

        def run_analysis(design=design):
            validate.clear_caches()  # measure the work, not the caches
            report = validate.analyze(design)
            assert report.ok

        assert validate.analyze(design).total_params == plain_keras(size)  # same network
        ours, plain = [], []
        for round_no in range(ROUNDS):
            sides = [(ours, run_analysis), (plain, lambda size=size: plain_keras(size))]
            for times, fn in (sides if round_no % 2 == 0 else sides[::-1]):
                times.append(timed(fn))
        ours_ms, plain_ms = statistics.median(ours) * 1000, statistics.median(plain) * 1000
        print(f"{size:4d} nodes: analyze {ours_ms:7.1f} ms   plain Keras build, no weights "
              f"{plain_ms:7.1f} ms   (medians of {ROUNDS}, order alternated)")
        if size == 100:
            ratio = ours_ms / plain_ms
    print(f"ratio analyze/plain-keras at 100 nodes: {ratio:.2f}")


if __name__ == "__main__":
    main()
