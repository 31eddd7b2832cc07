"""Headless commands over the same functions the app uses.

    python -m builder check design.json
    python -m builder train design.json --data table.csv --target label --epochs 20 --out run1
    python -m builder train templates/gan_digits.json --data digits --epochs 100 --out gan1
    python -m builder export RUN_ID --output bundle.zip [--formats tflite onnx]

A file holding a generator and a discriminator design (the GAN template) trains the
pair against each other; the images are prepared at the generator's output size.

With ``TF_CONFIG`` set, ``train`` runs as one worker of a cluster under
``tf.distribute.MultiWorkerMirroredStrategy``; start the same command on every
worker.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path


def _add_check(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="analyse a design file: per-node shapes, parameters and problems")
    parser.add_argument("design", help="path to a design JSON file")
    parser.set_defaults(run=_run_check)


def _run_check(args) -> int:
    from builder.check import run_check

    text, code = run_check(args.design)
    print(text, file=sys.stdout if code < 2 else sys.stderr)
    return code


# -- train ----------------------------------------------------------------------

# Flag -> TrainConfig field, for the settings that map one to one.
_SETTING_FLAGS = {
    "loss": "loss", "optimizer": "optimizer", "learning_rate": "learning_rate",
    "momentum": "momentum", "weight_decay": "weight_decay", "schedule": "schedule",
    "decay_rate": "decay_rate", "decay_epochs": "decay_epochs", "gd": "gd_variant",
    "batch_size": "batch_size", "epochs": "epochs", "patience": "patience", "seed": "seed",
    "clip_norm": "clip_norm",
}


def _add_train(subparsers) -> None:
    from builder import train as train_module

    parser = subparsers.add_parser(
        "train", help="train a design on data and save the model, history and checkpoint",
        description="Train a design on data, printing one line per epoch. Settings come from "
                    "the defaults, then --config, then the flags. Ctrl-C stops after the "
                    "current batch and keeps what was learned (--resume goes on from there).")
    parser.add_argument("design", help="path to a design JSON file")
    parser.add_argument("--data", "--sample", dest="data", required=True,
                        help="a CSV file, a zip (or folder) of one folder of images per class, "
                             "or a bundled sample: iris, breast_cancer, digits, ...")
    parser.add_argument("--target", action="append",
                        help="the column to predict (repeat it for several regression targets)")
    parser.add_argument("--task", choices=train_module.TASKS,
                        help="what to learn (default: inferred from the target column)")
    parser.add_argument("--out", required=True,
                        help="folder for model.keras, history.json, run.json and the checkpoint")
    parser.add_argument("--config", help="JSON file of training settings (TrainConfig fields)")
    parser.add_argument("--resume", action="store_true",
                        help="go on from the checkpoint in --out (after a stop or a crash)")
    parser.add_argument("--epochs", type=int, help="total epochs (default 10)")
    parser.add_argument("--loss", choices=tuple(train_module.LOSSES),
                        help="default: the task's usual loss")
    parser.add_argument("--optimizer", choices=tuple(train_module.OPTIMIZERS))
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--momentum", type=float, help="SGD momentum")
    parser.add_argument("--weight-decay", type=float, help="AdamW weight decay")
    parser.add_argument("--schedule", choices=tuple(train_module.SCHEDULES))
    parser.add_argument("--decay-rate", type=float)
    parser.add_argument("--decay-epochs", type=int)
    parser.add_argument("--gd", choices=tuple(train_module.GD_VARIANTS),
                        help="gradient descent variant: mini-batch (default), batch (whole "
                             "training set per step) or stochastic (one sample per step)")
    parser.add_argument("--batch-size", type=int, help="samples per step for mini-batch")
    parser.add_argument("--patience", type=int, help="early stopping patience (0: off)")
    parser.add_argument("--metrics", help="comma-separated: " + ", ".join(train_module.METRICS))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--clip-norm", type=float, help="gradient clipping: largest norm")
    parser.add_argument("--mixed-precision", action="store_true", default=None,
                        help="float16 compute on a GPU")
    parser.add_argument("--xla", action="store_true", default=None,
                        help="XLA-compile the training step (GPU)")
    parser.add_argument("--validation", type=float, default=0.15,
                        help="share of rows held out for validation (default 0.15)")
    parser.add_argument("--test", type=float, default=0.15,
                        help="share of rows held out for the final test (default 0.15)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.set_defaults(run=_run_train)


# What a run writes into --out (besides its checkpoint): a new run never writes over them.
RUN_FILES = ("model.keras", "serving_model.keras", "history.json", "run.json", "generator.keras")


class _Failure(Exception):
    """A sentence for stderr and an exit code."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _read_designs(path: str):
    """The designs in a file (read only: no TensorFlow yet)."""
    from builder.check import read_designs
    from builder.design import DesignFormatError

    try:
        return read_designs(path)
    except DesignFormatError as exc:
        raise _Failure(str(exc)) from exc


