"""Starts `frugal serve` processes for the server tests.

The binary comes from $FRUGAL_BIN (scripts/test.sh sets it), else build/frugal.
Each server runs on a free loopback port with its stdout/stderr captured to a
file, so tests can check that no user content reaches the logs.
"""
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "models" / "tiny-qwen2.f32.gguf"


def frugal_bin():
    b = os.environ.get("FRUGAL_BIN") or str(ROOT / "build" / "frugal")
    if not os.path.exists(b):
        pytest.skip(f"frugal binary not found at {b}; set FRUGAL_BIN")
    return b


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args, tmp_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"serve-{self.port}.log"
        self.log = open(self.log_path, "wb")
        cmd = [frugal_bin(), "serve", str(TINY), "--port", str(self.port), "-t", "1"] + args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"frugal serve exited: {self.log_text()}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("frugal serve did not become healthy")

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def start_server(tmp_path_factory):
    started = []

    def start(*args):
        s = Server(list(args), tmp_path_factory.mktemp("serve"))
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
