"""The Train page through Streamlit's AppTest: settings, Train, own runs only, Stop, history,
resume."""

from __future__ import annotations

import sqlite3
import time

import pytest
from streamlit.testing.v1 import AppTest

from builder import jobs, workspace
from builder.data.samples import load_sample
from builder.data.tabular import prepare_tabular
from builder.ui import data_page, state, train_page
from tests.helpers import chain, shown

SCRIPT = """
from builder.ui import train_page
train_page.render()
"""
DESIGN = "nc_design"
PREPARED = data_page.PREPARED.name
RUN = train_page.RUN.name


@pytest.fixture(scope="module")
def moons():
    source = load_sample("moons")
    return prepare_tabular(source, source.target, task=source.task)


def _design(units=1, activation="sigmoid"):
    design = chain(("Dense", {"units": 8}), ("Dense", {"units": units, "activation": activation}),
                   input_shape=(2,))
    design.name = "moons mlp"
    return design


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    yield tmp_path / "ws"
    for job in _manager(tmp_path / "ws").active_jobs():  # leave no training thread behind
        job.stop()
        job.wait(60)


def _manager(home) -> jobs.JobManager:
    return jobs.manager(workspace.store_path(workspace.ensure(home)))


def _app(design=None, data=None) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    if design is not None:
        at.session_state[DESIGN] = design
    if data is not None:
        at.session_state[PREPARED] = data
    at.run()
    assert not at.exception, at.exception
    return at


def _wait_for_run(home, run_id, statuses=("finished",), timeout=60):
    job = _manager(home).get(run_id)
    deadline = time.monotonic() + timeout
    while job.status not in statuses:
        assert time.monotonic() < deadline, job.status
        time.sleep(0.05)
    return job


def test_without_design_or_data_the_page_says_what_to_do(home, moons):
    at = _app()
    assert any("Build page" in info.value for info in at.info)
    at = _app(design=_design())
    assert any("Data page" in info.value for info in at.info)
    assert at.button(key="nc_train::train").disabled
    assert any("No runs yet" in info.value for info in at.info)


def test_train_shows_the_finished_run_with_curves_and_history(home, moons):
    at = _app(_design(), moons)
    assert at.selectbox(key="nc_train::loss::binary").value == "binary_crossentropy"
    assert at.multiselect(key="nc_train::metrics::binary").value == ["accuracy"]
    at.number_input(key="nc_train::epochs").set_value(2)
    at.number_input(key="nc_train::learning_rate").set_value(0.05)
    at.radio(key="nc_train::gd").set_value("mini-batch")
    at.run()
    assert any("11 step(s) per epoch" in c.value for c in at.caption)
    at.button(key="nc_train::train").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state[RUN]
    assert run_id
    job = _wait_for_run(home, run_id)
    assert job.config.epochs == 2 and job.config.learning_rate == 0.05
    at.run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Finished.") and "val accuracy" in s.value for s in at.success)
    assert at.button(key="nc_train::continue").label == "Continue"
    assert at.session_state[state.TRAINED.name].model is job.model
    record = _manager(home).store.get(run_id)
    assert record.status == "finished" and record.epochs_done == 2
    assert any(run_id in str(frame.value) for frame in at.dataframe)

    at.number_input(key="nc_train::extra").set_value(1)
    at.button(key="nc_train::continue").click().run()
    assert not at.exception, at.exception
    _wait_for_run(home, run_id)
    assert job.epochs_done == 3


def test_settings_that_cannot_train_are_reported_before_starting(home, moons):
    # Two softmax units fit two classes, but not a loss that compares one value per sample.
    at = _app(_design(units=2, activation="softmax"), moons)
    at.selectbox(key="nc_train::loss::binary").set_value("mean_squared_error").run()
    at.button(key="nc_train::train").click().run()
    assert not at.exception, at.exception
    assert at.session_state[RUN] is None
    assert any("compares one value per sample" in e.value for e in at.error)