def _is_gan_pair(designs) -> bool:
    return len(designs) == 2 and {d.role for d in designs} == {"generator", "discriminator"}


def _read_design(path: str):
    """The one design in a file (read only: no TensorFlow yet)."""
    designs = _read_designs(path)
    if len(designs) != 1:
        roles = ", ".join(d.role for d in designs)
        raise _Failure(f"{path} holds {len(designs)} designs ({roles}); training takes one, "
                       "or a generator and a discriminator (a GAN). Save the one to train as "
                       "its own design file.")
    return designs[0]


def _check_design(design, path: str) -> None:
    from builder.validate import analyze

    report = analyze(design)
    if not report.ok:
        lines = [f"  [{p.node_id}] {p.message}" if p.node_id else f"  {p.message}"
                 for p in report.problems]
        raise _Failure(f"The design in {path} has problems, so it cannot be trained:\n"
                       + "\n".join(lines) + f"\nRun `python -m builder check {path}` for the "
                       "table of shapes.")


def _load_data(args, hints: dict | None = None):
    """Prepared data from --data: a CSV file, a zip or folder of class folders, or a sample.

    ``hints`` (``builder.data.link.preparation_hints`` of the design) settle what the
    flags leave open: the image size and channels, the tokens per text, the window.
    """
    from builder.data import DataError

    hints = dict(hints or {})
    path = Path(args.data)
    try:
        if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
            return _prepare_images(path, args, hints)
        if path.is_file():
            from builder.data.csv_reading import load_csv

            return _prepare_table(load_csv(path), args, hints)
        return _prepare_sample(args, hints)
    except DataError as exc:
        raise _Failure(str(exc)) from exc


def _task(args, hints: dict, fallback=None):
    return args.task or hints.get("task") or fallback


def _prepare_table(source, args, hints: dict):
    from builder.data import tabular

    targets = list(args.target or source.target or [])
    if not targets and _task(args, hints) != "reconstruction":
        columns = ", ".join(list(source.frame.columns)[:20])
        raise _Failure(f"Name the column to predict with --target; the columns are: {columns}.")
    if source.mode == "timeseries":
        from builder.data import timeseries

        return timeseries.prepare_timeseries(source, targets, validation=args.validation,
                                             test=args.test, window=hints.get("window", 24))
    text = {k: hints[k] for k in ("sequence_length", "max_tokens") if k in hints}
    return tabular.prepare_tabular(source, targets or None,
                                   task=_task(args, {}, source.task),
                                   validation=args.validation, test=args.test, **text)


def _prepare_images(path: Path, args, hints: dict):
    import atexit
    import shutil
    import tempfile

    from builder.data import images

    if path.is_dir():
        source = images.scan_folder(path)
    else:
        # The images are read during training; the folder goes when the command ends,
        # however it ends (a refusal, a failure, Ctrl-C).
        folder = Path(tempfile.mkdtemp(prefix="neural_canvas_images_"))
        atexit.register(shutil.rmtree, folder, True)
        source = images.load_image_zip(path.read_bytes(), folder, name=path.name)
    return _prepare_image_source(source, args, hints)


