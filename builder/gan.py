"""Adversarial training: a generator design against a discriminator design.

The two designs are built separately (their roles are set on the designs) and
joined here in one Keras model whose ``train_step`` alternates the classic
updates: first the discriminator learns to tell real images from generated ones,
then the generator learns to fool it. Because it is an ordinary ``keras.Model``,
``fit`` drives it, with the same callbacks (live curves, stop, checkpoints) as any
other design; its logs are ``d_loss`` and ``g_loss``.
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

    def compile(self, d_optimizer=None, g_optimizer=None, label_smoothing: float = 0.1,
                **kwargs):
        """Set both optimizers (Adam 2e-4, beta_1 0.5 by default, as DCGAN does)."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
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
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))

        noise = self._noise(batch)
        with tf.GradientTape() as tape:
            fooled = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = self.bce(tf.ones_like(fooled), fooled)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))

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


def generate(generator, count: int, seed: int = 0) -> np.ndarray:
    """``count`` samples from fixed noise, so epoch-by-epoch grids are comparable."""
    noise_shape = tuple(generator.input_shape[1:])
    noise = np.random.default_rng(seed).normal(size=(count, *noise_shape)).astype("float32")
    return np.asarray(generator.predict(noise, verbose=0))
