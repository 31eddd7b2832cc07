"""Hostile .keras files: each is refused with a sentence, nothing in it runs, and nothing is
unpacked before the checks (builder.importer)."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import keras
import numpy as np
import pytest

from builder import importer


def _model_bytes(tmp_path) -> bytes:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    path = tmp_path / "plain.keras"
    model.save(path)
    return path.read_bytes()


def _rezip(original: bytes, extra: dict[str, bytes] | None = None,
           drop: tuple[str, ...] = ()) -> bytes:
    """The archive with members dropped and others added (stored deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in drop:
                target.writestr(info.filename, source.read(info))
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def _refused(data: bytes, *words: str) -> str:
    with pytest.raises(importer.ImportRefused) as caught:
        importer.import_keras_bytes(data, name="upload.keras")
    message = str(caught.value)
    assert "Traceback" not in message and message.endswith((".", ")")), message
    for word in words:
        assert word in message, message
    return message


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / "sentinel"
    yield path
    assert not path.exists(), "something in the file ran"


@pytest.fixture(autouse=True)
def no_leftovers():
    before = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("nc_import_")}
    yield
    after = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("nc_import_")}
    assert after <= before, f"left behind: {after - before}"


def test_members_that_inflate_far_beyond_their_stored_size_are_refused_before_unpacking(
        tmp_path):
    # The attack that wrote 802 MB from 818 KB: zeros compress a thousandfold.
    bombs = {f"assets/part{i}.bin": bytes(8 * 1024 * 1024) for i in range(4)}
    _refused(_rezip(_model_bytes(tmp_path), bombs), "zip bomb", "assets/part0.bin")


def test_the_unpacked_total_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_UNPACKED_BYTES", 20_000)
    payload = {"assets/noise.bin": np.random.default_rng(0).bytes(30_000)}
    _refused(_rezip(_model_bytes(tmp_path), payload), "would unpack to")


@pytest.mark.parametrize("member", ["run_me.py", "../outside.txt", "assets/../../outside.txt",
                                    "/etc/cron.d/x", "assets\\..\\x"])
def test_members_a_keras_file_does_not_have_are_refused(tmp_path, member):
    _refused(_rezip(_model_bytes(tmp_path), {member: b"print('hi')"}), repr(member)[:20])
    assert not (tmp_path.parent / "outside.txt").exists()


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_pickle_in_the_weights_never_runs(tmp_path, sentinel):
    buffer = io.BytesIO()
    np.savez(buffer, **{"d/vars/0": np.array([_Payload(sentinel)], dtype=object)})
    data = _rezip(_model_bytes(tmp_path), {"model.weights.npz": buffer.getvalue()},
                  drop=("model.weights.h5",))
    try:
        importer.import_keras_bytes(data, name="upload.keras")
    except importer.ImportRefused as exc:
        assert "Traceback" not in str(exc)


@pytest.mark.parametrize("layer", [
    {"module": "os", "class_name": "system", "config": {"command": "touch SENTINEL"}},
    {"module": "subprocess", "class_name": "Popen", "config": {"args": ["touch", "SENTINEL"]}},
    {"module": "builtins", "class_name": "eval", "config": {"source": "1"}},
    {"module": "keras.layers", "class_name": "Lambda",
     "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {
         "code": "touch SENTINEL", "defaults": None, "closure": None}}}},
])
def test_classes_that_name_code_are_refused_and_never_imported(tmp_path, sentinel, layer):
    text = json.dumps(layer).replace("SENTINEL", str(sentinel))
    config = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "s", "layers": [
            {"module": "keras.layers", "class_name": "InputLayer",
             "config": {"batch_shape": [None, 4], "name": "in"}},
            json.loads(text)]}}
    data = _rezip(_model_bytes(tmp_path), {"config.json": json.dumps(config).encode()},
                  drop=("config.json",))
    _refused(data)


def test_a_deeply_nested_config_is_refused_with_a_sentence(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    data = _rezip(_model_bytes(tmp_path), {"config.json": deep.encode()}, drop=("config.json",))
    _refused(data)


def test_a_huge_config_is_refused_before_it_is_read(tmp_path):
    noise = np.random.default_rng(1).integers(0, 10, 51 * 1024 * 1024, dtype=np.uint8) + 48
    data = _rezip(_model_bytes(tmp_path), {"config.json": noise.tobytes()},
                  drop=("config.json",))
    _refused(data, "too large")
