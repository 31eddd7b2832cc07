"""Devices and distribution strategies: the CPU here, mirrored logical CPUs, a cluster config."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from builder import strategy

ROOT = Path(__file__).resolve().parents[1]


def test_this_machine_trains_on_its_cpu(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    plan = strategy.plan()
    assert plan.kind == "cpu" and plan.key == "CPU" and not plan.has_gpu
    assert plan.label.startswith("CPU (")
    assert strategy.list_gpus() == []
    assert strategy.enable_memory_growth() == []
    assert strategy.sidebar_text() == plan.label
    assert strategy.make_strategy(plan) is not None


def test_mixed_precision_and_xla_need_a_gpu():
    cpu = strategy.plan()
    assert "Switch mixed precision off" in strategy.mixed_precision_problem(cpu)
    assert "Switch XLA off" in strategy.xla_problem(cpu)
    old = strategy.GPUInfo(0, "/physical_device:GPU:0", "Tesla K80", (3, 7))
    gpu = strategy.DevicePlan("gpu", ("/gpu:0",), "GPU:0", "GPU", True, (old,))
    assert "compute capability 7.0" in strategy.mixed_precision_problem(gpu)
    new = strategy.GPUInfo(0, "/physical_device:GPU:0", "A100", (8, 0))
    assert strategy.mixed_precision_problem(
        strategy.DevicePlan("gpu", ("/gpu:0",), "GPU:0", "GPU", True, (new,))) == ""
    assert strategy.xla_problem(gpu) == ""


def test_explicit_devices_are_mirrored():
    plan = strategy.plan(devices=["/cpu:0", "/cpu:1"])
    assert plan.kind == "mirrored" and plan.key == "CPU:0,CPU:1"
    assert strategy.plan(devices=["/cpu:0"]).kind == "cpu"


def test_tf_config_chooses_the_cluster_strategy_only_for_the_cli(monkeypatch):
    config = {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    plan = strategy.plan(allow_cluster=True)
    assert plan.kind == "multi_worker" and plan.key == "cluster"
    assert plan.label == "cluster of 2 workers (this is worker 1)"
    assert strategy.plan().kind == "cpu"


@pytest.mark.parametrize("value, words", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"task": {}}', "TF_CONFIG has no 'cluster' entry"),
])
def test_a_broken_tf_config_is_a_sentence(monkeypatch, value, words):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ValueError, match=words):
        strategy.plan(allow_cluster=True)


MIRRORED_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

    import numpy as np
    from builder import strategy
    from builder.data.arrays import InMemoryData
    from builder.train import TrainConfig, train
    from tests.helpers import chain

    plan = strategy.plan()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32").reshape(-1, 1)
    data = InMemoryData((x[:192], y[:192]), (x[192:], y[192:]), task="binary")
    design = chain(("Dense", {"units": 8}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                   input_shape=(4,))
    result = train(design, data, TrainConfig(epochs=3, learning_rate=0.05), device_plan=plan,
                   run_dir=sys.argv[1])
    resumed = train(design, data, TrainConfig(epochs=4, learning_rate=0.05),
                    device_plan=plan, run_dir=sys.argv[1], resume=True)
    print(json.dumps({
        "kind": plan.kind, "devices": list(plan.devices), "key": plan.key,
        "strategy": type(result.model.distribute_strategy).__name__,
        "replicas": result.model.distribute_strategy.num_replicas_in_sync,
        "losses": [row["loss"] for row in result.history],
        "status": result.status, "resumed": resumed.epochs_done,
    }))
""")


def test_two_logical_cpus_train_under_mirrored_strategy(tmp_path):
    # Logical devices must be set before TensorFlow initialises: a fresh process.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, str(tmp_path / "run")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kind"] == "mirrored" and len(result["devices"]) == 2
    assert result["strategy"] == "MirroredStrategy" and result["replicas"] == 2
    assert result["status"] == "finished"
    assert result["losses"][-1] < result["losses"][0]
    assert result["resumed"] == 4
