"""A GAN in a real browser: the template, the digits at the generator's size, two epochs, Explore.

As a person would: open the GAN template from the Build page's gallery (it saves
the generator and the discriminator, linked), load the digits sample on the Data
page at 16 x 16 (the size the generator makes), train the pair for two epochs on
the Train page and watch the d/g curves and the grid of generated samples, then
open Explore and see new samples and the per-epoch grids.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browsing import go_to_page, open_template, set_number, settle, stop_button

pytestmark = pytest.mark.browser


def test_gan_template_trains_on_digits_and_explores(app_url, page, shot):
    open_template(page, app_url, "gan_digits")
    expect(page.get_by_text("the template also saved", exact=False)).to_be_visible(
        timeout=60_000)
    shot(page, "1-template")

    go_to_page(page, "Data")
    page.get_by_label("Sample", exact=True).click()
    page.get_by_role("option", name=re.compile("Handwritten digits")).click()
    settle(page)
    page.get_by_role("button", name="Load sample").click()
    expect(page.get_by_role("button", name="Prepare dataset")).to_be_visible(timeout=60_000)
    settle(page)
    set_number(page, "Height", 16)
    set_number(page, "Width", 16)
    page.get_by_role("button", name="Prepare dataset").click()
    expect(page.get_by_text("Prepared for training")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("16x16x1")).to_be_visible()
    # The open design is the generator: the Data page checks only the image shape.
    expect(page.get_by_text("makes images of shape (16, 16, 1), the shape of these images",
                            exact=False)).to_be_visible()
    shot(page, "2-data")

    go_to_page(page, "Train")
    expect(page.get_by_text("its generator against its discriminator", exact=False)).to_be_visible()
    expect(page.get_by_text("1,797 real images", exact=False)).to_be_visible()
    set_number(page, "Epochs", 2)
    shot(page, "3-settings")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(stop_button(page)).to_be_visible(timeout=60_000)
    live_grid = page.locator('.st-key-nc_train--live_grid img')
    expect(live_grid).to_be_visible(timeout=120_000)
    shot(page, "4-live")
    expect(page.get_by_text(re.compile(r"^Finished\. "))).to_be_visible(timeout=240_000)
    settle(page)
    chart = page.locator('.st-key-nc_train--last_chart[data-stale="false"]')
    chart.scroll_into_view_if_needed()
    expect(chart.get_by_text("Discriminator loss")).to_be_visible()
    expect(chart.get_by_text("Generator loss")).to_be_visible()
    # Two panels, each with two epoch points.
    expect(chart.locator("path.point")).to_have_count(4)
    grid = page.locator(".st-key-nc_train--last_grid")
    expect(grid.locator("img")).to_be_visible()
    expect(grid.get_by_text("after epoch 2")).to_be_visible()
    grid.scroll_into_view_if_needed()
    shot(page, "5-finished")

    go_to_page(page, "Explore")
    expect(page.get_by_text("random numbers (noise)", exact=False)).to_be_visible(
        timeout=60_000)
    samples = page.locator(".st-key-nc_explore--gan_grid img")
    expect(samples).to_be_visible(timeout=60_000)
    shot(page, "6-explore")
    page.get_by_role("tab", name="Samples by epoch").click()
    settle(page)
    expect(page.locator(".st-key-nc_explore--gan_epoch_grid img")).to_be_visible()
    expect(page.get_by_text("after epoch 2", exact=False)).to_be_visible()
    shot(page, "7-epochs")
