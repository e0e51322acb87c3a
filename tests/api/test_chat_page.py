"""The chat page at GET / in real headless Chromium (Debian's chromium and chromium-driver),
driven by Selenium: it shows the served model, streams an answer, and reports a wrong API key.

A screenshot of the answered chat is saved to $TROUPE_ARTIFACTS_DIR/chat_page.png
(default: build/test-artifacts/ in the repository).
"""
import json
import os
import urllib.request

import pytest
from headless_browser import open_chromium, save_screenshot
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ANSWER_TIMEOUT = 120  # one short answer on the CPU
PAGE_TIMEOUT = 15     # page load, the model name, an error turn


@pytest.fixture
def browser():
    driver = open_chromium()
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    yield driver
    driver.quit()


def served_model(server):
    request = urllib.request.Request(server.base_url + "/v1/models",
                                     headers={"Authorization": "Bearer " + server.api_key})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"][0]["id"]


def wait_for_model_text(browser, text):
    try:
        WebDriverWait(browser, PAGE_TIMEOUT).until(
            EC.text_to_be_present_in_element((By.ID, "model"), text))
    except TimeoutException:
        pytest.fail("#model never showed %r; it shows %r"
                    % (text, browser.find_element(By.ID, "model").text))


def open_page(browser, server):
    browser.get(server.base_url + "/")
    assert browser.title == "troupe chat"
    for element in ("log", "message", "key", "send"):
        assert browser.find_element(By.ID, element).is_displayed()
    # /v1/models needs a key on this server and a fresh browser has none stored yet.
    wait_for_model_text(browser, "enter your API key")


def send(browser, key, message):
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "message").send_keys(message)  # moving on commits the key
    browser.find_element(By.ID, "send").click()


def test_chat_streams_an_answer_and_shows_the_model(server, browser):
    model = served_model(server)
    open_page(browser, server)
    send(browser, server.api_key, "Say hello.")

    # Entering the key shows the served model's name.
    wait_for_model_text(browser, model)
    assert browser.find_element(By.ID, "model").text == "model: " + model

    try:
        answer = WebDriverWait(browser, ANSWER_TIMEOUT).until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#log .turn.assistant[data-done='true']")))
    except TimeoutException:
        pytest.fail("no finished assistant turn in %d s; the log shows: %r"
                    % (ANSWER_TIMEOUT, browser.find_element(By.ID, "log").text))
    user_turns = browser.find_elements(By.CSS_SELECTOR, "#log .turn.user")
    assert [t.text for t in user_turns] == ["Say hello."]
    assert answer.text.strip(), "the assistant's answer is empty"
    assert browser.find_elements(By.CSS_SELECTOR, ".error") == []
    # The key is remembered for the next visit, and the input was cleared for the next message.
    assert browser.execute_script("return localStorage.getItem('troupe-key')") == server.api_key
    assert browser.find_element(By.ID, "message").get_attribute("value") == ""

    screenshot = save_screenshot(browser, "chat_page.png")
    with open(screenshot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(screenshot) > 5000, "the screenshot is suspiciously small"


def test_wrong_api_key_shows_an_error_turn(server, browser):
    open_page(browser, server)
    send(browser, "sk-wrong", "Say hello.")

    error = WebDriverWait(browser, PAGE_TIMEOUT).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#log .turn.error[data-done='true']")), message="no error turn")
    assert "API key" in error.text
    wait_for_model_text(browser, "wrong API key")
    assert [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#log .turn.user")] == ["Say hello."]
    assert browser.find_elements(By.CSS_SELECTOR, "#log .turn.assistant") == []
