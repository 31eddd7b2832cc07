"""Adversarial training alternates real updates and pulls generated samples toward the data."""

import keras
import numpy as np
import pytest

from builder.gan import AdversarialModel, GanError, build_gan, check_pair, generate
from tests.helpers import design


def tiny_pair(image=(8, 8, 1), noise=8):
    generator = design(
        [("noise", "Input", {"shape": [noise]}),
         ("project", "Dense", {"units": int(np.prod(image)), "activation": "sigmoid"}),
         ("image", "Reshape", {"target_shape": list(image)})],
        [("noise", "project"), ("project", "image")])
    discriminator = design(
        [("image", "Input", {"shape": list(image)}), ("flat", "Flatten"),
         ("hidden", "Dense", {"units": 16, "activation": "leaky_relu"}),
         ("real_or_fake", "Dense", {"units": 1, "activation": "sigmoid"})],
        [("image", "flat"), ("flat", "hidden"), ("hidden", "real_or_fake")])
    return generator, discriminator


def test_generated_samples_move_toward_the_data():
    generator, discriminator = tiny_pair()
    gan = build_gan(generator, discriminator, seed=1)
    gan.compile(d_optimizer=keras.optimizers.Adam(5e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(5e-3, beta_1=0.5))
    # "Real" images: a bright left half, a dark right half.
    real = np.zeros((256, 8, 8, 1), "float32")
    real[:, :, :4] = 0.9
    before = generate(gan.generator, 64)
    history = gan.fit(real, batch_size=16, epochs=20, verbose=0)
    after = generate(gan.generator, 64)
    assert set(history.history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(history.history["d_loss"]))
    contrast_before = before[:, :, :4].mean() - before[:, :, 4:].mean()
    contrast_after = after[:, :, :4].mean() - after[:, :, 4:].mean()
    # The data's left half is 0.9 brighter than its right; the untrained generator's is not.
    assert abs(contrast_before) < 0.2
    assert contrast_after > 0.25, (contrast_before, contrast_after)


def test_mismatched_pair_is_refused_with_shapes():
    generator, _ = tiny_pair(image=(8, 8, 1))
    _, discriminator = tiny_pair(image=(6, 6, 1))
    with pytest.raises(GanError, match=r"\(8, 8, 1\).*\(6, 6, 1\)"):
        build_gan(generator, discriminator)


def test_discriminator_must_end_in_one_unit():
    from builder.compile import build_model

    generator, discriminator = tiny_pair()
    discriminator.node("real_or_fake").params["units"] = 2
    with pytest.raises(GanError, match="one unit"):
        check_pair(build_model(generator), build_model(discriminator))


def test_generate_is_repeatable():
    generator, discriminator = tiny_pair()
    gan = build_gan(generator, discriminator)
    assert isinstance(gan, AdversarialModel)
    np.testing.assert_allclose(generate(gan.generator, 4, seed=3),
                               generate(gan.generator, 4, seed=3))
