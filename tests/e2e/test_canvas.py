"""The Build page in a real browser: what only a browser shows (the canvas, dragging).

Each test starts a new design from the Designs menu, so the tests do not depend
on each other's leftovers in the shared server.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browsing import settle

pytestmark = pytest.mark.browser

CANVAS = 'iframe[title="streamlit_flow.streamlit_flow"]'


def canvas(page: Page):
    return page.frame_locator(CANVAS)


def node(page: Page, node_id: str):
    return canvas(page).locator(f'.react-flow__node[data-id="{node_id}"]')


def edge(page: Page, source: str, target: str):
    return canvas(page).locator(f'.react-flow__edge[aria-label="Edge from {source} to {target}"]')


def node_id_field(page: Page):
    return page.get_by_label("Node id (the Keras layer name)", exact=True)


def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, start, end) -> None:
    """Press on one element, move in steps (as a hand would), release on another."""
    x0, y0 = centre(start.bounding_box())
    x1, y1 = centre(end.bounding_box())
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=20)
    page.mouse.up()


def click(page: Page, locator) -> None:
    settle(page)
    locator.click()


def open_new_design(page: Page, url: str) -> None:
    page.goto(url)
    expect(canvas(page).locator(".react-flow__pane")).to_be_visible(timeout=90_000)
    click(page, page.get_by_role("button", name="Designs"))
    page.get_by_role("button", name="New design").click()
    expect(canvas(page).locator(".react-flow__node")).to_have_count(0)
    expect(page.get_by_text("0 layers")).to_be_visible()
    page.keyboard.press("Escape")  # close the popover


def add_from_palette(page: Page, title: str, node_id: str) -> None:
    click(page, page.get_by_role("button", name=title, exact=True))
    expect(node(page, node_id)).to_be_visible()


def test_build_connect_edit_mistake_reload(app_url, page, shot):
    open_new_design(page, app_url)

    # Input -> Dense -> Dense by clicks alone: each new layer hangs below the selected one.
    add_from_palette(page, "Input", "input_1")
    add_from_palette(page, "Dense", "dense_1")
    add_from_palette(page, "Dense", "dense_2")
    expect(edge(page, "input_1", "dense_1")).to_have_count(1)
    expect(edge(page, "dense_1", "dense_2")).to_have_count(1)
    expect(node(page, "dense_2")).to_contain_text("(None, 32)")
    expect(page.get_by_text("3 layers")).to_be_visible()
    shot(page, "1-chain")

    # A layer added with nothing selected stands alone; connect it by dragging handles.
    click(page, page.get_by_role("button", name="Close"))
    expect(page.get_by_role("button", name="Close")).to_have_count(0)
    add_from_palette(page, "Dense", "dense_3")
    expect(node(page, "dense_3")).to_contain_text("has no input")
    source = canvas(page).locator('.react-flow__handle.source[data-nodeid="dense_2"]')
    target = canvas(page).locator('.react-flow__handle.target[data-nodeid="dense_3"]')
    settle(page)
    drag(page, source, target)
    expect(edge(page, "dense_2", "dense_3")).to_have_count(1)
    expect(node(page, "dense_3")).to_contain_text("(None, 32)")
    expect(node(page, "dense_3").locator(".nc-problem")).to_have_count(0)
    shot(page, "2-connected")

    # Click the node, change a parameter in the inspector: the node's shape follows.
    click(page, node(page, "dense_3"))
    expect(node_id_field(page)).to_have_value("dense_3")
    units = page.get_by_label("Units", exact=True)
    settle(page)
    units.fill("10")
    units.press("Enter")
    expect(node(page, "dense_3")).to_contain_text("(None, 10)")
    expect(node(page, "dense_3")).to_contain_text("Dense 10 relu")
    shot(page, "3-inspector")

    # A shape mistake: a 2D convolution after a vector. The node is marked and says why.
    quick = page.get_by_label("Type a layer", exact=True)
    settle(page)
    quick.fill("Conv2D 16 3 relu")
    quick.press("Enter")
    expect(node(page, "conv2d_1")).to_be_visible()
    expect(edge(page, "dense_3", "conv2d_1")).to_have_count(1)
    problem = node(page, "conv2d_1").locator(".nc-problem")
    expect(problem).to_contain_text("expects an image")
    expect(page.get_by_text("1 problem", exact=True)).to_be_visible()
    shot(page, "4-mistake")

    # A reload is a new session: the design comes back from the store as it was.
    page.reload()
    expect(node(page, "conv2d_1").locator(".nc-problem")).to_contain_text("expects an image",
                                                                         timeout=90_000)
    expect(node(page, "dense_3")).to_contain_text("(None, 10)")
    expect(edge(page, "dense_2", "dense_3")).to_have_count(1)
    shot(page, "5-reloaded")

    # The Delete key removes the selected node, and the page (not only the canvas) knows.
    click(page, node(page, "conv2d_1"))
    expect(node_id_field(page)).to_have_value("conv2d_1")
    settle(page)
    page.keyboard.press("Delete")
    expect(node(page, "conv2d_1")).to_have_count(0)
    expect(page.get_by_text("4 layers")).to_be_visible()
    page.reload()
    expect(node(page, "dense_3")).to_be_visible(timeout=90_000)
    expect(node(page, "conv2d_1")).to_have_count(0)
    shot(page, "6-deleted")


def test_pane_menu_types_a_layer(app_url, page, shot):
    open_new_design(page, app_url)
    frame = page.locator(CANVAS)
    box = frame.bounding_box()

    def create_from_pane(text: str, dx: float, dy: float) -> None:
        menu = canvas(page).get_by_role("button", name="Create New Node")
        for _ in range(3):  # a redraw landing with the right-click closes the menu
            settle(page)
            page.mouse.click(box["x"] + dx, box["y"] + dy, button="right")
            try:
                expect(menu).to_be_visible(timeout=3000)
                break
            except AssertionError:
                continue
        menu.click()
        canvas(page).locator("textarea").first.fill(text)
        canvas(page).get_by_role("button", name="Create Node").click()

    create_from_pane("Input 28 28 1", 150, 120)
    # Generous: on two loaded cores the component's report and the redraw can take a while.
    expect(node(page, "input_1")).to_contain_text("(None, 28, 28, 1)", timeout=45_000)
    create_from_pane("Dense banana", 150, 420)
    draft = canvas(page).locator(".react-flow__node", has_text="Dense banana")
    expect(draft).to_contain_text("not a value Dense understands", timeout=45_000)
    shot(page, "1-pane-menu")
    # The design itself holds only the layer that was understood.
    expect(page.get_by_text("1 layer ·", exact=False)).to_be_visible()


def viewport(page: Page) -> str:
    """The canvas's zoom and pan, as the transform of its viewport."""
    return canvas(page).locator(".react-flow__viewport").evaluate("e => e.style.transform")


