"""Screenshot the running web demo after a real swap (the README's picture of the page).

Start the demo first (``python -m reliableswap.app ckpt=CKPT``), then::

    python scripts/screenshot_app.py --url http://127.0.0.1:7860/ --source SRC.jpg --target TGT.jpg --out assets/web_demo.png

The page is driven as a user would drive it: both files uploaded, Swap pressed, the result awaited;
the whole page is then saved. Needs ``pip install playwright`` and a Chromium (Debian's
``chromium`` at ``/usr/bin/chromium`` is used when present; no browser download). Prints one line:
``screenshot=PATH seconds_to_result=S``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--source", type=Path, required=True, help="source photo (identity)")
    parser.add_argument("--target", type=Path, required=True, help="target photo")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--timeout-s", type=float, default=180.0)
    args = parser.parse_args(argv)
    for path in (args.source, args.target):
        if not path.is_file():
            parser.exit(2, f"screenshot_app: no file {path}\n")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        parser.exit(2, "screenshot_app: needs playwright (pip install playwright) and a Chromium\n")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"]) if chromium \
            else pw.chromium.launch()
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(args.url)
        page.locator("#source input[type=file]").set_input_files(str(args.source))
        page.locator("#target input[type=file]").set_input_files(str(args.target))
        page.wait_for_timeout(1500)  # the previews load
        start = time.perf_counter()
        page.locator("#swap_button").click()
        page.locator("#result_image img").wait_for(timeout=args.timeout_s * 1000)
        page.locator("#report").get_by_text("faces_swapped").first.wait_for(timeout=args.timeout_s * 1000)
        seconds = time.perf_counter() - start
        page.wait_for_timeout(500)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    line = f"screenshot={args.out} seconds_to_result={seconds:.2f}"
    print(line, flush=True)
    return line


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
