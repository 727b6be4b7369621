"""Starting either app's server reaches no other machine.

The apps promise that nothing leaves the machine; the browser test checks the page's own requests,
and this checks the servers' start. Each server runs as the README starts it, with a
``sitecustomize.py`` on its ``PYTHONPATH`` that records every host the process resolves
(``socket.getaddrinfo``) or connects or sends to (``socket.socket.connect`` / ``connect_ex`` /
``sendto``). Once it is up and has served its health check and one page, it is stopped, and every
host it recorded must be this machine's.

Streamlit, started headless without an address, used to look up its "External URL" at
checkip.amazonaws.com (and the "Network URL" by a UDP socket "connected" to 8.8.8.8), logging
"Did not auto detect external IP" where that fails; ``.streamlit/config.toml`` stops it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import stop

pytestmark = pytest.mark.slow            # starts servers (5-10 s each)

ROOT = Path(__file__).resolve().parent.parent

RECORDER = r'''
"""Records the hosts this process resolves or connects to, one line each, in $SEQ2SEQ_LAB_NET_LOG."""
import os
import socket

_LOG = os.environ["SEQ2SEQ_LAB_NET_LOG"]


def _recording(kind, call, position):
    def recorded(*args, **kwargs):
        target = args[position] if len(args) > abs(position) else kwargs.get("address", kwargs.get("host"))
        if kind != "getaddrinfo":                  # a socket address: (host, port, ...) or a local socket's path
            target = target[0] if isinstance(target, tuple) else f"unix:{target!r}"
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{kind} {target}\n")
        return call(*args, **kwargs)
    return recorded


socket.getaddrinfo = _recording("getaddrinfo", socket.getaddrinfo, 0)
socket.socket.connect = _recording("connect", socket.socket.connect, 1)
socket.socket.connect_ex = _recording("connect", socket.socket.connect_ex, 1)
socket.socket.sendto = _recording("sendto", socket.socket.sendto, -1)      # (self, data[, flags], address)
with open(_LOG, "a", encoding="utf-8") as log:
    log.write(f"recording {os.getpid()}\n")          # the proof that this process records
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_this_machine(host) -> bool:
    """Loopback, a local socket, or the wildcard a server binds to (``0.0.0.0``, ``::``, none)."""
    if host in (None, "", "None", "localhost") or str(host).startswith("unix:"):
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False                     # a name other than localhost: a DNS lookup
    return address.is_loopback or address.is_unspecified


@contextlib.contextmanager
def recorded_server(command: list[str], ready: str, tmp_path: Path, port: int, **env):
    """Start ``command`` in the repository with the recorder; once its log shows ``ready`` and ``/`` answers,
    yield (its URL, its log file, the recorder's file); stop it afterwards."""
    (tmp_path / "recorder").mkdir()
    (tmp_path / "recorder" / "sitecustomize.py").write_text(RECORDER, encoding="utf-8")
    net_log, log_path = tmp_path / "hosts.txt", tmp_path / "server.log"
    net_log.touch()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "recorder"), "SEQ2SEQ_LAB_NET_LOG": str(net_log),
           "PYTHONUNBUFFERED": "1", "SEQ2SEQ_LAB_DEVICE": "cpu", **env}
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while ready not in log_path.read_text(encoding="utf-8"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text(encoding='utf-8')}")
            time.sleep(0.3)
        page = urllib.request.urlopen(url, timeout=30).read().decode("utf-8", "replace")     # one page load
        assert "<html" in page.lower()
        yield url, log_path, net_log
    finally:
        stop(process)


def outside_hosts(net_log: Path) -> set[str]:
    lines = [line.split(" ", 1) for line in net_log.read_text(encoding="utf-8").splitlines() if line]
    assert any(kind == "recording" for kind, _ in lines), "the server did not load the recorder"
    return {f"{kind} {host}" for kind, host in lines if kind != "recording" and not is_this_machine(host)}


@pytest.mark.parametrize("address", [[], ["--server.address", "0.0.0.0"]], ids=["as-the-readme", "classroom"])
def test_streamlit_starts_without_reaching_another_machine(tmp_path, address):
    """As the README starts it: `streamlit run demo/streamlit_app.py`, only the port given (and as a classroom
    network would: every interface). A specific address (`--server.address 127.0.0.1`, as the browser test
    passes) would hide the lookup: Streamlit only looks up its outside address when it prints the URLs of a
    headless server that was given neither `browser.serverAddress` nor a specific `server.address`."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "demo/streamlit_app.py", "--server.port", str(port), *address]
    with recorded_server(command, "You can now view your Streamlit app", tmp_path, port) as (url, log, net_log):
        assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).read() == b"ok"
    text = log.read_text(encoding="utf-8")
    assert "external IP" not in text, text
    assert not outside_hosts(net_log), (outside_hosts(net_log), text)


def test_gradio_starts_without_reaching_another_machine(tmp_path):
    """As the README starts it: `python demo/gradio_app.py`, the port from GRADIO_SERVER_PORT."""
    port = free_port()
    command = [sys.executable, "demo/gradio_app.py"]
    with recorded_server(command, f"127.0.0.1:{port}", tmp_path, port,
                         GRADIO_SERVER_PORT=str(port)) as (url, log, net_log):
        assert urllib.request.urlopen(f"{url}/gradio_api/info", timeout=30).status == 200
    text = log.read_text(encoding="utf-8")
    assert not outside_hosts(net_log), (outside_hosts(net_log), text)
