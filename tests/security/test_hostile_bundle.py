"""A design, columns and labels written by an attacker go through the whole path as text:
the design checks, trains, exports; the bundle's README example and model.py run without
executing anything; the SavedModel's input keys are valid and distinct; the README shows
the text literally (escaped for Markdown)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd

from builder import export, strategy
from builder.data.tabular import prepare_tabular
from builder.jobs import JobManager
from builder.markdown import escape as md
from builder.run_store import RunStore
from builder.train import TrainConfig
from builder.validate import analyze
from tests.helpers import chain

CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)


def _hostile(sentinel) -> dict:
    touch = f"__import__('os').system('touch {sentinel}')"
    return {
        "design": f'x""";{touch};"""![N](http://127.0.0.1:9/name.png)',
        "columns": [f"a'''{touch}'''", "a b", "a-b", "a.b", "<img src=x onerror=alert(1)>",
                    "![T](http://127.0.0.1:9/col.png)", "{{ }} %s \\", "line\nbreak"],
        "labels": [f'"""{touch}"""', "<script>alert(1)</script>",
                   "[L](javascript:alert(1))"],
    }


def test_hostile_text_stays_text_from_design_to_bundle(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    hostile = _hostile(sentinel)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(150, len(hostile["columns"]))),
                         columns=hostile["columns"])
    frame["target"] = np.array(hostile["labels"], dtype=object)[np.arange(150) % 3]
    data = prepare_tabular(frame, "target", task="multiclass")
    design = chain(("Dense", {"units": 4}), ("Dense", {"units": 3, "activation": "softmax"}),
                   input_shape=data.input_shape)
    design.name = hostile["design"]
    assert analyze(design).ok, analyze(design).problems

    store = RunStore(tmp_path / "store.sqlite")
    job = JobManager(store, device_plan=CPU).submit(design, data,
                                                    TrainConfig(epochs=1, batch_size=32))
    assert job.wait(240)
    record = store.get(job.run_id)
    assert record.status == "finished", record.message
    text, code = export.run_export(job.run_id, tmp_path / "bundle.zip",
                                   store_path=tmp_path / "store.sqlite")
    assert code == 0, text
    folder = tmp_path / "bundle"
    zipfile.ZipFile(tmp_path / "bundle.zip").extractall(folder)

    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "![N](" not in readme and "![T](" not in readme and "<img src" not in readme
    assert "<script>" not in readme and "](javascript:" not in readme
    assert md(hostile["design"]) in readme  # the text is there, only made inert

    # The README's example runs in a process with TensorFlow alone; model.py imports.
    example = re.search(r"```python\n(.*?)```", readme, flags=re.S).group(1)
    probe = ("import importlib.util\n"
             "spec = importlib.util.spec_from_file_location('m', 'model.py')\n"
             "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
             "import tensorflow as tf\n"
             "serve = tf.saved_model.load('saved_model').signatures['serving_default']\n"
             "keys = sorted(serve.structured_input_signature[1])\n"
             "open('keys.txt', 'w').write('\\n'.join(keys))\n")
    done = subprocess.run([sys.executable, "-I", "-c", example + "\n" + probe], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    keys = (folder / "keys.txt").read_text().splitlines()
    assert len(keys) == len(set(keys)) == len(hostile["columns"])
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-/]+", key) for key in keys), keys
    labels = (folder / "class_names.txt").read_text(encoding="utf-8")
    assert sorted(labels.splitlines()) == sorted(hostile["labels"])
    assert not sentinel.exists(), "text from the design or the data ran as code"
