"""The Build page's canvas in a real browser: what only a browser shows.

Each test starts a new design from the Designs menu, so the tests do not depend on each
other's leftovers in the shared server. The canvas is in the page itself (Components v2,
no iframe): nodes are `.react-flow__node[data-id=ID]`, handles carry their node and name.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browsing import open_template, settle

pytestmark = pytest.mark.browser

READABLE_PX = 11.0


def node(page: Page, node_id: str):
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def edge(page: Page, source: str, target: str):
    return page.locator(f'.react-flow__edge[data-id^="{source}->{target}:"]')


def handle(page: Page, node_id: str, name: str):
    kind = "source" if name == "out" else "target"
    return page.locator(f'.react-flow__handle.{kind}[data-nodeid="{node_id}"]'
                        f'[data-handleid="{name}"]')


def node_id_field(page: Page):
    return page.get_by_label("Node id (the Keras layer name)", exact=True)


def expect_inspector(page: Page, node_id: str) -> None:
    """The inspector comes to edit ``node_id``, and only it (while a run is going,
    Streamlit shows the old inspector beside the new one)."""
    page.wait_for_function(
        """([label, id]) => {
            const fields = [...document.querySelectorAll(`input[aria-label="${label}"]`)];
            return fields.length === 1 && fields[0].value === id;
        }""", arg=["Node id (the Keras layer name)", node_id], polling=100, timeout=30_000)
    settle(page)


def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, start, end, dx: float = 0, dy: float = 0) -> None:
    """Press on one element, move in steps (as a hand would), release on another."""
    x0, y0 = centre(start.bounding_box())
    x1, y1 = centre(end.bounding_box())
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1 + dx, y1 + dy, steps=15)
    page.mouse.up()


def middle_of(page: Page, edge_locator) -> tuple[float, float]:
    """The screen point halfway along a drawn connection."""
    point = edge_locator.locator("path.react-flow__edge-path").evaluate(
        """p => { const at = p.getPointAtLength(p.getTotalLength() / 2);
                  const m = p.getScreenCTM(); return [at.x * m.a + m.e, at.y * m.d + m.f]; }""")
    return point[0], point[1]


def pane_point(page: Page, fx: float, fy: float) -> dict:
    """A point inside the canvas, as fractions of its width and height."""
    box = page.locator(".nc-flow").bounding_box()
    return {"x": box["width"] * fx, "y": box["height"] * fy}


def palette_item(page: Page, type_id: str):
    """The palette's entry for a layer, searched for when its category is closed."""
    settle(page)
    search = page.get_by_placeholder("Search or type", exact=False)
    search.fill("")
    item = page.locator(f'.nc-item[data-type="{type_id}"]')
    if not item.is_visible():
        search.fill(type_id)
    return item


def drop(page: Page, type_id: str, at: dict) -> None:
    """Drag a layer from the palette onto the canvas at ``at`` (relative to the canvas)."""
    palette_item(page, type_id).drag_to(page.locator(".nc-flow"), target_position=at)


def click_empty(page: Page) -> None:
    """Click the canvas's empty top-right corner: nothing selected any more."""
    box = page.locator(".nc-flow").bounding_box()
    page.locator(".react-flow__pane").click(position={"x": box["width"] - 30, "y": 15})


def open_new_design(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator(".react-flow__pane")).to_be_visible(timeout=90_000)
    settle(page)
    page.get_by_role("button", name="Designs").click()
    page.get_by_role("button", name="New design").click()
    expect(page.locator(".react-flow__node")).to_have_count(0)
    expect(page.get_by_text("0 layers · saved")).to_be_visible()
    page.keyboard.press("Escape")  # close the popover
    settle(page)


def viewport(page: Page) -> str:
    """The canvas's zoom and pan, as the transform of its viewport."""
    return page.locator(".react-flow__viewport").evaluate("e => e.style.transform")


def zoom_of(transform: str) -> float:
    return float(re.search(r"scale\(([0-9.]+)\)", transform).group(1))