def _prepare_image_source(source, args, hints: dict):
    from builder.data import images

    return images.prepare_images(source, task=_task(args, hints), validation=args.validation,
                                 test=args.test, size=hints.get("size"),
                                 channels=hints.get("channels"))


def _prepare_sample(args, hints: dict):
    from builder.data import samples

    if args.data not in {sample.id for sample in samples.list_samples()}:
        names = ", ".join(sample.id for sample in samples.list_samples())
        raise _Failure(f"There is no file or folder {args.data!r}, and no sample of that name. "
                       f"Give the path of a CSV file, a zip of class folders, or one of the "
                       f"samples: {names}.")
    source = samples.load_sample(args.data)
    if samples.get_sample(args.data).kind == "images":
        return _prepare_image_source(source, args, hints)
    return _prepare_table(source, args, hints)


def _saved_and_file_settings(args, example: str) -> dict:
    """Settings from a resumed run's record, then from --config (a JSON object)."""
    settings: dict = {}
    if args.resume:
        saved = _read_json(Path(args.out) / "run.json").get("config")
        if isinstance(saved, dict):
            settings.update(saved)
    if args.config:
        try:
            from_file = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except OSError as exc:
            raise _Failure(f"The settings file {args.config} cannot be read ({exc.strerror}). "
                           "Check the path.") from exc
        except ValueError as exc:
            raise _Failure(f"The settings file {args.config} is not valid JSON ({exc}). Fix "
                           "it or leave --config out.") from exc
        if not isinstance(from_file, dict):
            raise _Failure(f"The settings file {args.config} must hold a JSON object of "
                           f"settings, e.g. {example}.")
        settings.update(from_file)
    return settings