def test_another_session_neither_sees_nor_stops_a_run_it_did_not_start(home, moons):
    first = _app(_design(), moons)
    first.number_input(key="nc_train::epochs").set_value(500)
    first.radio(key="nc_train::gd").set_value("stochastic")
    first.run()
    first.button(key="nc_train::train").click().run()
    run_id = first.session_state[RUN]
    _wait_for_run(home, run_id, statuses=("running",))

    second = _app(_design(), moons)  # another tab, or another person: a session of its own
    assert second.session_state[RUN] is None
    assert not [b for b in second.button if b.key == "nc_train::stop"]
    assert any("started elsewhere" in c.value for c in second.caption)
    assert any(run_id in str(frame.value) for frame in second.dataframe)  # the history, read-only

    # Its own Train waits its turn and shows its place; it never shows the other run.
    second.number_input(key="nc_train::epochs").set_value(1)
    second.button(key="nc_train::train").click().run()
    assert not second.exception, second.exception
    own = second.session_state[RUN]
    assert own and own != run_id
    assert _manager(home).get(own).status == "queued"
    assert any("place 1 in the queue" in m.value for m in second.markdown), [
        m.value for m in second.markdown]

    first.run()
    assert first.session_state[RUN] == run_id
    first.button(key="nc_train::stop").click().run()
    assert not first.exception, first.exception
    job = _wait_for_run(home, run_id, statuses=("stopped",))
    assert "what was learned is kept" in job.progress.snapshot().message
    _wait_for_run(home, own, statuses=("finished",), timeout=120)
    second.run()
    assert second.session_state[RUN] == own
    first.run()
    assert first.session_state[RUN] == run_id
    assert any("what was learned is kept" in i.value for i in first.info)


def test_an_interrupted_run_offers_resume(home, moons):
    manager = _manager(home)
    job = manager.submit(_design(), moons, jobs.TrainConfig(epochs=1))
    assert job.wait(60)
    with sqlite3.connect(manager.store.path) as conn:
        conn.execute("UPDATE runs SET status = 'interrupted', message = 'cut' WHERE id = ?",
                     (job.run_id,))
    with manager._cond:  # the restarted server no longer has the job in memory
        manager._jobs.pop(job.run_id)
    at = _app(_design(), moons)
    assert any("interrupted by a server stop" in w.value for w in at.warning)
    at.button(key=f"nc_train::resume::{job.run_id}").click().run()
    assert not at.exception, at.exception
    resumed = _wait_for_run(home, job.run_id)
    assert resumed.epochs_done == 2


# -- a GAN: the open generator trains against its discriminator ---------------------------


@pytest.fixture(scope="module")
def digits():
    from builder.data.images import prepare_images

    return prepare_images(load_sample("digits"))  # 8 x 8 grey, as the sample comes


def _gan_pair(image=(8, 8, 1)):
    from tests.test_gan import tiny_pair

    generator, discriminator = tiny_pair(image=image)
    generator.role, discriminator.role = "generator", "discriminator"
    generator.extra["gan_pair"] = discriminator.extra["gan_pair"] = "pair1"
    generator.name, discriminator.name = "GAN (generator)", "GAN (discriminator)"
    return generator, discriminator


def _save(home, design):
    from builder.store import Store

    store = Store(workspace.store_path(workspace.ensure(home)))
    return store.create_design(design.name, design.to_json(indent=None)).id


def test_a_generator_without_a_discriminator_says_how_to_get_one(home, digits):
    generator, _ = _gan_pair()
    at = _app(generator, digits)
    assert any("no discriminator design" in e.value and "GAN template" in e.value
               for e in at.error)
    assert at.button(key="nc_train::train").disabled


