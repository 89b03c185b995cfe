"""HTTPS: `frugal serve --ssl-cert-file/--ssl-key-file` serves the same API
over TLS (a self-signed certificate made with the openssl command): a chat
completion over HTTPS with that certificate as the CA works, plain HTTP on
the same port gets no answer, and a bad key file is a clear startup error."""
import shutil
import ssl
import subprocess
import time
import urllib.request

import json

import pytest

from conftest import TINY, free_port, frugal_bin


@pytest.fixture
def cert(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt, key


def test_https_serves_the_api(cert, tmp_path):
    crt, key = cert
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([frugal_bin(), "serve", str(TINY), "--port", str(port), "-t", "1",
                             "--chat-template", "chatml", "-c", "256",
                             "--ssl-cert-file", str(crt), "--ssl-key-file", str(key)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        ctx = ssl.create_default_context(cafile=str(crt))
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", context=ctx,
                                            timeout=1) as r:
                    if r.status == 200:
                        break
            except Exception:
                assert proc.poll() is None and time.time() < deadline, "no HTTPS health"
                time.sleep(0.05)
        req = urllib.request.Request(
            f"https://localhost:{port}/v1/chat/completions",
            json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
                        "ignore_eos": True}).encode(),
            {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            assert json.load(r)["usage"]["completion_tokens"] == 4
        with pytest.raises(Exception):  # plain HTTP is not served on the TLS port
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bad_key_is_a_startup_error(cert, tmp_path):
    crt, _ = cert
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    r = subprocess.run([frugal_bin(), "serve", str(TINY), "--port", str(free_port()),
                        "--ssl-cert-file", str(crt), "--ssl-key-file", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "TLS" in r.stderr
