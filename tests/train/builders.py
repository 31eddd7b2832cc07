"""Small data sets, designs and device plans the training tests share."""

import numpy as np

from builder import strategy
from builder.data.arrays import InMemoryData
from tests.helpers import chain

CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)
TWO_CPUS = strategy.DevicePlan("mirrored", ("/cpu:0", "/cpu:1"), "CPU:0,CPU:1", "2 CPUs", False)
GPU = strategy.DevicePlan("gpu", ("/gpu:0",), "GPU:0", "GPU", True)


def binary_data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32").reshape(-1, 1)
    cut = int(n * 0.8)
    return InMemoryData((x[:cut], y[:cut]), (x[cut:], y[cut:]), task="binary", num_classes=2)


def classifier(units=1, activation="sigmoid"):
    return chain(("Dense", {"units": 8}), ("Dense", {"units": units, "activation": activation}),
                 input_shape=(4,))


def regression_data(scale=100.0):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 4)) * scale).astype("float32")
    y = (x.sum(axis=1, keepdims=True) * scale).astype("float32")
    return InMemoryData((x, y), task="regression")
