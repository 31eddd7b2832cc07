"""Helpers shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def settle(page: Page, quiet_ms: int = 600) -> None:
    """Wait until the app has not been running for ``quiet_ms`` since this call.

    Each canvas redraw makes the component answer twice, so a page run is often
    followed by a couple more; a click sent in the middle of them can land on an
    element that is being replaced. A person clicks slower than that. The quiet time
    counts from the call, not from the last run seen: a click or an Enter reaches the
    server some tens of milliseconds later, and a wait that ended before its run
    started would read the page as it was before the action.
    """
    page.evaluate("() => { window.__ncBusyAt = Date.now(); }")
    page.wait_for_function(
        """(quiet) => {
            const app = document.querySelector('[data-testid="stApp"]');
            const now = Date.now();
            if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') {
                window.__ncBusyAt = now;
                return false;
            }
            return now - window.__ncBusyAt >= quiet;
        }""",
        arg=quiet_ms, polling=100, timeout=60_000,
    )


def stop_button(page: Page) -> Locator:
    """The Train page's Stop button for a run, not the Stop that Streamlit's status
    widget in the page header shows while a script run is in progress."""
    return page.get_by_role("main").get_by_role("button", name="Stop", exact=True)


def open_template(page: Page, app_url: str, template_id: str) -> None:
    """Load the app and open a template from the Build page's Templates menu."""
    page.goto(app_url)
    menu = page.get_by_role("button", name="Templates")
    expect(menu).to_be_visible(timeout=90_000)
    settle(page)
    menu.click()
    template = page.locator(f".st-key-nc_tpl--{template_id} button")
    expect(template).to_be_visible()
    settle(page)
    template.click()
    settle(page)
    page.keyboard.press("Escape")


def go_to_page(page: Page, title: str) -> None:
    """Open a page from the sidebar once the current page has settled."""
    settle(page)
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=60_000)
    settle(page)


def set_number(page: Page, label: str, value: float) -> None:
    """Type a number into the field labelled ``label`` once, press Enter, and see it stay.

    During a rerun Streamlit keeps a stale copy of a widget beside the fresh one, so the
    box is the last of its label.
    """
    box = page.get_by_label(label, exact=True).last
    box.fill(str(value))
    box.press("Enter")
    settle(page)
    expect(page.get_by_label(label, exact=True).last).to_have_value(str(value))
