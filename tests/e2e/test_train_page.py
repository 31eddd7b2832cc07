"""The Train page in a real browser: a sample, 2 epochs, the curve's points; a live run, Stop.

The design is the MLP classifier template on the breast-cancer sample it names, as
it is (no one-click fixes needed).
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browsing import go_to_page, open_template, set_number, settle, stop_button

pytestmark = pytest.mark.browser


def _design_and_data(page: Page, url: str) -> None:
    open_template(page, url, "mlp_classifier")
    expect(page.get_by_text("5 layers", exact=False)).to_be_visible(timeout=60_000)
    go_to_page(page, "Data")
    page.get_by_role("button", name="Load sample").click()  # breast cancer, binary
    expect(page.get_by_role("button", name="Prepare dataset")).to_be_visible(timeout=60_000)
    settle(page)
    page.get_by_role("button", name="Prepare dataset").click()
    expect(page.get_by_text("Prepared for training")).to_be_visible(timeout=60_000)
    # Two softmax units are a right two-class output: the template fits as it is.
    expect(page.get_by_text("The design fits this data.")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Fix all")).to_have_count(0)
    go_to_page(page, "Train")


def _fresh(key: str) -> str:
    """The element of a keyed widget, not the stale copy Streamlit keeps during a rerun."""
    return f'.st-key-nc_train--{key}[data-stale="false"]'


def test_train_two_epochs_then_watch_a_live_run_and_stop_it(app_url, page, shot):
    _design_and_data(page, app_url)
    expect(page.get_by_text("397 train / 86 validation / 86 test", exact=False)).to_be_visible()
    set_number(page, "Epochs", 2)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(stop_button(page)).to_be_visible(timeout=60_000)

    finished = page.get_by_text(re.compile(r"^Finished\. "))
    expect(finished).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Finished after 2 epoch(s)", exact=False)).to_be_visible()
    chart = page.locator(_fresh("last_chart"))
    chart.scroll_into_view_if_needed()
    # Loss and accuracy panels, each with 2 training and 2 validation epoch points.
    expect(chart.locator("path.point")).to_have_count(8)
    expect(chart.get_by_text("validation (epoch)")).to_be_visible()
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    shot(page, "1-finished")

    # A longer run (another learning rate, to tell the curves apart): the page polls it
    # live, with a progress bar, speed and time left.
    set_number(page, "Epochs", 400)
    rate = page.get_by_label("Learning rate", exact=True)
    rate.fill("0.01")
    rate.press("Enter")
    settle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(stop_button(page)).to_be_visible(timeout=60_000)
    progress = page.get_by_text(re.compile(r"Epoch \d+/400 · batch \d+/13 · .* samples/s"))
    expect(progress).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"\d+ (s|min \d+ s|h \d+ min) left"))).to_be_visible()
    first = progress.inner_text()
    expect(progress).not_to_have_text(first, timeout=15_000)  # it moves without a click
    expect(page.get_by_text(re.compile(r"^Epoch ([3-9]|\d{2,3})/400"))).to_be_visible(
        timeout=120_000)
    live = page.locator(".nc-live-chart")
    expect(live).to_have_attribute("aria-label", re.compile("Training curves: Loss, Accuracy"),
                                   timeout=30_000)
    # Points keep arriving on the chart without a click (it redraws every LIVE_SECONDS);
    # the chart says how many points of its lines it drew.
    points = "() => Number(document.querySelector('.nc-live-chart').dataset.points || 0)"
    before = page.evaluate(points)
    assert before > 0
    page.wait_for_function(f"() => ({points})() > {before}", timeout=20_000)
    # It drew something a person sees: the canvas has painted pixels, not a blank box.
    painted = page.evaluate("() => { const c = document.querySelector('.nc-live-chart canvas');"
                            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height)"
                            ".data; let n = 0; for (let i = 3; i < d.length; i += 4) "
                            "if (d[i]) n++; return n; }")
    assert painted > 2000
    live.scroll_into_view_if_needed()
    shot(page, "2-live")

    stop_button(page).click()
    stopped = page.get_by_text("what was learned is kept", exact=False)
    expect(stopped).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"Stopped after \d+ epoch\(s\)"))).to_be_visible()
    stopped.scroll_into_view_if_needed()
    shot(page, "3-stopped")

    page.get_by_role("tab", name="Run history").click()
    history = page.locator(_fresh("history_chart"))
    expect(history.locator(".scatterlayer .trace")).to_have_count(2, timeout=30_000)
    history.scroll_into_view_if_needed()
    shot(page, "4-history")

    # Export what was trained: the bundle downloads as one zip with everything in it.
    go_to_page(page, "Export")
    settle(page)
    page.get_by_role("button", name="Build the export bundle").click()
    download_button = page.get_by_role("button", name="Download the zip")
    expect(download_button).to_be_visible(timeout=120_000)
    shot(page, "5-export")
    with page.expect_download(timeout=60_000) as caught:
        download_button.click()
    with zipfile.ZipFile(caught.value.path()) as bundle:
        names = set(bundle.namelist())
    for expected in ("model.keras", "design.json", "history.csv", "config.json", "model.py",
                     "README.md", "class_names.txt"):
        assert any(name.endswith(expected) for name in names), (expected, sorted(names))
    assert any("saved_model/saved_model.pb" in name for name in names), sorted(names)


def test_settings_typed_on_the_train_page_are_there_after_a_visit_elsewhere(app_url, page,
                                                                            shot):
    # The browser draws a returning page's widgets afresh; they must show, and send back,
    # what was typed before, not their defaults (a run trained 10 epochs, not 400 typed).
    # Seed: a setting the template does not suggest (see the note on issue 14: under load,
    # Epochs once came back as the template's suggestion).
    _design_and_data(page, app_url)
    set_number(page, "Seed", 5)
    go_to_page(page, "Data")
    go_to_page(page, "Train")
    expect(page.get_by_label("Seed", exact=True).last).to_have_value("5")
    shot(page, "back-on-train")


def test_two_browser_sessions_train_at_once_and_each_sees_only_its_own_run(app_url, browser,
                                                                           shot):
    """Two people (two browser sessions) on one app and one device: the second run waits
    its turn and says its place, each page shows only its own run, and the second trains
    as soon as the first is stopped."""
    contexts = [browser.new_context(viewport={"width": 1500, "height": 1000})
                for _ in range(2)]
    first, second = (context.new_page() for context in contexts)
    try:
        for tab in (first, second):
            tab.set_default_timeout(30_000)
            _design_and_data(tab, app_url)
        header = re.compile(r"run (\d{8}-\d{6}-[0-9a-f]{6})")
        set_number(first, "Epochs", 400)
        first.get_by_role("button", name="Train", exact=True).click()
        expect(first.get_by_text(re.compile(r"^Epoch \d+/400"))).to_be_visible(timeout=60_000)
        first_id = header.search(first.get_by_text(header).first.inner_text()).group(1)

        set_number(second, "Epochs", 3)
        second.get_by_role("button", name="Train", exact=True).click()
        expect(second.get_by_text(re.compile(r"place 1 in the queue"))).to_be_visible(
            timeout=60_000)
        second_id = header.search(second.get_by_text(header).first.inner_text()).group(1)
        assert second_id != first_id
        # Each page shows its own run, and the other's nowhere in its live panel.
        expect(first.get_by_text(second_id)).to_have_count(0)
        expect(second.get_by_text(first_id)).to_have_count(0)
        expect(second.get_by_text(re.compile(r"^Epoch \d+/400"))).to_have_count(0)
        shot(second, "second-waits")

        stop_button(first).click()
        expect(first.get_by_text(re.compile(r"Stopped after \d+ epoch\(s\)"))).to_be_visible(
            timeout=60_000)
        expect(second.get_by_text("Finished after 3 epoch(s)", exact=False)).to_be_visible(
            timeout=120_000)
        expect(first.get_by_text("Finished after 3 epoch(s)", exact=False)).to_have_count(0)
        shot(second, "second-finished")
    finally:
        for context in contexts:
            context.close()


def _latest_run(home: Path) -> str:
    with sqlite3.connect(home / "neural_canvas.sqlite") as conn:
        return conn.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()[0]


def _epoch_seconds(home: Path, run_id: str) -> dict[int, float]:
    """Each full epoch's wall seconds as the worker timed it, by epoch number."""
    with sqlite3.connect(home / "neural_canvas.sqlite") as conn:
        return dict(conn.execute("SELECT epoch, seconds FROM run_epochs WHERE run_id = ? AND "
                                 "partial = 0", (run_id,)).fetchall())