def test_the_open_generator_trains_against_its_partner_with_curves_and_grid(home, digits):
    generator, discriminator = _gan_pair()
    _save(home, generator)
    _save(home, discriminator)
    at = _app(generator, digits)
    partner = at.selectbox(key="nc_train::partner::generator")
    assert partner.options == ["GAN (discriminator)"]
    # The template's pair is named once, not once per design.
    assert any("GAN **GAN**: its generator against its discriminator" in c.value
               for c in at.caption)
    assert any("1,797 real images" in c.value for c in at.caption)
    at.number_input(key="nc_train::gan_epochs").set_value(2)
    at.run()
    at.button(key="nc_train::train").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state[RUN]
    job = _wait_for_run(home, run_id, timeout=120)
    assert job.is_gan and job.partner.role == "discriminator" and job.epochs_done == 2
    at.run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Finished.") and "g loss" in s.value for s in at.success)
    chart = next(c for c in at.get("plotly_chart") if c.key == "nc_train::last_chart")
    assert "Discriminator loss" in chart.proto.spec and "Generator loss" in chart.proto.spec
    assert any("after epoch 2" in " ".join(image.captions) for image in at.get("image"))
    assert at.session_state[state.TRAINED.name].model is job.generator


def test_images_of_another_size_are_refused_with_the_size_to_choose(home, digits):
    generator, discriminator = _gan_pair(image=(16, 16, 1))
    _save(home, discriminator)
    at = _app(generator, digits)
    assert any("(16, 16, 1)" in shown(e.value) and "image size 16 x 16" in shown(e.value)
               for e in at.error)
    assert at.button(key="nc_train::train").disabled


def test_a_gan_run_opens_in_explore_with_samples_and_epoch_grids(home, digits):
    from builder.gan_training import GanConfig

    generator, discriminator = _gan_pair()
    job = _manager(home).submit_gan(generator, discriminator, digits,
                                    GanConfig(epochs=2, samples=16))
    assert job.wait(120) and job.status == "finished"
    at = AppTest.from_string("from builder.ui import explore_page\nexplore_page.render()\n",
                             default_timeout=120)
    at.run()  # no data prepared: a generator needs none
    assert not at.exception, at.exception
    assert any("turns 8 random numbers" in c.value for c in at.caption)
    assert at.slider(key="nc_explore::gan_count").value == 32
    epochs = at.select_slider(key=f"nc_explore::gan_epoch::{job.run_id}")
    assert epochs.options == ["0", "1", "2"] and epochs.value == 2
    epochs.set_value(0).run()
    assert not at.exception, at.exception
    assert any("before training" in c.value for c in at.caption)
    assert len(at.get("image")) == 2


def test_settings_start_from_the_designs_suggestion_once(home, moons):
    design = _design()
    design.extra["suggested_training"] = {"epochs": 25, "learning_rate": 0.003,
                                          "batch_size": 16, "optimizer": "rmsprop"}
    at = _app(design=design, data=moons)
    assert at.number_input(key="nc_train::epochs").value == 25
    assert at.number_input(key="nc_train::learning_rate").value == pytest.approx(0.003)
    assert at.number_input(key="nc_train::batch_size").value == 16
    assert at.selectbox(key="nc_train::optimizer").value == "rmsprop"
    assert any("design's suggestion" in caption.value for caption in at.caption)
    assert not at.warning, [w.value for w in at.warning]
    # The person's own change stays: the suggestion applies once per design.
    at.number_input(key="nc_train::epochs").set_value(3).run()
    at.run()
    assert at.number_input(key="nc_train::epochs").value == 3


def test_unsound_suggestions_are_ignored():
    design = _design()
    design.extra["suggested_training"] = {"epochs": -4, "learning_rate": "fast",
                                          "batch_size": 2.5, "optimizer": "magic"}
    assert train_page.suggested_settings(design) == {}
    design.extra["suggested_training"] = ["not", "a", "dict"]
    assert train_page.suggested_settings(design) == {}


