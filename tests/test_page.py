"""The web page in a real headless Chromium (Debian's chromium and chromium-driver; .ci/run
installs them): a question typed, the answer and the source's sentence highlighted in its
article, a follow-up, readable right to left at 360 px; the archive page. The screenshot is
saved in the test's folder (its path is printed)."""

from __future__ import annotations

import shutil

import pytest

from tests.test_serve import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture()
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("no headless browser: apt-get install chromium chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=360,900",
                 "--lang=ar"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    yield driver
    driver.quit()


def ask(driver, question: str, cards: int):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "question")
    box.send_keys(question)
    driver.find_element(By.CSS_SELECTOR, "#ask button[type=submit]").click()
    WebDriverWait(driver, 120).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#answers .turn")) >= cards)
    return driver.find_elements(By.CSS_SELECTOR, "#answers .turn")[0]  # the newest first


def test_a_question_in_the_browser_shows_the_quote_highlighted(browser, seeded, tmp_path):
    from selenium.webdriver.common.by import By

    expected = seeded.ask("من دشن خط السكة الحديد السريع؟").citations[0].quote
    with serving(seeded) as url:
        browser.get(url + "/")
        assert browser.execute_script("return document.documentElement.dir") == "rtl"
        card = ask(browser, "من دشن خط السكة الحديد السريع؟", 1)
        assert "أحمد الفارسي" in card.find_element(By.CLASS_NAME, "answer").text
        marks = card.find_elements(By.TAG_NAME, "mark")
        assert marks and marks[0].text == expected  # the sentence, highlighted in its article
        assert "الثقة" in card.text and "المصادر" in card.text
        then = ask(browser, "ومتى؟", 2)  # a follow-up, in the same page
        assert "الخميس" in then.find_element(By.CLASS_NAME, "answer").text
        # readable at 360 px: nothing wider than the window
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        shot = tmp_path / "page-360px.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
        assert shot.stat().st_size > 10_000
        english = ask(browser, "Who inaugurated the high-speed railway line?", 3)
        assert english.get_attribute("dir") == "ltr" and "Sources" in english.text
        browser.get(url + "/archive")
        rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
        assert len(rows) == 6 and "6 مقالًا" in browser.find_element(By.TAG_NAME, "main").text


def test_an_admin_adds_articles_from_the_archive_page(browser, make_sanad, corpus, tmp_path):
    import json

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sanad = make_sanad()
    sanad.ingest(corpus)
    upload = tmp_path / "new.jsonl"
    upload.write_text(json.dumps({"id": "web-1", "title": "خبر من الصفحة", "text": "افتتحت البلدية مكتبة عامة جديدة."},
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    with serving(sanad, admin_token="page-admin") as url:
        browser.get(url + "/archive")
        browser.find_element(By.CSS_SELECTOR, "#admin summary").click()
        browser.find_element(By.ID, "file").send_keys(str(upload))
        browser.find_element(By.CSS_SELECTOR, "#upload button").click()  # no token: refused
        WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "admin-said").text)
        assert "SANAD_ADMIN_TOKEN" in browser.find_element(By.ID, "admin-said").text
        assert "web-1" not in {d["doc_id"] for d in sanad.sources()}
        browser.find_element(By.ID, "token").send_keys("page-admin")
        browser.find_element(By.CSS_SELECTOR, "#upload button").click()
        WebDriverWait(browser, 120).until(lambda d: "1 added" in d.find_element(By.ID, "admin-said").text)
        WebDriverWait(browser, 30).until(lambda d: "7 مقالًا" in d.find_element(By.TAG_NAME, "main").text)
    assert "web-1" in {d["doc_id"] for d in sanad.sources()}
