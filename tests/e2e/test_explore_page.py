"""The Explore page in a real browser: train a small CNN on the digits, click a confusion cell,
open the saliency maps.

The path is a person's: the Small CNN template, the digits sample at 16x16 with the Data
page's one-click fixes, three epochs on the Train page, then Explore.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browsing import go_to_page, open_template, set_number, settle

pytestmark = pytest.mark.browser


def _train_small_cnn_on_digits(page: Page, url: str, shot) -> None:
    open_template(page, url, "small_cnn")
    expect(page.get_by_text(re.compile(r"\b10 layers\b"))).to_be_visible(timeout=60_000)
    settle(page)
    shot(page, "0-design")
    go_to_page(page, "Data")
    page.get_by_role("combobox", name="Sample").click()
    page.get_by_role("option", name=re.compile("Handwritten digits")).click()
    settle(page)
    page.get_by_role("button", name="Load sample").click()
    expect(page.get_by_role("button", name="Prepare dataset")).to_be_visible(timeout=60_000)
    settle(page)
    for side in ("Height", "Width"):
        set_number(page, side, 16)
    page.get_by_role("button", name="Prepare dataset").click()
    expect(page.get_by_text("Prepared for training")).to_be_visible(timeout=60_000)
    settle(page)
    # The template takes 32x32 images; its 10-class softmax output already fits, and the
    # one-click fix sets the Input to the prepared 16x16 grey images.
    fits = page.get_by_text("The design fits this data.")
    fix = page.get_by_role("button", name=re.compile(r"^Set the input shape to \(16, 16, 1\)"))
    expect(fix.first).to_be_visible(timeout=90_000)
    fix.first.click()
    expect(fits).to_be_visible(timeout=60_000)
    settle(page)
    go_to_page(page, "Train")
    set_number(page, "Epochs", 4)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Finished\. "))).to_be_visible(timeout=180_000)
    settle(page)


def test_click_a_confusion_cell_then_open_saliency_maps(app_url, page, shot):
    _train_small_cnn_on_digits(page, app_url, shot)
    go_to_page(page, "Explore")
    chart = page.locator('[class*="st-key-nc_explore--confusion"]').first
    expect(chart.locator(".js-plotly-plot")).to_be_visible(timeout=120_000)
    settle(page)
    accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Accuracy")
    expect(accuracy).to_be_visible()
    value = float(re.search(r"([\d.]+)%", accuracy.inner_text()).group(1))
    assert value > 50, accuracy.inner_text()
    chart.scroll_into_view_if_needed()
    shot(page, "1-metrics")

    # Click the cell "true 3, predicted 3": marker 3 * 10 + 3 of the clickable layer.
    markers = chart.locator(".scatterlayer .trace").last.locator("path.point")
    expect(markers).to_have_count(100)
    box = markers.nth(33).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    heading = page.get_by_text(re.compile(r"^\d+ sample\(s\): true 3, predicted 3$"))
    expect(heading).to_be_visible(timeout=60_000)
    settle(page)
    gallery = page.locator('[class*="st-key-nc_explore--cell_gallery"]')
    expect(gallery.locator(".js-plotly-plot")).to_be_visible()
    gallery.scroll_into_view_if_needed()
    shot(page, "2-cell-samples")

    # Explain one of those samples: its saliency maps, by four methods.
    page.get_by_role("button", name="Use this sample").click()
    settle(page)
    page.get_by_role("tab", name="Saliency").click()
    settle(page)
    for title in ("Vanilla gradients", "SmoothGrad", "Integrated Gradients",
                  "Grad-CAM on conv_2"):
        chart = page.locator('[class*="st-key-nc_explore--saliency--"]').filter(
            has_text=title)
        expect(chart.first).to_be_visible(timeout=60_000)
    cam = page.locator('[class*="st-key-nc_explore--saliency--grad_cam"]')
    expect(cam.locator(".heatmaplayer image, .heatmaplayer .hm").first).to_be_attached()
    page.get_by_text("Explain the class").scroll_into_view_if_needed()
    shot(page, "3-saliency")
    cam.scroll_into_view_if_needed()
    shot(page, "4-grad-cam")

    # The forward pass of the same sample: feature maps of the first convolution.
    page.get_by_role("tab", name="Forward pass").click()
    settle(page)
    maps = page.locator('[class*="st-key-nc_explore--activation--conv_1"]')
    expect(maps.get_by_text("conv_1 (Conv2D)", exact=False)).to_be_visible(timeout=60_000)
    maps.scroll_into_view_if_needed()
    shot(page, "5-forward-pass")