def _config(args):
    """Settings: defaults, then a resumed run's own settings, then --config, then flags."""
    from builder.train import TrainConfig

    settings = _saved_and_file_settings(args, '{"epochs": 20, "optimizer": "sgd"}')
    for flag, name in _SETTING_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            settings[name] = value
    if args.metrics is not None:
        settings["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    for name in ("mixed_precision", "xla"):
        if getattr(args, name):
            settings[name] = True
    try:
        return TrainConfig.from_dict(settings)
    except (ValueError, TypeError) as exc:
        raise _Failure(str(exc)) from exc


def _out_folder(args) -> Path:
    """The --out folder, checked against --resume and created."""
    from builder.train import read_checkpoint_info

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _Failure(f"--out {out} is a file; give a folder (it is created if needed).")
    has_checkpoint = read_checkpoint_info(out) is not None
    if args.resume and not has_checkpoint:
        raise _Failure(f"There is no checkpoint in {out} to resume from. Leave out --resume to "
                       "start a new run there.")
    if has_checkpoint and not args.resume:
        raise _Failure(f"{out} already holds a run's checkpoint. Add --resume to go on from it, "
                       "or choose another --out folder.")
    earlier = sorted(name for name in RUN_FILES if (out / name).exists())
    if earlier and not has_checkpoint:
        raise _Failure(f"{out} already holds an earlier run's files ({', '.join(earlier)}), "
                       "which a new run would overwrite. Choose another --out folder, or "
                       "move those files away.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _open_record(args, out: Path, name: str, design: dict, data: dict, config,
                 device: str):
    """The run's record in the workspace history (the resumed one, or a new one).

    Returns (store, run_id); (None, None) with a note when the history cannot be written,
    since training does not need it.
    """
    from builder.database import StoreError
    from builder.run_store import RunStore
    from builder.workspace import WorkspaceError

    try:
        store = RunStore()
        previous = _read_json(out / "run.json").get("run_id") if args.resume else None
        if previous and store.get(previous) is not None:
            from builder.train import read_checkpoint_info

            store.claim(previous)
            store.set_status(previous, "running")
            store.update_config(previous, config.to_dict())
            # Epochs recorded after the checkpoint (killed before it was written) are
            # trained again from it.
            info = read_checkpoint_info(out) or {}
            store.drop_epochs_after(previous, int(info.get("epochs_done", 0)))
            return store, previous
        return store, store.create_run(name=name, design=design, data=data,
                                       config=config.to_dict(), device=device,
                                       status="running", run_dir=out).id
    except (StoreError, WorkspaceError, OSError) as exc:
        print(f"Note: the run is not recorded in the workspace history ({exc}).",
              file=sys.stderr)
        return None, None


@contextlib.contextmanager
def _training_guard(store, run_id, errors: tuple[type[Exception], ...]):
    """Around a training call: yields its stop event, which Ctrl-C sets (training stops
    after the current batch; a second Ctrl-C aborts), and turns one of ``errors`` into
    the run's recorded failure and a CLI failure (code 2 for bad input, else 1)."""
    stop = threading.Event()

    def on_interrupt(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nStopping after the current batch (Ctrl-C again to abort)...", file=sys.stderr)

    previous_handler = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stop
    except errors as exc:
        if store is not None:
            store.finish(run_id, "failed", str(exc))
        raise _Failure(str(exc), code=2 if isinstance(exc, ValueError) else 1) from exc
    finally:
        signal.signal(signal.SIGINT, previous_handler)


def _epoch_reporter(args, total_epochs: int, store, run_id):
    """Print each epoch's line and record it in the run history."""
    def on_epoch(row: dict) -> None:
        if not args.quiet:
            print(_epoch_line(row, total_epochs), flush=True)
        if store is not None:
            metrics = {k: v for k, v in row.items() if k not in ("epoch", "seconds", "partial")}
            store.record_epoch(run_id, row["epoch"], metrics, row.get("seconds", 0.0),
                               partial=bool(row.get("partial")))
    return on_epoch


def _is_chief() -> bool:
    from builder.strategy import cluster_config

    config = cluster_config()
    if config is None:
        return True
    task = config.get("task") if isinstance(config.get("task"), dict) else {}
    kind, index = task.get("type", "worker"), task.get("index", 0)
    if "chief" in config["cluster"]:
        return kind == "chief"
    return kind == "worker" and index == 0


def _epoch_line(row: dict, total: int) -> str:
    parts = [f"epoch {row['epoch']:>{len(str(total))}}/{total}"]
    for name, value in row.items():
        if name in ("epoch", "seconds", "partial", "learning_rate"):
            continue
        parts.append(f"{name} {value:.4f}")
    parts.append(f"{row.get('seconds', 0.0):.1f} s")
    if row.get("partial"):
        parts.append("(stopped mid-epoch)")
    return "  ".join(parts)


def _run_train(args) -> int:
    try:
        designs = _read_designs(args.design)
        if _is_gan_pair(designs):
            return _train_gan(args, designs)
        return _train(args)
    except _Failure as failure:
        print(str(failure), file=sys.stderr)
        return failure.code


def _train(args) -> int:
    from builder import strategy as strategy_module

    design = _read_design(args.design)
    # A cluster strategy must exist before TensorFlow does anything else.
    try:
        device_plan = strategy_module.plan(allow_cluster=True)
    except ValueError as exc:
        raise _Failure(str(exc)) from exc
    strategy = None
    if device_plan.kind == "multi_worker":
        strategy = strategy_module.make_strategy(device_plan)
    else:
        strategy_module.enable_memory_growth()
    chief = _is_chief()

    from builder import train as train_module

    _check_design(design, args.design)
    config = _config(args)
    from builder.data.link import preparation_hints

    data = _load_data(args, preparation_hints(design))
    config = config.with_task(data.task)
    n_train = data.size("train")
    try:
        config.validate(task=data.task, n_train=n_train, device_plan=device_plan)
    except ValueError as exc:
        raise _Failure(str(exc)) from exc

    problems = train_module.preflight(design, data, config, device_plan=device_plan)
    if problems:
        raise _Failure("Training cannot start:\n" + "\n".join(f"  - {p}" for p in problems))

    out = _out_folder(args)

    store, run_id = None, None
    if chief:
        store, run_id = _open_record(args, out, design.name or Path(args.design).stem,
                                     design.to_dict(), train_module.describe_data(data), config,
                                     device_plan.label)

    sizes = {s: data.size(s) for s in ("train", "validation", "test") if data.size(s)}
    batch = config.effective_batch_size(n_train)
    if not args.quiet:
        print(f"Training {design.name or Path(args.design).stem!r} for {data.task} on "
              f"{args.data}: " + " / ".join(f"{v:,} {k}" for k, v in sizes.items()))
        print(f"Device: {device_plan.label}. {config.gd_variant} gradient descent, batch "
              f"{batch}; {train_module.OPTIMIZERS[config.optimizer]}, learning rate "
              f"{config.learning_rate:g}; loss {config.loss}.")
        if train_module.standardised_regression(data):
            print(train_module.UNITS_NOTE)

    on_epoch = _epoch_reporter(args, config.epochs, store, run_id)

    _write_json(out / "run.json", {"run_id": run_id, "status": "running",
                                   "design": design.to_dict(), "config": config.to_dict(),
                                   "data": train_module.describe_data(data),
                                   "device": device_plan.label})
    with _training_guard(store, run_id, (ValueError, train_module.TrainingError)) as stop:
        recorders = ([train_module.learning_cycle_recorder(data, config,
                                                          out / "learning_cycle.json")]
                     if chief else [])
        result = train_module.train(
            design, data, config, stop_event=stop, run_dir=out, resume=args.resume,
            device_plan=device_plan, strategy=strategy, on_epoch=on_epoch, is_chief=chief,
            callbacks=recorders)

    files = {"run": str(out / "run.json")}
    if chief:
        if result.checkpoint is not None:
            files["checkpoint"] = str(out / train_module.CHECKPOINT_FILE)
        if (out / "learning_cycle.json").is_file():
            files["learning_cycle"] = str(out / "learning_cycle.json")
        from builder.run_files import save_models

        files.update(save_models(result, data, out))
        history = (store.epochs(run_id) if store is not None else [])
        rows = ([{"epoch": r.epoch, **r.metrics, "seconds": r.seconds, "partial": r.partial}
                 for r in history] if history else result.history)
        _write_json(out / "history.json", rows)
        files["history"] = str(out / "history.json")
        _write_json(out / "run.json", {
            "run_id": run_id, "status": result.status, "message": result.message,
            "epochs_done": result.epochs_done, "final": result.final,
            "design": design.to_dict(), "config": config.to_dict(),
            "data": train_module.describe_data(data), "device": device_plan.label,
            "files": files})
        if store is not None:
            store.finish(run_id, result.status, result.message, result.final,
                         {k: v for k, v in files.items() if k != "run"})

    words = {"finished": "Finished", "early_stopped": "Stopped early", "stopped": "Stopped",
             "diverged": "Diverged"}
    print(f"{words.get(result.status, result.status)} after {result.epochs_done} epoch(s) in "
          f"{result.seconds:.1f} s." + (f" {result.message}" if result.message else ""))
    scores = {k: v for k, v in result.final.items() if k.startswith(("test_", "val_"))}
    if scores:
        standardised = train_module.standardised_regression(data)
        print("Final: " + ", ".join(f"{train_module.score_words(k, standardised)} {v:.4f}"
                                    for k, v in sorted(scores.items())))
    if chief:
        print("Saved: " + ", ".join(files.values()))
    if result.status == "diverged":
        return 1
    if result.status == "stopped":
        return 130
    return 0


def _gan_images(args, generator):
    """The --data images at the generator's output size (a GAN's real samples)."""
    from builder.compile import build_model
    from builder.data import DataError
    from builder.graph import no_weight_allocation

    with no_weight_allocation():
        shape = tuple(build_model(generator).output_shape[1:])
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise _Failure(f"The generator makes samples of shape {shape}; the command line trains "
                       "GANs on images, so end the generator in an image (height, width, 1 or "
                       "3 channels).")
    path = Path(args.data)
    try:
        if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
            return _prepare_images(path, args, {"size": shape[:2], "channels": shape[2]}), shape
        from builder.data import images, samples

        if args.data not in {s.id for s in samples.list_samples()} or samples.get_sample(
                args.data).kind != "images":
            names = ", ".join(s.id for s in samples.list_samples() if s.kind == "images")
            raise _Failure(f"A GAN trains on images: give a zip or folder of images, or an "
                           f"image sample ({names}); got {args.data!r}.")
        return images.prepare_images(samples.load_sample(args.data), size=shape[:2],
                                     channels=shape[2], validation=args.validation,
                                     test=args.test), shape
    except DataError as exc:
        raise _Failure(str(exc)) from exc


def _gan_config(args):
    from builder.gan_training import GanConfig

    settings = _saved_and_file_settings(args, '{"epochs": 100, "batch_size": 64}')
    for flag in ("epochs", "batch_size", "learning_rate", "seed"):
        if getattr(args, flag) is not None:
            settings[flag] = getattr(args, flag)
    try:
        config = GanConfig.from_dict(settings)
    except (ValueError, TypeError) as exc:
        raise _Failure(str(exc)) from exc
    return config


def _train_gan(args, designs) -> int:
    """Train a generator against a discriminator (the GAN template) from the command line."""
    from builder import gan_training
    from builder import strategy as strategy_module
    from builder.gan import tile
    from builder.train import CHECKPOINT_FILE, describe_data

    generator, discriminator = gan_training.order_pair(*designs)
    for design in (generator, discriminator):
        _check_design(design, args.design)
    config = _gan_config(args)
    data, shape = _gan_images(args, generator)
    device_plan = strategy_module.plan()
    strategy_module.enable_memory_growth()
    problems = gan_training.pair_problems(generator, discriminator, data, config)
    if problems:
        raise _Failure("Training cannot start:\n" + "\n".join(f"  - {p}" for p in problems))
    out = _out_folder(args)
    name = generator.name or Path(args.design).stem
    store, run_id = _open_record(args, out, name,
                                 gan_training.record_design(generator, discriminator),
                                 describe_data(data), config, device_plan.label)
    images = gan_training.GanImages(data).size("train")
    if not args.quiet:
        print(f"Training the GAN {name!r}: generator against discriminator on {images:,} "
              f"images of {args.data} at {shape[0]} x {shape[1]}.")
        print(f"Device: {device_plan.label}. Batch {config.batch_size}; Adam, learning rate "
              f"{config.learning_rate:g}, beta_1 {config.beta_1:g}.")
    on_epoch = _epoch_reporter(args, config.epochs, store, run_id)

    record = {"run_id": run_id, "status": "running",
              "design": gan_training.record_design(generator, discriminator),
              "config": config.to_dict(), "data": describe_data(data),
              "device": device_plan.label}
    _write_json(out / "run.json", record)
    with _training_guard(store, run_id, (ValueError, gan_training.TrainingError)) as stop:
        result = gan_training.train_gan(generator, discriminator, data, config,
                                        stop_event=stop, run_dir=out, resume=args.resume,
                                        device_plan=device_plan, on_epoch=on_epoch)

    files = {"run": str(out / "run.json")}
    if result.checkpoint is not None:
        files["checkpoint"] = str(out / CHECKPOINT_FILE)
    grids = out / gan_training.GRIDS_DIR
    epochs = gan_training.grid_epochs(grids)
    if epochs:
        files["grids"] = str(grids)
        from PIL import Image

        picture = tile(gan_training.load_grid(grids, epochs[-1]))
        picture = picture[..., 0] if picture.shape[-1] == 1 else picture
        image = Image.fromarray(picture)
        image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST).save(
            out / "grid.png")
        files["grid_png"] = str(out / "grid.png")
    if result.model is not None and result.epochs_done > 0:
        files.update(gan_training.save_pair(result.model, out))
    rows = ([{"epoch": r.epoch, **r.metrics, "seconds": r.seconds, "partial": r.partial}
             for r in store.epochs(run_id)] if store is not None else result.history)
    _write_json(out / "history.json", rows)
    files["history"] = str(out / "history.json")
    _write_json(out / "run.json", {**record, "status": result.status,
                                   "message": result.message,
                                   "epochs_done": result.epochs_done, "final": result.final,
                                   "files": files})
    if store is not None:
        store.finish(run_id, result.status, result.message, result.final,
                     {k: v for k, v in files.items() if k not in ("run", "grid_png")})
    words = {"finished": "Finished", "stopped": "Stopped", "diverged": "Diverged"}
    print(f"{words.get(result.status, result.status)} after {result.epochs_done} epoch(s) in "
          f"{result.seconds:.1f} s." + (f" {result.message}" if result.message else ""))
    final = {k: v for k, v in result.final.items() if k in ("d_loss", "g_loss")}
    if final:
        print("Final: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(final.items())))
    print(f"Run {run_id}: export the generator with `python -m builder export {run_id} "
          "--output gan.zip`." if run_id else "")
    print("Saved: " + ", ".join(files.values()))
    if result.status == "diverged":
        return 1
    if result.status == "stopped":
        return 130
    return 0


# -- export ----------------------------------------------------------------------------


def _add_export(subparsers) -> None:
    from builder.export import OPTIONAL_FORMATS

    parser = subparsers.add_parser(
        "export", help="write a trained run's export bundle (SavedModel, .keras, design...)",
        description="Write the export zip of a run in the workspace's run history: the "
                    "SavedModel, the .keras model, the design(s), the history and a README. A "
                    "GAN run exports its generator (noise to images).")
    parser.add_argument("run_id", metavar="RUN_ID",
                        help="the run's id (the Train page's run history lists them)")
    parser.add_argument("--output", help="the zip to write (default: RUN_ID.zip here)")
    parser.add_argument("--formats", nargs="*", default=[], choices=OPTIONAL_FORMATS,
                        help="extra formats to convert to")
    parser.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from builder.export import run_export

    output = Path(args.output or f"{args.run_id}.zip")
    if output.exists() and output.is_dir():
        output = output / f"{args.run_id}.zip"
    if not output.parent.is_dir():
        print(f"The folder {output.parent} does not exist. Create it, or give --output in a "
              "folder that exists.", file=sys.stderr)
        return 2
    text, code = run_export(args.run_id, output, formats=tuple(args.formats))
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json(path: Path, value) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=1, default=str), encoding="utf-8")
    os.replace(temporary, path)


# -- the parser -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m builder",
        description="Neural Canvas from the command line: check, train and export designs.")
    parser.add_argument("--workspace", help="workspace folder for designs and runs "
                        "(default: $NEURAL_CANVAS_HOME or ~/.neural_canvas)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_check(subparsers)
    _add_train(subparsers)
    _add_export(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (0 ok, 1 problems found, 2 bad input)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    if args.workspace:
        os.environ["NEURAL_CANVAS_HOME"] = os.path.abspath(args.workspace)
    from builder.workspace import WorkspaceError

    try:
        return args.run(args)
    except WorkspaceError as exc:  # a workspace that is a file, unreadable, ...: one sentence
        print(str(exc), file=sys.stderr)
        return 2
