"""Continuous batching in `frugal serve`: several streams share one forward
pass per round. Checked with the official openai client on the tiny test
model: every stream of a batch equals the same request run alone (the batched
forward is bit-exact per sequence). 100 streaming clients that disconnect
free every slot and queue place, each within 100 ms of the server seeing it
(frugal_cancel_to_free_seconds_max). Throughput is a benchmark, not a test:
bench/server_throughput.py.
"""
import concurrent.futures
import http.client as httpclient
import json
import re
import time
import urllib.request

import openai
import pytest

from conftest import frugal_bin

N_TOKENS = 96


@pytest.fixture(scope="module")
def eight(start_server):
    return start_server("--chat-template", "chatml", "-c", "2048", "--parallel", "8",
                        "--queue", "128", "--metrics")


def client(srv):
    return openai.OpenAI(base_url=srv.base + "/v1", api_key="none", max_retries=0, timeout=60)


def stream(srv, i):
    chunks = list(client(srv).chat.completions.create(
        model="x", messages=[{"role": "user", "content": f"stream number {i}"}],
        max_tokens=N_TOKENS, temperature=0, stream=True, stream_options={"include_usage": True},
        extra_body={"ignore_eos": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks[-1].usage.completion_tokens, text


def test_eight_streams_equal_alone(eight):
    alone = [stream(eight, i) for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        together = list(ex.map(lambda i: stream(eight, i), range(8)))
    assert together == alone  # same tokens, same text: batching changes nothing
    assert all(n == N_TOKENS for n, _ in together)


def metrics(srv):
    with urllib.request.urlopen(srv.base + "/metrics", timeout=10) as r:
        body = r.read()
    get = lambda name: float(re.search(rb"^" + name + rb" (\S+)$", body, re.M).group(1))
    return (get(b"frugal_slots_active"), get(b"frugal_queue_length"),
            get(b"frugal_cancel_to_free_seconds_max"))


def built_with_tsan():
    with open(frugal_bin(), "rb") as f:
        return b"__tsan_init" in f.read()


def test_hundred_disconnects_free_everything(eight):
    conns = []
    for i in range(100):
        c = httpclient.HTTPConnection("127.0.0.1", eight.port, timeout=30)
        c.request("POST", "/v1/chat/completions",
                  json.dumps({"messages": [{"role": "user", "content": f"client {i}"}],
                              "max_tokens": 2000, "stream": True, "ignore_eos": True}),
                  {"Content-Type": "application/json"})
        conns.append(c)
    t0 = time.time()
    while metrics(eight)[:2] != (8, 92):  # all slots busy, the rest queued
        assert time.time() - t0 < 10, f"not all 100 accepted: {metrics(eight)}"
        time.sleep(0.02)
    for c in conns:
        c.sock.close()
        c.close()
    t_closed = time.time()
    while metrics(eight)[:2] != (0, 0):
        assert time.time() - t_closed < 5, f"not freed: {metrics(eight)}"
        time.sleep(0.01)
    worst = metrics(eight)[2]
    print(f"\n100 disconnects: everything free {time.time() - t_closed:.3f} s after the clients "
          f"closed; slowest seen-to-free {worst * 1e3:.1f} ms")
    # A queued request is dropped by the cancel itself; a running one frees
    # its slot when the forward round in progress ends. ThreadSanitizer runs
    # the model about ten times slower (a prefill round of the 8 prompts takes
    # ~160 ms under it here), so the 100 ms bound is asserted on the Release
    # and ASan builds and the TSan build is held to 1 s.
    assert worst <= (1.0 if built_with_tsan() else 0.1)
    # The server is fully usable again.
    assert stream(eight, 0)[0] == N_TOKENS
