"""`python -m builder train`: files, the run record, clear errors, a crash and --resume."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder.cli import build_parser, main
from builder.run_store import RunStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path, monkeypatch):
    # main() points NEURAL_CANVAS_HOME at --workspace; monkeypatch puts it back afterwards.
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "default_home"))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    frame["label"] = np.where(frame.a - frame.b > 0, "yes", "no")
    csv = tmp_path / "table.csv"
    frame.to_csv(csv, index=False)
    design = {"version": 1, "name": "two inputs", "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [2]}},
        {"id": "hidden", "type": "Dense", "params": {"units": 8}},
        {"id": "out", "type": "Dense", "params": {"units": 1, "activation": "sigmoid"}}],
        "edges": [{"source": "x", "target": "hidden"}, {"source": "hidden", "target": "out"}]}
    design_path = tmp_path / "design.json"
    design_path.write_text(json.dumps(design))
    return {"csv": csv, "design": design_path, "workspace": tmp_path / "ws",
            "out": tmp_path / "out", "raw": design}


def _train_args(files, *extra):
    return ["--workspace", str(files["workspace"]), "train", str(files["design"]), "--data",
            str(files["csv"]), "--target", "label", "--out", str(files["out"]), *extra]


def test_check_and_train_share_one_command_line():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"check", "train"} <= set(commands)


def test_train_writes_the_model_history_and_run_record(files, capsys):
    code = main(_train_args(files, "--epochs", "3", "--learning-rate", "0.05"))
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "epoch 1/3" in output.out and "epoch 3/3" in output.out
    assert "Finished after 3 epoch(s)" in output.out and "test accuracy" in output.out
    out = files["out"]
    for name in ("model.keras", "serving_model.keras", "history.json", "run.json",
                 "checkpoint.npz", "learning_cycle.json"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished" and run["config"]["learning_rate"] == 0.05
    record = RunStore(files["workspace"] / "neural_canvas.sqlite").get(run["run_id"])
    assert record.status == "finished" and record.epochs_done == 3
    assert record.run_dir == str(out.resolve())
    assert record.artifacts["model"].endswith("model.keras")


def test_train_on_a_bundled_sample(files, capsys, tmp_path):
    design = dict(files["raw"])
    design["nodes"] = [dict(n) for n in design["nodes"]]
    design["nodes"][0]["params"] = {"shape": [4]}
    design["nodes"][2]["params"] = {"units": 3, "activation": "softmax"}
    path = tmp_path / "iris.json"
    path.write_text(json.dumps(design))
    code = main(["--workspace", str(files["workspace"]), "train", str(path), "--data", "iris",
                 "--epochs", "1", "--out", str(tmp_path / "iris_run"), "--quiet"])
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "for multiclass on iris" not in output.out  # --quiet prints only the summary
    assert "Finished after 1 epoch(s)" in output.out


@pytest.mark.parametrize("change, words", [
    ({"design": "missing.json"}, "There is no file"),
    ({"target": "nope"}, "no column 'nope'"),
    ({"data": "no_such_sample"}, "no sample of that name"),
    ({"extra": ["--learning-rate", "-1"]}, "learning rate must be above 0"),
    ({"extra": ["--metrics", "accuracy,f1"]}, "Unknown metric 'f1'"),
    ({"extra": ["--mixed-precision"]}, "Switch mixed precision off"),
    ({"extra": ["--resume"]}, "no checkpoint"),
])
def test_bad_input_is_one_sentence_without_a_traceback(files, capsys, change, words):
    args = _train_args(files)
    if "design" in change:
        args[args.index(str(files["design"]))] = str(files["design"].parent / change["design"])
    if "target" in change:
        args[args.index("label")] = change["target"]
    if "data" in change:
        args[args.index(str(files["csv"]))] = change["data"]
    code = main(args + change.get("extra", []))
    err = capsys.readouterr().err
    assert code == 2
    assert words in err
    assert "Traceback" not in err


def test_designs_with_problems_or_that_do_not_fit_the_data_are_refused(files, capsys):
    broken = dict(files["raw"], nodes=[dict(n) for n in files["raw"]["nodes"]])
    broken["nodes"][1] = {"id": "hidden", "type": "Dense", "params": {"units": 0}}
    files["design"].write_text(json.dumps(broken))
    assert main(_train_args(files)) == 2
    assert "has problems" in capsys.readouterr().err

    wrong = dict(files["raw"], nodes=[dict(n) for n in files["raw"]["nodes"]])
    wrong["nodes"][0] = {"id": "x", "type": "Input", "params": {"shape": [5]}}
    files["design"].write_text(json.dumps(wrong))
    assert main(_train_args(files)) == 2
    err = capsys.readouterr().err
    assert "Training cannot start" in err and "Set the Input's shape to (2,)" in err


def test_an_existing_checkpoint_is_not_overwritten_without_resume(files, capsys):
    assert main(_train_args(files, "--epochs", "1")) == 0
    capsys.readouterr()
    assert main(_train_args(files, "--epochs", "1")) == 2
    assert "Add --resume" in capsys.readouterr().err
    # A finished run's files without a checkpoint are not written over either.
    for name in ("checkpoint.json", "checkpoint.npz"):
        (files["out"] / name).unlink()
    before = (files["out"] / "model.keras").read_bytes()
    assert main(_train_args(files, "--epochs", "1")) == 2
    err = capsys.readouterr().err
    assert "earlier run's files" in err and "model.keras" in err and "Traceback" not in err
    assert (files["out"] / "model.keras").read_bytes() == before


def test_a_zip_of_images_leaves_no_temporary_folder(tmp_path):
    from tests.data.builders import class_zip

    (tmp_path / "pets.zip").write_bytes(class_zip(per_class=6, size=(8, 8)))
    design = {"version": 1, "name": "pets", "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [8, 8, 3]}},
        {"id": "f", "type": "Flatten", "params": {}},
        {"id": "out", "type": "Dense", "params": {"units": 2, "activation": "softmax"}}],
        "edges": [{"source": "x", "target": "f"}, {"source": "f", "target": "out"}]}
    (tmp_path / "d.json").write_text(json.dumps(design))
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "NEURAL_CANVAS_HOME": str(tmp_path / "ws"),
           "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    for out, epochs in (("good", "1"), ("bad", "0")):  # a run, then a refusal
        subprocess.run([sys.executable, "-m", "builder", "train", str(tmp_path / "d.json"),
                        "--data", str(tmp_path / "pets.zip"), "--epochs", epochs, "--out",
                        str(tmp_path / out), "--validation", "0.2", "--test", "0.2"],
                       cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert (tmp_path / "good" / "model.keras").is_file()
    assert not list(temp.glob("neural_canvas_images_*"))


def test_epochs_recorded_after_the_checkpoint_are_trained_again_on_resume(files, capsys):
    # Killed after the history got epochs 3 and 4 but before their checkpoints were written.
    assert main(_train_args(files, "--epochs", "2")) == 0
    capsys.readouterr()
    run_id = json.loads((files["out"] / "run.json").read_text())["run_id"]
    store = RunStore(files["workspace"] / "neural_canvas.sqlite")
    for epoch in (3, 4):
        store.record_epoch(run_id, epoch, {"loss": 123.0}, 1.0)
    assert main(_train_args(files, "--resume", "--epochs", "3")) == 0
    assert "epoch 3/3" in capsys.readouterr().out
    history = json.loads((files["out"] / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[2]["loss"] != 123.0
    assert store.get(run_id).epochs_done == 3


def test_a_killed_run_is_interrupted_and_resumes_from_its_checkpoint(files, capsys):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    args = _train_args(files, "--epochs", "300", "--gd", "stochastic", "--quiet")
    process = subprocess.Popen([sys.executable, "-m", "builder", *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    info_path = files["out"] / "checkpoint.json"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            if info_path.is_file() and json.loads(info_path.read_text())["epochs_done"] >= 2:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    done = json.loads(info_path.read_text())["epochs_done"]
    run_id = json.loads((files["out"] / "run.json").read_text())["run_id"]

    store = RunStore(files["workspace"] / "neural_canvas.sqlite")
    assert store.get(run_id).status == "running"
    assert store.recover() == [run_id]
    assert store.get(run_id).status == "interrupted"

    total = done + 2
    code = main(_train_args(files, "--resume", "--epochs", str(total)))
    output = capsys.readouterr()
    assert code == 0, output.err
    assert f"epoch {done + 1}/{total}" in output.out and f"epoch {done}/" not in output.out
    history = json.loads((files["out"] / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, total + 1))
    record = store.get(run_id)
    assert record.status == "finished" and record.epochs_done == total
    assert record.config["gd_variant"] == "stochastic"  # the run's own settings were kept


def test_under_tf_config_the_cli_trains_as_a_cluster_worker(files):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tf_config = {"cluster": {"worker": [f"localhost:{port}"]},
                 "task": {"type": "worker", "index": 0}}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               TF_CONFIG=json.dumps(tf_config))
    done = subprocess.run([sys.executable, "-m", "builder", *_train_args(files, "--epochs", "2")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cluster of 1 workers (this is worker 0)" in done.stdout
    assert "Finished after 2 epoch(s)" in done.stdout
    assert (files["out"] / "model.keras").is_file()


def _tiny_gan_template(path, image=(8, 8, 1)):
    """A template file holding a tiny generator (noise 8 -> image) and discriminator."""
    from tests.test_jobs import _gan_pair

    generator, discriminator = _gan_pair(image=image)
    path.write_text(json.dumps({"title": "tiny GAN", "designs": [generator.to_dict(),
                                                                 discriminator.to_dict()]}))
    return path


def test_a_gan_template_trains_the_pair_and_exports_the_generator(files, capsys, tmp_path):
    template = _tiny_gan_template(tmp_path / "gan.json")
    out = tmp_path / "gan_run"
    code = main(["--workspace", str(files["workspace"]), "train", str(template), "--sample",
                 "digits", "--epochs", "2", "--batch-size", "64", "--out", str(out)])
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "generator against discriminator on 1,797 images of digits at 8 x 8" in output.out
    assert "d_loss" in output.out and "g_loss" in output.out
    assert "Finished after 2 epoch(s)" in output.out
    assert {"generator.keras", "discriminator.keras", "grid.png", "history.json",
            "checkpoint.npz"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in (out / "grids").iterdir()) == [
        "epoch_0000.npy", "epoch_0001.npy", "epoch_0002.npy"]
    store = RunStore(files["workspace"] / "neural_canvas.sqlite")
    record = store.list_runs()[0]
    assert record.config["kind"] == "gan" and record.status == "finished"
    assert f"python -m builder export {record.id}" in output.out

    zip_path = tmp_path / "gan.zip"
    code = main(["--workspace", str(files["workspace"]), "export", record.id, "--output",
                 str(zip_path)])
    output = capsys.readouterr()
    assert code == 0, output.err
    assert f"Wrote {zip_path}" in output.out and zip_path.is_file()


def test_export_of_an_unknown_run_says_so(files, capsys):
    code = main(["--workspace", str(files["workspace"]), "export", "nope"])
    output = capsys.readouterr()
    assert code == 2 and "does not exist" in output.err and "--workspace" in output.err
    assert not files["workspace"].exists()  # no empty workspace made just to say so
    RunStore(files["workspace"] / "neural_canvas.sqlite")
    code = main(["--workspace", str(files["workspace"]), "export", "nope"])
    output = capsys.readouterr()
    assert code == 2 and "There is no run 'nope'" in output.err
    assert "no runs yet" in output.err


def test_a_gan_on_a_table_is_refused_with_a_sentence(files, capsys, tmp_path):
    template = _tiny_gan_template(tmp_path / "gan.json")
    code = main(["--workspace", str(files["workspace"]), "train", str(template), "--data",
                 str(files["csv"]), "--out", str(tmp_path / "x")])
    output = capsys.readouterr()
    assert code == 2 and "A GAN trains on images" in output.err


class _Finishes:
    """A run store that remembers how runs finished."""

    def __init__(self):
        self.finished = []

    def finish(self, run_id, status, message):
        self.finished.append((run_id, status, message))


class _TrainingBroke(Exception):
    pass


def test_the_training_guard_stops_on_ctrl_c_and_aborts_on_the_second():
    from builder.cli import _training_guard

    before = signal.getsignal(signal.SIGINT)
    with _training_guard(None, "r1", (ValueError,)) as stop:
        handler = signal.getsignal(signal.SIGINT)
        handler(signal.SIGINT, None)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("error, code", [(ValueError("bad batch size"), 2),
                                         (_TrainingBroke("loss is NaN"), 1)])
def test_the_training_guard_records_a_failure_and_says_it(error, code):
    from builder.cli import _Failure, _training_guard

    store = _Finishes()
    with pytest.raises(_Failure) as caught, \
            _training_guard(store, "r2", (ValueError, _TrainingBroke)):
        raise error
    assert caught.value.code == code and str(caught.value) == str(error)
    assert store.finished == [("r2", "failed", str(error))]


def test_a_regression_run_says_which_scores_are_in_target_units(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "home"))
    code = main(["--workspace", str(tmp_path / "ws"), "train",
                 str(ROOT / "templates" / "mlp_regressor.json"), "--data", "diabetes",
                 "--epochs", "1", "--out", str(tmp_path / "run")])
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "The loss is on the standardised target" in output.out
    final = next(line for line in output.out.splitlines() if line.startswith("Final: "))
    assert "test loss (standardised target)" in final and "test mae (target units)" in final


@pytest.mark.parametrize("command", [["export", "1"], ["check", "templates/mlp_classifier.json"]])
def test_a_workspace_that_is_a_file_is_one_sentence_and_exit_2(files, capsys, tmp_path,
                                                               command):
    not_a_folder = tmp_path / "passwd"
    not_a_folder.write_text("root:x:0:0\n")
    code = main(["--workspace", str(not_a_folder), *command])
    err = capsys.readouterr().err
    if command[0] == "check":  # check needs no workspace
        assert code == 0
        return
    assert code == 2 and "is a file, not a folder" in err and "Traceback" not in err


def test_a_design_with_a_5000_digit_number_is_refused_in_one_sentence(capsys, tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"nodes": [{"id": "d", "type": "Dense", "params": {"units": '
                    + "9" * 5000 + "}}], \"edges\": []}")
    code = main(["check", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "no design uses" in err and "Traceback" not in err
