"""Opens a `painters report` page in a real headless browser: Debian's Chromium and
chromium-driver, driven by selenium (the system driver, so nothing is downloaded).

    python report_browser.py REPORT.html SCREENSHOT.png

Prints one JSON line: each figure's rendered size, the browser console's errors, whether
the items filter hid the right answers, the page height; exits 1 if a figure renders with
zero size, the console has an error, or the filter did nothing.
"""

import json
import shutil
import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def main():
    report, screenshot = sys.argv[1:3]
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(Path(report).resolve().as_uri())
        sizes = driver.execute_script(
            "return [...document.querySelectorAll('figure svg')]"
            ".map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
        )
        right = driver.execute_script("return document.querySelectorAll('table.items tr.right').length")
        driver.find_element("id", "wrong-only").click()
        hidden = driver.execute_script(
            "return [...document.querySelectorAll('table.items tr.right')]"
            ".filter(r => getComputedStyle(r).display === 'none').length"
        )
        height = driver.execute_script("return document.body.scrollHeight")
        driver.save_screenshot(screenshot)
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    finally:
        driver.quit()
    result = {"figures": sizes, "console_errors": errors, "right_rows": right, "hidden_by_filter": hidden,
              "page_height": height, "screenshot": screenshot}
    print(json.dumps(result))
    ok = sizes and all(w > 0 and h > 0 for w, h in sizes) and not errors and hidden == right
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
