"""An attendee's first visit to JupyterHub, in a real browser (Debian's chromium).

Opens the hub's login page, is refused with a wrong password, logs in with the right
one, submits the spawn form with its default choices, waits for JupyterLab (served from
a Slurm job on a compute node), opens a Python notebook from the launcher and runs a cell
that prints the host name and the Slurm job id, then opens a JupyterLab terminal (through the
server's API and its websocket, from the page) and reads what a command printed there: the
host, the job, and whether the shell is a login shell (which gives terminals the modules and
EESSI set-up of an SSH session). Before the form, it asks the REST API (with
the page's own session) for a server with more CPUs than the form offers, which the hub
must refuse without submitting a job. Prints one JSON object with what it saw;
exits 1 with a screenshot (--shots) when a step fails.

The hub's certificate is checked against the event's CA elsewhere (check.yml), so the
browser is told to accept it without a trust store of its own.
"""

import argparse
import json
import re
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

# The flags that run chromium in this machine's containers and CI: no sandbox (no user
# namespaces), no GPU, nothing fetched in the background.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
# POST /hub/api/users/<user>/server with the logged-in page's session and XSRF token.
ASK_FOR_SERVER = """
const [user, options, done] = arguments;
fetch(`/hub/api/users/${user}/server`, {
  method: "POST",
  headers: {"X-XSRFToken": window.jhdata.xsrf_token, "Content-Type": "application/json"},
  body: JSON.stringify(options),
}).then(r => r.text().then(t => done([r.status, t]))).catch(e => done([0, String(e)]));
"""
SERVER_STATE = """
const [user, done] = arguments;
fetch(`/hub/api/users/${user}`, {headers: {"X-XSRFToken": window.jhdata.xsrf_token}})
  .then(r => r.json()).then(u => done(u.servers[""] || null)).catch(e => done(String(e)));
"""
OUTPUT = ".jp-NotebookPanel .jp-OutputArea-output"
FIRST_CELL = ".jp-NotebookPanel .jp-Cell .cm-content"
# The kernel's state as the notebook's status bar shows it ("Python 3 (ipykernel) | Idle").
KERNEL_IDLE = "return document.body.innerText.includes('| Idle');"
CELL = "import os, socket; print('ran-on', socket.gethostname(), os.environ.get('SLURM_JOB_ID'))"
# In a new terminal of the notebook server at base (/user/<name>/): run a command, and hand back what
# the terminal printed up to the marker DONE-42 (the echo of the command itself says DONE-$((40+2))).
IN_TERMINAL = """
const [base, command, done] = arguments;
const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || "");
fetch(base + "api/terminals", {method: "POST", headers: {"X-XSRFToken": xsrf}})
  .then(r => r.ok ? r.json() : Promise.reject(`POST api/terminals: ${r.status}`))
  .then(terminal => {
    const ws = new WebSocket(`wss://${location.host}${base}terminals/websocket/${terminal.name}`);
    let out = "";
    const finish = (text) => { clearTimeout(timer); ws.close(); done(text); };
    const timer = setTimeout(() => finish(out), 60000);
    ws.onopen = () => ws.send(JSON.stringify(["stdin", command + "\\r"]));
    ws.onmessage = (message) => {
      const [kind, text] = JSON.parse(message.data);
      if (kind === "stdout") { out += text; if (out.includes("DONE-42")) finish(out); }
    };
    ws.onerror = () => finish("websocket error; " + out);
  })
  .catch(error => done("error: " + String(error)));
"""
TERMINAL_COMMAND = (
    'printf \'terminal:%s:%s:%s\\n\' "$(hostname)" "$SLURM_JOB_ID" '
    '"$(shopt -q login_shell && echo login-shell || echo not-a-login-shell)"; echo DONE-$((40+2))'
)


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.accept_insecure_certs = True
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def log_in(driver, url, user, password):
    driver.get(url + "hub/login")
    wait = WebDriverWait(driver, 60)
    wait.until(ec.presence_of_element_located((By.ID, "username_input"))).send_keys(user)
    driver.find_element(By.ID, "password_input").send_keys(password)
    driver.find_element(By.ID, "login_submit").click()


def on_fresh_element(locate, act, attempts=5):
    """Does `act` with the element `locate` finds, finding it again when the page replaced it meanwhile.

    JupyterLab renders a new notebook's cell editor more than once while the notebook and its
    kernel settle, so an element found a moment ago can be gone when it is clicked or typed into
    (StaleElementReferenceException); on a busy machine that moment is longer.
    """
    for attempt in range(1, attempts + 1):
        try:
            return act(locate())
        except StaleElementReferenceException:
            if attempt == attempts:
                raise
            time.sleep(1)
    return None


