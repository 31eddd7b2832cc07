"""Where training runs: the devices TensorFlow finds, and the distribution strategy.

One GPU: train there. Several GPUs (or several logical CPUs, which is how the
tests exercise the multi-device path): ``tf.distribute.MirroredStrategy``. With
``TF_CONFIG`` set (a cluster): ``MultiWorkerMirroredStrategy``. Otherwise the
default strategy on the CPU.

Memory growth must be switched on before TensorFlow first touches a GPU, so the
app and the CLI call :func:`enable_memory_growth` as early as they can; later
calls are harmless.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field

_GROWTH_LOCK = threading.Lock()
_GROWTH_DONE = False


@dataclass(frozen=True)
class GPUInfo:
    """One physical GPU as TensorFlow lists it."""

    index: int
    name: str  # "/physical_device:GPU:0"
    description: str  # the card's name when TensorFlow knows it, e.g. "NVIDIA A100"
    compute_capability: tuple[int, int] | None = None

    @property
    def supports_mixed_precision(self) -> bool:
        """float16 runs fast from compute capability 7.0 (Volta) on."""
        return self.compute_capability is None or self.compute_capability >= (7, 0)


@dataclass(frozen=True)
class DevicePlan:
    """The strategy to train under and how to describe it to a person.

    Attributes:
        kind: "cpu" | "gpu" | "mirrored" | "multi_worker".
        devices: the logical device names training uses.
        key: the queue key: jobs with the same key wait for each other.
        label: a short text for the sidebar and the run record.
        has_gpu: whether a GPU takes part (mixed precision and XLA are offered then).
    """

    kind: str
    devices: tuple[str, ...]
    key: str
    label: str
    has_gpu: bool
    gpus: tuple[GPUInfo, ...] = field(default=())


def _tf():
    import tensorflow as tf

    return tf


def enable_memory_growth() -> list[str]:
    """Ask TensorFlow to allocate GPU memory as needed instead of all at once.

    Returns the names of the GPUs it was enabled on. Once TensorFlow has
    initialised its GPUs the setting can no longer change; that is not an error
    (the setting from the first call stays).
    """
    global _GROWTH_DONE
    tf = _tf()
    with _GROWTH_LOCK:
        gpus = tf.config.list_physical_devices("GPU")
        if _GROWTH_DONE:
            return [g.name for g in gpus]
        enabled = []
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
                enabled.append(gpu.name)
            except (RuntimeError, ValueError):
                # Already initialised: memory growth is whatever it was set to then.
                pass
        _GROWTH_DONE = True
        return enabled


def list_gpus() -> list[GPUInfo]:
    """The physical GPUs TensorFlow can use (an empty list on a CPU-only machine)."""
    tf = _tf()
    found = []
    for index, device in enumerate(tf.config.list_physical_devices("GPU")):
        try:
            details = tf.config.experimental.get_device_details(device) or {}
        except (RuntimeError, ValueError):
            details = {}
        capability = details.get("compute_capability")
        found.append(GPUInfo(
            index=index,
            name=device.name,
            description=str(details.get("device_name") or f"GPU {index}"),
            compute_capability=tuple(capability) if capability else None,
        ))
    return found


def cluster_config() -> dict | None:
    """The parsed ``TF_CONFIG`` when it describes a cluster, else None.

    Raises:
        ValueError: TF_CONFIG is set but is not JSON with a 'cluster' entry.
    """
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({exc.msg} at position {exc.pos}). Set it to "
            'JSON like {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}, or unset it to train on one machine.'
        ) from exc
    if not isinstance(parsed, dict) or not isinstance(parsed.get("cluster"), dict):
        raise ValueError(
            "TF_CONFIG has no 'cluster' entry. Set it to JSON with 'cluster' and 'task' "
            "entries, or unset it to train on one machine."
        )
    return parsed


def plan(devices: list[str] | None = None, allow_cluster: bool = False) -> DevicePlan:
    """Decide where to train, without creating the strategy yet.

    Args:
        devices: logical device names to mirror over (e.g. ``["/cpu:0", "/cpu:1"]``);
            None means "every GPU, or else every logical CPU".
        allow_cluster: honour ``TF_CONFIG`` (the CLI does; the app trains on its
            own machine).
    """
    tf = _tf()
    gpus = tuple(list_gpus())
    config = cluster_config() if allow_cluster else None
    if config is not None:
        task = config.get("task", {}) if isinstance(config.get("task"), dict) else {}
        workers = len(config["cluster"].get("worker", []) or [])
        label = (f"cluster of {workers} workers (this is {task.get('type', 'worker')} "
                 f"{task.get('index', 0)})")
        return DevicePlan("multi_worker", (), "cluster", label, bool(gpus), gpus)
    if devices:
        names = tuple(devices)
        has_gpu = any("gpu" in d.lower() for d in names)
        if len(names) == 1:
            return DevicePlan("gpu" if has_gpu else "cpu", names, _key(names), _key(names),
                              has_gpu, gpus)
        return DevicePlan("mirrored", names, _key(names),
                          f"{len(names)} devices mirrored ({', '.join(names)})", has_gpu, gpus)
    logical_gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if len(logical_gpus) > 1:
        return DevicePlan("mirrored", tuple(logical_gpus), _key(logical_gpus),
                          f"{len(logical_gpus)} GPUs mirrored", True, gpus)
    if len(logical_gpus) == 1:
        description = gpus[0].description if gpus else "GPU"
        return DevicePlan("gpu", tuple(logical_gpus), _key(logical_gpus),
                          f"GPU: {description}", True, gpus)
    logical_cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(logical_cpus) > 1:
        return DevicePlan("mirrored", tuple(logical_cpus), _key(logical_cpus),
                          f"{len(logical_cpus)} CPU devices mirrored", False, gpus)
    cores = os.cpu_count() or 1
    return DevicePlan("cpu", tuple(logical_cpus) or ("/device:CPU:0",), "CPU",
                      f"CPU ({cores} cores)", False, gpus)


def _key(names) -> str:
    """"/job:.../device:CPU:0" and "/cpu:0" both become "CPU:0"."""
    return ",".join(sorted(n.split("device:")[-1].split("/")[-1].upper() for n in names))


def make_strategy(device_plan: DevicePlan):
    """The ``tf.distribute`` strategy a plan describes."""
    tf = _tf()
    if device_plan.kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if device_plan.kind == "mirrored":
        cross = None
        if not device_plan.has_gpu:
            # NCCL all-reduce exists only between GPUs.
            cross = tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(list(device_plan.devices),
                                              cross_device_ops=cross)
    if device_plan.kind == "gpu":
        return tf.distribute.OneDeviceStrategy(device_plan.devices[0])
    return tf.distribute.get_strategy()


def mixed_precision_problem(device_plan: DevicePlan) -> str:
    """Why mixed precision cannot be used on this plan ("" when it can)."""
    if not device_plan.has_gpu:
        return ("Mixed precision speeds up training only on a GPU, and none was found. "
                "Switch mixed precision off.")
    slow = [g for g in device_plan.gpus if not g.supports_mixed_precision]
    if slow:
        names = ", ".join(g.description for g in slow)
        return (f"Mixed precision needs a GPU of compute capability 7.0 or newer; {names} is "
                "older and would train slower. Switch mixed precision off.")
    return ""


def xla_problem(device_plan: DevicePlan) -> str:
    """Why XLA compilation is not offered on this plan ("" when it is)."""
    if not device_plan.has_gpu:
        return ("XLA compilation is offered only on a GPU, and none was found. "
                "Switch XLA off.")
    return ""


def sidebar_text() -> str:
    """One line naming the device training will use, for the app's sidebar."""
    try:
        return plan().label
    except Exception as exc:  # a broken driver must not break the page
        return f"device unknown ({' '.join(str(exc).split())[:80]})"
