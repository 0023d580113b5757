"""The workbook as a person opens it: ``./build.sh lab``, and JupyterLab in headless Chromium.

The module starts JupyterLab once through ``build.sh lab`` on a free localhost port, serving a
copy of the notebook sources in a temporary folder (the tracked ones are never saved over).
The first test checks the server through its REST API (no browser needed): the ``.py`` sources
are notebooks, saving one writes the ``.py`` and the paired ``.ipynb``, the kernel is this
environment's Python. The browser test opens notebook 01 (``.py`` source, tiny defaults: the whole notebook, training included, runs),
runs all cells from the Run menu, moves the alpha slider of the LIF panel and checks that the
figure was redrawn and that no cell shows an error. Screenshots before and after the slider
moved go to ``reports/browser/`` (linked from the report index).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/install-browser`` installs them as
root) and selenium; without them the test is skipped with the reason. Every wait is bounded;
the server's process group is killed in the fixture's teardown.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_lif_dynamics"
SCREENSHOTS = ROOT / "reports" / "browser"
SERVER_START_S = 180  # build.sh's set-up check imports snnlib (TensorFlow) first
KERNEL_START_S = 120
RUN_ALL_S = 420
REDRAW_S = 60



def _browser_or_skip() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("headless Chromium is not installed (chromium and chromedriver not on PATH): "
                    "as root run .ci/install-browser (apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is missing: ./build.sh setup installs it")
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(f"{base}/api/{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``./build.sh lab`` serving a copy of the notebook sources; yields (url, token, root, log)."""
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "notebooks"
    root.mkdir()
    for source in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"):
        shutil.copy(source, root)
    shutil.copy(ROOT / "notebooks" / "jupytext.toml", root)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_TOKEN": token,
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    log_path = tmp_path / "lab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(ROOT / "build.sh"), "lab", "--port", str(port),
                                 "--root", str(root)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"build.sh lab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                _api(base, token, "status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(1)
        yield base, token, root, log_path
    finally:
        try:
            for kernel in _api(base, token, "kernels"):
                _api(base, token, f"kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, ConnectionError, OSError, TypeError):
            pass
        _stop(proc)


@pytest.fixture
def browser(monkeypatch):
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium never fetches a driver or browser
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, timeout_s: float, condition, message: str):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    # JupyterLab replaces output elements while it redraws: an element found in one poll may be
    # gone by the time it is read, so a stale element means "not yet", never a failure.
    wait = WebDriverWait(driver, timeout_s, poll_frequency=0.5,
                         ignored_exceptions=(StaleElementReferenceException,))
    try:
        return wait.until(condition)
    except TimeoutException:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{NOTEBOOK}_timeout.png"))
        pytest.fail(f"timed out after {timeout_s} s: {message} (screenshot: "
                    f"reports/browser/{NOTEBOOK}_timeout.png)")


def _click_menu(driver, menu: str, item: str) -> None:
    """Click ``menu`` in the menu bar, then its entry labelled ``item``."""
    from selenium.webdriver.common.by import By

    def labelled(selector, text):
        return lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, selector) if e.text == text]

    _wait(driver, 30, labelled(".lm-MenuBar-itemLabel", menu), f"menu {menu}")[0].click()
    _wait(driver, 30, labelled(".lm-Menu-itemLabel", item), f"menu entry {menu} > {item}")[0].click()


def _figure_src(panel) -> str | None:
    from selenium.webdriver.common.by import By

    images = panel.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")
    return images[0].get_attribute("src") if images else None


