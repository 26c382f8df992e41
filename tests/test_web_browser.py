"""The facilitator's web page in a real browser: headless Chromium from Debian's packages,
driven by Selenium, against the service on loopback.

A facilitator opens the list from a signed link, filters it, opens a programme, sets a date
through its form (the page changes, the store holds the event), tries a step that is not
allowed (the page shows its blockers, the store holds nothing new), moves by keyboard and reads
the list on a phone's width. Screenshots of the list and of a programme page go to the folder
``build/screenshots/`` (kept out of git); docs/web.md shows the committed copies in
``docs/web/``, and a test holds that they are the current code's (their size and the page's
text). ``.ci/run`` installs Chromium and ChromeDriver, so in CI these tests run; elsewhere,
without them, they say loudly that they did not.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_support import FRESH, link, live_service

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "screenshots"
"""Where the tests put their screenshots (ignored by git)."""
DOCS = ROOT / "docs" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_BROWSER = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.wait import WebDriverWait
except ImportError:  # pragma: no cover - the test extra installs it
    HAVE_BROWSER = False


def test_the_browser_tests_run_in_ci() -> None:
    """CI must drive a real browser; elsewhere, say loudly that it did not."""
    if os.environ.get("CI") == "true":
        assert HAVE_BROWSER, "CI must install chromium and chromium-driver (see .ci/run)"
    elif not HAVE_BROWSER:
        pytest.skip("browser tests NOT RUN: apt-get install chromium chromium-driver")


needs_browser = pytest.mark.skipif(
    not HAVE_BROWSER, reason="browser tests NOT RUN: apt-get install chromium chromium-driver"
)


def chromium(tmp_path: Path, width: int = 1100, height: int = 900) -> WebDriver:
    """Headless Chromium with a fresh profile, kept off the network (this machine's is closed)."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, object, WebDriver]]:
    with live_service(tmp_path / "web.sqlite3") as (base, store):
        driver = chromium(tmp_path)
        try:
            yield base, store, driver
        finally:
            driver.quit()


def appears(driver: WebDriver, element_id: str) -> WebElement:
    """The element once the page that has it has loaded (a form's answer takes a moment)."""
    found: WebElement = WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, element_id))
    return found


def full_page_png(driver: WebDriver, path: Path) -> tuple[int, int]:
    """A screenshot of the whole page (not just the window), as Chromium's DevTools take it."""
    import base64  # noqa: PLC0415

    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    width, height = int(size["width"]), int(size["height"])
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return png_size(path)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def take_screenshots(base: str, driver: WebDriver, folder: Path) -> dict[str, str]:
    """The list and a programme page, as docs/web.md shows them; returns each page's text."""
    texts = {}
    driver.get(link(base))
    driver.get(f"{base}/ui/")
    texts["list"] = driver.find_element(By.TAG_NAME, "main").text
    full_page_png(driver, folder / "list.png")
    driver.get(f"{base}/ui/programmes/prospect-2027-ghent")
    texts["programme"] = driver.find_element(By.TAG_NAME, "main").text
    full_page_png(driver, folder / "programme.png")
    for name, said in texts.items():
        (folder / f"{name}.txt").write_text(said + "\n", encoding="utf-8")
    return texts


