"""`frugal serve` driven by the official `openai` Python client (PyPI), the
reference for the OpenAI wire format, and by plain HTTP for the Ollama API,
/health, /metrics and error paths. The model is the tiny random-weight qwen2
(tests/data/models), so texts are noise: tests check structure, counts and
invariants, never specific words.
"""
import concurrent.futures
import http.client as httpclient
import json
import re
import time
import urllib.error
import urllib.request

import openai
import pytest

KEY = "test-key-MARKER-7f3a9c"
PROMPT_MARKER = "PROMPT-MARKER-5d21e8"


@pytest.fixture(scope="module")
def chatml(start_server):
    return start_server("--chat-template", "chatml", "-c", "512", "--parallel", "2")


@pytest.fixture(scope="module")
def r1(start_server):
    return start_server("--chat-template", "deepseek-r1", "-c", "512")


@pytest.fixture(scope="module")
def authed(start_server):
    return start_server("--chat-template", "chatml", "-c", "512", "--api-key", KEY,
                        "--max-body-bytes", "4096", "--metrics")


@pytest.fixture(scope="module")
def busy(start_server):
    return start_server("--chat-template", "chatml", "-c", "4096", "--parallel", "1",
                        "--queue", "0", "--metrics")


def client(srv, key="none"):
    return openai.OpenAI(base_url=srv.base + "/v1", api_key=key, max_retries=0, timeout=30)