def test_build_sh_lab_serves_the_sources_as_paired_notebooks_with_the_project_kernel(lab):
    base, token, root, log_path = lab
    log = log_path.read_text()
    assert f"{base}/lab?token={token}" in log and "Ctrl-C" in log
    assert "is running at:" in log and "http://127.0.0.1:" in log

    listing = {item["name"]: item["type"] for item in _api(base, token, "contents")["content"]}
    sources = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert {name: listing.get(name) for name in sources} == {name: "notebook" for name in sources}

    specs = _api(base, token, "kernelspecs")
    assert specs["default"] == "python3"
    argv = specs["kernelspecs"]["python3"]["spec"]["argv"]
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve(), "the kernel must be the project's Python"

    # Saving a notebook (what the Save button sends) writes the source and the paired .ipynb.
    name = "02_sparse_spikes"
    source_before = (root / f"{name}.py").read_text()
    model = _api(base, token, f"contents/{name}.py?type=notebook&content=1")
    assert model["type"] == "notebook" and model["content"]["cells"]
    _api(base, token, f"contents/{name}.py", method="PUT",
         body={"type": "notebook", "format": "json", "content": model["content"]})
    assert (root / f"{name}.py").read_text() == source_before
    paired = json.loads((root / f"{name}.ipynb").read_text())
    assert ["".join(c["source"]) for c in paired["cells"]] == [c["source"] for c in model["content"]["cells"]]


@pytest.mark.browser
def test_notebook_01_runs_in_jupyterlab_and_its_slider_redraws_the_figure(lab, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, token, root, log_path = lab
    driver = browser
    for old in SCREENSHOTS.glob(f"{NOTEBOOK}_*.png"):
        old.unlink()
    driver.get(f"{base}/lab/tree/{NOTEBOOK}.py?token={token}")
    _wait(driver, 90, lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"),
          "notebook 01 opened as a notebook (the .py source with the Jupytext Notebook viewer)")
    # Cells run before the kernel is connected are skipped: wait for the status bar's
    # "Python 3 | Idle" (the project kernel, started without asking).
    _wait(driver, KERNEL_START_S, lambda d: "Python 3 | Idle" in d.find_element(By.CSS_SELECTOR, ".jp-StatusBar-Widget").text,
          "the kernel started (status bar: Python 3 | Idle)")
    _click_menu(driver, "Run", "Run All Cells")

    def finished(d):
        prompts = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputPrompt")]
        return prompts and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts)

    _wait(driver, RUN_ALL_S, finished, "all cells ran")
    panel = _wait(driver, 60, lambda d: d.find_elements(By.CSS_SELECTOR, ".widget-interact"),
                  "the LIF panel (ipywidgets.interactive) is displayed")[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", panel)
    before = _wait(driver, REDRAW_S, lambda d: _figure_src(panel), "the panel shows its figure")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{NOTEBOOK}_before.png"))

    slider = panel.find_elements(By.CSS_SELECTOR, ".widget-slider")[0]
    assert "alpha" in slider.text
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    value_before = readout.text
    handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
    ActionChains(driver).click_and_hold(handle).move_by_offset(-60, 0).release().perform()
    _wait(driver, 10, lambda d: readout.text != value_before, "the alpha slider moved")
    after = _wait(driver, REDRAW_S, lambda d: (src := _figure_src(panel)) and src != before and src,
                  "the figure was redrawn after the slider moved")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", panel)
    time.sleep(0.5)
    driver.save_screenshot(str(SCREENSHOTS / f"{NOTEBOOK}_after.png"))
    assert after != before

    page = driver.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel").text
    assert "Traceback" not in page and "Error displaying widget" not in page

    # Saving writes the .py source and the paired, generated .ipynb (which keeps the outputs).
    source_before = (root / f"{NOTEBOOK}.py").read_text()
    paired, pressed = root / f"{NOTEBOOK}.ipynb", time.time()
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    _wait(driver, 30, lambda d: paired.exists() and paired.stat().st_mtime >= pressed - 1,
          "saving wrote the paired .ipynb")
    executed = json.loads(paired.read_text())
    outputs = [o for cell in executed["cells"] if cell["cell_type"] == "code" for o in cell["outputs"]]
    assert outputs and not [o for o in outputs if o["output_type"] == "error"]
    assert (root / f"{NOTEBOOK}.py").read_text() == source_before


def test_without_chromium_the_browser_test_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed.*install-browser"):
        _browser_or_skip()
