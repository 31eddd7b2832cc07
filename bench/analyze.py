"""How long analyze() takes for 20, 100 and 500-node designs.

Baseline, measured in the same run: building the same network by hand with plain
Keras's functional API (keras.Input, layer calls, keras.Model), which is what a
person would otherwise do to learn shapes and parameter counts. The last line is
the ratio analyze / plain Keras for the 100-node design.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from builder import validate  # noqa: E402
from builder.design import Design  # noqa: E402

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


def plain_keras(size: int) -> None:
    x = inputs = keras.Input((32,))
    for i in range(1, size):
        type_id, params = KINDS[i % len(KINDS)]
        x = getattr(keras.layers, type_id)(**params)(x)
    keras.Model(inputs, x).count_params()


def best_of(fn, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    validate.analyze(make_design(5))  # import and warm Keras
    ratio = None
    for size in (20, 100, 500):
        design = make_design(size)

        def run_analysis(design=design):
            validate.clear_caches()  # measure the work, not the caches
            validate.analyze(design)

        ours = best_of(run_analysis)
        plain = best_of(lambda size=size: plain_keras(size))
        print(f"{size:4d} nodes: analyze {ours * 1000:7.1f} ms   plain Keras build "
              f"{plain * 1000:7.1f} ms")
        if size == 100:
            ratio = ours / plain
    print(f"ratio analyze/plain-keras at 100 nodes: {ratio:.2f}")


if __name__ == "__main__":
    main()
