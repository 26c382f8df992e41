"""Take docs/web.md's screenshots again (and the pages' texts beside them).

    python tools/web_screenshots.py

Needs Chromium and ChromeDriver (Debian: chromium, chromium-driver) and the dev extra (Pillow
makes the committed images small).
tests/test_web_browser.py takes them the same way and fails when the committed ones are stale.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_web_browser import DOCS, chromium, take_screenshots  # noqa: E402
from web_support import live_service  # noqa: E402


def small(png: Path) -> None:
    """A page has few colours: a palette of 48 keeps it legible at a third of the bytes."""
    from PIL import Image  # noqa: PLC0415 - the dev extra's

    with Image.open(png) as image:
        image.convert("RGB").quantize(48, dither=Image.Dither.NONE).save(png, optimize=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with live_service(folder / "web.sqlite3") as (base, _):
            driver = chromium(folder)
            try:
                take_screenshots(base, driver, DOCS)
            finally:
                driver.quit()
    for png in DOCS.glob("*.png"):
        small(png)
    for path in sorted(DOCS.iterdir()):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
