"""The Data page in a real browser: upload a CSV and an image zip through the real uploader."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'


def _csv() -> bytes:
    rng = np.random.default_rng(0)
    rows = ["label,x1,x2,day,shade"]
    for i in range(80):
        x1, x2 = rng.normal(size=2)
        label = "inside" if x1 * x1 + x2 * x2 < 1 else "outside"
        rows.append(f"{label},{x1:.3f},{x2:.3f},2024-{1 + i % 12:02d}-{1 + i % 28:02d},"
                    f"{['light', 'dark'][i % 2]}")
    return ("\n".join(rows) + "\n").encode()


def _zip() -> bytes:
    out = io.BytesIO()
    colours = {"apples": (200, 30, 30), "limes": (40, 190, 40), "plums": (110, 40, 150)}
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(out, "w") as archive:
        for name, colour in colours.items():
            for i in range(6):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (24, 24, 3)), 0, 255)
                image = io.BytesIO()
                Image.fromarray(pixels.astype(np.uint8)).save(image, format="PNG")
                archive.writestr(f"fruit/{name}/{i}.png", image.getvalue())
        archive.writestr("fruit/readme.txt", b"not an image")
        archive.writestr("__MACOSX/fruit/._x", b"junk")
    return out.getvalue()


def _open(page: Page, url: str, source: str) -> None:
    page.goto(f"{url}/data")
    expect(page.get_by_role("heading", name="Data")).to_be_visible(timeout=90_000)
    page.get_by_text(source, exact=True).click()
    expect(page.locator(UPLOAD_INPUT)).to_be_attached()


def _settle(page: Page) -> None:
    """Wait until the script run a widget change started has finished."""
    page.wait_for_timeout(300)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=60_000)


def _to_top(locator) -> None:
    locator.evaluate("element => element.scrollIntoView({block: 'start'})")


def _upload(page: Page, name: str, data: bytes, mime: str) -> None:
    page.locator(UPLOAD_INPUT).set_input_files({"name": name, "mimeType": mime, "buffer": data})


def test_upload_a_csv_pick_the_target_and_prepare(app_url, page, shot):
    _open(page, app_url, "CSV file")
    _upload(page, "points.csv", _csv(), "text/csv")
    expect(page.get_by_text("Loaded points.csv: 80 rows, 5 columns.")).to_be_visible(
        timeout=60_000)
    preview = page.locator('[data-testid="stDataFrame"]').first
    expect(preview).to_be_visible()
    # The types table is a data grid drawn on a canvas; its cells exist for screen readers.
    expect(page.get_by_text("dates (YYYY-MM-DD)")).to_be_attached()
    expect(page.get_by_text("date", exact=True).first).to_be_attached()
    _to_top(page.get_by_text("(change a type if the guess is wrong)"))
    shot(page, "csv-types")
    expect(page.get_by_text("Column charts")).to_be_visible()
    preview.scroll_into_view_if_needed()
    shot(page, "csv-preview")
    # The last column is offered as the target; pick 'label' instead.
    expect(page.get_by_text("Class balance of 'shade'")).to_be_visible()
    page.get_by_role("button", name="Remove shade").first.click()
    expect(page.get_by_text("Class balance of 'shade'")).to_have_count(0)
    _settle(page)
    page.get_by_role("combobox", name="Target column(s): what to predict").click()
    page.get_by_role("option", name="label", exact=True).click()
    page.keyboard.press("Escape")
    _settle(page)
    expect(page.get_by_text("Class balance of 'label'")).to_be_visible()
    shot(page, "csv-target")
    page.get_by_role("button", name="Prepare dataset").click()
    prepared = page.get_by_text("Prepared for training")
    expect(prepared).to_be_visible(timeout=60_000)
    expect(page.get_by_text("binary", exact=True)).to_be_visible()
    _settle(page)
    _to_top(prepared)
    shot(page, "csv-prepared")
    # A broken upload is explained, and the data loaded and prepared before stay.
    _upload(page, "empty.csv", b"", "text/csv")
    error = page.get_by_text("'empty.csv' is empty.", exact=False)
    expect(error).to_be_visible(timeout=60_000)
    expect(page.get_by_text("The data loaded before is kept.", exact=False)).to_be_visible()
    expect(page.get_by_text("Prepared for training")).to_be_attached()
    error.scroll_into_view_if_needed()
    shot(page, "csv-bad-upload")


def test_upload_an_image_zip_and_see_the_gallery(app_url, page, shot):
    _open(page, app_url, "Image zip")
    _upload(page, "fruit.zip", _zip(), "application/zip")
    expect(page.get_by_text("Loaded fruit.zip: 18 images in 3 classes")).to_be_visible(
        timeout=60_000)
    for name in ("apples", "limes", "plums"):
        expect(page.get_by_text(f"{name} (6 images)")).to_be_visible()
    images = page.locator('[data-testid="stImage"] img')
    expect(images).to_have_count(18)
    page.get_by_text("apples (6 images)").scroll_into_view_if_needed()
    shot(page, "zip-gallery")
    page.get_by_text("Skipped: 2 item(s)").click()
    # The report is a data grid drawn on a canvas; its cells exist for screen readers.
    expect(page.get_by_text("not an image file")).to_be_attached()
    expect(page.get_by_text("hidden or system file")).to_be_attached()
    page.get_by_role("button", name="Prepare dataset").click()
    prepared = page.get_by_text("Prepared for training")
    expect(prepared).to_be_visible(timeout=60_000)
    _settle(page)
    _to_top(prepared)
    shot(page, "zip-prepared")
