"""The interactive path: a JupyterLab server lists the notebooks and runs notebook 00 in its kernel.

The server is started the way ``./reproduce.sh --lab`` starts it (127.0.0.1, the repository as its
root), on a free port with a token.  Its REST API lists ``notebooks/``, starts a kernel with the
notebooks' kernel name, and the first cells of notebook 00 run through the kernel's websocket with
the notebook's default parameters cell.  Their outputs must equal papermill's for the same cells
given the resolved smoke profile, as the pipeline runs them.  The fixture shuts kernel and server
down, also when a check fails, and the test asserts that no process of theirs is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_encoder.ipynb"
N_CELLS = 4  # parameters, setup (profile), load the encoder, embed the demo sounds
STARTUP_S = 120  # generous: the machine may be loaded; no timing is asserted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server and a tiny client for its REST API."""

    def __init__(self, proc: subprocess.Popen, port: int, token: str, log: Path) -> None:
        self.proc, self.port, self.token, self.log = proc, port, token, log
        self.seen: set[psutil.Process] = set()  # every process the server started (kernels)

    def api(self, method: str, path: str, body: dict | None = None) -> dict | list | None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None

    def note_children(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):
            self.seen.update(psutil.Process(self.proc.pid).children(recursive=True))

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        pytest.fail(f"jupyter lab did not answer within {STARTUP_S} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> list[int]:
        """Stop the server and everything it started; return the pids that had to be killed."""
        self.note_children()
        if self.proc.poll() is None:
            self.proc.terminate()  # jupyter_server shuts its kernels down on SIGTERM
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        _, alive = psutil.wait_procs(list(self.seen), timeout=10)
        for child in alive:
            child.kill()
        return [p.pid for p in alive]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One server for the module's tests; always stopped, with every kernel it started."""
    tmp_path = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), secrets.token_hex(24)
    env = dict(os.environ)
    # Runtime files (connection files, server info) and config in the test's folder, not ~/.
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = tmp_path / "lab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ip", "127.0.0.1", f"--ServerApp.root_dir={ROOT}", "--LabApp.default_url=/lab/tree/notebooks",
        "--port", str(port), "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
    ]  # fmt: skip
    if os.geteuid() == 0:  # CI containers (as ./reproduce.sh --lab does)
        cmd.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(proc, port, token, log)
    try:
        server.wait_ready()
        yield server
    finally:
        killed = server.stop()
    assert not killed, f"processes the server left behind (killed): {killed}"


def _execute(ws, session: str, code: str, timeout: float = 300.0) -> list[dict]:
    """Run ``code`` through a kernel's websocket; return its output messages (``msg_type``, content)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "username": "test",
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))  # fmt: skip
    outputs, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind in ("stream", "execute_result", "display_data", "error"):
            outputs.append({"msg_type": kind, **msg["content"]})
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            return outputs
    pytest.fail(f"no reply to {code[:60]!r} within {timeout} s")


def _text(outputs: list[dict]) -> str:
    """The comparable text of a cell's outputs (server messages or nbformat outputs alike)."""
    texts = []
    for out in outputs:
        kind = out.get("msg_type") or out.get("output_type")
        if kind == "stream":
            texts.append(out["text"])
        elif kind in ("execute_result", "display_data"):
            texts.append(out["data"].get("text/plain", ""))
        elif kind == "error":
            texts.append(f"{out['ename']}: {out['evalue']}")
    return "".join(texts)


def _papermill_outputs(tmp_path: Path, sources: list[str]) -> list[str]:
    """The same cells run by papermill as ``reproduce.sh`` runs them: the resolved smoke profile."""
    import nbformat
    import papermill

    from w2clib.config import load_profile

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"][:N_CELLS]
    assert [c.source for c in code] == sources
    nb.cells = code
    src, dst = tmp_path / "first_cells.ipynb", tmp_path / "first_cells.out.ipynb"
    nbformat.write(nb, src)
    resolved = load_profile("smoke").write_resolved(tmp_path / "profile.yaml")
    papermill.execute_notebook(str(src), str(dst), parameters={"profile": str(resolved)}, kernel_name="python3",
                               cwd=str(NOTEBOOK.parent), progress_bar=False)  # fmt: skip
    ran = nbformat.read(dst, as_version=4)
    return [_text(c.outputs) for c in ran.cells if "injected-parameters" not in c.metadata.get("tags", [])]


def test_lab_lists_the_notebooks_and_runs_notebook_00_like_papermill(lab, tmp_path):
    import websocket

    listing = lab.api("GET", "/api/contents/notebooks")
    names = {item["name"] for item in listing["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} <= names
    assert "00_encoder.ipynb" in names

    nb = lab.api("GET", "/api/contents/notebooks/00_encoder.ipynb")["content"]
    kernel_name = nb["metadata"]["kernelspec"]["name"]
    assert kernel_name in lab.api("GET", "/api/kernelspecs")["kernelspecs"]
    sources = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"][:N_CELLS]
    assert sources[0].strip() == 'profile = "smoke"'  # the default parameters cell

    kernel = lab.api("POST", "/api/kernels", {"name": kernel_name, "path": "notebooks"})
    lab.note_children()
    url = f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel['id']}/channels?token={lab.token}"
    ws = websocket.create_connection(url, timeout=300)
    try:
        session = uuid.uuid4().hex
        ours = [_text(_execute(ws, session, source)) for source in sources]
        where = _text(_execute(ws, session, "import os, sys, w2clib; print(sys.executable, os.getcwd(), w2clib.__file__, sep='\\n')"))
    finally:
        ws.close()
        lab.api("DELETE", f"/api/kernels/{kernel['id']}")
    assert lab.api("GET", "/api/kernels") == []

    # The kernel is the project's interpreter, in the notebook's folder, importing this checkout.
    executable, cwd, package = where.split("\n")[:3]
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(cwd) == ROOT / "notebooks"
    assert Path(package).resolve().parent == ROOT / "w2clib"

    assert not any("Error" in text or "Traceback" in text for text in ours), ours
    assert ours[2].startswith("width 16, embedding 512-d")  # the smoke profile's encoder
    assert ours == _papermill_outputs(tmp_path, sources)


def test_lab_page_is_served_with_the_token(lab):
    request = urllib.request.Request(f"http://127.0.0.1:{lab.port}/lab/tree/notebooks?token={lab.token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        page = response.read().decode()
    assert response.status == 200 and "JupyterLab" in page
    with pytest.raises(urllib.error.HTTPError) as denied:  # no token: no API
        urllib.request.urlopen(f"http://127.0.0.1:{lab.port}/api/contents/notebooks", timeout=60)
    assert denied.value.code == 403


@pytest.mark.slow
def test_headless_chromium_shows_the_notebook_list(lab, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    shot = tmp_path / "lab.png"
    url = f"http://127.0.0.1:{lab.port}/lab/tree/notebooks?token={lab.token}"
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
         "--window-size=1280,800", "--dump-dom", url],
        capture_output=True, text=True, timeout=180,
    ).stdout  # fmt: skip
    assert "00_encoder.ipynb" in dom, dom[-2000:]
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
         "--window-size=1280,800", f"--screenshot={shot}", url],
        capture_output=True, timeout=180, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000