def test_watching_a_live_run_costs_it_little(app_url, page):
    """A coarse guard of issue 16 (bench/live_view.py holds the real 1.10 target): one run,
    watched on the Train page and left for the Data page in turns; its epochs take at most
    1.5 times as long while watched. The medians of per-epoch times, each segment's epochs
    timed by the worker, stand up to the other tests running beside this one."""
    _design_and_data(page, app_url)
    home = Path(page.locator('[data-testid="stSidebar"] code').first.inner_text())
    set_number(page, "Epochs", 5000)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Epoch (\d{2,4})/5000"))).to_be_visible(
        timeout=120_000)
    run_id = _latest_run(home)
    spans = {True: [], False: []}
    on_train = True
    for turn in range(4):
        for watched in ((True, False) if turn % 2 == 0 else (False, True)):
            if watched != on_train:
                go_to_page(page, "Train" if watched else "Data")
                on_train = watched
            start = max(_epoch_seconds(home, run_id))
            page.wait_for_timeout(4_000)
            spans[watched].append((start, max(_epoch_seconds(home, run_id))))
    if not on_train:
        go_to_page(page, "Train")
    stop_button(page).click()
    expect(page.get_by_text(re.compile(r"Stopped after \d+ epoch\(s\)"))).to_be_visible(
        timeout=60_000)
    seconds = _epoch_seconds(home, run_id)

    def median_of(kind: bool) -> float:
        return statistics.median(seconds[e] for start, end in spans[kind]
                                 for e in range(start + 1, end + 1))

    assert all(end - start >= 3 for start, end in spans[True] + spans[False]), spans
    assert median_of(True) <= 1.5 * median_of(False), (median_of(True), median_of(False))
