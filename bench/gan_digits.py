"""Do the GAN template's samples look like digits after a few minutes on the CPU?

Trains templates/gan_digits.json (generator against discriminator) on the digits
sample at the generator's image size, through the same job manager and engine the
app's Train page uses (``JobManager.submit_gan``), for ``--epochs`` epochs. Then:

- time, seconds per epoch and the final d_loss / g_loss;
- a quality figure: a logistic regression trained on scikit-learn's 8x8 digits
  scores the generated samples shrunk back to 8x8 (mean top-class probability, the
  share classified with more than 0.8 confidence, how many of the 10 digits they
  cover) and the mean distance from each sample to its nearest training digit,
  beside the same for uniform-noise 8x8 images and for held-out real digits;
- the speed of our path against plain Keras, measured in this run: ``--rounds`` rounds,
  each training a fresh GAN for ``--speed-epochs`` epochs twice, once through the app's
  job manager (a worker process that has already imported TensorFlow, as the app keeps
  one; the checkpoint, the run store's rows and the sample grid of every epoch included)
  and once with a plain ``fit`` of the same AdversarialModel on the same images as NumPy
  arrays (model building and the first epoch's tracing on both sides). The order
  alternates from round to round;
- the final grid, as artifacts/gan_digits_grid.png (and one image per few epochs in
  artifacts/gan_digits_epochs.png).

    python bench/gan_digits.py [--epochs 120] [--speed-epochs 10] [--rounds 3]

The last line is the median over rounds of the wall-time ratio, our path / plain fit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from builder import gan_training, strategy  # noqa: E402
from builder.design import TEMPLATES_DIR, load_template  # noqa: E402
from builder.gan import generate, tile, to_uint8  # noqa: E402
from builder.jobs import JobManager  # noqa: E402
from builder.run_store import RunStore  # noqa: E402

CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)


def digits_classifier():
    """Logistic regression on the 8x8 digits (pixels 0..16), and its test accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(bunch.data, bunch.target, test_size=0.25,
                                                        random_state=0)
    classifier = LogisticRegression(max_iter=3000).fit(x_train, y_train)
    classifier.reference_ = x_train
    return classifier, classifier.score(x_test, y_test), x_test


def to_8x8(images: np.ndarray) -> np.ndarray:
    """(n, h, w, 1) images in 0..1 -> (n, 64) in the 8x8 digits' 0..16 scale."""
    from PIL import Image

    out = []
    for image in np.asarray(images, "float32")[..., 0]:
        picture = Image.fromarray(image.astype("float32"), mode="F").resize(
            (8, 8), Image.Resampling.BOX)
        out.append(np.asarray(picture).reshape(-1))
    return np.clip(np.array(out), 0.0, 1.0) * 16.0


def quality(classifier, flat: np.ndarray) -> dict:
    """Scores of 8x8 images given as (n, 64) in 0..16."""
    probabilities = classifier.predict_proba(flat)
    top = probabilities.max(axis=1)
    reference = classifier.reference_
    distances = np.sqrt(((flat[:, None, :] - reference[None, :, :]) ** 2).sum(-1)).min(axis=1)
    return {"confidence": float(top.mean()), "sure": float((top > 0.8).mean()),
            "digits": int(len(set(probabilities.argmax(axis=1)[top > 0.8].tolist()))),
            "nearest": float(distances.mean()),
            "frechet": frechet_distance(classifier.reference_, flat)}


def frechet_distance(reference: np.ndarray, flat: np.ndarray, components: int = 16) -> float:
    """Frechet distance between two sets of 8x8 images in the reference's PCA space.

    The idea of FID without a downloaded network: fit Gaussians to both sets'
    features and compare means and covariances, so blurry look-alikes of the mean
    digit (low variety) score badly even when each is near some training digit.
    """
    from scipy import linalg
    from sklearn.decomposition import PCA

    pca = PCA(n_components=components, random_state=0).fit(reference)
    a, b = pca.transform(reference), pca.transform(flat)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