def test_palette_drop_click_connect_edit_mistake_delete_reload(app_url, page, shot):
    open_new_design(page, app_url)

    # The empty design's problem is said over the canvas, not above it.
    notice = page.locator(".nc-flow .nc-notice")
    expect(notice).to_contain_text("The design is empty")
    before = page.locator(".nc-flow").bounding_box()

    # A layer dropped from the palette lands where it was dropped, and the canvas stays
    # where it was as the design's problems change (a banner above it used to go away
    # after the first drop and pull the canvas up under the pointer).
    point = pane_point(page, 0.5, 0.2)
    drop(page, "Input", point)
    expect(node(page, "input_1")).to_be_visible()
    expect(notice.filter(has_text="The design is empty")).to_have_count(0)
    settle(page)
    flow = page.locator(".nc-flow").bounding_box()
    assert abs(flow["y"] - before["y"]) < 1, (before, flow)
    x, y = centre(node(page, "input_1").bounding_box())
    assert abs(x - (flow["x"] + point["x"])) < 20 and abs(y - (flow["y"] + point["y"])) < 20
    expect_inspector(page, "input_1")  # the new layer is selected

    # Palette clicks append below the selected node, connected.
    settle(page)
    page.locator('.nc-item[data-type="Dense"]').click()
    expect(node(page, "dense_1")).to_be_visible()
    expect(edge(page, "input_1", "dense_1")).to_have_count(1)
    expect(node(page, "dense_1")).to_contain_text("(None, 32)")
    shot(page, "1-dropped-and-clicked")

    # A layer dropped at a point stands alone; connect it by dragging handles.
    drop(page, "Dense", pane_point(page, 0.8, 0.6))
    expect(node(page, "dense_2")).to_contain_text("has no input")
    settle(page)
    drag(page, handle(page, "dense_1", "out"), handle(page, "dense_2", "in"))
    expect(edge(page, "dense_1", "dense_2")).to_have_count(1)
    expect(node(page, "dense_2")).to_contain_text("(None, 32)")
    expect(node(page, "dense_2").locator(".nc-problem")).to_have_count(0)
    shot(page, "2-connected")

    # Click the node, change a parameter in the inspector: the node's shape follows.
    settle(page)
    node(page, "dense_2").click()
    expect_inspector(page, "dense_2")
    units = page.get_by_label("Units", exact=True)
    units.fill("10")
    units.press("Enter")
    expect(node(page, "dense_2")).to_contain_text("(None, 10)")
    expect(node(page, "dense_2")).to_contain_text("Dense 10 relu")

    # A shape mistake typed in the palette's box: marked on the node, without growing it.
    size = node(page, "dense_2").bounding_box()["height"]
    box = page.get_by_placeholder("Search or type", exact=False)
    box.fill("Conv2D 16 3 relu")
    box.press("Enter")
    expect(node(page, "conv2d_1")).to_be_visible()
    expect(edge(page, "dense_2", "conv2d_1")).to_have_count(1)
    expect(node(page, "conv2d_1").locator(".nc-problem")).to_contain_text("expects an image")
    assert node(page, "conv2d_1").bounding_box()["height"] == pytest.approx(size, abs=1)
    expect(page.get_by_text("1 problem", exact=True)).to_be_visible()
    shot(page, "3-mistake")

    # A reload is a new session: the design comes back from the store as it was.
    page.reload()
    expect(node(page, "conv2d_1").locator(".nc-problem")).to_contain_text(
        "expects an image", timeout=90_000)
    expect(node(page, "dense_2")).to_contain_text("(None, 10)")
    expect(edge(page, "dense_1", "dense_2")).to_have_count(1)

    # The Delete key removes the selected node, and the page (not only the canvas) knows.
    settle(page)
    node(page, "conv2d_1").click(position={"x": 40, "y": 12})  # its title, clear of the map
    expect_inspector(page, "conv2d_1")
    page.keyboard.press("Delete")
    expect(node(page, "conv2d_1")).to_have_count(0)
    expect(page.get_by_text("3 layers · saved")).to_be_visible()
    expect(node_id_field(page)).to_have_count(0)
    page.reload()
    expect(node(page, "dense_2")).to_be_visible(timeout=90_000)
    expect(node(page, "conv2d_1")).to_have_count(0)
    shot(page, "4-deleted-reloaded")


