"""Privacy: `frugal serve` opens no outbound network connection (issue 5,
DESIGN §8), and creates or writes no file. The server runs under
`strace -f -e trace=connect,sendto,sendmsg,open,openat,creat` (a tool that
sees every such call of every thread) through start-up,
chat, streaming, completions, tokenize and metrics requests, and a random
marker in the prompt; afterwards every recorded connect must be to a local
socket (AF_UNIX) or loopback, and the marker must not appear in the
trace's addresses or in the server's own output; no open may ask for writing
or creation (only /dev/null, tty and urandom are allowed)."""
import json
import re
import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import TINY, free_port, frugal_bin


def test_serve_makes_no_outbound_connection(tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    trace = tmp_path / "connect.trace"
    log = tmp_path / "serve.log"
    port = free_port()
    marker = "MARKER-" + uuid.uuid4().hex
    proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,open,openat,creat", "-o",
                             str(trace), frugal_bin(), "serve", str(TINY), "--port", str(port),
                             "-t", "1", "--chat-template", "chatml", "-c", "256", "--metrics"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except Exception:
                assert proc.poll() is None and time.time() < deadline, log.read_text()
                time.sleep(0.1)

        def post(path, body):
            req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read()

        msgs = [{"role": "user", "content": f"say {marker}"}]
        post("/v1/chat/completions", {"messages": msgs, "max_tokens": 8})
        post("/v1/chat/completions", {"messages": msgs, "max_tokens": 8, "stream": True})
        post("/v1/completions", {"prompt": marker, "max_tokens": 4})
        post("/tokenize", {"content": marker})
        post("/api/chat", {"messages": msgs, "stream": False, "options": {"num_predict": 4}})
        urllib.request.urlopen(base + "/metrics", timeout=10).read()
    finally:
        # Stop the traced server (strace's child); strace then exits by itself.
        children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
        for pid in children:
            subprocess.run(["kill", "-TERM", pid])
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    text = trace.read_text()
    outbound = []
    for line in text.splitlines():
        # connect() anywhere, or a datagram sent to an explicit address.
        if "connect(" not in line and "sin_addr" not in line and "sin6_addr" not in line:
            continue
        if "AF_UNIX" in line or "AF_LOCAL" in line:
            continue
        if re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"', line):
            continue
        outbound.append(line)
    assert not outbound, "outbound connections:\n" + "\n".join(outbound)
    # No file is created or opened for writing (so no temp file can hold a
    # prompt): the model and /proc, /sys, /dev reads only. The one exception
    # is not ours: a ThreadSanitizer build's runtime creates its scratch file
    # /tmp/tsan.rodata.PID while the process starts, before main().
    written = [line for line in text.splitlines()
               if ("open" in line or "creat(" in line)
               and re.search(r"O_WRONLY|O_RDWR|O_CREAT|creat\(", line)
               and not re.search(r'"/dev/(null|tty|urandom)"', line)
               and not re.search(r'"/tmp/tsan\.rodata\.\d+"', line)]
    assert not written, "files opened for writing:\n" + "\n".join(written)
    assert marker not in log.read_text(errors="replace")
