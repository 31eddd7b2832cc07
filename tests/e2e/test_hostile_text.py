"""Hostile text in a real browser: a CSV, an image zip and a design whose names and labels
are markup and code. Every page is visited (Build, Data, Train after one epoch, Explore,
Export); no request leaves for another address, no dialog opens, and the text shows as
text."""

from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from builder.markdown import shown
from tests.e2e.browsing import go_to_page, set_number, settle

pytestmark = pytest.mark.browser

UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
TRAP = "http://127.0.0.1:9"  # a port nothing listens on: any fetch of it is the failure
DESIGN_NAME = f"net ![N]({TRAP}/design.png) <img src=x onerror=alert(1)>"
TARGET = f"![T]({TRAP}/target.png)"
COLUMNS = ["[L](javascript:alert(1))", "<script>alert(2)</script>",
           f"{{{{ x }}}} %s {TRAP}/bare www.evil.example"]
LABELS = [f"![A]({TRAP}/label.png)", "<b onmouseover=alert(3)>bold</b>", "mail me@evil.example"]
FOLDERS = ["<img src=x onerror=alert(4)>", "[F](javascript:alert(5))"]  # no slashes: folders


def _csv() -> bytes:
    rng = np.random.default_rng(0)
    quoted = [json.dumps(c) for c in [*COLUMNS, TARGET]]
    rows = [",".join(quoted)]
    for i in range(120):
        values = rng.normal(size=3) + i % 3
        rows.append(",".join(f"{v:.3f}" for v in values) + "," + json.dumps(LABELS[i % 3]))
    return ("\n".join(rows) + "\n").encode()


def _zip() -> bytes:
    out = io.BytesIO()
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(out, "w") as archive:
        for f, folder in enumerate(FOLDERS):
            for i in range(5):
                pixels = np.clip(rng.normal(80 + 90 * f, 20, (12, 12, 3)), 0, 255)
                image = io.BytesIO()
                Image.fromarray(pixels.astype(np.uint8)).save(image, format="PNG")
                archive.writestr(f"{folder}/{i}.png", image.getvalue())
    return out.getvalue()


def _design() -> bytes:
    return json.dumps({"version": 1, "name": DESIGN_NAME, "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [3]}},
        {"id": "h", "type": "Dense", "params": {"units": 8, "activation": "relu"}},
        {"id": "out", "type": "Dense", "params": {"units": 3, "activation": "softmax"}}],
        "edges": [{"source": "x", "target": "h"}, {"source": "h", "target": "out"}]}).encode()


def _upload(page: Page, locator, name: str, data: bytes, mime: str) -> None:
    locator.set_input_files({"name": name, "mimeType": mime, "buffer": data})


def test_hostile_names_and_labels_stay_text_on_every_page(app_url, page, shot):
    app = urlparse(app_url).netloc
    elsewhere, dialogs = [], []
    page.on("request", lambda r: elsewhere.append(r.url) if urlparse(r.url).scheme in (
        "http", "https", "ws", "wss") and urlparse(r.url).netloc != app else None)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # Build: open the hostile design from a file.
    page.goto(app_url)
    file_menu = page.get_by_role("button", name="File")
    expect(file_menu).to_be_visible(timeout=90_000)
    settle(page)
    file_menu.click()
    _upload(page, page.locator(UPLOAD_INPUT).last, "hostile.json", _design(),
            "application/json")
    expect(page.get_by_text("Opened 'hostile.json' as a new design.")).to_be_visible(
        timeout=60_000)
    settle(page, 1500)
    # Opened once, as text: the canvas's layout runs do not open the upload again.
    expect(page.get_by_label("Design name")).to_have_value(DESIGN_NAME)
    page.keyboard.press("Escape")
    shot(page, "1-build")

    # Data: the image zip (its class folders are markup), then the CSV, prepared.
    go_to_page(page, "Data")
    page.get_by_text("Image zip", exact=True).click()
    settle(page)
    _upload(page, page.locator(f"{UPLOAD_INPUT}[accept*='.zip']"), "hostile.zip", _zip(),
            "application/zip")
    expect(page.get_by_text(FOLDERS[1], exact=False).first).to_be_attached(timeout=60_000)
    settle(page)
    shot(page, "2-zip")
    page.get_by_text("CSV file", exact=True).click()
    settle(page)
    _upload(page, page.locator(f"{UPLOAD_INPUT}[accept*='.csv']"), "hostile.csv", _csv(),
            "text/csv")
    expect(page.get_by_text(re.compile(r"Loaded hostile\.csv: 120 rows"))).to_be_visible(
        timeout=60_000)
    settle(page)
    expect(page.get_by_text(f"Class balance of '{shown(TARGET)}'")).to_be_visible()
    page.get_by_role("button", name="Prepare dataset").click()
    expect(page.get_by_text("Prepared for training")).to_be_visible(timeout=60_000)
    settle(page)
    shot(page, "3-data")

    # Train one epoch.
    go_to_page(page, "Train")
    set_number(page, "Epochs", 1)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text(re.compile(r"Finished after 1 epoch"))).to_be_visible(
        timeout=120_000)
    settle(page)
    expect(page.get_by_text(shown(DESIGN_NAME), exact=False).first).to_be_attached()
    shot(page, "4-train")

    go_to_page(page, "Explore")
    settle(page, 1500)
    shot(page, "5-explore")
    go_to_page(page, "Export")
    page.get_by_role("button", name="Build the export bundle").click()
    download = page.get_by_role("button", name=re.compile("Download the zip"))
    expect(download).to_be_visible(timeout=120_000)
    settle(page)
    expect(page.get_by_text(shown(DESIGN_NAME), exact=False).first).to_be_attached()
    shot(page, "6-export")

    assert dialogs == [], dialogs
    assert elsewhere == [], elsewhere
    # Bare addresses are not made links either.
    for element in ("img[src*='127.0.0.1:9']", "a[href^='javascript:']", "script:not([src])",
                    "b[onmouseover]", "a[href*='127.0.0.1:9']", "a[href*='evil.example']"):
        assert page.locator(f"[data-testid='stMain'] {element}").count() == 0, element
    # Charts show the labels as written too (Plotly would draw <b>...</b> as bold).
    page.goto(f"{app_url}/explore")  # a fresh session lists the stored run
    settle(page, 1500)
    ticks = page.locator(".xtick text, .ytick text").all_text_contents()
    assert LABELS[1] in ticks and LABELS[0] in ticks, ticks
    assert dialogs == [] and elsewhere == [], (dialogs, elsewhere)
