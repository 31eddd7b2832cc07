"""Which devices TensorFlow found: GPU names, or the CPU.

The sidebar shows this so a learner knows what training will run on.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Devices:
    """The devices TensorFlow can use.

    Attributes:
        gpus: one readable name per GPU, e.g. ``"GPU 0: NVIDIA A100"``.
        cpu: a description of the processor.
        error: why the search failed, when it did (TensorFlow missing or broken).
    """

    gpus: tuple[str, ...] = ()
    cpu: str = "CPU"
    error: str = ""
    details: dict = field(default_factory=dict, compare=False)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def summary(self) -> str:
        """One line for the sidebar."""
        if self.gpus:
            count = len(self.gpus)
            return f"{count} GPU{'s' if count > 1 else ''}: " + "; ".join(self.gpus)
        if self.error:
            return f"CPU ({self.error})"
        return f"CPU only: {self.cpu}"


def _cpu_name() -> str:
    name = platform.processor() or platform.machine() or "CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return name


def find_devices() -> Devices:
    """Ask TensorFlow for its physical GPUs; never raises."""
    cpu = _cpu_name()
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    except Exception as exc:  # TensorFlow missing or failing to load: say so, use the CPU
        return Devices(cpu=cpu, error=f"TensorFlow could not list devices: {exc}")
    names = []
    details = {}
    for index, gpu in enumerate(gpus):
        try:
            info = tf.config.experimental.get_device_details(gpu) or {}
        except Exception:  # details are optional; the device itself is usable
            info = {}
        label = info.get("device_name") or gpu.name
        names.append(f"GPU {index}: {label}")
        details[gpu.name] = info
    return Devices(gpus=tuple(names), cpu=cpu, details=details)