def test_a_design_that_does_not_fit_the_data_shows_the_fixes_before_train(home, moons):
    """The mismatch shows before Train is pressed, with the Data page's one-click fixes."""
    wrong = _design(units=3, activation="softmax")  # 3 classes for a two-class table
    at = _app(wrong, moons)
    assert any("has 3 unit(s)" in w.value for w in at.warning)
    assert at.button(key="nc_train::train").disabled
    fix_all = at.button(key="nc_train::fix_all")
    fix_all.click().run()
    assert not at.exception, at.exception
    fixed = at.session_state[DESIGN]
    assert fixed.node("n2").params["units"] == 1 and not at.button(
        key="nc_train::train").disabled


def test_the_live_chart_draws_a_bounded_number_of_points_however_long_the_run():
    """A redraw at epoch 400 costs what one at epoch 4 does (issue 16): at most LIVE_POINTS
    points a line, the first and the last among them, and markers only for few epochs."""
    rows = [{"epoch": e, "loss": 1 / e, "val_loss": 2 / e} for e in range(1, 401)]
    batch_x = [i / 10 for i in range(4000)]
    batch = {"loss": [1 / (1 + x) for x in batch_x]}
    (panel,) = train_page._panels(batch_x, batch, rows, ["loss"], cap=train_page.LIVE_POINTS)
    for line in panel["lines"]:
        assert 2 <= len(line["x"]) <= train_page.LIVE_POINTS, (line["name"], len(line["x"]))
        assert not line["markers"]
    epochs = [line for line in panel["lines"] if line["name"] == "validation (epoch)"][0]
    assert (epochs["x"][0], epochs["x"][-1], epochs["y"][-1]) == (1, 400, 2 / 400)
    assert list(epochs["x"]) == sorted(set(epochs["x"]))

    whole = train_page._curves(batch_x, batch, rows, ["loss"])  # the finished run's chart
    assert sorted(len(t.x) for t in whole.data) == [400, 400, 4000]
    assert [t.mode for t in whole.data] == ["lines", "lines+markers", "lines+markers"]
    (few,) = train_page._panels(batch_x[:30], {"loss": batch["loss"][:30]}, rows[:4], ["loss"],
                                cap=train_page.LIVE_POINTS)
    assert all(line["markers"] for line in few["lines"] if "epoch" in line["name"])


def test_the_live_chart_gets_plain_json_with_gaps_for_numbers_json_lacks():
    import json
    import math

    from builder.ui import live_chart

    rows = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": math.nan},
            {"epoch": 3, "loss": math.inf}]
    panels = train_page._panels([0.5, 1.0], {"loss": [0.7, math.nan]}, rows, ["loss"],
                                cap=train_page.LIVE_POINTS)
    data = live_chart.chart_data(panels)
    text = json.dumps(data, allow_nan=False)  # what the browser's JSON.parse accepts
    lines = {line["name"]: line for line in json.loads(text)["panels"][0]["lines"]}
    assert lines["training (epoch)"]["y"] == [0.5, None, None]
    assert lines["training (per batch, smoothed)"]["y"] == [0.7, None]
    assert data["label"] == "Training curves: Loss"




def test_the_live_epoch_table_shows_the_latest_rows_and_says_so():
    def page():
        from builder.ui import train_page as page_module

        rows = [{"epoch": e, "loss": 1 / e} for e in range(1, 401)]
        page_module._epoch_table(rows, last=page_module.LIVE_TABLE_ROWS)
        page_module._epoch_table(rows[:10], last=page_module.LIVE_TABLE_ROWS)

    at = AppTest.from_function(page).run()
    assert not at.exception, at.exception
    long, short = at.expander
    assert "400 full epoch(s); the latest 50 while it trains" in long.label
    assert "latest" not in short.label
    assert len(at.dataframe[0].value) == train_page.LIVE_TABLE_ROWS
    assert at.dataframe[0].value["epoch"].tolist()[-1] == 400
    assert len(at.dataframe[1].value) == 10
