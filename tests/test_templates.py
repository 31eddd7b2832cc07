"""Every template analyses clean and builds, with the shapes its description promises."""

import pytest

from builder.compile import build_model
from builder.design import list_templates
from builder.validate import analyze

TEMPLATES = list_templates()
DESIGNS = [(t.slug, d) for t in TEMPLATES for d in t.designs]


@pytest.mark.parametrize(("slug", "design"), DESIGNS, ids=[f"{s}-{d.role}" for s, d in DESIGNS])
def test_template_analyses_clean_and_builds(slug, design):
    report = analyze(design)
    assert report.ok, [(p.node_id, p.message) for p in report.problems]
    model = build_model(design)
    assert model.count_params() == report.total_params
    for layer in model.layers:
        assert tuple(layer.output.shape) == report.nodes[layer.name].output_shape


def test_the_families_are_all_there():
    families = {t.family for t in TEMPLATES}
    assert {"mlp", "cnn", "rnn", "transformer", "autoencoder", "gan"} <= families
    gan = next(t for t in TEMPLATES if t.family == "gan")
    assert gan.design("generator") and gan.design("discriminator")
    generator_out = analyze(gan.design("generator")).nodes["image"].output_shape
    discriminator_in = analyze(gan.design("discriminator")).nodes["image"].output_shape
    assert generator_out == discriminator_in


def test_autoencoders_output_their_input_shape():
    for template in TEMPLATES:
        if template.family != "autoencoder":
            continue
        report = analyze(template.designs[0])
        (out,) = report.output_ids
        (inp,) = report.input_ids
        assert report.nodes[out].output_shape == report.nodes[inp].output_shape


def test_model_templates_suggest_training_settings_that_validate():
    from builder.train import TrainConfig

    for template in TEMPLATES:
        if template.family == "gan":
            continue  # a GAN trains its own way (builder.gan)
        design = template.design("model")
        suggested = design.extra.get("suggested_training")
        assert isinstance(suggested, dict) and suggested.get("epochs", 0) > 0, template.slug
        config = TrainConfig.from_dict(suggested)
        assert not config.problems(), (template.slug, config.problems())
        # The settings ride along with the design when it is saved and opened again.
        again = type(design).from_json(design.to_json())
        assert again.extra["suggested_training"] == suggested
