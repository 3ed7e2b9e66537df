"""The HTTP edge under attack: streamed (chunked) bodies past every size limit, cross-site writes, the login
throttle (anonymous requests, forged X-Forwarded-For, its memory), an unusable ASSISTANT_AUTH, hostile questions
(lone surrogates, deep JSON, dates with no year) and Slack acks while answers are held up."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from assistant.pipeline import Assistant
from assistant.slackbot import build_bolt_app
from assistant.slackbot.app import make_http_server
from assistant.web import build_app
from assistant.web.api import AuthThrottle
from assistant.web.server import BackgroundServer
from tests.conftest import CORPUS, SEED_QUESTION, cache_dir, free_port, make_settings
from tests.fake_openai import FakeOpenAI, Reply
from tests.slack_fake import TEAM_ID, sign, start_fake_slack
from tests.web.test_browser import browser  # noqa: F401 - the real browser fixture (Debian's Chromium)

pytestmark = pytest.mark.e2e
MB = 2**20
USER, PASSWORD = "alice", "s3cret-pass"


# ---------------------------------------------------------------- helpers: a real server process, raw chunked bodies


def server_env(data: Path, **extra: str) -> dict[str, str]:
    """The environment of a server process: this checkout, its own data dir, the shared model cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "SLACK_"))}
    env.update(ASSISTANT_DATA_DIR=str(data), ASSISTANT_CACHE_DIR=str(cache_dir()), PYTHONPATH=str(Path.cwd()),
               ASSISTANT_LLM="", **extra)
    return env


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 180) -> None:
    """Wait until the process accepts connections on the port (fail if it exits first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, f"the server exited with {proc.returncode}"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@dataclass
class Sent:
    """What a streamed request achieved: the status answered (0 when none) and the body bytes sent before it."""

    status: int
    body_bytes: int
    reply: bytes


MULTIPART_HEAD = (b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
                  b"Content-Type: text/plain\r\n\r\n")  # one file part that never ends


def send_chunked(port: int, path: str, total: int, headers: dict[str, str], chunk: int = 64 * 1024,
                 first: bytes = b"") -> Sent:
    """POST ``first`` and then ``total`` bytes with Transfer-Encoding: chunked (no Content-Length), stopping as
    soon as the server answers or closes; returns what was sent and the reply."""
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"127.0.0.1:{port}", "Transfer-Encoding": "chunked",
                                                  **headers}.items())
    piece = f"{chunk:x}\r\n".encode() + b"a" * chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
        if first:
            sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
        with contextlib.suppress(OSError):
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(piece)
                sent += chunk
            if sent >= total:
                sock.sendall(b"0\r\n\r\n")
        reply = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in reply:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0
    return Sent(status, sent, reply)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``assistant serve`` in its own process, with a login, on an empty store."""
    port = free_port()
    env = server_env(tmp_path_factory.mktemp("edge-serve"), ASSISTANT_AUTH=f"{USER}:{PASSWORD}",
                     ASSISTANT_MAX_FILE_MB="1")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--no-demo", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, port)
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def basic() -> str:
    import base64

    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


# ------------------------------------------------------------------------------------------ streamed bodies


@pytest.mark.parametrize("path", ["/api/ask", "/api/ingest"])
def test_a_200_mb_chunked_body_is_refused_without_being_read(served: tuple[subprocess.Popen[bytes], int],
                                                              path: str) -> None:
    proc, port = served
    kind = "application/json" if path == "/api/ask" else "multipart/form-data; boundary=xyz"
    before = peak_rss_mb(proc.pid)
    sent = send_chunked(port, path, 200 * MB, {"Authorization": basic(), "Content-Type": kind},
                        first=b"" if path == "/api/ask" else MULTIPART_HEAD)
    growth = peak_rss_mb(proc.pid) - before
    print(f"{path}: {sent.body_bytes / MB:.1f} MB sent before the answer, peak RSS +{growth:.0f} MB")
    assert sent.status == 413, sent.reply[:300]
    assert sent.body_bytes < 50 * MB and growth < 100


