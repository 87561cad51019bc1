"""Headless Chromium for the browser tests: Selenium driving Debian's chromium with its chromium-driver.

Offline, and no host name resolves, so a page that reaches for the network fails loudly.
Errors (console.error, uncaught exceptions, failed loads) come from the driver's browser log,
requested URLs from its performance log (the DevTools Network events).
"""
from __future__ import annotations

import json
import shutil
import time
import uuid

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError:  # a plain `pip install -e .`: the browser tests skip
    webdriver = None

FLAGS = (
    "--headless=new",
    "--no-sandbox",  # containers and CI run as root, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: a CDN <script> could never load
)


def unavailable() -> str | None:
    """Why no browser test can run here, in one line; None where one can."""
    if webdriver is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    for program, package in (("chromium", "chromium"), ("chromedriver", "chromium-driver")):
        if shutil.which(program) is None:
            return f"no {program} on PATH (Debian: apt-get install {package})"
    return None


# Resolves after the next frame (and its callbacks) with a console.info of arguments[0].
SETTLE = "return new Promise(done => requestAnimationFrame(() => setTimeout(() => done(console.info(arguments[0])))));"


class Chromium:
    """One headless browser; errors() and requested_urls() cover the page last open()ed."""

    def __init__(self, width: int = 1280, height: int = 2000):
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for flag in (*FLAGS, f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        # An explicit driver path: Selenium Manager never runs (it would try to download one).
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
        self.driver.set_network_conditions(offline=True, latency=0, throughput=0)
        self._errors: list[str] = []
        self._urls: list[str] = []

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self._read_logs()  # the logs are cumulative: drop what earlier pages left
        self._errors.clear()
        self._urls.clear()
        self.driver.get(url)

    def evaluate(self, expression: str):
        return self.driver.execute_script(f"return (\n{expression}\n);")

    def errors(self) -> list[str]:
        self._read_logs()
        return list(self._errors)

    def requested_urls(self) -> list[str]:
        self._read_logs()
        return list(self._urls)

    def _read_logs(self) -> None:
        """Read both logs up to now. They arrive late at times (after driver.get returns), so log a
        marker once the page has drawn a frame and read until it shows: whatever came before is in."""
        marker = f"logs-read-{uuid.uuid4()}"
        self.driver.execute_script(SETTLE, marker)
        deadline = time.monotonic() + 10
        while True:
            browser = self.driver.get_log("browser")
            self._errors += [entry["message"] for entry in browser if entry["level"] == "SEVERE"]
            for entry in self.driver.get_log("performance"):
                event = json.loads(entry["message"])["message"]
                if event["method"] == "Network.requestWillBeSent":
                    self._urls.append(event["params"]["request"]["url"])
            if any(marker in entry["message"] for entry in browser):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the browser log never caught up")
            time.sleep(0.02)

    def close(self) -> None:
        self.driver.quit()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