def zoom_of(transform: str) -> float:
    return float(re.search(r"scale\(([0-9.]+)\)", transform).group(1))


def test_zoom_and_pan_are_kept_when_a_parameter_changes(app_url, page, shot):
    open_new_design(page, app_url)
    add_from_palette(page, "Input", "input_1")
    add_from_palette(page, "Dense", "dense_1")
    expect(edge(page, "input_1", "dense_1")).to_have_count(1)
    settle(page)
    fitted = viewport(page)

    # Zoom with the mouse wheel over the canvas: out, since two fitted nodes are
    # drawn at the component's largest zoom already.
    box = page.locator(CANVAS).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
    page.mouse.wheel(0, 400)
    settle(page)
    zoomed = viewport(page)
    assert zoom_of(zoomed) < zoom_of(fitted) / 1.2, (fitted, zoomed)
    shot(page, "1-zoomed")

    # A parameter change redraws the node, and the view stays where the person put it.
    expect(node_id_field(page)).to_have_value("dense_1")
    units = page.get_by_label("Units", exact=True)
    settle(page)
    units.fill("10")
    units.press("Enter")
    expect(node(page, "dense_1")).to_contain_text("(None, 10)")
    settle(page, 1500)
    assert viewport(page) == zoomed
    shot(page, "2-zoom-kept")

    # The canvas's own controls still fit the view on demand.
    canvas(page).locator(".react-flow__controls-fitview").click()
    expect(canvas(page).locator(".react-flow__viewport")).not_to_have_attribute(
        "style", re.compile(re.escape(zoomed)))