def save_png(picture: np.ndarray, path: Path, scale: int = 4) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture)
    image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST).save(path)


def plain_fit_seconds(generator, discriminator, config, images: np.ndarray) -> float:
    """Wall seconds of a plain ``fit`` of a fresh AdversarialModel for ``config.epochs``."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()
    started = time.perf_counter()
    gan = gan_training.build_gan_model(generator, discriminator, config)
    gan.fit(images, batch_size=config.batch_size, epochs=config.epochs, shuffle=True,
            verbose=0)
    return time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_spare(manager, timeout: float = 120.0) -> None:
    """Until the manager's spare worker has imported TensorFlow (its CPU time stops
    growing), so that a timed run starts the way a person's second run does."""
    deadline = time.monotonic() + timeout
    while manager._spare is None and time.monotonic() < deadline:
        time.sleep(0.2)
    spare = manager._spare
    if spare is None:
        return
    last = -1.0
    while time.monotonic() < deadline and spare.poll() is None:
        now = _cpu_seconds(spare.pid)
        if now == last:
            return
        last = now
        time.sleep(1.0)


def our_run_seconds(manager, generator, discriminator, data, config) -> float:
    """Wall seconds of a GAN run through the job manager, from submit to its end."""
    wait_for_spare(manager)
    started = time.perf_counter()
    job = manager.submit_gan(generator, discriminator, data, config, name="speed")
    job.wait()
    seconds = time.perf_counter() - started
    record = manager.store.get(job.run_id)
    if record.status != "finished":
        raise SystemExit(f"The run ended {record.status}: {record.message}")
    return seconds


def speed_rounds(generator, discriminator, data, images, config, rounds: int,
                 verbose: bool) -> list[tuple[float, float]]:
    """(ours, plain) wall seconds per round, the order alternating."""
    out = []
    with tempfile.TemporaryDirectory(prefix="gan_speed_") as tmp:
        manager = JobManager(RunStore(Path(tmp) / "neural_canvas.sqlite"), device_plan=CPU,
                             spare_worker=True)
        try:
            for round_number in range(1, rounds + 1):
                def ours():
                    return our_run_seconds(manager, generator, discriminator, data, config)

                def plain():
                    return plain_fit_seconds(generator, discriminator, config, images)

                if round_number % 2:
                    a, b = ours(), plain()
                else:
                    b, a = plain(), ours()
                out.append((a, b))
                if verbose:
                    print(f"  speed round {round_number}: our path {a:.2f} s, plain fit "
                          f"{b:.2f} s ({config.epochs} epochs each), ratio {a / b:.3f}",
                          flush=True)
        finally:
            spare = manager._spare
            if spare is not None and spare.stdin:
                spare.stdin.close()  # a spare worker ends when its job line can never come
                spare.wait(30)
    return out


