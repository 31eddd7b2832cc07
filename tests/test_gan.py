"""Adversarial training alternates real updates and pulls generated samples toward the data."""

import dataclasses

import keras
import numpy as np
import pytest

from builder import gan_training
from builder.data.arrays import InMemoryData
from builder.gan import AdversarialModel, GanError, build_gan, check_pair, generate, tile, to_uint8
from builder.gan_training import GanConfig, GanImages, pair_problems, train_gan
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
    gan.compile(optimizer=keras.optimizers.Adam(5e-3, beta_1=0.5))
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


def test_tile_lays_samples_out_in_a_grid_with_gaps():
    images = np.zeros((5, 4, 3, 1), np.uint8)
    grid = tile(images, columns=3)
    assert grid.shape == (2 * 5 - 1, 3 * 4 - 1, 1)
    assert grid[4, 0, 0] == 255 and grid[0, 3, 0] == 255  # the white gaps
    assert grid[5:, 8:].min() == 255  # the empty sixth place
    assert to_uint8(np.array([-1.0, 0.0, 0.5, 2.0])).tolist() == [0, 0, 128, 255]


def _images(n=96, image=(8, 8, 1)):
    real = np.zeros((n, *image), "float32")
    real[:, :, : image[1] // 2] = 0.9
    cut = n * 3 // 4
    return InMemoryData((real[:cut], np.zeros(cut)), (real[cut:], np.zeros(n - cut)),
                        task="multiclass", num_classes=2, name="halves")


def test_every_split_is_a_real_sample_and_labels_are_dropped():
    pool = GanImages(_images(96))
    assert pool.size("train") == 96 and pool.size("validation") == 0
    batch = next(iter(pool.batches("train", 32)))
    assert tuple(batch.shape) == (32, 8, 8, 1)
    assert pool.sample_shape() == (8, 8, 1)


def test_train_gan_records_rows_grids_and_a_checkpoint(tmp_path):
    generator, discriminator = tiny_pair()
    rows, grids = [], []
    result = train_gan(generator, discriminator, _images(), GanConfig(epochs=2, batch_size=16,
                                                                      samples=9),
                       run_dir=tmp_path, on_epoch=rows.append,
                       on_grid=lambda epoch, samples: grids.append((epoch, samples.shape)))
    assert result.status == "finished" and result.epochs_done == 2
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"d_loss", "g_loss"} <= set(rows[0]) and all(np.isfinite(r["d_loss"]) for r in rows)
    assert grids == [(0, (9, 8, 8, 1)), (1, (9, 8, 8, 1)), (2, (9, 8, 8, 1))]
    folder = tmp_path / gan_training.GRIDS_DIR
    assert gan_training.grid_epochs(folder) == [0, 1, 2]
    saved = gan_training.load_grid(folder, 2)
    assert saved.dtype == np.uint8 and saved.shape == (9, 8, 8, 1)
    # The grid comes from fixed noise: the same generator gives the same picture again.
    again = to_uint8(generate(result.model.generator, 9, seed=gan_training.GRID_SEED))
    np.testing.assert_array_equal(saved, again)
    assert (tmp_path / "checkpoint.npz").is_file()


def test_a_checkpoint_restores_both_networks_and_the_optimizer(tmp_path):
    from builder.train import restore_checkpoint, snapshot_state

    generator, discriminator = tiny_pair()
    config = GanConfig(epochs=1, batch_size=16, samples=4)
    result = train_gan(generator, discriminator, _images(), config, run_dir=tmp_path)
    fresh = gan_training.build_gan_model(generator, discriminator, dataclasses.replace(
        config, seed=7))
    restore_checkpoint(fresh, tmp_path)
    trained, restored = snapshot_state(result.model), snapshot_state(fresh)
    assert trained.keys() == restored.keys() and len(trained) > 8
    for key in trained:
        np.testing.assert_allclose(trained[key], restored[key])


def test_pair_problems_name_the_image_size_to_choose():
    generator, discriminator = tiny_pair(image=(8, 8, 1))
    problems = pair_problems(generator, discriminator, _images(image=(16, 16, 1)))
    assert len(problems) == 1
    assert "(8, 8, 1)" in problems[0] and "(16, 16, 1)" in problems[0]
    assert pair_problems(generator, discriminator, _images()) == []
    _, other = tiny_pair(image=(6, 6, 1))
    assert "discriminator takes" in " ".join(pair_problems(generator, other))
    assert "batch size" in " ".join(pair_problems(generator, discriminator, _images(),
                                                  GanConfig(batch_size=0)))


def test_the_digits_template_makes_images_of_the_data_page_scale():
    from builder.design import TEMPLATES_DIR, load_template

    pair = load_template(TEMPLATES_DIR / "gan_digits.json").designs
    generator, discriminator = gan_training.order_pair(*pair)
    from builder.compile import build_model
    from builder.model_output import output_activation

    made = build_model(generator)
    # The Data page scales pixels to 0..1, so the generator must end in sigmoid.
    assert output_activation(made) == "sigmoid"
    check_pair(made, build_model(discriminator))
