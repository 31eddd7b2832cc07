"""Every network family trained for real on its sample, through the app's own path.

For each family: load the sample (``builder.data.samples``), prepare it with the
same function and settings the Data page calls, open the template, fit it to the
data with the Data page's "Fix all" (``builder.data.link.fix_all``), train it with
``builder.train.train`` (what the Train page's jobs run) using the template's
suggested training settings, and score it on the validation split with the
Explore page's code (``builder.explain.predictions``). The same model is then
trained once more the plain Keras way (build, compile, ``model.fit`` on the same
arrays, same settings), so each line carries the wall-time ratio ours / plain. The order
alternates: ours first for the first family, plain first for the next, and so on.

One line per family:

    family  template  data  score-name  score  target  PASS/MISS  seconds  ratio

and, on the last line, the median wall-time ratio builder.train / plain model.fit.

    python bench/families.py                 # every family, full training
    python bench/families.py --family cnn    # one family
    python bench/families.py --quick         # smoke run: two epochs each

The GAN line comes from bench/gan_digits.py's run (see :func:`gan_line`); its ratio
is the median wall time of fresh runs, ours (the job manager) / a plain fit of the same
adversarial model, the order alternated.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from builder.data import PreparedData  # noqa: E402
from builder.data.images import prepare_images  # noqa: E402
from builder.data.link import check_link, fix_all  # noqa: E402
from builder.data.samples import load_sample  # noqa: E402
from builder.data.tabular import prepare_tabular  # noqa: E402
from builder.data.timeseries import prepare_timeseries  # noqa: E402
from builder.design import TEMPLATES_DIR, Design, load_template  # noqa: E402
from builder.train import TrainConfig, TrainResult  # noqa: E402

QUICK_EPOCHS = 2


# -- the Data page's preparation, call for call --------------------------------------------


def prepare_table(sample_id: str, **options) -> PreparedData:
    """A table sample as the Data page's "Predict a column" form prepares it by default.

    The form offers the sample's target, every other column whose detected kind is
    not "id" as features, the detected kinds, the sample's task, 15% validation,
    15% test, seed 0, 20,000 tokens and an automatic text length.
    """
    source = load_sample(sample_id)
    kinds = {column: info.kind for column, info in source.columns.items()}
    targets = list(source.target)
    features = [c for c in source.frame.columns if c not in targets and kinds[c] != "id"]
    settings = dict(features=features, kinds=kinds, task=source.task, validation=0.15,
                    test=0.15, seed=0, max_tokens=20_000, sequence_length=None)
    settings.update(options)
    return prepare_tabular(source, targets, **settings)


def prepare_series(sample_id: str, **options) -> PreparedData:
    """A series sample as the Data page's "Forecast a time series" form prepares it.

    Defaults of the form: the sample's target, every numeric column as a feature,
    no time column, window 24, horizon 1, stride 1, 15% validation and 15% test.
    """
    source = load_sample(sample_id)
    kinds = {column: info.kind for column, info in source.columns.items()}
    numeric = [c for c in source.frame.columns if kinds[c] == "numeric"]
    targets = [c for c in source.target if c in numeric] or numeric[-1:]
    features = [c for c in numeric if c in targets or c not in ("hour", "time", "step")]
    settings = dict(features=features, window=24, horizon=1, stride=1, validation=0.15,
                    test=0.15, time_column=None)
    settings.update(options)
    return prepare_timeseries(source, targets, **settings)


def prepare_image_sample(sample_id: str, **options) -> PreparedData:
    """An image sample as the Data page's image form prepares it (no augmentation)."""
    source = load_sample(sample_id)
    settings = dict(size=source.default_size(), channels=source.default_channels(), task=None,
                    validation=0.15, test=0.15, seed=0, augment={})
    settings.update(options)
    return prepare_images(source, **settings)


