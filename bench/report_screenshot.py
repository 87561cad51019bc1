"""Screenshot of a run's report.html in headless Chromium, for docs/report.png.

    python bench/report_screenshot.py reports/<run>            # a real run (preferred)
    python bench/report_screenshot.py /tmp/demo-run --demo     # the test fixture's made-up trials

Writes RUN_DIR/report.html first (scalesearch.report.write_report), then the PNG.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the browser driver and the demo fixture live with the tests

from tests.browser import Chromium, find_chromium  # noqa: E402

from scalesearch.report import write_report  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--demo", action="store_true", help="first build RUN_DIR from the test fixture (efficientnet_b0)")
    parser.add_argument("--height", type=int, default=0, help="crop to this many pixels (0: the full page)")
    args = parser.parse_args()
    if args.demo:
        from tests.run_fixture import make_run

        make_run(args.run_dir, name="demo run (test fixture: made-up trials, not a real search)")
    report = write_report(args.run_dir)
    binary = find_chromium()
    if binary is None:
        print("no chromium binary found", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as profile, Chromium(binary, Path(profile), width=1280, height=args.height or 1200) as browser:
        browser.open(report.resolve().as_uri())
        if browser.errors():
            print("\n".join(browser.errors()), file=sys.stderr)
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        browser.screenshot(args.out, full_page=not args.height)
    print(f"{report}\n{args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
