"""Every template trains on the sample its description names, as it is (no "Fix all").

Through the command line (``python -m builder train TEMPLATE --data SAMPLE``) and
through the app's path: the sample prepared with the Data page's defaults (which
follow the open design's Input, ``link.preparation_hints``), the fit check of the
Data and Train pages, and a job of the Train page's job manager.
"""

from __future__ import annotations

import pytest

from bench import families as F
from builder import strategy
from builder.cli import main
from builder.data.link import check_link
from builder.data.samples import get_sample
from builder.design import TEMPLATES_DIR, list_templates
from builder.jobs import JobManager
from builder.run_store import RunStore
from builder.train import preflight

TEMPLATES = list_templates()
CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.slug for t in TEMPLATES])
def test_the_template_names_its_sample_in_its_description(template):
    sample = get_sample(template.sample)  # refuses an unknown sample id
    names = (sample.id.replace("_", " "), sample.title.split(" (")[0].lower())
    description = template.description.lower()
    assert any(f"{name} sample" in description for name in names), (template.slug, names)


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.slug for t in TEMPLATES])
def test_the_command_line_trains_the_template_on_its_sample(template, tmp_path, monkeypatch,
                                                           capsys):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "home"))
    code = main(["--workspace", str(tmp_path / "ws"), "train",
                 str(TEMPLATES_DIR / f"{template.slug}.json"), "--data", template.sample,
                 "--epochs", "1", "--batch-size", "64", "--out", str(tmp_path / "run"),
                 "--quiet"])
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "after 1 epoch(s)" in output.out or "Final: d_loss" in output.out


MODEL_TEMPLATES = [t for t in TEMPLATES if t.design("model") is not None]


@pytest.mark.parametrize("template", MODEL_TEMPLATES, ids=[t.slug for t in MODEL_TEMPLATES])
def test_the_app_trains_the_template_on_its_sample(template, tmp_path):
    design = template.design("model")
    data = F.prepare_for_design(template.sample, design)
    assert check_link(design, data) == []  # the Data page says it fits: no fixes offered
    config = F.suggested_config(design, epochs=1, batch_size=64)
    assert preflight(design, data, config) == []  # the Train page starts it
    manager = JobManager(RunStore(tmp_path / "store.sqlite"), device_plan=CPU)
    job = manager.submit(design, data, config)
    assert job.wait(240)
    assert job.progress.snapshot().status == "finished", job.progress.snapshot().message