def type_cell(editor):
    """Types CELL into the cell editor `editor`, replacing what an earlier attempt may have typed there."""
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.BACKSPACE)
    editor.send_keys(CELL)


def run_cell(editor):
    editor.click()
    editor.send_keys(Keys.CONTROL, Keys.ENTER)


def run_first_cell(driver, attempts=3):
    """Runs the notebook's first cell once its kernel is idle; the text of the output area with "ran-on".

    A cell run while the new notebook's kernel is still connecting is dropped by JupyterLab
    (no output, no execution count), so the cell is run again, at most `attempts` times.
    """
    for attempt in range(1, attempts + 1):
        WebDriverWait(driver, 120).until(lambda d: d.execute_script(KERNEL_IDLE))
        on_fresh_element(lambda: driver.find_element(By.CSS_SELECTOR, FIRST_CELL), run_cell)
        try:
            # An output area can be replaced between being found and being read.
            return WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: next(
                    (text for text in (e.text for e in d.find_elements(By.CSS_SELECTOR, OUTPUT)) if "ran-on" in text),
                    False,
                )
            )
        except TimeoutException:
            if attempt == attempts:
                raise
    return None


def run(args, driver, seen):
    step = "wrong password"
    try:
        log_in(driver, args.url, args.user, args.password + "-wrong")
        error = WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".login_error")))
        seen["wrong_password"] = error.text.strip()

        step = "log in"
        log_in(driver, args.url, args.user, args.password)
        WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.ID, "spawn_form")))

        step = "REST API beyond the bounds"
        status, text = driver.execute_async_script(ASK_FOR_SERVER, args.user, {"cpus": 64})
        deadline = time.monotonic() + 60
        while (state := driver.execute_async_script(SERVER_STATE, args.user)) and time.monotonic() < deadline:
            time.sleep(1)
        seen["api_refusal"] = {"status": status, "reply": text[:300], "server_after": state}

        step = "spawn form"
        driver.get(args.url + "hub/spawn")
        form = WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.ID, "spawn_form")))
        seen["form_fields"] = sorted(e.get_attribute("name") for e in form.find_elements(By.TAG_NAME, "select"))
        started = time.monotonic()
        form.find_element(By.CSS_SELECTOR, "[type=submit]").click()

        step = "JupyterLab"
        WebDriverWait(driver, args.timeout).until(ec.url_contains(f"/user/{args.user}/lab"))
        card = WebDriverWait(driver, args.timeout).until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, ".jp-LauncherCard[data-category='Notebook']"))
        )
        seen["lab_seconds"] = round(time.monotonic() - started, 1)

        step = "notebook"
        card.click()
        on_fresh_element(
            lambda: WebDriverWait(driver, 120).until(ec.element_to_be_clickable((By.CSS_SELECTOR, FIRST_CELL))),
            type_cell,
        )

        step = "cell output"
        output = run_first_cell(driver)
        seen["cell_output"] = output.strip()
        seen["cell_seconds"] = round(time.monotonic() - started, 1)

        step = "terminal"
        driver.set_script_timeout(120)
        printed = driver.execute_async_script(IN_TERMINAL, f"/user/{args.user}/", TERMINAL_COMMAND)
        found = re.search(r"terminal:([\w.-]+):(\d+):([\w-]+)", printed)
        seen["terminal"] = list(found.groups()) if found else printed[-300:]

        # JupyterLab asks new users, in a notification, whether to fetch "official Jupyter news"
        # from the internet: the role turns that off, so no attendee meets the question.
        seen["news_prompt"] = "Jupyter news" in driver.find_element(By.TAG_NAME, "body").text
        return 0
    except WebDriverException as error:
        seen["failed_at"] = step
        seen["error"] = error.msg or type(error).__name__
        seen["page"] = driver.current_url
        if args.shots:
            driver.save_screenshot(f"{args.shots}/jupyterhub-{step.replace(' ', '-')}.png")
        return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the hub's address, ending in /")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True, help="file holding the password")
    parser.add_argument("--timeout", type=int, default=300, help="seconds to wait for JupyterLab")
    parser.add_argument("--shots", help="directory for a screenshot of a failed step")
    args = parser.parse_args()
    with open(args.password_file, encoding="utf-8") as stream:
        args.password = stream.read().strip()
    seen = {}
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        driver = start_browser(profile)
        try:
            status = run(args, driver, seen)
        finally:
            driver.quit()
    print(json.dumps(seen))
    return status


if __name__ == "__main__":
    sys.exit(main())