def test_insert_on_an_edge_named_handles_and_moving_an_edge_end(app_url, page, shot):
    open_new_design(page, app_url)
    box = page.get_by_placeholder("Search or type", exact=False)
    for text in ("Input 6 8", "Dense 8"):
        box.fill(text)
        box.press("Enter")
        settle(page)
    expect(edge(page, "input_1", "dense_1")).to_have_count(1)

    # Dropped onto the connection, a layer is inserted into it.
    settle(page)
    x, y = middle_of(page, edge(page, "input_1", "dense_1"))
    flow = page.locator(".nc-flow").bounding_box()
    drop(page, "Dropout", {"x": x - flow["x"], "y": y - flow["y"]})
    expect(edge(page, "input_1", "dropout_1")).to_have_count(1)
    expect(edge(page, "dropout_1", "dense_1")).to_have_count(1)
    expect(edge(page, "input_1", "dense_1")).to_have_count(0)
    shot(page, "1-inserted")

    # Attention with a separate key: drag into the key handle, the inspector lists the order.
    open_new_design(page, app_url)
    for _ in range(3):
        box.fill("Input 6 8")
        box.press("Enter")
        settle(page)
        click_empty(page)
        settle(page)
    drop(page, "MultiHeadAttention", pane_point(page, 0.5, 0.85))
    attention = "multiheadattention_1"
    expect(node(page, attention)).to_be_visible()
    for source, name in (("input_1", "query"), ("input_2", "value"), ("input_3", "key")):
        settle(page)
        drag(page, handle(page, source, "out"), handle(page, attention, name))
        expect(page.locator(f'.react-flow__edge[data-id="{source}->{attention}:{name}"]')
               ).to_have_count(1)
    settle(page)
    node(page, attention).click()
    expect_inspector(page, attention)
    order = page.get_by_role("main").locator('ol[start="3"] li')  # "3. input_3 (key)"
    expect(order).to_contain_text("input_3")
    expect(order).to_contain_text("(key)")
    expect(node(page, attention)).to_contain_text("(None, 6, 8)")
    shot(page, "2-attention-key")

    # Drag the end of a connection onto another layer's input to move it there.
    # Drag the end of a connection onto another layer's input to move it there.
    drop(page, "Dense", pane_point(page, 0.85, 0.3))
    expect(node(page, "dense_1")).to_be_visible()
    settle(page)
    page.get_by_role("button", name="Auto-layout").click()
    settle(page, 1000)
    key_edge = page.locator(f'.react-flow__edge[data-id="input_3->{attention}:key"]')
    page.mouse.click(*middle_of(page, key_edge))  # select the connection: its ends show
    end = key_edge.locator(".react-flow__edgeupdater-target")
    expect(end).to_have_count(1)
    settle(page)
    drag(page, end, handle(page, "dense_1", "in"))
    expect(edge(page, "input_3", "dense_1")).to_have_count(1)
    expect(key_edge).to_have_count(0)
    expect(node(page, "dense_1")).to_contain_text("(None, 6, 32)")
    shot(page, "3-edge-moved")


def test_keyboard_undo_redo_view_kept_and_drag_selects(app_url, page, shot):
    open_new_design(page, app_url)
    for type_id in ("Input", "Dense", "Dense"):
        palette_item(page, type_id).click()
    expect(page.locator(".react-flow__node")).to_have_count(3)

    # Ctrl+Z and Ctrl+Shift+Z go through the design's history.
    settle(page)
    click_empty(page)
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__node")).to_have_count(2)
    expect(page.get_by_text("2 layers · saved")).to_be_visible()
    settle(page)
    page.keyboard.press("Control+Shift+z")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(page.get_by_text("3 layers · saved")).to_be_visible()

    # Zoom in with the wheel: a parameter change and an added layer keep the view.
    settle(page)
    flow = page.locator(".nc-flow").bounding_box()
    page.mouse.move(flow["x"] + flow["width"] / 2, flow["y"] + flow["height"] / 3)
    page.mouse.wheel(0, -300)
    settle(page)
    zoomed = viewport(page)
    settle(page)
    node(page, "dense_2").click()
    expect_inspector(page, "dense_2")
    units = page.get_by_label("Units", exact=True)
    units.fill("7")
    units.press("Enter")
    expect(node(page, "dense_2")).to_contain_text("(None, 7)")
    settle(page)
    page.locator('.nc-item[data-type="Dropout"]').click()
    expect(node(page, "dropout_1")).to_have_count(1)
    settle(page, 1000)
    assert viewport(page) == zoomed
    shot(page, "1-zoom-kept")

    # Dragging a node selects it: the inspector shows the node that was dragged.
    settle(page)
    grabbed = node(page, "dense_1")  # in view; dropout_1 is the selected one
    box = grabbed.bounding_box()
    x, y = box["x"] + box["width"] - 30, box["y"] + 12
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 30, steps=12)
    page.mouse.up()
    expect_inspector(page, "dense_1")
    expect(grabbed).to_have_class(re.compile("selected"))
    expect(node(page, "dropout_1")).not_to_have_class(re.compile("selected"))
    shot(page, "2-dragged-selected")

    # The pane's menu offers typing a layer where it was opened; a node's menu duplicates.
    settle(page)
    flow = page.locator(".nc-flow").bounding_box()
    page.mouse.click(flow["x"] + flow["width"] - 120, flow["y"] + 60, button="right")
    typed = page.get_by_label("Type a layer to add here")
    expect(typed).to_be_focused()
    typed.fill("Dense 5 tanh")
    typed.press("Enter")
    expect(node(page, "dense_3")).to_contain_text("Dense 5 tanh")
    expect_inspector(page, "dense_3")
    settle(page)
    node(page, "dense_3").click(button="right")
    page.get_by_role("menu").get_by_role("button", name="Duplicate").click()
    expect(node(page, "dense_4")).to_contain_text("Dense 5 tanh")
    expect_inspector(page, "dense_4")
    settle(page)
    page.keyboard.press("Control+d")  # the selection (the copy) once more
    expect(node(page, "dense_5")).to_be_visible()
    expect(page.get_by_text("7 layers · saved")).to_be_visible()
    shot(page, "3-menus-and-duplicates")