def prepare_for_design(sample_id: str, design: Design, **options) -> PreparedData:
    """A sample prepared with the Data page's defaults for an open design.

    The Data page's image size and channels, text length and vocabulary, window and
    task default to what the design's Input settles (``link.preparation_hints``).
    """
    from builder.data.link import preparation_hints
    from builder.data.samples import get_sample

    hints = preparation_hints(design)
    kind = get_sample(sample_id).kind
    if kind == "images":
        settings = {k: hints[k] for k in ("size", "channels", "task") if k in hints}
        return prepare_image_sample(sample_id, **settings, **options)
    if kind == "timeseries":
        return prepare_series(sample_id, **({"window": hints["window"]} if "window" in hints
                                            else {}), **options)
    text = {k: hints[k] for k in ("sequence_length", "max_tokens") if k in hints}
    return prepare_table(sample_id, **text, **options)


# -- templates --------------------------------------------------------------------------------


def template_design(slug: str) -> Design:
    """The model design of a template, as the Build page opens it."""
    template = load_template(TEMPLATES_DIR / f"{slug}.json")
    design = template.design("model")
    if design is None:
        raise ValueError(f"The template {slug!r} has no model design.")
    return design


def suggested_config(design: Design, **overrides) -> TrainConfig:
    """The template's suggested training settings (``suggested_training``), with overrides."""
    settings = dict(design.extra.get("suggested_training") or {})
    settings.update(overrides)
    return TrainConfig.from_dict(settings)


def fitted_design(slug: str, prepared: PreparedData) -> Design:
    """The template fitted to the data by the Data page's "Fix all"; refuses leftovers."""
    design = fix_all(template_design(slug), prepared)
    left = check_link(design, prepared)
    if left:
        raise ValueError(f"The template {slug!r} still does not fit the data: "
                         + " ".join(issue.message for issue in left))
    return design


# -- scores (the Explore page's code) ------------------------------------------------------


def validation_accuracy(model, prepared: PreparedData) -> float:
    from builder.explain import predictions

    result = predictions.predict(model, prepared, "validation", limit=None)
    return float(predictions.evaluate(result)["accuracy"])


def forecast_improvement(model, prepared: PreparedData) -> float:
    """1 - MAE(model) / MAE(last value), both in the target's own units, validation split."""
    from builder.explain import metrics, predictions

    result = predictions.predict(model, prepared, "validation", limit=None)
    model_mae = float(predictions.evaluate(result)["mae"])
    naive_mae = metrics.mean_absolute_error(result.y_true, naive_forecast(prepared,
                                                                          "validation"))
    return 1.0 - model_mae / naive_mae


def naive_forecast(prepared: PreparedData, split: str) -> np.ndarray:
    """The last value of each target in the window, repeated over the horizon (target units)."""
    windows = np.asarray(prepared.raw(split), dtype=np.float64)
    features = list(prepared.info["features"])
    last = np.stack([windows[:, -1, features.index(t)] for t in prepared.info["targets"]],
                    axis=1)
    return np.tile(last, (1, int(prepared.info["horizon"])))


def reconstruction_ratio(model, prepared: PreparedData) -> float:
    """Validation MSE of the reconstructions / MSE of always predicting the mean train image."""
    from builder.explain import predictions

    result = predictions.predict(model, prepared, "validation", limit=None)
    mse = float(predictions.evaluate(result)["mse"])
    mean_image = prepared.arrays("train")[0].astype(np.float64).mean(axis=0)
    originals = np.asarray(result.y_true, np.float64)
    return mse / float(np.mean((originals - mean_image) ** 2))