def http(srv, method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(srv.base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def user(text="hello"):
    return [{"role": "user", "content": text}]


def assert_error_shape(raw, status_expected=None):
    j = json.loads(raw)
    assert set(j["error"]) >= {"message", "type", "code"}
    assert isinstance(j["error"]["message"], str) and j["error"]["message"]
    return j["error"]


# --- basics -------------------------------------------------------------------

def test_health_and_models(chatml):
    status, _, body = http(chatml, "GET", "/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    models = client(chatml).models.list()
    assert [m.id for m in models.data] == ["tiny-qwen2.f32"]


def test_chat_non_streaming(chatml):
    r = client(chatml).chat.completions.create(model="x", messages=user(), max_tokens=12,
                                               temperature=0)
    assert r.object == "chat.completion"
    assert r.model == "tiny-qwen2.f32"
    c = r.choices[0]
    assert c.message.role == "assistant"
    assert isinstance(c.message.content, str)
    assert c.finish_reason in ("stop", "length")
    u = r.usage
    assert u.prompt_tokens > 0 and 0 < u.completion_tokens <= 12
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert u.completion_tokens_details.reasoning_tokens == 0


def test_chat_streaming_with_usage(chatml):
    stream = client(chatml).chat.completions.create(
        model="x", messages=user(), max_tokens=10, temperature=0, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[-1].choices[0].finish_reason in ("stop", "length")
    assert all(c.choices[0].finish_reason is None for c in with_choices[:-1])
    usage = chunks[-1]
    assert usage.choices == [] and usage.usage.completion_tokens > 0
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    # Same text as the non-streaming answer (greedy).
    r = client(chatml).chat.completions.create(model="x", messages=user(), max_tokens=10,
                                               temperature=0)
    assert text == r.choices[0].message.content


def test_max_tokens_gives_length(chatml):
    r = client(chatml).chat.completions.create(model="x", messages=user("count"), max_tokens=5,
                                               temperature=0)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5
    r = client(chatml).chat.completions.create(model="x", messages=user("count"),
                                               max_completion_tokens=3, temperature=0)
    assert r.usage.completion_tokens == 3


def test_stop_string(chatml):
    full = client(chatml).chat.completions.create(model="x", messages=user("go"), max_tokens=30,
                                                  temperature=0).choices[0].message.content
    # A stop string taken from the middle of the greedy answer.
    printable = [i for i in range(4, len(full) - 2) if full[i:i + 2].isprintable()
                 and "\ufffd" not in full[i:i + 2] and full[:i].find(full[i:i + 2]) < 0]
    if not printable:
        pytest.skip("greedy output has no usable stop string")
    i = printable[0]
    stop = full[i:i + 2]
    r = client(chatml).chat.completions.create(model="x", messages=user("go"), max_tokens=30,
                                               temperature=0, stop=[stop, "zzzz-never"])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == full[:i].lstrip()


def test_seed_reproducible(chatml):
    def run(seed):
        return client(chatml).chat.completions.create(
            model="x", messages=user("tell"), max_tokens=16, temperature=1.0, top_p=1.0,
            seed=seed).choices[0].message.content
    assert run(1234) == run(1234)


def test_text_completion(chatml):
    r = client(chatml).completions.create(model="x", prompt="Once upon", max_tokens=6,
                                          temperature=0)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 6
    chunks = list(client(chatml).completions.create(model="x", prompt="Once upon", max_tokens=6,
                                                    temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == r.choices[0].text


def test_tokenize_roundtrip(chatml):
    status, _, body = http(chatml, "POST", "/tokenize", {"content": "hello world"})
    assert status == 200
    toks = json.loads(body)["tokens"]
    status, _, body = http(chatml, "POST", "/detokenize", {"tokens": toks})
    assert status == 200 and json.loads(body)["content"] == "hello world"
    status, _, body = http(chatml, "POST", "/detokenize", {"tokens": [0, 999999]})
    assert status == 400 and assert_error_shape(body)["param"] == "tokens"


# --- errors -------------------------------------------------------------------

@pytest.mark.parametrize("extra", [
    {"n": 2}, {"temperature": 5}, {"temperature": "hot"}, {"top_p": -1}, {"max_tokens": 0},
    {"max_tokens": 2**40}, {"seed": 1.5}, {"stop": [1]}, {"stop": ["a"] * 17},
    {"presence_penalty": 3}, {"messages": []}, {"messages": [{"role": "wizard", "content": "x"}]},
])
def test_bad_requests_are_400(chatml, extra):
    body = {"model": "x", "messages": user(PROMPT_MARKER), **extra}
    status, _, raw = http(chatml, "POST", "/v1/chat/completions", body)
    assert status == 400
    err = assert_error_shape(raw)
    assert err["type"] == "invalid_request_error"
    assert PROMPT_MARKER not in raw.decode()


def test_bad_json_and_404(chatml):
    status, _, raw = http(chatml, "POST", "/v1/chat/completions", b"{nope")
    assert status == 400 and assert_error_shape(raw)["code"] == "invalid_json"
    status, _, raw = http(chatml, "GET", "/v1/nothing-here")
    assert status == 404 and assert_error_shape(raw)


def test_context_overflow(chatml):
    with pytest.raises(openai.BadRequestError) as e:
        client(chatml).chat.completions.create(model="x", messages=user("word " * 2000),
                                               max_tokens=4)
    assert e.value.status_code == 400
    assert e.value.body["code"] == "context_length_exceeded"


def test_openai_client_sees_n_error(chatml):
    with pytest.raises(openai.BadRequestError) as e:
        client(chatml).chat.completions.create(model="x", messages=user(), n=3)
    assert "'n' must be 1" in e.value.body["message"]


def test_host_header_checked(chatml):
    conn = httpclient.HTTPConnection("127.0.0.1", chatml.port, timeout=10)
    conn.request("GET", "/health", headers={"Host": "attacker.example"})
    r = conn.getresponse()
    assert r.status == 403
    assert r.getheader("Access-Control-Allow-Origin") is None


# --- auth and privacy ---------------------------------------------------------

def test_auth(authed):
    with pytest.raises(openai.AuthenticationError) as e:
        client(authed, key="wrong").chat.completions.create(model="x", messages=user(),
                                                            max_tokens=2)
    assert e.value.status_code == 401
    # ignore_eos: an unseeded sample may end on EOS after one token; the count is what we check.
    r = client(authed, key=KEY).chat.completions.create(model="x", messages=user(), max_tokens=2,
                                                        extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 2
    assert http(authed, "GET", "/health")[0] == 200  # public
    assert http(authed, "GET", "/metrics")[0] == 401
    status, _, body = http(authed, "GET", "/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert status == 200 and b"frugal_requests_total" in body


def test_body_too_large(authed):
    status, _, raw = http(authed, "POST", "/v1/chat/completions",
                          {"messages": user("x" * 10000)},
                          headers={"Authorization": f"Bearer {KEY}"})
    assert status == 413


def test_no_user_content_in_logs_or_metrics(authed):
    c = client(authed, key=KEY)
    c.chat.completions.create(model="x", messages=user(PROMPT_MARKER), max_tokens=4)
    list(c.chat.completions.create(model="x", messages=user(PROMPT_MARKER), max_tokens=4,
                                   stream=True))
    http(authed, "POST", "/v1/chat/completions", {"messages": [{"role": PROMPT_MARKER}]},
         headers={"Authorization": f"Bearer {KEY}"})
    http(authed, "GET", "/" + PROMPT_MARKER, headers={"Authorization": f"Bearer {KEY}"})
    _, _, metrics = http(authed, "GET", "/metrics", headers={"Authorization": f"Bearer {KEY}"})
    log = authed.log_text()
    assert "POST /v1/chat/completions 200" in log
    for text in (log, metrics.decode()):
        assert PROMPT_MARKER not in text
        assert KEY not in text


def test_refuses_public_bind_without_key(tmp_path):
    import subprocess
    from conftest import TINY, frugal_bin
    r = subprocess.run([frugal_bin(), "serve", str(TINY), "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "API key" in r.stderr


# --- reasoning ----------------------------------------------------------------

TAGS = ("<think>", "</think>")


def test_reasoning_separated_without_tags(r1):
    r = client(r1).chat.completions.create(model="x", messages=user(), max_tokens=40,
                                           temperature=1.0, seed=3)
    m = r.choices[0].message
    reasoning = m.model_extra.get("reasoning_content") or ""
    assert r.usage.completion_tokens_details.reasoning_tokens > 0
    for t in TAGS:
        assert t not in (m.content or "") and t not in reasoning


def test_reasoning_budget(r1):
    for stream in (False, True):
        kw = dict(model="x", messages=user(), max_tokens=40, temperature=1.0, seed=5,
                  extra_body={"max_reasoning_tokens": 6})
        if stream:
            chunks = list(client(r1).chat.completions.create(
                stream=True, stream_options={"include_usage": True}, **kw))
            usage = chunks[-1].usage
            reasoning = "".join(c.choices[0].delta.model_extra.get("reasoning_content") or ""
                                for c in chunks if c.choices)
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            r = client(r1).chat.completions.create(**kw)
            usage = r.usage
            reasoning = r.choices[0].message.model_extra.get("reasoning_content") or ""
            content = r.choices[0].message.content or ""
        assert usage.completion_tokens_details.reasoning_tokens <= 6 + 1
        # The budget closed the reasoning and the model went on answering.
        assert usage.completion_tokens > usage.completion_tokens_details.reasoning_tokens
        for t in TAGS:
            assert t not in content and t not in reasoning


def test_thinking_disabled(r1):
    r = client(r1).chat.completions.create(model="x", messages=user(), max_tokens=10,
                                           temperature=0,
                                           extra_body={"thinking": {"type": "disabled"}})
    assert r.usage.completion_tokens_details.reasoning_tokens == 0
    assert not r.choices[0].message.model_extra.get("reasoning_content")


# --- Ollama -------------------------------------------------------------------

def test_ollama_chat_streaming(r1):
    status, headers, body = http(r1, "POST", "/api/chat",
                                 {"model": "x", "messages": user(),
                                  "options": {"num_predict": 8, "temperature": 0}})
    assert status == 200
    lines = [json.loads(l) for l in body.decode().splitlines() if l]
    assert lines[-1]["done"] is True and lines[-1]["eval_count"] == 8
    assert all(l["done"] is False for l in lines[:-1])
    assert all(l["message"]["role"] == "assistant" for l in lines)
    status, _, body = http(r1, "GET", "/api/tags")
    assert status == 200 and json.loads(body)["models"][0]["name"] == "tiny-qwen2.f32"


# --- concurrency, queue, disconnect ----------------------------------------------

def test_concurrent_streams(chatml):
    def one(i):
        chunks = list(client(chatml).chat.completions.create(
            model="x", messages=user(f"client {i}"), max_tokens=20, temperature=0, stream=True,
            stream_options={"include_usage": True}))
        return chunks[-1].usage.completion_tokens, "".join(
            c.choices[0].delta.content or "" for c in chunks if c.choices)
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        results = list(ex.map(one, range(6)))
    # Each stream equals the same request run alone (greedy).
    for i, (n, text) in enumerate(results):
        alone = client(chatml).chat.completions.create(
            model="x", messages=user(f"client {i}"), max_tokens=20, temperature=0)
        assert text == alone.choices[0].message.content
        assert n == alone.usage.completion_tokens


def test_load_reports_progress_and_pages_the_weights_in(chatml):
    log = chatml.log_text()
    assert "loading weights 100 %" in log, log[:2000]


def test_metrics_are_off_unless_asked_for(chatml):
    status, _, body = http(chatml, "GET", "/metrics")
    assert status == 501
    assert json.loads(body)["error"]["code"] == "metrics_disabled"


def test_wall_time_cap_ends_a_request_with_length(start_server):
    # The cap must fall well inside a full 3500-token answer, whose length in
    # time depends on the machine and the build (the tiny model can write it
    # in under 0.3 s on a fast core, and takes seconds under the sanitizers):
    # time one uncapped answer first and cap at a quarter of it, at most 0.3 s.
    free = start_server("--chat-template", "chatml", "-c", "4096")
    t0 = time.time()
    full = client(free).chat.completions.create(
        model="x", messages=user(), max_tokens=3500, extra_body={"ignore_eos": True})
    full_s = time.time() - t0
    assert full.usage.completion_tokens == 3500
    cap = min(0.3, full_s / 4)
    capped = start_server("--chat-template", "chatml", "-c", "4096", "--max-request-seconds",
                          f"{cap:.4f}")
    t0 = time.time()
    r = client(capped).chat.completions.create(
        model="x", messages=user(), max_tokens=3500, extra_body={"ignore_eos": True})
    took = time.time() - t0
    assert r.choices[0].finish_reason == "length"
    assert 0 < r.usage.completion_tokens < 3500
    assert took < 5, took
    # Streaming: the stream ends cleanly with the same finish reason.
    chunks = list(client(capped).chat.completions.create(
        model="x", messages=user(), max_tokens=3500, stream=True,
        extra_body={"ignore_eos": True}))
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


def slots_active(srv):
    _, _, body = http(srv, "GET", "/metrics")
    return int(re.search(rb"^frugal_slots_active (\d+)$", body, re.M).group(1))


def test_queue_full_and_disconnect(busy):
    conn = httpclient.HTTPConnection("127.0.0.1", busy.port, timeout=10)
    conn.request("POST", "/v1/chat/completions",
                 json.dumps({"messages": user(), "max_tokens": 3500, "stream": True,
                             "ignore_eos": True}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    r.read(200)  # the stream is running: the one slot is taken (once the scheduler assigns it)
    t0 = time.time()
    while slots_active(busy) != 1:
        assert time.time() - t0 < 2.0, "the stream never took the slot"
        time.sleep(0.01)
    status, headers, raw = http(busy, "POST", "/v1/chat/completions",
                                {"messages": user(), "max_tokens": 2})
    assert status == 429 and "Retry-After" in headers
    assert assert_error_shape(raw)["code"] == "queue_full"
    # Disconnect: the slot is freed promptly.
    conn.sock.close()
    conn.close()
    t0 = time.time()
    while slots_active(busy) != 0:
        assert time.time() - t0 < 2.0, "slot not freed after disconnect"
        time.sleep(0.01)
    r = client(busy).chat.completions.create(model="x", messages=user(), max_tokens=2,
                                             extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 2


def hang_up_while_waiting(srv, path, body, wait_for):
    """Sends a non-streaming request, waits until `wait_for(srv)` holds (the
    job took its slot or queue place), then closes the socket. Returns when
    the socket is closed."""
    conn = httpclient.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    t0 = time.time()
    while not wait_for(srv):
        assert time.time() - t0 < 5.0, "the request never reached the scheduler"
        time.sleep(0.01)
    conn.sock.close()
    conn.close()


@pytest.mark.parametrize("path,body", [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/completions", {"prompt": "Once upon a time"}),
])
def test_non_streaming_client_that_hangs_up_frees_its_slot(busy, path, body):
    # A non-streaming reply writes nothing until it is done, so only the
    # socket shows that its client left (issue 5: "a client that disconnects
    # cancels its generation and frees its slot at once"). /api/chat waits
    # through the same function (it has no ignore_eos to make it run long).
    body = dict(body, max_tokens=3500, ignore_eos=True, stream=False)
    hang_up_while_waiting(busy, path, body, lambda s: slots_active(s) == 1)
    t0 = time.time()
    while slots_active(busy) != 0:
        assert time.time() - t0 < 1.0, "slot not freed after the client hung up"
        time.sleep(0.01)
    # Freed because it was cancelled, not because 3500 tokens were done.
    t0 = time.time()
    while f"{path} prompt=" not in busy.log_text():
        assert time.time() - t0 < 2.0, "the request was never logged"
        time.sleep(0.01)
    line = [ln for ln in busy.log_text().splitlines() if f"{path} prompt=" in ln][-1]
    assert "finish=cancelled" in line, line
    r = client(busy).chat.completions.create(model="x", messages=user(), max_tokens=2,
                                             extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 2


def queue_length(srv):
    _, _, body = http(srv, "GET", "/metrics")
    return int(re.search(rb"^frugal_queue_length (\d+)$", body, re.M).group(1))


def test_non_streaming_client_that_hangs_up_while_queued_gives_its_place_up(start_server):
    srv = start_server("--chat-template", "chatml", "-c", "4096", "--parallel", "1",
                       "--queue", "1", "--metrics")
    long = {"messages": user(), "max_tokens": 3500, "ignore_eos": True}
    # The slot: a streaming request that keeps it busy.
    conn = httpclient.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", json.dumps(dict(long, stream=True)),
                 {"Content-Type": "application/json"})
    assert conn.getresponse().status == 200
    hang_up_while_waiting(srv, "/v1/chat/completions", long, lambda s: queue_length(s) == 1)
    t0 = time.time()
    while queue_length(srv) != 0:
        assert time.time() - t0 < 1.0, "queue place not given up after the client hung up"
        time.sleep(0.01)
    t0 = time.time()
    while "finish=cancelled" not in srv.log_text():
        assert time.time() - t0 < 2.0, "the queued request was not cancelled"
        time.sleep(0.01)
    assert slots_active(srv) == 1  # the stream still runs
    conn.sock.close()
    conn.close()