@needs_browser
def test_a_facilitator_lists_opens_acts_and_is_refused(
    site: tuple[str, object, WebDriver],
) -> None:
    base, store, driver = site
    driver.get(link(base))
    assert driver.current_url == f"{base}/ui/"
    assert driver.find_element(By.TAG_NAME, "h1").text == "Programmes"
    rows = driver.find_elements(By.CSS_SELECTOR, "table.programmes tbody tr")
    assert len(rows) == len(store.programmes())  # type: ignore[attr-defined]

    # filter: only the overdue ones
    driver.find_element(By.ID, "f-overdue").click()
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(driver, 20).until(lambda d: "overdue=1" in d.current_url)
    late = driver.find_elements(By.CSS_SELECTOR, "table.programmes tbody tr")
    assert 0 < len(late) < len(rows)
    assert all("late" in (r.get_attribute("class") or "") for r in late)

    # open the fresh programme
    driver.get(f"{base}/ui/")
    driver.find_element(By.LINK_TEXT, FRESH).click()
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == FRESH)
    current = driver.find_element(By.CSS_SELECTOR, "svg.diagram g.current")
    assert current.text == "Preparatory steps"  # the title of state 'preparation'

    # set the orientation date through its form: the page changes, the store holds it
    field = driver.find_element(By.CSS_SELECTOR, "input[name=value][type=date]")
    driver.execute_script("arguments[0].value = '2027-03-01'", field)
    field.find_element(By.XPATH, "./ancestor::form//button").click()
    notice = appears(driver, "notice")
    assert notice.text == "Recorded as event 1."
    assert (
        "set Date of the orientation session to 2027-03-01"
        in driver.find_element(By.ID, "timeline").text
    )
    events = store.events(FRESH)  # type: ignore[attr-defined]
    assert [e.type for e in events] == ["start", "schedule"]
    assert events[1].payload["value"] == "2027-03-01" and events[1].actor.id == "anna"

    # try a step that is not allowed: its blockers are shown, nothing is recorded
    tries = driver.find_elements(By.CSS_SELECTOR, "form.try button")
    hold = next(b for b in tries if "Hold the orientation" in b.text)
    hold.click()
    problem = appears(driver, "problem")
    assert "That step is not allowed now" in problem.text
    assert "peer_learning_agreement" in problem.text and "Nothing was recorded." in problem.text
    assert len(store.events(FRESH)) == 2  # type: ignore[attr-defined]

    # the mentor, signed in by the portal's link, hands in the agreement with a reference
    driver.get(link(base, "lisbon"))
    driver.get(f"{base}/ui/programmes/{FRESH}")
    ref = driver.find_element(By.CSS_SELECTOR, "form.act input[name=ref]")
    ref.send_keys("dms://agreements/lisbon")
    ref.find_element(By.XPATH, "./ancestor::form//button").click()
    assert appears(driver, "notice").text == "Recorded as event 2."
    handed = store.events(FRESH)[2]  # type: ignore[attr-defined]
    assert (handed.type, handed.actor.id, handed.actor.role) == ("submit", "lisbon", "mentor")
    assert handed.payload == {
        "deliverable": "peer_learning_agreement",
        "ref": "dms://agreements/lisbon",
    }


@needs_browser
def test_the_page_works_by_keyboard_and_on_a_phone(
    site: tuple[str, object, WebDriver], tmp_path: Path
) -> None:
    base, _, driver = site
    driver.get(link(base))
    # the first Tab reaches the skip link, and it leads to the content
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    active = driver.switch_to.active_element
    assert active.text == "Skip to the content"
    active.send_keys(Keys.ENTER)
    assert driver.current_url.endswith("#main")
    # every form field has a label that names it
    driver.get(f"{base}/ui/programmes/{FRESH}")
    for field in driver.find_elements(
        By.CSS_SELECTOR, "input:not([type=hidden]), select, textarea"
    ):
        field_id = field.get_attribute("id")
        assert field_id and driver.find_elements(By.CSS_SELECTOR, f"label[for='{field_id}']")
    # on a phone's width nothing runs off the side
    driver.set_window_size(390, 844)
    for path in ("/ui/", f"/ui/programmes/{FRESH}"):
        driver.get(base + path)
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
    SHOTS.mkdir(parents=True, exist_ok=True)
    full_page_png(driver, SHOTS / "programme-phone.png")


@needs_browser
def test_the_screenshots_in_the_docs_are_the_current_codes(
    site: tuple[str, object, WebDriver],
) -> None:
    """Taken again, the pages say what the committed screenshots' texts say, and the images
    have the committed sizes (regenerate with: python tools/web_screenshots.py)."""
    base, _, driver = site
    texts = take_screenshots(base, driver, SHOTS)
    for name, said in texts.items():
        committed = (DOCS / f"{name}.txt").read_text(encoding="utf-8")
        assert said + "\n" == committed, f"docs/web/{name}.txt is stale"
        fresh_w, fresh_h = png_size(SHOTS / f"{name}.png")
        old_w, old_h = png_size(DOCS / f"{name}.png")
        assert fresh_w == old_w and abs(fresh_h - old_h) <= old_h * 0.05, name
