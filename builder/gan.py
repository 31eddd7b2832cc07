"""Adversarial training: a generator design against a discriminator design.

The two designs are built separately (their roles are set on the designs) and
joined here in one Keras model whose ``train_step`` alternates the classic
updates: first the discriminator learns to tell real images from generated ones,
then the generator learns to fool it. Because it is an ordinary ``keras.Model``,
``fit`` drives it, with the same callbacks (live curves, stop, checkpoints) as any
other design; its logs are ``d_loss`` and ``g_loss``.

One optimizer serves both networks: Adam keeps its moments per variable, so each
network's updates are its own, and the model's ``optimizer`` is then an ordinary
one whose state the generic per-epoch checkpoint saves and restores.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from builder.compile import build_model
from builder.design import Design


class GanError(ValueError):
    """The two designs cannot play against each other; the message says why."""


def check_pair(generator, discriminator) -> None:
    """Check that the generator's output is what the discriminator takes.

    Raises:
        GanError: with the two shapes and the fix.
    """
    made = tuple(generator.output_shape[1:])
    taken = tuple(discriminator.input_shape[1:])
    if made != taken:
        raise GanError(
            f"The generator makes samples of shape {made}, but the discriminator takes "
            f"{taken}. Change the generator's last layers (or the discriminator's Input) "
            "so the two shapes match."
        )
    out = tuple(discriminator.output_shape[1:])
    if out != (1,):
        raise GanError(
            f"The discriminator must end in one unit (real or fake); it outputs {out}. "
            "End it with Dense 1 sigmoid."
        )


class AdversarialModel(keras.Model):
    """A generator and a discriminator trained against each other.

    Args:
        generator: maps noise of ``noise_shape`` to samples.
        discriminator: maps a sample to the probability that it is real.
        seed: seed of the noise drawn during training.
    """

    def __init__(self, generator, discriminator, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        check_pair(generator, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.noise_shape = tuple(generator.input_shape[1:])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, optimizer=None, label_smoothing: float = 0.1, **kwargs):
        """Set the optimizer (Adam 2e-4, beta_1 0.5 by default, as DCGAN does).

        It is built at once on both networks' variables, generator first, so a
        checkpoint written after any epoch restores into a freshly built pair.
        """
        optimizer = optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        super().compile(optimizer=optimizer, **kwargs)
        if not self.optimizer.built:
            self.optimizer.build(self.generator.trainable_variables
                                 + self.discriminator.trainable_variables)
        self.bce = keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def _noise(self, batch):
        return keras.random.normal((batch, *self.noise_shape), seed=self.seed_generator)

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = tf.shape(real)[0]
        fake = self.generator(self._noise(batch), training=True)
        with tf.GradientTape() as tape:
            real_pred = self.discriminator(real, training=True)
            fake_pred = self.discriminator(fake, training=True)
            d_loss = self.bce(tf.ones_like(real_pred), real_pred) + self.bce(
                tf.zeros_like(fake_pred), fake_pred)
        weights = self.discriminator.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))

        noise = self._noise(batch)
        with tf.GradientTape() as tape:
            fooled = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = self.bce(tf.ones_like(fooled), fooled)
        weights = self.generator.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    def test_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = tf.shape(real)[0]
        real_pred = self.discriminator(real, training=False)
        fake_pred = self.discriminator(self.generator(self._noise(batch)), training=False)
        d_loss = self.bce(tf.ones_like(real_pred), real_pred) + self.bce(
            tf.zeros_like(fake_pred), fake_pred)
        g_loss = self.bce(tf.ones_like(fake_pred), fake_pred)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def build_gan(generator_design: Design, discriminator_design: Design,
              seed: int = 0) -> AdversarialModel:
    """Build both designs and join them.

    Raises:
        DesignError: either design has problems.
        GanError: the two do not fit together.
    """
    keras.utils.set_random_seed(seed)
    return AdversarialModel(build_model(generator_design), build_model(discriminator_design),
                            seed=seed)


def noise_for(generator, count: int, seed: int = 0) -> np.ndarray:
    """``count`` noise vectors for ``generator``, the same for the same seed."""
    noise_shape = tuple(generator.input_shape[1:])
    return np.random.default_rng(seed).normal(size=(count, *noise_shape)).astype("float32")


def generate(generator, count: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``count`` samples from fixed noise, so epoch-by-epoch grids are comparable.

    The generator is called directly (not ``predict``), so it is cheap enough to call
    from a training callback.
    """
    noise = noise_for(generator, count, seed)
    parts = [np.asarray(generator(noise[i:i + batch_size], training=False))
             for i in range(0, count, batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, *generator.output_shape[1:]),
                                                         "float32")


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Samples in 0..1 (as the images are scaled for training) to 0..255 pixels."""
    return (np.clip(np.nan_to_num(np.asarray(images, "float32")), 0.0, 1.0) * 255.0
            + 0.5).astype(np.uint8)


def tile(images: np.ndarray, columns: int = 0, gap: int = 1) -> np.ndarray:
    """Images ``(n, h, w, c)`` (or ``(n, h, w)``) as one ``(H, W, c)`` grid picture.

    Args:
        images: uint8 pixels.
        columns: images per row (default: the smallest square that holds them).
        gap: pixels of white between the images.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"A grid needs images of shape (n, height, width, channels); got "
                         f"{images.shape}.")
    count, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, channels),
                   255, dtype=images.dtype)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        grid[top:top + height, left:left + width] = image
    return grid
