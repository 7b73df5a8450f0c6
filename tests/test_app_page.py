"""The web page live: pytest serves it on a free loopback port, then drives it through its
HTTP API (gradio_client) and in a real headless Chromium (Selenium, the system browser).

    PIANODIFF_APP_SCREENSHOT=docs/img/app.png pytest tests/test_app_page.py

also saves the browser test's screenshot where the README shows it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from conftest import tone
from system_parts import needs_browser
from test_app import studio_options

EXTRA = "needs the app extra: pip install -e '.[app]' (make venv)"
gr = pytest.importorskip("gradio", reason=EXTRA)
gradio_client = pytest.importorskip("gradio_client", reason=EXTRA)

from pianodiff.app.server import Served, launch  # noqa: E402
from pianodiff.app.studio import TABLE_HEADERS, Studio  # noqa: E402

SR = 22050
PROMPT_SECONDS = 0.6
SECONDS = 0.7
# model, prompt, then the settings in the page's order: extender (Continue only) or the
# chosen extenders (Compare), preset, sampler, steps, seconds, seed, candidates, harmony,
# history
SETTINGS = ["standard", "ddim", 2, SECONDS, 0, 1, 0.0, False]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("app")
    sf.write(root / "prompt.wav", tone(PROMPT_SECONDS), SR)
    sf.write(root / "long.wav", tone(6.0), SR)  # over the 5 s prompt limit below
    sf.write(root / "big.wav", tone(30.0), SR)  # 1.3 MB: over the 1 MB upload limit below
    (root / "bad.wav").write_text("this is not a sound file")
    return root


@pytest.fixture(scope="module")
def served(folder) -> Iterator[Served]:
    """The page on a free loopback port, with the tiny export and small limits."""
    saved = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")  # uploads stay in the test's folder
    studio = Studio(studio_options(folder, upload_mb=1, prompt_seconds=5))
    page = launch(studio, "127.0.0.1", free_port(), block=False, quiet=True)
    try:
        yield page
    finally:
        page.close()
        if saved is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = saved


@pytest.fixture(scope="module")
def client(served, folder):
    return gradio_client.Client(served.url, download_files=str(folder / "downloads"), verbose=False)


def frames(path: str | Path) -> int:
    return sf.info(str(path)).frames


def test_the_server_binds_loopback_only_and_shares_nothing(served):
    assert served.url.startswith("http://127.0.0.1:")
    assert served.page.share is False and served.page.share_url is None
    assert served.page.analytics_enabled is False


def test_the_api_continues_a_recording(client, folder):
    prompt = gradio_client.handle_file(str(folder / "prompt.wav"))
    status, whole, new, figure, _history, files = client.predict(
        None, prompt, "repaint", *SETTINGS, api_name="/continue"
    )
    assert frames(whole) == round(PROMPT_SECONDS * SR) + round(SECONDS * SR)
    assert frames(new) == round(SECONDS * SR)
    assert Path(figure).suffix == ".png" and "repaint" in status
    sidecar = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    assert sidecar["extender"] == "repaint" and sidecar["prompt_seconds"] == PROMPT_SECONDS
    written = list((folder / "out").glob("*_repaint_*seed0.wav"))
    assert any(frames(w) == frames(whole) for w in written)  # on disk under the outputs folder


def test_the_api_compares_extenders(client, folder):
    prompt = gradio_client.handle_file(str(folder / "prompt.wav"))
    out = client.predict(None, prompt, ["repaint", "interpolation"], *SETTINGS, api_name="/compare")
    status, players, table = out[0], out[1:-3], out[-3]
    assert "2 extenders compared" in status
    shown = {p["label"]: p["value"] for p in players if p.get("visible")}  # player updates
    assert set(shown) == {"repaint", "interpolation"}
    assert {frames(p) for p in shown.values()} == {round((PROMPT_SECONDS + SECONDS) * SR)}
    assert table["headers"] == TABLE_HEADERS
    assert [row[0] for row in table["data"]] == ["repaint", "interpolation"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad.wav", "prompt bad.wav is not a sound file this page can read"),
        ("long.wav", "prompt long.wav is 6.0 s, over the 5 s limit"),
    ],
)
def test_the_api_refuses_a_bad_upload_in_one_line(client, folder, name, message):
    prompt = gradio_client.handle_file(str(folder / name))
    with pytest.raises(gradio_client.exceptions.AppError) as err:
        client.predict(None, prompt, "repaint", *SETTINGS, api_name="/continue")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert "Traceback" not in str(err.value)


def test_the_server_refuses_an_upload_over_the_size_limit(client, folder):
    with pytest.raises(Exception, match="(?i)too large|exceeds|maximum"):
        client.predict(
            None, gradio_client.handle_file(str(folder / "big.wav")), "repaint", *SETTINGS,
            api_name="/continue",
        )  # fmt: skip


def test_the_page_answers_while_a_generation_runs(client, served, folder):
    prompt = gradio_client.handle_file(str(folder / "prompt.wav"))
    job = client.submit(None, prompt, "guidance", *SETTINGS, api_name="/continue")
    with urllib.request.urlopen(served.url, timeout=60) as page:
        assert page.status == 200 and "pianodiff" in page.read().decode()
    assert frames(job.result(timeout=300)[1]) == round(PROMPT_SECONDS * SR) + round(SECONDS * SR)


# -- a real browser ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (make venv)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="pianodiff-chromium-")
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1700", f"--user-data-dir={profile}",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",  # a test tone
    ):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(served.url)
    upload = "#continue-prompt input[type=file]"
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, upload))
    return browser.find_element(By.CSS_SELECTOR, upload)


def _type(browser, selector: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = browser.find_element(By.CSS_SELECTOR, selector)
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text)
    box.send_keys(Keys.ENTER if box.get_attribute("role") == "combobox" else Keys.TAB)


@needs_browser
def test_in_a_browser_upload_pick_generate_and_listen(browser, served, folder, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, served).send_keys(str(folder / "prompt.wav"))
    WebDriverWait(browser, 60).until(  # the uploaded prompt shows as a player
        lambda d: d.find_elements(By.CSS_SELECTOR, "#continue-prompt [data-testid=download-link]")
    )
    _type(browser, "#continue-extender input", "repaint")
    _type(browser, "#continue-steps input", "2")
    _type(browser, "#continue-seconds input", str(SECONDS))
    browser.find_element(By.ID, "generate").click()

    link = "#result-audio a[data-testid=download-link]"
    WebDriverWait(browser, 300).until(lambda d: d.find_elements(By.CSS_SELECTOR, link))
    href = browser.find_element(By.CSS_SELECTOR, link).get_attribute("href")
    assert href.startswith(served.url) and "repaint" in href
    with urllib.request.urlopen(href, timeout=60) as answer:
        (tmp_path / "result.wav").write_bytes(answer.read())
    assert frames(tmp_path / "result.wav") == round(PROMPT_SECONDS * SR) + round(SECONDS * SR)
    status = browser.find_element(By.ID, "status").text
    assert "repaint" in status and "seed 0" in status
    assert browser.find_elements(By.CSS_SELECTOR, "#figure img")  # the spectrogram shows
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )  # every script, style, font and file the page fetched
    fetched = [u for u in loaded if u.startswith(("http:", "https:", "ws:", "wss:"))]
    assert fetched and all(u.startswith(served.url) for u in fetched), fetched

    shot = Path(os.environ.get("PIANODIFF_APP_SCREENSHOT") or tmp_path / "app.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


@needs_browser
def test_in_a_browser_a_bad_upload_shows_one_line(browser, served, folder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, served).send_keys(str(folder / "bad.wav"))
    browser.find_element(By.ID, "generate").click()
    toast = ".toast-body.error"
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, toast))
    text = browser.find_element(By.CSS_SELECTOR, toast).text
    lines = [line for line in text.splitlines() if line.strip() not in ("", "Error", "×")]
    assert lines == [
        "prompt bad.wav is not a sound file this page can read; "
        "upload one of .wav, .flac, .ogg, .mp3, .opus"
    ]


@needs_browser
def test_in_a_browser_record_a_prompt_and_continue_it(browser, served):
    """Chromium's fake microphone (a beeping test tone) records the prompt."""
    import re

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def button(label: str):
        found = browser.find_elements(By.CSS_SELECTOR, "#continue-prompt button")
        return next(b for b in found if (b.text or "").strip() == label)

    _open(browser, served)
    browser.find_element(By.CSS_SELECTOR, "#continue-prompt [aria-label='Record audio']").click()
    WebDriverWait(browser, 60).until(lambda d: button("Record"))
    button("Record").click()
    WebDriverWait(browser, 60).until(lambda d: button("Stop"))
    WebDriverWait(browser, 60).until(  # a second of recording, read off the page's own clock
        lambda d: re.search(r"0:0[1-9]", d.find_element(By.ID, "continue-prompt").text)
    )
    button("Stop").click()
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#continue-prompt [data-testid=download-link]")
    )
    _type(browser, "#continue-steps input", "2")
    _type(browser, "#continue-seconds input", str(SECONDS))
    old = browser.find_element(By.ID, "status").text
    browser.find_element(By.ID, "generate").click()
    WebDriverWait(browser, 300).until(lambda d: d.find_element(By.ID, "status").text != old)
    status = browser.find_element(By.ID, "status").text
    prompt = re.search(r"\(([\d.]+) s prompt \+ ([\d.]+) s new\)", status)
    assert prompt, status
    assert float(prompt[1]) >= 1.0 and float(prompt[2]) == SECONDS


def test_the_harmony_slider_starts_at_generates_default_and_goes_past_it(served):
    from pianodiff.app.page import HARMONY_MAX

    default = Studio.harmony_default()
    sliders = [
        c["props"]
        for c in served.page.config["components"]
        if str(c.get("props", {}).get("elem_id", "")).endswith("-harmony")
    ]
    assert sliders and default is not None
    assert all(s["value"] == default and s["maximum"] == HARMONY_MAX > default for s in sliders)
