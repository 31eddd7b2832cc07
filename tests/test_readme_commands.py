"""Every command line README.md shows runs, as written, and does what the README says.

The commands are read from README.md's bash blocks, so a command added there without
a case here fails :func:`test_every_readme_command_has_a_case`. Each is run in its own
process with only these changes: ``.venv/bin/python`` is this interpreter, a
``--workspace`` keeps the runs apart, ``--epochs`` is small, ``RUN_ID`` is the run the
train command made, and the cluster example's hosts are two free local ports.

``./dev.sh app`` and ``./dev.sh test`` are the README's first two commands: the
browser tests start the app the way ``./dev.sh app`` does, and CI runs
``./dev.sh test`` itself (``.ci/run``); the benchmarks run in tests/test_bench.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = "2"


def readme_commands() -> list[str]:
    """The README's shell commands, one string each (continued lines joined)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    return commands


def _case(command: str) -> str:
    if command.startswith("./dev.sh"):
        return "dev"
    if command.startswith(".venv/bin/python bench/"):
        return "bench"
    if command.startswith("TF_CONFIG="):
        return "cluster"
    match = re.match(r"\.venv/bin/python -m builder (\w+)", command)
    return match.group(1) if match else "unknown"


def test_every_readme_command_has_a_case():
    commands = readme_commands()
    assert any(c.startswith("./dev.sh app") for c in commands)
    assert any(c.startswith("./dev.sh test") for c in commands)
    unknown = [c for c in commands if _case(c) == "unknown"]
    assert not unknown, f"README commands no test runs: {unknown}"


def _the(case: str, needle: str = "") -> str:
    found = [c for c in readme_commands() if _case(c) == case and needle in c]
    assert found, f"README.md shows no {case} command with {needle!r}"
    return found[0]


def _run(command: str, cwd: Path, workspace: Path, env: dict | None = None,
         timeout: int = 300) -> subprocess.CompletedProcess:
    words = shlex.split(command)
    assert words[0] == ".venv/bin/python", command
    words = [sys.executable, *words[1:]]
    if words[1:3] == ["-m", "builder"]:
        words[3:3] = ["--workspace", str(workspace)]
    if "--epochs" in words:
        words[words.index("--epochs") + 1] = EPOCHS
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3",
                    CUDA_VISIBLE_DEVICES="", **(env or {}))
    return subprocess.run(words, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("readme")
    (path / "templates").symlink_to(ROOT / "templates")
    return path


def test_the_check_command_prints_the_table_and_exits_0(folder):
    done = _run(_the("check"), folder, folder / "ws")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "conv_1" in done.stdout and "Conv2D" in done.stdout


def test_the_train_then_export_commands_give_a_bundle_that_predicts(folder):
    train = _the("train", "mlp_classifier")
    done = _run(train, folder, folder / "ws")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Finished after {EPOCHS} epoch(s)" in done.stdout
    out = folder / shlex.split(train)[shlex.split(train).index("--out") + 1]
    run_id = json.loads((out / "run.json").read_text())["run_id"]
    export = _the("export").replace("RUN_ID", run_id)
    done = _run(export, folder, folder / "ws")
    assert done.returncode == 0, done.stderr[-3000:]
    bundle = zipfile.ZipFile(folder / shlex.split(export)[shlex.split(export).index("--output")
                                                          + 1])
    assert {"saved_model/saved_model.pb", "model.keras", "README.md", "model.py"} <= set(
        bundle.namelist())
    assert bundle.read("class_names.txt").decode().split() == ["benign", "malignant"]


def test_the_gan_command_trains_and_its_run_exports(folder):
    done = _run(_the("train", "gan_digits"), folder, folder / "gan_ws")
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = re.search(r"builder export (\S+) --output", done.stdout).group(1)
    export = _the("export").replace("RUN_ID", run_id).replace("model.zip", "gan.zip")
    done = _run(export, folder, folder / "gan_ws")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "saved_model/saved_model.pb" in zipfile.ZipFile(folder / "gan.zip").namelist()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_cluster_command_trains_with_two_workers_on_this_machine(folder):
    """The README's TF_CONFIG example with host1/host2 as two local ports."""

    from builder.data.samples import load_sample

    command = _the("cluster")
    config_text = re.match(r"TF_CONFIG='([^']*)'", command).group(1)
    config = json.loads(config_text)
    assert config["cluster"]["worker"] == ["host1:12345", "host2:12345"]
    source = load_sample("breast_cancer")
    frame = source.frame.rename(columns={source.target[0]: "label"})
    frame.to_csv(folder / "table.csv", index=False)
    (folder / "design.json").write_text((ROOT / "templates" / "mlp_classifier.json")
                                        .read_text())
    hosts = [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]
    rest = command[command.index("' ") + 2:]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        worker = rest.replace("--out run1", f"--out run_worker{index}")
        words = shlex.split(worker)
        words = [sys.executable, *words[1:3], "--workspace", str(folder / f"cw{index}"),
                 *words[3:]]
        words[words.index("--epochs") + 1] = EPOCHS
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3",
                   CUDA_VISIBLE_DEVICES="", TF_CONFIG=json.dumps(tf_config))
        processes.append(subprocess.Popen(words, cwd=folder, env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
        assert f"Finished after {EPOCHS} epoch(s)" in out
    assert (folder / "run_worker0" / "model.keras").is_file()  # worker 0 writes the model
    # Trained together, the two workers end with the same weights, so the same scores.
    finals = [next(line for line in out.splitlines() if line.startswith("Final: "))
              for out, _ in outputs]
    assert finals[0] == finals[1]