EDGES_THROUGH_NODES = """() => {
  const boxes = [...document.querySelectorAll('.react-flow__node')].map(n => (
    {id: n.dataset.id, r: n.getBoundingClientRect()}));
  const hits = [];
  for (const g of document.querySelectorAll('.react-flow__edge')) {
    const [source, rest] = g.dataset.id.split('->');
    const target = rest.split(':')[0];
    const p = g.querySelector('path.react-flow__edge-path');
    const m = p.getScreenCTM();
    const length = p.getTotalLength();
    for (let i = 0; i <= 60; i++) {
      const at = p.getPointAtLength(length * i / 60);
      const x = at.x * m.a + m.e, y = at.y * m.d + m.f;
      for (const b of boxes) {
        if (b.id === source || b.id === target) continue;
        if (x > b.r.left + 2 && x < b.r.right - 2 && y > b.r.top + 2 && y < b.r.bottom - 2) {
          hits.push(g.dataset.id + ' crosses ' + b.id);
        }
      }
    }
  }
  return [...new Set(hits)];
}"""


def test_auto_layout_puts_a_skip_connection_beside_the_chain(app_url, page, shot):
    open_new_design(page, app_url)
    search = page.get_by_placeholder("Search or type", exact=False)
    search.fill("Input 32")
    search.press("Enter")
    for type_id in ("Dense", "Dense", "Add"):
        palette_item(page, type_id).click()
    expect(node(page, "add_1")).to_be_visible()
    settle(page)
    drag(page, handle(page, "input_1", "out"), handle(page, "add_1", "in1"))
    expect(edge(page, "input_1", "add_1")).to_have_count(1)
    expect(node(page, "add_1").locator(".nc-meta")).to_have_text("add_1 · (None, 32)")
    expect(page.get_by_text("· ok ·", exact=False)).to_be_visible()
    settle(page)
    page.get_by_role("button", name="Auto-layout").click()
    settle(page, 1000)
    shot(page, "1-laid-out")
    assert page.evaluate(EDGES_THROUGH_NODES) == []
    xs = {n: node(page, n).bounding_box()["x"] for n in ("dense_1", "input_1")}
    assert xs["dense_1"] != xs["input_1"]  # not one column: the skip runs beside the chain

    # The analysis table lists the layers in graph order; a click on a row's box selects
    # that layer on the canvas.
    click_empty(page)
    expect(page.get_by_role("button", name="Close")).to_have_count(0)
    page.get_by_text("Analysis table", exact=False).click()
    table = page.locator('[data-testid="stDataFrame"]')
    expect(table).to_be_visible()
    table.scroll_into_view_if_needed()
    settle(page)
    box = table.bounding_box()
    row_height = 35  # the grid's header and rows
    page.mouse.click(box["x"] + 15, box["y"] + row_height * 2.5)  # row 2: dense_1
    expect_inspector(page, "dense_1")
    expect(node(page, "dense_1")).to_have_class(re.compile("selected"))
    shot(page, "2-analysis-row-selects")


def test_a_template_opens_fitted_and_readable(app_url, page, shot):
    open_template(page, app_url, "resnet_cnn")
    expect(node(page, "block1_add")).to_be_visible(timeout=60_000)  # the template's own
    settle(page, 1000)  # laid out and fitted by the canvas
    sizes = page.locator(".react-flow__node .nc-title").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)")
    zoom = zoom_of(viewport(page))
    title_px = 14 * zoom
    assert title_px >= READABLE_PX, (zoom, sizes[:3])
    assert page.evaluate(EDGES_THROUGH_NODES) == []
    expect(page.locator(".react-flow__minimap")).to_be_visible()
    shot(page, "1-resnet")


def test_ten_quick_palette_clicks_make_ten_saved_layers(app_url, page, shot):
    """Issue 18: clicks 0.15 s apart were lost; every edit is now queued until Python has
    applied it."""
    open_new_design(page, app_url)
    item = palette_item(page, "Dense")
    for _ in range(10):
        item.click()
        page.wait_for_timeout(150)
    expect(page.locator(".react-flow__node")).to_have_count(10)
    expect(page.get_by_text("10 layers · saved")).to_be_visible()
    page.reload()
    expect(page.locator(".react-flow__node")).to_have_count(10, timeout=90_000)
    shot(page, "1-ten-layers")