def test_a_small_chunked_question_is_still_answered(served: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = served
    body = json.dumps({"question": SEED_QUESTION}).encode()
    with httpx.Client(timeout=120) as http:  # a generator body goes out chunked
        resp = http.post(f"http://127.0.0.1:{port}/api/ask", content=iter([body[:10], body[10:]]),
                         headers={"Authorization": basic(), "Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json()["question"] == SEED_QUESTION


def test_a_1_mb_chunked_question_is_413(served: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = served
    body = json.dumps({"question": "я" * MB}).encode()
    with httpx.Client(timeout=60) as http:
        resp = http.post(f"http://127.0.0.1:{port}/api/ask", content=iter([body]),
                         headers={"Authorization": basic(), "Content-Type": "application/json"})
    assert resp.status_code == 413 and "shorter question" in resp.json()["error"]


def test_forged_forwarded_for_does_not_evade_the_throttle(served: tuple[subprocess.Popen[bytes], int]) -> None:
    """Runs last against ``served``: it locks 127.0.0.1 out."""
    _, port = served
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        codes = [http.get("/api/health", auth=(USER, f"guess{i}"), headers={"X-Forwarded-For": f"10.0.0.{i}"})
                 .status_code for i in range(15)]
    assert codes[:10] == [401] * 10 and codes[-1] == 429, codes


def test_the_slack_endpoint_refuses_a_huge_chunked_body_unread(tmp_path: Path) -> None:
    fake, fake_server = start_fake_slack()
    port = free_port()
    env = server_env(tmp_path, ASSISTANT_SLACK_BOT_TOKEN="xoxb-edge", ASSISTANT_SLACK_SIGNING_SECRET="edge-secret",
                     ASSISTANT_SLACK_API_URL=fake.api_url)
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "slack", "--mode", "http", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, port)
        before = peak_rss_mb(proc.pid)
        sent = send_chunked(port, "/slack/events", 200 * MB, {"Content-Type": "application/json"})
        growth = peak_rss_mb(proc.pid) - before
        print(f"slack: {sent.body_bytes / MB:.1f} MB sent before the answer, peak RSS +{growth:.0f} MB")
        assert sent.status == 413 and sent.body_bytes < 50 * MB and growth < 100
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        fake_server.shutdown()
        fake_server.server_close()


# ------------------------------------------------------------------------------------------ login and its throttle


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """A store of its own with the seed article (not the shared demo store: these tests need one article)."""
    helper = Assistant(make_settings(tmp_path_factory.mktemp("edge-small")))
    assert not helper.ingest([CORPUS / "000_348cd98c955992e8.txt"]).failed
    yield helper
    helper.close()


def test_requests_without_credentials_never_lock_the_right_user_out(small: Assistant) -> None:
    settings = small.settings.model_copy(update={"auth": SecretStr(f"{USER}:{PASSWORD}")})
    with BackgroundServer(build_app(small, settings)) as url, httpx.Client(base_url=url, timeout=60) as http:
        assert [http.get("/api/health").status_code for _ in range(15)] == [401] * 15
        assert [http.get("/docs").status_code for _ in range(5)] == [401] * 5
        assert [http.post("/login", data={}).status_code for _ in range(12)] == [422] * 12  # no fields at all
        assert http.get("/api/health", auth=(USER, PASSWORD)).status_code == 200
        assert http.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200


def test_forwarded_for_is_believed_only_from_a_configured_proxy(small: Assistant) -> None:
    settings = small.settings.model_copy(update={"auth": SecretStr(f"{USER}:{PASSWORD}")})
    app = build_app(small, settings)
    with BackgroundServer(app, trusted_proxies="127.0.0.1") as url, httpx.Client(base_url=url, timeout=60) as http:
        behind = [http.get("/api/health", auth=(USER, "wrong"), headers={"X-Forwarded-For": "203.0.113.7"})
                  .status_code for _ in range(11)]
        other = http.get("/api/health", auth=(USER, PASSWORD), headers={"X-Forwarded-For": "203.0.113.8"})
    assert behind[-1] == 429 and other.status_code == 200  # the proxy's clients are told apart, the proxy is not


def test_the_throttle_forgets_old_addresses() -> None:
    now = [0.0]
    throttle = AuthThrottle(limit=3, window=60, clock=lambda: now[0], max_clients=100)
    for i in range(10_000):
        throttle.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) <= 100
    for _ in range(3):
        throttle.failed("198.51.100.1")
    assert throttle.wait("198.51.100.1") > 0 and len(throttle) <= 100  # the newest are kept
    now[0] = 61
    assert throttle.wait("198.51.100.1") == 0 and len(throttle) <= 99  # and an expired one is dropped when seen


@pytest.mark.parametrize("value", [",", " , ", ",,:", "alice"])
def test_an_auth_setting_with_no_usable_pair_refuses_to_start(tmp_path: Path, value: str) -> None:
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "serve", "--no-demo", "--port", str(port)],
                          env=server_env(tmp_path, ASSISTANT_AUTH=value), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "ASSISTANT_AUTH" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_build_app_refuses_an_auth_setting_with_no_pair(small: Assistant) -> None:
    with pytest.raises(ValueError, match="no user:password"):
        build_app(small, small.settings.model_copy(update={"auth": SecretStr(",")}))


# ------------------------------------------------------------------------------------------ cross-site writes


@pytest.fixture(scope="module")
def open_url(small: Assistant) -> Iterator[str]:
    """The app with no login (the case a cross-site page attacks); files up to 1 MB."""
    with BackgroundServer(build_app(small, small.settings.model_copy(update={"max_file_mb": 1.0}))) as url:
        yield url


def test_the_chat_upload_route_stops_reading_a_huge_chunked_body(open_url: str) -> None:
    port = int(open_url.rsplit(":", 1)[1])
    sent = send_chunked(port, "/gradio_api/upload", 200 * MB, {"Content-Type": "multipart/form-data; boundary=xyz"},
                        first=MULTIPART_HEAD)
    assert sent.status == 413 and sent.body_bytes < 50 * MB, (sent.body_bytes, sent.reply[:300])


def test_cross_origin_writes_are_refused_same_origin_pass(open_url: str, small: Assistant) -> None:
    files = [("files", ("xsite.txt", "Статья с чужого сайта о мосте.".encode(), "text/plain"))]
    with httpx.Client(base_url=open_url, timeout=120) as http:
        for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
            refused = http.post("/api/ingest", files=files, headers={"Origin": origin})
            assert refused.status_code == 403 and "cross-origin" in refused.json()["error"], origin
        by_referer = http.post("/api/ingest", files=files, headers={"Referer": "http://evil.example/page"})
        assert by_referer.status_code == 403
        ask = http.post("/api/ask", json={"question": SEED_QUESTION}, headers={"Origin": "https://evil.example"})
        assert ask.status_code == 403
        assert http.post("/gradio_api/call/health", json={"data": []},
                         headers={"Origin": "http://evil.example"}).status_code == 403
        assert "xsite" not in json.dumps([d.title for d in small.list_docs()], ensure_ascii=False)
        same = http.post("/api/ask", json={"question": SEED_QUESTION}, headers={"Origin": open_url})
        assert same.status_code == 200
        assert http.post("/api/ask", json={"question": SEED_QUESTION}).status_code == 200  # scripts send no Origin


def test_json_endpoints_require_a_json_content_type(open_url: str) -> None:
    body = json.dumps({"question": SEED_QUESTION})
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        resp = httpx.post(open_url + "/api/ask", content=body, headers={"Content-Type": kind}, timeout=60)
        assert resp.status_code == 415 and "application/json" in resp.json()["error"], kind


def test_no_foreign_origin_is_granted_credentials_under_a_real_host_name(open_url: str) -> None:
    headers = {"Host": "news.example.com", "Origin": "https://evil.example"}
    for path in ("/config", "/gradio_api/info", "/api/health"):
        resp = httpx.get(open_url + path, headers=headers, timeout=60)
        assert "access-control-allow-origin" not in resp.headers, (path, dict(resp.headers))
    pre = httpx.options(open_url + "/gradio_api/queue/join", timeout=60, headers={
        **headers, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in pre.headers
    mine = httpx.get(open_url + "/config", headers={"Host": "news.example.com", "Origin": "https://news.example.com"},
                     timeout=60)
    assert mine.status_code == 200


def test_an_allowed_origin_may_post(small: Assistant) -> None:
    settings = small.settings.model_copy(update={"allowed_origins": "https://intranet.example"})
    with BackgroundServer(build_app(small, settings)) as url:
        ok = httpx.post(url + "/api/ask", json={"question": SEED_QUESTION}, timeout=60,
                        headers={"Origin": "https://intranet.example"})
        other = httpx.post(url + "/api/ask", json={"question": SEED_QUESTION}, timeout=60,
                           headers={"Origin": "https://elsewhere.example"})
    assert ok.status_code == 200 and other.status_code == 403


ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><title>attack</title><script>
async function attack() {
  const form = new FormData();
  form.append("files", new Blob(["Статья, подброшенная чужим сайтом, о мосте."], {type: "text/plain"}), "planted.txt");
  await fetch("%(app)s/api/ingest", {method: "POST", mode: "no-cors", body: form});
  await fetch("%(app)s/api/ask", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                                   body: JSON.stringify({question: "planted"})});
  let read = "unread";
  try { read = await (await fetch("%(app)s/api/health", {credentials: "include"})).text(); } catch (e) { read = "blocked"; }
  document.title = "done:" + read.slice(0, 40);
}
attack();
</script>"""


@pytest.mark.slow
def test_a_page_on_another_origin_cannot_store_an_article(open_url: str, small: Assistant, tmp_path: Path,
                                                          browser: Any) -> None:  # noqa: F811
    page_dir = tmp_path / "site"
    page_dir.mkdir()
    (page_dir / "index.html").write_text(ATTACK_PAGE % {"app": open_url}, encoding="utf-8")

    class Quiet(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            data = (page_dir / "index.html").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    before = len(small.list_docs())
    page = browser.new_page()
    try:
        page.goto(f"http://localhost:{site.server_address[1]}/")  # another origin than 127.0.0.1:<app port>
        page.wait_for_function("document.title.startsWith('done:')", timeout=60_000)
        assert page.title() == "done:blocked"  # the response was not readable cross-origin
    finally:
        page.close()
        site.shutdown()
        site.server_close()
    assert len(small.list_docs()) == before
    assert "planted" not in json.dumps([d.title for d in small.list_docs()], ensure_ascii=False)


# ------------------------------------------------------------------------------------------ hostile questions


def test_hostile_question_bodies_get_a_clear_400(open_url: str) -> None:
    cases = {
        '{"question": "\\udcff"}': "question",
        '{"question": "ok?", "history": [{"role": "user", "content": "a\\ud800b"}]}': "history[0]",
        '{"question": "ok?", "filters": {"sources": ["\\udfff"]}}': "sources",
        '{"question": "ok?", "filters": {"date_from": "\\udcff"}}': "date_from",
        '{"question": ' + "[" * 100_000 + "]" * 100_000 + "}": "nested",
        '{"question": "ok?", "filters": {"date_from": "1"}}': "date_from",
        '{"question": "ok?", "filters": {"date_to": "октябрь 2025"}}': "date_to",
    }
    for body, named in cases.items():
        resp = httpx.post(open_url + "/api/ask", content=body.encode(), timeout=60,
                          headers={"Content-Type": "application/json"})
        assert resp.status_code == 400 and named in resp.json()["error"], (body[:60], resp.text[:300])
        assert "Traceback" not in resp.text


def test_cli_refuses_a_question_that_is_not_utf8(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", b"\xff\xfe"],
                          env=server_env(tmp_path), capture_output=True, timeout=120)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1 and "not valid UTF-8" in err and "Traceback" not in err, err
    dated = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", "вопрос", "--from", "1"],
                           env=server_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert dated.returncode == 2 and "'1' is not a date" in dated.stderr


# ------------------------------------------------------------------------------------------ Slack acks


class HeldOpenAI(FakeOpenAI):
    """The fake LLM, holding every reply until the test opens ``gate`` (an arbitrarily slow model)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = 0

    def next_reply(self) -> Reply:
        with self._lock:
            self.waiting += 1
        self.gate.wait(timeout=300)
        return Reply("Во время визита были подписаны документы [1].")


def test_slack_acks_never_wait_behind_held_answers(small: Assistant, tmp_path: Path) -> None:
    fake, fake_server = start_fake_slack()
    llm = HeldOpenAI().start()
    secret = "ack-secret"
    slow = Assistant(make_settings(small.settings.data_dir, llm=f"openai:{llm.base_url}", llm_timeout=300.0),
                     embedder=small.embedder)
    bot_settings = make_settings(tmp_path, slack_bot_token="xoxb-ack", slack_signing_secret=secret,
                                 slack_api_url=fake.api_url)
    server = make_http_server(build_bolt_app(slow, bot_settings), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    form = "application/x-www-form-urlencoded"

    def post(body: str, kind: str) -> httpx.Response:
        return httpx.post(url, content=body.encode(), timeout=60, headers={**sign(secret, body), "Content-Type": kind})

    try:
        for i in range(8):  # eight answers pending, each held by the model
            command = urlencode({"command": "/ask", "text": SEED_QUESTION, "user_id": "U1", "channel_id": f"CH{i}",
                                 "team_id": TEAM_ID, "trigger_id": f"held-{i}", "api_app_id": "A0001",
                                 "response_url": fake.response_url(f"held-{i}")})
            assert post(command, form).status_code == 200
        fake.wait_for(lambda: llm.waiting >= 4, timeout=120)  # every answer thread is now blocked on the model
        command = urlencode({"command": "/ask", "text": SEED_QUESTION, "user_id": "U2", "channel_id": "CLATE",
                             "team_id": TEAM_ID, "trigger_id": "late-1", "api_app_id": "A0001",
                             "response_url": fake.response_url("late")})
        payload = {"type": "block_actions", "user": {"id": "U1", "team_id": TEAM_ID}, "team": {"id": TEAM_ID},
                   "api_app_id": "A0001", "trigger_id": "click-late", "response_url": fake.response_url("click"),
                   "channel": {"id": "CLATE", "name": "news"},
                   "container": {"type": "message", "message_ts": "1.000001", "channel_id": "CLATE"},
                   "actions": [{"action_id": "feedback_up", "block_id": "answer-actions", "type": "button",
                                "value": "{}", "action_ts": "1700002000.000001"}]}
        acks = [post(command, form), post(urlencode({"payload": json.dumps(payload)}), form)]
        assert [a.status_code for a in acks] == [200, 200], [a.text for a in acks]
        assert not llm.gate.is_set() and not fake.of("response_url")  # acked while every answer was still held
        llm.gate.set()
        expected = {f"held-{i}" for i in range(8)} | {"late", "click"}
        fake.wait_for(lambda: {c.path.rsplit("/", 1)[-1] for c in fake.of("response_url")} >= expected, timeout=300)
    finally:
        llm.gate.set()
        server.shutdown()
        server.server_close()
        llm.stop()
        slow.close()
        fake_server.shutdown()
        fake_server.server_close()
