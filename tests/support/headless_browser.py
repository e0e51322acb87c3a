"""Real headless Chromium for the page tests (Debian's chromium and chromium-driver, driven by
Selenium), and where their screenshots go: $TROUPE_ARTIFACTS_DIR, by default build/test-artifacts
in the repository."""
import os
import shutil

CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS_DIR = os.environ.get("TROUPE_ARTIFACTS_DIR") or os.path.join(REPO, "build",
                                                                       "test-artifacts")


def open_chromium(window_size="1000,800"):
    """A headless Chromium; fails the test, saying how to install it, when it is missing."""
    import pytest
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    if not (os.path.exists(CHROMEDRIVER) and shutil.which("chromium")):
        pytest.fail("chromium and chromium-driver are not installed (scripts/setup-deps installs "
                    "them)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={window_size}"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def save_screenshot(browser, name):
    """Saves the page as ARTIFACTS_DIR/name; returns the path (falsy if it could not)."""
    os.makedirs(ARTIFACTS_DIR, exist_ok=True)
    path = os.path.join(ARTIFACTS_DIR, name)
    return path if browser.save_screenshot(path) else None