def run(epochs: int = 120, speed_epochs: int = 10, rounds: int = 3, batch_size: int = 64,
        verbose: bool = True) -> dict:
    """Train, score and time the GAN template on the digits; the figures as a dict.

    (bench/families.py can build its GAN line from this.)
    """
    from builder.compile import build_model
    from builder.data import samples
    from builder.data.images import prepare_images

    template = load_template(TEMPLATES_DIR / "gan_digits.json")
    generator, discriminator = gan_training.order_pair(*template.designs)
    height, width, channels = build_model(generator).output_shape[1:]
    data = prepare_images(samples.load_sample("digits"), size=(height, width), channels=channels)
    config = gan_training.GanConfig(epochs=epochs, batch_size=batch_size, samples=64)
    classifier, accuracy, held_out = digits_classifier()

    with tempfile.TemporaryDirectory(prefix="gan_bench_") as tmp:
        manager = JobManager(RunStore(Path(tmp) / "neural_canvas.sqlite"), device_plan=CPU)
        started = time.perf_counter()
        job = manager.submit_gan(generator, discriminator, data, config, name="bench")
        last = 0
        while not job.wait(5):
            snapshot = job.progress.snapshot()
            if verbose and snapshot.epoch >= last + 10:
                last = snapshot.epoch
                row = snapshot.epochs[-1]
                print(f"  epoch {snapshot.epoch}: d_loss {row['d_loss']:.3f} g_loss "
                      f"{row['g_loss']:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
        seconds = time.perf_counter() - started
        record = manager.store.get(job.run_id)
        if record.status != "finished":
            raise SystemExit(f"The run ended {record.status}: {record.message}")
        rows = [e for e in manager.store.epochs(job.run_id) if not e.partial]
        per_epoch = statistics.median(e.seconds for e in rows[1:] or rows)
        samples_made = generate(job.generator, 256, seed=gan_training.GRID_SEED)
        grids = record.artifacts["grids"]
        shown_epochs = gan_training.grid_epochs(grids)
        shown = shown_epochs[:: max(1, len(shown_epochs) // 8)][:8] + [shown_epochs[-1]]
        strip = np.concatenate([tile(gan_training.load_grid(grids, e)[:16], columns=4)
                                for e in shown], axis=1)
        save_png(tile(to_uint8(samples_made[:64]), columns=8),
                 ROOT / "artifacts" / "gan_digits_grid.png")
        save_png(strip, ROOT / "artifacts" / "gan_digits_epochs.png", scale=2)

    real, _ = gan_training.GanImages(data).arrays("train")
    noise = np.random.default_rng(0).uniform(0.0, 16.0, size=(256, 64))
    speed_config = gan_training.GanConfig(epochs=speed_epochs, batch_size=batch_size, samples=64)
    timed = speed_rounds(generator, discriminator, data, real, speed_config, rounds, verbose)
    final = rows[-1].metrics
    return {"epochs": len(rows), "images": len(real), "size": (height, width),
            "seconds": seconds, "per_epoch": per_epoch, "speed_epochs": speed_epochs,
            "ours": [a for a, _ in timed], "plain": [b for _, b in timed],
            "ratio": statistics.median(a / b for a, b in timed),
            "d_loss": final["d_loss"], "g_loss": final["g_loss"],
            "classifier_accuracy": accuracy,
            "generated": quality(classifier, to_8x8(samples_made)),
            "noise": quality(classifier, noise),
            "real": quality(classifier, held_out[:256])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--speed-epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    out = run(args.epochs, args.speed_epochs, args.rounds, args.batch_size)
    height, width = out["size"]
    print(f"Trained {out['epochs']} epochs on {out['images']} digits at {height}x{width} in "
          f"{out['seconds']:.0f} s ({out['per_epoch']:.2f} s per epoch); final d_loss "
          f"{out['d_loss']:.3f}, g_loss {out['g_loss']:.3f}.")
    print(f"Digit classifier (logistic regression on 8x8, test accuracy "
          f"{out['classifier_accuracy']:.3f}) on 256 images at 8x8 (generated ones shrunk "
          "back):")
    for name, key in (("generated", "generated"), ("noise", "noise"), ("real digits", "real")):
        score = out[key]
        print(f"  {name:12s} mean top-class probability {score['confidence']:.3f}, "
              f"share above 0.8 {score['sure']:.2f}, digits seen {score['digits']}/10, "
              f"distance to the nearest training digit {score['nearest']:.1f}, "
              f"Frechet distance (PCA-16) {score['frechet']:.1f}")
    print("Grid: artifacts/gan_digits_grid.png; grids by epoch: artifacts/gan_digits_epochs.png")
    print(f"{out['speed_epochs']} epochs from a fresh model: our path "
          f"{statistics.median(out['ours']):.2f} s, plain fit "
          f"{statistics.median(out['plain']):.2f} s (medians of {len(out['ours'])} rounds, "
          "order alternated)")
    print(f"ratio (our path / plain fit, wall time, median of {len(out['ours'])} rounds): "
          f"{out['ratio']:.3f}")


if __name__ == "__main__":
    main()