# -- the families ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """One line of the benchmark.

    Attributes:
        name: the family's name on the line (and for ``--family``).
        template: the template's slug.
        data: the sample's id.
        prepare: builds the prepared data the way the Data page does.
        score_name: what ``score`` measures.
        score: (trained model, prepared data) -> the score.
        target: the quality target.
        higher_is_better: whether the score must reach ``target`` from below
            (accuracy) or stay under it (an error ratio).
    """

    name: str
    template: str
    data: str
    prepare: Callable[[], PreparedData]
    score_name: str
    score: Callable[[object, PreparedData], float]
    target: float
    higher_is_better: bool = True

    def passes(self, value: float) -> bool:
        return value >= self.target if self.higher_is_better else value < self.target


FAMILIES: tuple[Family, ...] = (
    Family("mlp", "mlp_classifier", "breast_cancer", lambda: prepare_table("breast_cancer"),
           "val_accuracy", validation_accuracy, 0.95),
    Family("cnn", "small_cnn", "digits",
           lambda: prepare_image_sample("digits", size=(32, 32)),
           "val_accuracy", validation_accuracy, 0.97),
    Family("lstm-forecast", "lstm_forecaster", "energy", lambda: prepare_series("energy"),
           "mae_gain_vs_last_value", forecast_improvement, 0.30),
    Family("gru-forecast", "gru_forecaster", "energy", lambda: prepare_series("energy"),
           "mae_gain_vs_last_value", forecast_improvement, 0.30),
    Family("sequence-classifier", "lstm_series_classifier", "waveforms",
           lambda: prepare_table("waveforms"), "val_accuracy", validation_accuracy, 0.90),
    Family("transformer", "transformer_text", "topics", lambda: prepare_table("topics"),
           "val_accuracy", validation_accuracy, 0.90),
    Family("autoencoder", "conv_autoencoder", "digits",
           lambda: prepare_image_sample("digits", size=(32, 32), task="reconstruction"),
           "mse_over_mean_image_mse", reconstruction_ratio, 0.5, higher_is_better=False),
    Family("autoencoder-2d", "dense_autoencoder_2d", "digits",
           lambda: prepare_image_sample("digits", task="reconstruction"),
           "mse_over_mean_image_mse", reconstruction_ratio, 0.75, higher_is_better=False),
)
BY_NAME = {family.name: family for family in FAMILIES}


GAN_TARGET = 0.75


def gan_line(quick: bool = False) -> tuple[str, bool]:
    """The GAN family's line, from bench/gan_digits.py's run (jobs, as the Train page does).

    The score: how much of the gap from noise to real digits the samples close, in
    Frechet distance to the training digits (in a PCA space of the 8x8 digits: FID's
    idea, offline): (FD(noise) - FD(generated)) / (FD(noise) - FD(held-out real)).
    0 is as far as uniform noise, 1 as close as real digits.
    """
    import gan_digits

    out = gan_digits.run(epochs=3 if quick else 120, speed_epochs=1 if quick else 10,
                         rounds=1 if quick else 3, verbose=False)
    noise, real = out["noise"]["frechet"], out["real"]["frechet"]
    score = (noise - out["generated"]["frechet"]) / (noise - real)
    line = format_line("gan", "gan_digits", "digits", "FD gap closed", score,
                       f">={GAN_TARGET:g}", score >= GAN_TARGET, out["seconds"], out["ratio"])
    return line + (f"  (Frechet distances: generated {out['generated']['frechet']:.1f}, "
                   f"noise {noise:.1f}, real {real:.1f})"), score >= GAN_TARGET


# -- training, ours and plain Keras ------------------------------------------------------------


@dataclass
class Outcome:
    family: Family
    score: float
    seconds: float
    plain_seconds: float | None
    plain_score: float | None
    result: TrainResult

    @property
    def ratio(self) -> float | None:
        if not self.plain_seconds:
            return None
        return self.seconds / self.plain_seconds


def _fresh() -> None:
    import keras

    keras.backend.clear_session()
    gc.collect()


def train_family(family: Family, quick: bool = False, plain: bool = True,
                 prepared: PreparedData | None = None, plain_first: bool = False) -> Outcome:
    """Train one family through builder.train (and, with ``plain``, with model.fit, before
    ours when ``plain_first``: :func:`main` alternates the order from family to family)."""
    from builder.train import train

    prepared = prepared if prepared is not None else family.prepare()
    design = fitted_design(family.template, prepared)
    overrides = {"epochs": QUICK_EPOCHS} if quick else {}
    config = suggested_config(design, **overrides)
    plain_seconds = plain_score = None

    def the_plain_way() -> None:
        nonlocal plain_seconds, plain_score
        plain_seconds, model = train_plain(design, prepared, config)
        plain_score = family.score(model, prepared)

    if plain and plain_first:
        the_plain_way()
    _fresh()
    started = time.perf_counter()
    result = train(design, prepared, config, evaluate_test=False)
    seconds = time.perf_counter() - started
    if result.status not in ("finished", "early_stopped"):
        raise RuntimeError(f"{family.name}: training ended '{result.status}': {result.message}")
    score = family.score(result.model, prepared)
    if plain and not plain_first:
        the_plain_way()
    return Outcome(family, score, seconds, plain_seconds, plain_score, result)


def warm_up() -> None:
    """One epoch of the MLP both ways, unreported: TensorFlow's one-off start-up costs
    would otherwise land on whichever side runs first."""
    from builder.train import train

    family = BY_NAME["mlp"]
    prepared = family.prepare()
    design = fitted_design(family.template, prepared)
    config = suggested_config(design, epochs=1)
    train(design, prepared, config, evaluate_test=False)
    train_plain(design, prepared, config)


def train_plain(design: Design, prepared: PreparedData, config: TrainConfig):
    """The same model and settings, the plain Keras way: compile and fit on NumPy arrays.

    Returns (wall seconds, trained model). Suggested settings use Adam with a
    constant learning rate and no early stopping, which is what this reproduces.
    """
    import keras

    from builder.compile import build_model

    if config.optimizer != "adam" or config.schedule != "constant" or config.patience:
        raise ValueError("The plain-Keras comparison reproduces Adam with a constant learning "
                         "rate and no early stopping; the suggested settings differ.")
    _fresh()
    started = time.perf_counter()
    keras.utils.set_random_seed(int(config.seed or 0))
    from builder.train import is_two_class_softmax

    spec = prepared.expected_output()
    model = build_model(design)
    loss = spec.loss
    if is_two_class_softmax(prepared.task, tuple(model.outputs[0].shape[1:])):
        loss = "sparse_categorical_crossentropy"  # two classes as two softmax units
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss,
                  metrics=list(spec.metrics))
    x, y = prepared.arrays("train")
    validation = prepared.arrays("validation")
    model.fit(x, y, validation_data=validation, epochs=config.epochs,
              batch_size=config.batch_size, shuffle=True, verbose=0)
    return time.perf_counter() - started, model


# -- output ------------------------------------------------------------------------------------


def format_line(family: str, template: str, data: str, score_name: str, score: float,
                target: str, passed: bool, seconds: float, ratio: float | None,
                plain_score: float | None = None) -> str:
    plain = "" if plain_score is None else f"  plain-keras score {plain_score:.3f}"
    ratio_text = "" if ratio is None else f"  ratio/plain-fit {ratio:.2f}"
    return (f"{family:<20} {template:<24} {data:<14} {score_name:<24} {score:7.3f}  "
            f"target {target:<7} {'PASS' if passed else 'MISS'}  {seconds:6.1f} s"
            f"{ratio_text}{plain}")


def outcome_line(outcome: Outcome) -> str:
    family = outcome.family
    target = f"{'>=' if family.higher_is_better else '<'}{family.target:g}"
    return format_line(family.name, family.template, family.data, family.score_name,
                       outcome.score, target, family.passes(outcome.score), outcome.seconds,
                       outcome.ratio, outcome.plain_score)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=[*BY_NAME, "gan"], action="append",
                        help="run only this family (repeatable); default all")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_EPOCHS} epochs each (targets will be missed)")
    parser.add_argument("--no-plain", action="store_true",
                        help="skip the plain-Keras comparison runs")
    args = parser.parse_args(argv)
    chosen = args.family or [*BY_NAME, "gan"]
    print(f"{'family':<20} {'template':<24} {'data':<14} {'score':<24} {'value':>7}  "
          f"(seconds: builder.train wall time; {os.cpu_count()} CPU cores"
          f"{', QUICK' if args.quick else ''})")
    ratios, missed, total = [], 0, time.perf_counter()
    if not args.no_plain:
        warm_up()
    for place, name in enumerate(chosen):
        if name == "gan":
            line, passed = gan_line(args.quick)
            print(line, flush=True)
            missed += not passed
            continue
        outcome = train_family(BY_NAME[name], quick=args.quick, plain=not args.no_plain,
                               plain_first=place % 2 == 1)
        print(outcome_line(outcome), flush=True)
        missed += not outcome.family.passes(outcome.score)
        if outcome.ratio is not None:
            ratios.append(outcome.ratio)
    print(f"total {time.perf_counter() - total:.0f} s; {missed} target(s) missed")
    if ratios:
        print(f"wall-time ratio builder.train / plain model.fit (median of {len(ratios)} "
              f"families): {statistics.median(ratios):.3f}")
    return 1 if missed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
