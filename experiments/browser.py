"""Open a report in headless Chromium: did every figure draw, did anything fail to load?

An HTML report can be well-formed and still show blank boxes: a plotly.js that did not
load, a figure whose JSON the browser rejects. Only a browser can tell, so this drives
one (Chromium and chromedriver from the system, through selenium from the ``test``
extra), collects the console's errors, counts the plotly divs that hold a drawn
``svg.main-svg`` and can save a full-page screenshot. Nothing is downloaded: without a
browser, ``browser_missing`` says why in one line and callers skip.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAME = "chromedriver"
WIDTH_PX = 1400
RENDER_TIMEOUT_S = 60.0
_COUNT_JS = """
const divs = Array.from(document.querySelectorAll('div.plotly-graph-div'));
return [divs.length, divs.filter(d => d.querySelector('svg.main-svg')).length,
        document.readyState, document.documentElement.scrollHeight,
        typeof window.Plotly !== 'undefined'];
"""


@dataclass
class PageCheck:
    """What the browser saw: figures found and drawn, and every console error."""

    figures: int = 0
    rendered: int = 0
    errors: list[str] = field(default_factory=list)


def chromium_paths() -> tuple[str | None, str | None]:
    """The system's Chromium and chromedriver, if installed."""
    browser = next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)
    return browser, shutil.which(DRIVER_NAME)


def browser_missing() -> str | None:
    """Why no page can be checked here (one line), or None when everything is in place."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'recloop[test]')"
    browser, driver = chromium_paths()
    if browser is None or driver is None:
        return "no Chromium/chromedriver on PATH (apt-get install chromium chromium-driver)"
    return None


def check_page(page: Path, screenshot: Path | None = None) -> PageCheck:
    """Load ``page`` from disk, wait for its figures, return what happened.

    Console messages at level SEVERE (script errors, resources that failed to load) are
    errors. With ``screenshot``, the window is grown to the page's full height first, so
    the PNG shows the whole report.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH_PX},1000", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(Path(page).resolve().as_uri())
        check = _wait_for_figures(driver)
        check.errors = [entry["message"] for entry in driver.get_log("browser")
                        if entry.get("level") == "SEVERE"]
        if screenshot is not None:
            height = driver.execute_script(_COUNT_JS)[3]
            driver.set_window_size(WIDTH_PX, int(height) + 100)
            time.sleep(1.0)  # responsive figures redraw at the new size
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(screenshot))
        return check
    finally:
        driver.quit()


def _wait_for_figures(driver: object) -> PageCheck:
    """Poll until the page has loaded and every plotly div has drawn, or cannot draw (no
    plotly.js once loaded), or time runs out."""
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        figures, rendered, state, _, has_plotly = driver.execute_script(  # type: ignore[attr-defined]
            _COUNT_JS)
        done = state == "complete" and (rendered == figures or not has_plotly)
        if done or time.monotonic() > deadline:
            return PageCheck(figures=int(figures), rendered=int(rendered))
        time.sleep(0.25)
