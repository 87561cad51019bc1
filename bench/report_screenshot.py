"""Screenshot of a run's report.html in headless Chromium, for docs/report.png.

    python bench/report_screenshot.py reports/<run>

Use a real run: docs/report.png shows what a search produced, never made-up trials.

Writes RUN_DIR/report.html first (scalesearch.report.write.write_report), then the PNG.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout without `pip install -e .`

from scalesearch.report.write import write_report  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--height", type=int, default=0, help="crop to this many pixels (0: the full page)")
    args = parser.parse_args()
    report = write_report(args.run_dir)
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        print("needs chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)", file=sys.stderr)
        return 1
    from selenium import webdriver  # pip install -e '.[dev]'
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))  # never Selenium Manager
    try:
        def viewport(height: int) -> None:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})

        viewport(args.height or 1200)
        driver.get(report.resolve().as_uri())
        if not args.height:
            # Grow the viewport to the page: responsive plots re-lay themselves out on the resize.
            viewport(int(driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]))
        time.sleep(1.0)  # the relayout, and the browser log, which can trail the load
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()
    print(f"{report}\n{args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
