"""The files a finished training session leaves in its run folder.

One place for the CLI (``python -m builder train``) and the app's training worker
(:mod:`builder.worker`): the trained model, the end-to-end serving model that takes
raw inputs, and a few raw example inputs for the export's README.
"""

from __future__ import annotations

from pathlib import Path


def serving_model(data, model):
    """The end-to-end model (raw inputs -> preprocessing -> model), or None.

    Prepared data that carries its preprocessing (``builder.data.PreparedData``)
    joins it in front of the trained model, so the saved model takes raw rows,
    pixels or strings.
    """
    end_to_end = getattr(data, "end_to_end", None)
    if not callable(end_to_end) or getattr(data, "preprocessing", None) is None:
        return None
    return end_to_end(model)


def save_example_inputs(data, run_dir: Path) -> Path | None:
    """Keep a few raw validation inputs in the run folder, for the export's README."""
    from builder.export import EXAMPLE_ROWS, EXAMPLES_FILE, save_examples

    raw = getattr(data, "raw", None)
    sizes = getattr(data, "sizes", {}) or {}
    split = next((s for s in ("validation", "test", "train") if sizes.get(s)), None)
    if not callable(raw) or split is None:
        return None
    path = Path(run_dir) / EXAMPLES_FILE
    save_examples(raw(split, EXAMPLE_ROWS), path)
    return path


def save_models(result, data, run_dir: str | Path, *, gan: bool = False) -> dict:
    """Write the trained model(s), the serving model and example inputs; name -> path.

    Nothing is written when the session trained no full epoch.
    """
    from builder import gan_training

    run_dir = Path(run_dir)
    files: dict = {}
    if result.model is None or result.epochs_done <= 0:
        return files
    if gan:
        files.update(gan_training.save_pair(result.model, run_dir))
        return files
    model_path = run_dir / "model.keras"
    result.model.save(model_path)
    files["model"] = str(model_path)
    serving = serving_model(data, result.model)
    if serving is not None:
        serving_path = run_dir / "serving_model.keras"
        serving.save(serving_path)
        files["serving_model"] = str(serving_path)
        examples = save_example_inputs(data, run_dir)
        if examples is not None:
            files["examples"] = str(examples)
    return files


def load_model(path: str | Path):
    """A saved ``.keras`` model, loaded safely (no Lambda code runs); our layers registered."""
    import keras

    import builder.custom_layers  # noqa: F401  (registers our layers for safe loading)

    return keras.models.load_model(path, safe_mode=True)
