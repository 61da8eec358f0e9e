#!/usr/bin/python3
"""aero-l2-proxy against a WebSocket client we did not write (Debian's python3-websockets).

Usage: l2_proxy_test.py PROXY_BINARY GROUP [CASE...]

Each case starts its own proxy (127.0.0.1, port 0) with the environment it needs and stops it
with SIGTERM, checking that it exits 0. Groups: http, upgrade, auth, origin, host, caps,
tunnel, quotas, idle, backpressure, shutdown, guest, capture. Secrets come from
tests/data/vectors/auth-tokens.json; tokens are minted here from those secrets with Python's own
hmac, so the proxy's verifier is checked against an independent implementation.
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import websockets
import websockets.exceptions

import l2_guest as g

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "data", "vectors", "auth-tokens.json")
SUBPROTOCOL = "aero-l2-tunnel-v1"
OPEN_ENV = {"AERO_L2_OPEN": "1", "AERO_L2_INSECURE_ALLOW_NO_AUTH": "1"}

PROXY_BINARY = None
CASES = {}


def case(group):
    def register(function):
        CASES.setdefault(group, []).append(function)
        return function
    return register


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def check_eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


# ---- the proxy process ---------------------------------------------------------------------

class Proxy:
    def __init__(self, env, args=()):
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AERO_L2_WORKER_THREADS": "2"}
        full_env.update(env)
        self.stderr = tempfile.TemporaryFile()
        self.terminating = False
        self.process = subprocess.Popen(
            [PROXY_BINARY, "--bind", "127.0.0.1:0", "--ready-stdout", *args],
            env=full_env, stdout=subprocess.PIPE, stderr=self.stderr)
        line = self._read_line(10)
        check(line.startswith("AERO_L2_PROXY_READY ws://"), f"no ready line, got {line!r}: {self.logs()}")
        self.url = line.split()[1]
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        self.origin = f"http://127.0.0.1:{self.port}"

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                break
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 1)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace").strip()

    def logs(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def log_events(self):
        events = []
        for line in self.logs().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
        return events

    def signal(self, sig=signal.SIGTERM):
        self.terminating = self.terminating or sig == signal.SIGTERM
        self.process.send_signal(sig)

    def stop(self, timeout=10):
        # After a SIGTERM the proxy is on its way out; a second one would force the end (and,
        # once its loop has stopped, meet the default action): just wait.
        if self.process.poll() is None and not self.terminating:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise Failure("the proxy did not stop after SIGTERM")
        check(code == 0, f"proxy exit status {code}; its log ends with:\n{self.logs()[-3000:]}")

    def get(self, path, method="GET", headers=()):
        return http_request(self.port, method, path, [("Host", f"127.0.0.1:{self.port}"), *headers])

    def metrics(self):
        status, body = self.get("/metrics")
        check_eq(status, 200, "GET /metrics")
        values = {}
        for line in body.decode().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
        return values

    def metric(self, name):
        return self.metrics().get(name, 0.0)

    async def connect(self, path="/l2", subprotocols=(SUBPROTOCOL,), origin=True, headers=(), **kwargs):
        return await websockets.connect(
            f"ws://127.0.0.1:{self.port}{path}",
            subprotocols=list(subprotocols),
            origin=self.origin if origin is True else origin,
            extra_headers=list(headers), open_timeout=5, close_timeout=5, max_size=None,
            **kwargs)


def http_request(port, method, path, headers, timeout=5):
    """One raw HTTP/1.1 request (so tests control every header, repeats included)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers] + ["Connection: close", "", ""]
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def upgrade_request(proxy, path="/l2", protocol=SUBPROTOCOL, origin=None, host=None, extra=()):
    """A raw WebSocket upgrade; returns (status, body)."""
    headers = [("Host", host if host is not None else f"127.0.0.1:{proxy.port}"),
               ("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
               ("Sec-WebSocket-Version", "13")]
    if host is False:
        headers = headers[1:]
    if protocol is not None:
        headers.append(("Sec-WebSocket-Protocol", protocol))
    if origin is not None:
        for value in (origin if isinstance(origin, list) else [origin]):
            headers.append(("Origin", value))
    headers.extend(extra)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers] + ["", ""]
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        return status, body.decode(errors="replace").strip()


# ---- credentials (minted independently of the proxy) ----------------------------------------

def vectors():
    with open(VECTORS) as f:
        return json.load(f)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def session_token(secret, sid, exp=None):
    payload = b64url(json.dumps({"v": 1, "sid": sid, "exp": exp or int(time.time()) + 3600},
                                separators=(",", ":")).encode())
    sig = b64url(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{sig}"


def jwt(secret, sid, exp=None, **claims):
    now = int(time.time())
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = {"iat": now, "exp": exp or now + 600, "sid": sid}
    body.update(claims)
    payload = b64url(json.dumps(body, separators=(",", ":")).encode())
    sig = b64url(hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


# ---- tunnel messages -------------------------------------------------------------------------

def message(kind, payload=b""):
    return bytes([0xA2, 0x03, kind, 0]) + payload


FRAME, PING, PONG, ERROR = 0x00, 0x01, 0x02, 0x7F


def parse_error(data):
    check(data[:3] == bytes([0xA2, 0x03, ERROR]), f"expected an ERROR message, got {data[:4].hex()}")
    payload = data[4:]
    code, length = struct.unpack(">HH", payload[:4])
    check_eq(len(payload), 4 + length, "structured ERROR length")
    return code, payload[4:].decode()


async def recv_until(ws, predicate, timeout=5):
    """Messages until predicate(message) is true; returns that message."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        check(left > 0, "timed out waiting for a message")
        data = await asyncio.wait_for(ws.recv(), left)
        if isinstance(data, bytes) and predicate(data):
            return data


async def expect_close(ws, code, reason=None, timeout=8):
    """Reads until the connection closes; returns the messages seen before."""
    seen = []
    try:
        while True:
            seen.append(await asyncio.wait_for(ws.recv(), timeout))
    except websockets.exceptions.ConnectionClosed as closed:
        check_eq(closed.code, code, "close code")
        if reason is not None:
            check_eq(closed.reason, reason, "close reason")
    return seen


async def round_trip_ping(ws, value=7):
    payload = struct.pack(">Q", value)
    await ws.send(message(PING, payload))
    reply = await recv_until(ws, lambda m: m[2] == PONG)
    check_eq(reply[4:], payload, "PONG payload")


def run(coroutine):
    return asyncio.run(coroutine)


# ---- http ------------------------------------------------------------------------------------

@case("http")
def http_routes():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_PROXY_VERSION": "9.8.7", "AERO_L2_PROXY_GIT_SHA": "abc123",
                              "AERO_L2_PROXY_BUILD_TIMESTAMP": "2026-01-02T03:04:05Z"})
    try:
        check_eq(proxy.get("/healthz"), (200, b"ok\n"), "/healthz")
        check_eq(proxy.get("/readyz"), (200, b"ready\n"), "/readyz")
        status, body = proxy.get("/version")
        check_eq(status, 200, "/version status")
        check_eq(json.loads(body), {"version": "9.8.7", "gitSha": "abc123", "builtAt": "2026-01-02T03:04:05Z"},
                 "/version body")
        check_eq(proxy.get("/nope")[0], 404, "unknown route")
        check_eq(proxy.get("/healthz", method="POST")[0], 405, "POST /healthz")
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        check(b"Content-Type: text/plain; version=0.0.4; charset=utf-8" in data, "metrics content type")
        metrics = proxy.metrics()
        for name in ["l2_sessions_active", "l2_sessions_total", "l2_upgrade_rejected_total",
                     "l2_frames_rx_total", "l2_frames_tx_total", "l2_frames_dropped_total",
                     "l2_policy_denied_total", "l2_tcp_conns_active", "l2_udp_flows_active",
                     "l2_dns_queries_total", 'l2_ping_rtt_ms_bucket{le="+Inf"}', "aero_l2_idle_timeouts_total"]:
            check(name in metrics, f"metric {name} missing")
        # A malformed request line gets 400.
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(b"NOT HTTP\r\n\r\n")
            check(s.recv(100).startswith(b"HTTP/1.1 400"), "malformed request")
        # Keep-alive: two requests on one connection.
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while data.count(b"HTTP/1.1 200") < 2:
                data += s.recv(65536)
    finally:
        proxy.stop()


# ---- upgrade pipeline ------------------------------------------------------------------------

@case("upgrade")
def subprotocol_required():
    proxy = Proxy(OPEN_ENV)
    try:
        for protocol in [None, "other", "aero-l2-tunnel-v2", "AERO-L2-TUNNEL-V1"]:
            status, _ = upgrade_request(proxy, protocol=protocol, origin=proxy.origin)
            check_eq(status, 400, f"subprotocol {protocol!r}")

        async def client_rejected():
            try:
                await proxy.connect(subprotocols=["chat"])
            except websockets.exceptions.InvalidStatusCode as e:
                check_eq(e.status_code, 400, "websockets client without the subprotocol")
            else:
                raise Failure("upgrade without the subprotocol accepted")
        run(client_rejected())
        check_eq(upgrade_request(proxy, protocol="chat, aero-l2-tunnel-v1", origin=proxy.origin)[0], 101,
                 "subprotocol among others")
        # Not an upgrade at all, but with the subprotocol header.
        status, _ = http_request(proxy.port, "GET", "/l2", [("Host", "x"), ("Sec-WebSocket-Protocol", SUBPROTOCOL)])
        check_eq(status, 426, "plain GET /l2")
    finally:
        proxy.stop()


@case("upgrade")
def every_route_selects_the_subprotocol():
    proxy = Proxy(OPEN_ENV)
    try:
        async def body():
            for path in ["/l2", "/l2/", "/eth", "/eth/"]:
                ws = await proxy.connect(path=path, subprotocols=["x", SUBPROTOCOL])
                check_eq(ws.subprotocol, SUBPROTOCOL, f"{path} selected subprotocol")
                await round_trip_ping(ws)
                await ws.close()
        run(body())
    finally:
        proxy.stop()


@case("upgrade")
def order_of_checks():
    proxy = Proxy({"AERO_L2_API_KEY": "k", "AERO_L2_MAX_CONNECTIONS": "1"})
    try:
        # Missing credentials are 401 even without an Origin (authentication comes first)...
        check_eq(upgrade_request(proxy)[0], 401, "no credentials, no Origin")
        # ...and the subprotocol check comes before authentication.
        check_eq(upgrade_request(proxy, protocol="x")[0], 400, "no subprotocol, no credentials")
        check_eq(upgrade_request(proxy, path="/l2?token=k")[0], 403, "credentials, no Origin")
        check_eq(upgrade_request(proxy, path="/l2?token=bad")[0], 401, "bad credentials, no Origin")

        async def caps():
            ws = await proxy.connect(path="/l2?token=k")
            # The global cap applies after authentication and Origin.
            check_eq(upgrade_request(proxy, path="/l2?token=bad")[0], 401, "bad key at the cap")
            check_eq(upgrade_request(proxy, path="/l2?token=k", origin="http://evil.test")[0], 403,
                     "bad origin at the cap")
            check_eq(upgrade_request(proxy, path="/l2?token=k", origin=proxy.origin)[0], 429, "global cap")
            await ws.close()
        run(caps())
        m = proxy.metrics()
        check_eq(m["l2_upgrade_reject_auth_missing_total"], 1.0, "auth_missing metric")
        check_eq(m["l2_upgrade_reject_auth_invalid_total"], 2.0, "auth_invalid metric")
        check_eq(m["l2_upgrade_reject_origin_missing_total"], 1.0, "origin_missing metric")
        check_eq(m["l2_upgrade_reject_origin_not_allowed_total"], 1.0, "origin_not_allowed metric")
        check_eq(m["l2_upgrade_reject_max_connections_total"], 1.0, "max_connections metric")
        check_eq(m['l2_auth_reject_total{reason="missing_credentials"}'], 1.0, "auth reason metric")
        check_eq(m['l2_auth_reject_total{reason="invalid_api_key"}'], 2.0, "auth reason metric")
        check_eq(m["l2_upgrade_rejected_total"], 7.0, "rejections in total")
    finally:
        proxy.stop()


# ---- authentication --------------------------------------------------------------------------

def expect_status(proxy, status, what, path="/l2", protocol=SUBPROTOCOL, extra=(), origin=True):
    actual, body = upgrade_request(proxy, path=path, protocol=protocol, extra=extra,
                                   origin=proxy.origin if origin is True else origin)
    check_eq(actual, status, what + f" (body {body!r})")


@case("auth")
def api_key_mode():
    proxy = Proxy({"AERO_L2_API_KEY": "s3cret key"})
    try:
        expect_status(proxy, 101, "?token=", path="/l2?token=s3cret%20key")
        expect_status(proxy, 101, "?apiKey=", path="/l2?apiKey=s3cret+key")
        expect_status(proxy, 401, "wrong key", path="/l2?token=s3cret")
        expect_status(proxy, 401, "no key")
        expect_status(proxy, 401, "a bearer header is not an API key carrier",
                      extra=[("Authorization", "Bearer s3cret key")])
    finally:
        proxy.stop()
    proxy = Proxy({"AERO_L2_TOKEN": "plainkey"})  # the legacy name
    try:
        expect_status(proxy, 101, "subprotocol entry", protocol=f"aero-l2-token.plainkey, {SUBPROTOCOL}")
        expect_status(proxy, 401, "wrong subprotocol entry", protocol=f"aero-l2-token.nope, {SUBPROTOCOL}")

        async def selected():
            ws = await proxy.connect(subprotocols=["aero-l2-token.plainkey", SUBPROTOCOL])
            check_eq(ws.subprotocol, SUBPROTOCOL, "the token entry is never selected")
            await ws.close()
        run(selected())
    finally:
        proxy.stop()


@case("auth")
def session_mode():
    secret = vectors()["sessionTokens"]["testSecret"]
    proxy = Proxy({"AERO_L2_SESSION_SECRET": secret, "AERO_L2_AUTH_MODE": "session"})
    try:
        token = session_token(secret, "sid-1")
        expect_status(proxy, 101, "cookie", extra=[("Cookie", f"theme=x; aero_session={token}")])
        expect_status(proxy, 101, "first cookie wins",
                      extra=[("Cookie", f"aero_session={token}"), ("Cookie", "aero_session=garbage")])
        expect_status(proxy, 401, "first cookie wins (bad first)",
                      extra=[("Cookie", "aero_session=garbage"), ("Cookie", f"aero_session={token}")])
        expect_status(proxy, 401, "expired", extra=[("Cookie", f"aero_session={session_token(secret, 's', 1000)}")])
        expect_status(proxy, 401, "other secret", extra=[("Cookie", f"aero_session={session_token('x', 's')}")])
        for v in vectors()["sessionTokens"]["vectors"]:
            # The vectors' valid tokens expired long ago; every one must be refused now.
            expect_status(proxy, 401, f"vector {v['name']}", extra=[("Cookie", f"aero_session={v['token']}")])
        expect_status(proxy, 401, "API key in session mode", path="/l2?token=whatever")
    finally:
        proxy.stop()


@case("auth")
def jwt_mode():
    secret = vectors()["jwtTokens"]["testSecret"]
    proxy = Proxy({"AERO_L2_JWT_SECRET": secret, "AERO_L2_AUTH_MODE": "jwt",
                   "AERO_L2_JWT_AUDIENCE": "aero-l2", "AERO_L2_JWT_ISSUER": "aero-gateway"})
    try:
        good = jwt(secret, "j1", aud="aero-l2", iss="aero-gateway")
        expect_status(proxy, 101, "bearer", extra=[("Authorization", f"Bearer {good}")])
        expect_status(proxy, 101, "?token=", path=f"/l2?token={good}")
        expect_status(proxy, 101, "?apiKey=", path=f"/l2?apiKey={good}")
        expect_status(proxy, 101, "subprotocol", protocol=f"{SUBPROTOCOL}, aero-l2-token.{good}")
        expect_status(proxy, 401, "wrong audience", path=f"/l2?token={jwt(secret, 'j', aud='x', iss='aero-gateway')}")
        expect_status(proxy, 401, "wrong issuer", path=f"/l2?token={jwt(secret, 'j', aud='aero-l2', iss='x')}")
        expect_status(proxy, 401, "expired",
                      path=f"/l2?token={jwt(secret, 'j', exp=int(time.time()) - 5, aud='aero-l2', iss='aero-gateway')}")
        expect_status(proxy, 401, "other secret", path=f"/l2?token={jwt('nope', 'j', aud='aero-l2', iss='aero-gateway')}")
        bound = jwt(secret, "j2", aud="aero-l2", iss="aero-gateway", origin=proxy.origin.upper().replace("HTTP", "http"))
        expect_status(proxy, 101, "origin claim matches", path=f"/l2?token={bound}")
        expect_status(proxy, 401, "origin claim mismatch", path=f"/l2?token={bound}",
                      extra=[], origin=f"http://localhost:{proxy.port}")
        for v in vectors()["jwtTokens"]["vectors"]:
            expect_status(proxy, 401, f"vector {v['name']}", path=f"/l2?token={v['token']}")
        m = proxy.metrics()
        check(m['l2_auth_reject_total{reason="invalid_jwt"}'] >= 4, "invalid_jwt metric")
        check_eq(m['l2_auth_reject_total{reason="jwt_origin_mismatch"}'], 1.0, "jwt_origin_mismatch metric")
    finally:
        proxy.stop()


@case("auth")
def combined_modes():
    session_secret = vectors()["sessionTokens"]["testSecret"]
    jwt_secret = vectors()["jwtTokens"]["testSecret"]
    cookie = ("Cookie", f"aero_session={session_token(session_secret, 'c1')}")
    bad_cookie = ("Cookie", "aero_session=x.y")
    proxy = Proxy({"AERO_L2_SESSION_SECRET": session_secret, "AERO_L2_JWT_SECRET": jwt_secret,
                   "AERO_L2_AUTH_MODE": "cookie_or_jwt"})
    try:
        expect_status(proxy, 101, "cookie_or_jwt: cookie", extra=[cookie])
        expect_status(proxy, 101, "cookie_or_jwt: jwt", path=f"/l2?token={jwt(jwt_secret, 'j')}")
        expect_status(proxy, 101, "cookie_or_jwt: bad cookie, good jwt",
                      path=f"/l2?token={jwt(jwt_secret, 'j')}", extra=[bad_cookie])
        expect_status(proxy, 401, "cookie_or_jwt: bad cookie", extra=[bad_cookie])
        expect_status(proxy, 401, "cookie_or_jwt: bad jwt", path="/l2?token=a.b.c")
        expect_status(proxy, 401, "cookie_or_jwt: nothing")
    finally:
        proxy.stop()
    # The default mode with a session secret and an API key: session_or_token.
    proxy = Proxy({"AERO_L2_SESSION_SECRET": session_secret, "AERO_L2_API_KEY": "k"})
    try:
        expect_status(proxy, 101, "session_or_token: cookie", extra=[cookie])
        expect_status(proxy, 101, "session_or_token: key", path="/l2?token=k")
        expect_status(proxy, 401, "session_or_token: wrong key", path="/l2?token=j")
        expect_status(proxy, 401, "session_or_token: nothing")
    finally:
        proxy.stop()
    proxy = Proxy({"AERO_L2_SESSION_SECRET": session_secret, "AERO_L2_API_KEY": "k",
                   "AERO_L2_AUTH_MODE": "cookie_and_api_key"})
    try:
        expect_status(proxy, 101, "session_and_token: both", path="/l2?token=k", extra=[cookie])
        expect_status(proxy, 401, "session_and_token: cookie only", extra=[cookie])
        expect_status(proxy, 401, "session_and_token: key only", path="/l2?token=k")
        expect_status(proxy, 401, "session_and_token: bad cookie", path="/l2?token=k", extra=[bad_cookie])
    finally:
        proxy.stop()


@case("auth")
def refuses_to_start_without_auth():
    for env in [{}, {"AERO_L2_OPEN": "1"}, {"AERO_L2_INSECURE_ALLOW_NO_AUTH": "1"},
                {"AERO_L2_API_KEY": "k", "AERO_L2_AUTH_MODE": "none"}]:
        result = subprocess.run([PROXY_BINARY, "--bind", "127.0.0.1:0"], env={"PATH": "/usr/bin:/bin", **env},
                                capture_output=True, timeout=10)
        check_eq(result.returncode, 2, f"exit status with {env}")
        check(b"AERO_L2_INSECURE_ALLOW_NO_AUTH" in result.stderr or b"AERO_L2_OPEN" in result.stderr,
              f"message names the variables: {result.stderr!r}")
    result = subprocess.run([PROXY_BINARY, "--bind", "127.0.0.1:0"],
                            env={"PATH": "/usr/bin:/bin", "AERO_L2_API_KEY": "k", "AERO_L2_MAX_CONNECTIONS": "lots"},
                            capture_output=True, timeout=10)
    check_eq(result.returncode, 2, "invalid variable")
    check(b"AERO_L2_MAX_CONNECTIONS" in result.stderr, "message names the variable")
    result = subprocess.run([PROXY_BINARY, "--no-such-flag"], capture_output=True, timeout=10)
    check_eq(result.returncode, 2, "unknown flag")
    result = subprocess.run([PROXY_BINARY, "--help"], capture_output=True, timeout=10)
    check_eq(result.returncode, 0, "--help")
    check(b"AERO_L2_MAX_FRAMES_PER_SECOND" in result.stdout, "--help lists the variables")


# ---- Origin and Host -------------------------------------------------------------------------

@case("origin")
def origin_rules():
    proxy = Proxy({"AERO_L2_API_KEY": "k"})
    try:
        path = "/l2?token=k"
        check_eq(upgrade_request(proxy, path=path, origin=proxy.origin)[0], 101, "same host")
        check_eq(upgrade_request(proxy, path=path, origin=f"HTTP://127.0.0.1:{proxy.port}/")[0], 101,
                 "same host, normalised")
        check_eq(upgrade_request(proxy, path=path)[0], 403, "missing Origin")
        check_eq(upgrade_request(proxy, path=path, origin=[proxy.origin, proxy.origin])[0], 403, "two Origin headers")
        check_eq(upgrade_request(proxy, path=path, origin="http://evil.test")[0], 403, "other host")
        check_eq(upgrade_request(proxy, path=path, origin="null")[0], 403, "null origin")
        for bad in [f"{proxy.origin}/path", f"{proxy.origin}?q", "http://user@127.0.0.1", "ftp://127.0.0.1",
                    "http://127.0.0.1:", "127.0.0.1"]:
            check_eq(upgrade_request(proxy, path=path, origin=bad)[0], 403, f"malformed Origin {bad!r}")
    finally:
        proxy.stop()
    proxy = Proxy({"AERO_L2_API_KEY": "k", "ALLOWED_ORIGINS": "https://app.example.test",
                   "AERO_L2_ALLOWED_ORIGINS_EXTRA": "null, http://localhost:3000"})
    try:
        path = "/l2?token=k"
        check_eq(upgrade_request(proxy, path=path, origin="https://app.example.test")[0], 101, "listed")
        check_eq(upgrade_request(proxy, path=path, origin="https://APP.example.test:443")[0], 101, "listed, normalised")
        check_eq(upgrade_request(proxy, path=path, origin="null")[0], 101, "listed null")
        check_eq(upgrade_request(proxy, path=path, origin="http://localhost:3000")[0], 101, "extra")
        check_eq(upgrade_request(proxy, path=path, origin=proxy.origin)[0], 403, "the list replaces same-host")
    finally:
        proxy.stop()
    proxy = Proxy({"AERO_L2_API_KEY": "k", "AERO_L2_ALLOWED_ORIGINS": "*"})
    try:
        check_eq(upgrade_request(proxy, path="/l2?token=k", origin="https://anything.test")[0], 101, "wildcard")
        check_eq(upgrade_request(proxy, path="/l2?token=k")[0], 403, "wildcard still needs the header")
        check_eq(upgrade_request(proxy, path="/l2?token=k", origin="https://bad.test/x")[0], 403, "wildcard, malformed")
    finally:
        proxy.stop()
    proxy = Proxy(OPEN_ENV)
    try:
        check_eq(upgrade_request(proxy)[0], 101, "open mode skips the Origin check")
    finally:
        proxy.stop()
    result = subprocess.run([PROXY_BINARY], env={"PATH": "/usr/bin:/bin", "AERO_L2_API_KEY": "k",
                                                 "AERO_L2_ALLOWED_ORIGINS": "https://a.test/path"},
                            capture_output=True, timeout=10)
    check_eq(result.returncode, 2, "an invalid allowlist entry stops start-up")
    check(b"AERO_L2_ALLOWED_ORIGINS" in result.stderr, "message names the variable")


@case("host")
def host_allowlist():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_ALLOWED_HOSTS": "proxy.example.test,secure.example.test:443"})
    try:
        check_eq(upgrade_request(proxy, host="proxy.example.test")[0], 101, "listed host")
        check_eq(upgrade_request(proxy, host="PROXY.example.test:80")[0], 101, "listed host, default port")
        check_eq(upgrade_request(proxy, host="evil.test")[0], 403, "unlisted host")
        check_eq(upgrade_request(proxy, host="bad host")[0], 403, "invalid host")
        check_eq(upgrade_request(proxy, host=False)[0], 403, "missing host")
        check_eq(upgrade_request(proxy, host="secure.example.test", origin="https://x.test")[0], 101,
                 "https default port from the Origin's scheme")
        check_eq(upgrade_request(proxy, host="internal:8080",
                                 extra=[("X-Forwarded-Host", "proxy.example.test")])[0], 403,
                 "forwarded host ignored unless trusted")
        m = proxy.metrics()
        check_eq(m["l2_upgrade_reject_host_not_allowed_total"], 2.0, "host_not_allowed metric")
        check_eq(m["l2_upgrade_reject_host_invalid_total"], 1.0, "host_invalid metric")
        check_eq(m["l2_upgrade_reject_host_missing_total"], 1.0, "host_missing metric")
    finally:
        proxy.stop()
    proxy = Proxy(OPEN_ENV | {"AERO_L2_ALLOWED_HOSTS": "proxy.example.test", "AERO_L2_TRUST_PROXY_HOST": "1"})
    try:
        check_eq(upgrade_request(proxy, host="internal:8080",
                                 extra=[("X-Forwarded-Host", "proxy.example.test")])[0], 101, "X-Forwarded-Host")
        check_eq(upgrade_request(proxy, host="internal:8080",
                                 extra=[("Forwarded", 'for=192.0.2.1;host="proxy.example.test:443";proto=https')])[0],
                 101, "Forwarded host and proto")
        check_eq(upgrade_request(proxy, host="proxy.example.test",
                                 extra=[("Forwarded", "host=evil.test")])[0], 403, "Forwarded host wins")
    finally:
        proxy.stop()


# ---- connection caps -------------------------------------------------------------------------

@case("caps")
def per_ip_and_per_session_caps():
    secret = vectors()["sessionTokens"]["testSecret"]
    proxy = Proxy({"AERO_L2_SESSION_SECRET": secret, "AERO_L2_API_KEY": "k",
                   "AERO_L2_MAX_CONNECTIONS_PER_IP": "1", "AERO_L2_MAX_TUNNELS_PER_SESSION": "1",
                   "AERO_L2_TRUST_PROXY": "1"})
    try:
        async def body():
            a = await proxy.connect(path="/l2?token=k", headers=[("X-Forwarded-For", "198.51.100.1")])
            status, text = upgrade_request(proxy, path="/l2?token=k", origin=proxy.origin,
                                           extra=[("X-Forwarded-For", "198.51.100.1, 10.0.0.1")])
            check_eq(status, 429, "second tunnel from one client address")
            b = await proxy.connect(path="/l2?token=k", headers=[("Forwarded", "for=198.51.100.2")])
            cookie = ("Cookie", f"aero_session={session_token(secret, 'shared-sid')}")
            c = await proxy.connect(headers=[cookie, ("X-Forwarded-For", "198.51.100.3")])
            status, text = upgrade_request(proxy, origin=proxy.origin,
                                           extra=[cookie, ("X-Forwarded-For", "198.51.100.4")])
            check_eq(status, 429, "second tunnel of one session")
            check(text.startswith("quota_connections"), f"per-session refusal text: {text!r}")
            for ws in (a, b, c):
                await ws.close()
        run(body())
        m = proxy.metrics()
        check_eq(m["l2_upgrade_ip_limit_exceeded_total"], 1.0, "per-IP metric")
        check_eq(m["l2_session_connection_denied_total"], 1.0, "per-session metric")
        check_eq(m["l2_upgrade_reject_max_tunnels_per_session_total"], 1.0, "per-session metric (Aero's alias)")
    finally:
        proxy.stop()


# ---- the tunnel ------------------------------------------------------------------------------

@case("tunnel")
def ping_pong_and_unknown_types():
    proxy = Proxy(OPEN_ENV)
    try:
        async def body():
            ws = await proxy.connect()
            await round_trip_ping(ws, 0x0102030405060708)
            await ws.send(message(PING, b""))  # empty payloads echo too
            reply = await recv_until(ws, lambda m: m[2] == PONG)
            check_eq(reply, message(PONG), "empty PONG")
            await ws.send(message(0x42, b"future"))  # unknown type: ignored
            await ws.send(message(ERROR, b"client error"))  # ERROR from the client: ignored
            await ws.send("text is ignored")
            await ws.ping(b"ws-level")  # answered by the WebSocket layer
            await round_trip_ping(ws, 99)
            await ws.close()
        run(body())
        check(proxy.metric("aero_l2_pongs_sent_total") >= 3, "PONG metric")
    finally:
        proxy.stop()


@case("tunnel")
def server_pings_feed_the_rtt_histogram():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_PING_INTERVAL_MS": "100"})
    try:
        async def body():
            ws = await proxy.connect()
            answered = 0
            while answered < 3:
                data = await recv_until(ws, lambda m: m[2] == PING)
                check_eq(len(data), 12, "server PING carries an 8-byte id")
                check_eq(struct.unpack(">Q", data[4:])[0], answered + 1, "server ping ids count from 1")
                await ws.send(message(PONG, data[4:]))
                answered += 1
            await round_trip_ping(ws)
            await ws.close()
        run(body())
        m = proxy.metrics()
        check(m["l2_ping_rtt_ms_count"] >= 3, f"RTT histogram count {m['l2_ping_rtt_ms_count']}")
        check_eq(m['l2_ping_rtt_ms_bucket{le="+Inf"}'], m["l2_ping_rtt_ms_count"], "histogram +Inf bucket")
    finally:
        proxy.stop()


@case("tunnel")
def protocol_errors_send_error_then_close_1008():
    proxy = Proxy(OPEN_ENV)
    try:
        async def one(data, text):
            ws = await proxy.connect()
            await ws.send(data)
            seen = await expect_close(ws, 1008, text)
            errors = [m for m in seen if isinstance(m, bytes) and m[2:3] == bytes([ERROR])]
            check_eq(len(errors), 1, f"one ERROR before the close for {data[:4].hex()}")
            check_eq(parse_error(errors[0]), (1, text), "ERROR payload")

        async def body():
            await one(b"\xa2\x03\x00", "message too short: 3 < 4")
            await one(b"\xa1\x03\x00\x00", "invalid magic: 0xa1")
            await one(b"\xa2\x02\x00\x00", "unsupported version: 0x02")
            await one(message(PING, b"x" * 257), "payload too large: 257 > 256")
        run(body())
        check_eq(proxy.metric("l2_frames_dropped_total"), 4.0, "dropped messages")
    finally:
        proxy.stop()


@case("tunnel")
def oversize_messages_are_refused_by_the_websocket_layer():
    proxy = Proxy(OPEN_ENV)
    try:
        async def body():
            ws = await proxy.connect()
            await ws.send(message(FRAME, bytes(2048)))  # the largest FRAME passes
            await round_trip_ping(ws)
            await ws.send(message(FRAME, bytes(2049)))  # 2053 > 4 + 2048
            await expect_close(ws, 1009)
        run(body())
    finally:
        proxy.stop()
    proxy = Proxy(OPEN_ENV | {"AERO_L2_MAX_FRAME_PAYLOAD": "4000", "AERO_L2_MAX_CONTROL_PAYLOAD": "16"})
    try:
        async def limits():
            ws = await proxy.connect()
            await ws.send(message(FRAME, bytes(4000)))
            await round_trip_ping(ws)
            await ws.send(message(PING, bytes(17)))
            seen = await expect_close(ws, 1008, "payload too large: 17 > 16")
            check_eq(parse_error([m for m in seen if m[2] == ERROR][0])[0], 1, "ERROR code")
            ws = await proxy.connect()
            await ws.send(message(FRAME, bytes(4001)))
            await expect_close(ws, 1009)
        run(limits())
    finally:
        proxy.stop()


# ---- quotas ----------------------------------------------------------------------------------

@case("quotas")
def byte_quota():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_MAX_BYTES_PER_CONNECTION": "400"})
    try:
        async def body():
            ws = await proxy.connect()
            closed = False
            seen = []
            for i in range(100):
                try:
                    await ws.send(message(PING, struct.pack(">Q", i)))
                except websockets.exceptions.ConnectionClosed:
                    break
            seen = await expect_close(ws, 1008, "byte quota exceeded")
            errors = [m for m in seen if isinstance(m, bytes) and m[2] == ERROR]
            check_eq(len(errors), 1, "one ERROR")
            check_eq(parse_error(errors[0]), (6, "byte quota exceeded"), "ERROR payload")
        run(body())
        check_eq(proxy.metric("l2_sessions_closed_quota_bytes_total"), 1.0, "quota_bytes metric")
    finally:
        proxy.stop()


@case("quotas")
def frame_rate_quota():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_MAX_FRAMES_PER_SECOND": "5"})
    try:
        async def body():
            ws = await proxy.connect()
            for i in range(20):
                try:
                    await ws.send(message(PING, struct.pack(">Q", i)))
                except websockets.exceptions.ConnectionClosed:
                    break
            seen = await expect_close(ws, 1008, "frame rate quota exceeded")
            errors = [m for m in seen if isinstance(m, bytes) and m[2] == ERROR]
            check_eq(parse_error(errors[0]), (7, "frame rate quota exceeded"), "ERROR payload")
            pongs = [m for m in seen if isinstance(m, bytes) and m[2] == PONG]
            check(len(pongs) <= 5, f"at most 5 messages answered, got {len(pongs)}")
        run(body())
        check_eq(proxy.metric("l2_sessions_closed_quota_fps_total"), 1.0, "quota_fps metric")
    finally:
        proxy.stop()


# ---- idle timeout ----------------------------------------------------------------------------

@case("idle")
def idle_timeout():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_IDLE_TIMEOUT_MS": "1500"})
    try:
        async def body():
            ws = await proxy.connect()
            # Inbound keepalives hold it open well past the timeout...
            for i in range(12):
                await round_trip_ping(ws, i)
                await asyncio.sleep(0.25)
            # ...silence closes it, with no ERROR first.
            seen = await expect_close(ws, 1008, "idle timeout", timeout=10)
            check(not [m for m in seen if isinstance(m, bytes) and m[2] == ERROR], "no ERROR before the idle close")
        run(body())
        check_eq(proxy.metric("aero_l2_idle_timeouts_total"), 1.0, "idle metric")
    finally:
        proxy.stop()


# ---- slow clients ----------------------------------------------------------------------------

def udp_blaster(port_holder, stop, size=1400):
    """Answers the first datagram's sender with a stream of datagrams until stopped."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port_holder.append(sock.getsockname()[1])
    sock.settimeout(5)
    try:
        _, peer = sock.recvfrom(2048)
    except socket.timeout:
        return
    payload = bytes(size)
    sent = 0
    while not stop.is_set() and sent < 200000:
        try:
            sock.sendto(struct.pack(">I", sent) + payload, peer)
            sent += 1
        except OSError:
            time.sleep(0.001)
        if sent % 64 == 0:
            time.sleep(0.0005)
    sock.close()


def small_buffer_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    return s


async def guest_udp_flow(ws, guest):
    """A DHCP lease, then a datagram to 203.0.113.7:7 (forwarded to the blaster)."""
    await guest.dhcp(ws)
    await ws.send(message(FRAME, guest.udp_frame("203.0.113.7", 40000, 7, b"start")))


@case("backpressure")
def slow_client_pauses_host_reads_and_is_never_closed():
    holder, stop = [], threading.Event()
    thread = threading.Thread(target=udp_blaster, args=(holder, stop), daemon=True)
    thread.start()
    while not holder:
        time.sleep(0.01)
    proxy = Proxy(OPEN_ENV | {"AERO_L2_UDP_FORWARD": f"203.0.113.7:7=127.0.0.1:{holder[0]}",
                              "AERO_L2_WS_SEND_BUFFER": "8"})
    try:
        async def body():
            ws = await proxy.connect(sock=small_buffer_socket(proxy.port), max_queue=1, read_limit=4096)
            guest = g.Guest()
            await guest_udp_flow(ws, guest)
            # Stop reading for a while: the client's and the proxy's socket buffers fill up.
            await asyncio.sleep(2.0)
            pauses = proxy.metric("aero_l2_backpressure_pauses_total")
            # Read again: frames flow, the tunnel is alive.
            got = 0
            deadline = time.monotonic() + 10
            while got < 200 and time.monotonic() < deadline:
                data = await asyncio.wait_for(ws.recv(), 5)
                if data[2] == FRAME:
                    got += 1
            stop.set()
            await round_trip_ping(ws)
            # Drain what is left (this client queues one message only), then close.
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                pass
            await ws.close()
            return pauses, got
        pauses, got = run(body())
        check(pauses >= 1, f"the proxy paused host reads ({pauses})")
        check(got >= 200, f"frames after the pause ({got})")
        m = proxy.metrics()
        check_eq(m['aero_l2_frames_dropped_by_reason_total{reason="send_queue_full"}'], 0.0,
                 "no frame dropped for the slow client")
        check_eq(m["l2_sessions_closed_backpressure_total"], 0.0, "the slow client was not closed")
    finally:
        stop.set()
        proxy.stop()
        thread.join()


@case("backpressure")
def stalled_client_is_closed_after_the_backpressure_timeout():
    holder, stop = [], threading.Event()
    thread = threading.Thread(target=udp_blaster, args=(holder, stop), daemon=True)
    thread.start()
    while not holder:
        time.sleep(0.01)
    proxy = Proxy(OPEN_ENV | {"AERO_L2_UDP_FORWARD": f"203.0.113.7:7=127.0.0.1:{holder[0]}",
                              "AERO_L2_WS_SEND_BUFFER": "8", "AERO_L2_BACKPRESSURE_TIMEOUT_MS": "1000"})
    try:
        async def body():
            ws = await proxy.connect(sock=small_buffer_socket(proxy.port), max_queue=1, read_limit=4096)
            await guest_udp_flow(ws, g.Guest())
            deadline = time.monotonic() + 20
            while proxy.metric("l2_sessions_closed_backpressure_total") < 1:
                check(time.monotonic() < deadline, "the stalled client was not closed")
                await asyncio.sleep(0.2)
            stop.set()
            # Draining what arrived, the client sees the connection end.
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.exceptions.ConnectionClosed:
                pass
        run(body())
        deadline = time.monotonic() + 10
        while proxy.metric("l2_sessions_active") != 0:
            check(time.monotonic() < deadline, "the stalled tunnel did not end")
            time.sleep(0.1)
    finally:
        stop.set()
        proxy.stop()
        thread.join()


# ---- shutdown --------------------------------------------------------------------------------

@case("shutdown")
def graceful_shutdown():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_SHUTDOWN_DRAIN_MS": "1500", "AERO_L2_SHUTDOWN_GRACE_MS": "3000"})

    async def body():
        ws = await proxy.connect()
        await round_trip_ping(ws)
        proxy.signal(signal.SIGTERM)
        # During the drain period: not ready, upgrades refused, the tunnel still works.
        deadline = time.monotonic() + 5
        while proxy.get("/readyz")[0] != 503:
            check(time.monotonic() < deadline, "/readyz never answered 503")
            await asyncio.sleep(0.05)
        check_eq(proxy.get("/readyz")[1], b"shutting down\n", "/readyz body")
        check_eq(proxy.get("/healthz")[0], 200, "/healthz while draining")
        status, text = upgrade_request(proxy, origin=proxy.origin)
        check_eq((status, text), (503, "shutting down"), "upgrade while draining")
        await round_trip_ping(ws, 2)
        seen = await expect_close(ws, 1001, "shutting down", timeout=10)
        check(not [m for m in seen if isinstance(m, bytes) and m[2] == ERROR], "no ERROR before 1001")
    try:
        run(body())
    finally:
        proxy.stop()
    events = [e["event"] for e in proxy.log_events()]
    for event in ["listening", "tunnel_open", "shutdown_started", "tunnel_closed", "stopped"]:
        check(event in events, f"log event {event} missing: {events}")


@case("shutdown")
def shutdown_gives_up_after_the_grace_period():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_SHUTDOWN_GRACE_MS": "500"})
    # A client that completes the upgrade and then never reads nor answers the close.
    s = socket.create_connection(("127.0.0.1", proxy.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /l2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n").encode())
    check(s.recv(4096).startswith(b"HTTP/1.1 101"), "upgrade")
    started = time.monotonic()
    proxy.stop(timeout=10)
    s.close()
    check(time.monotonic() - started < 8, "the proxy waited past its grace period")


@case("shutdown")
def second_signal_forces_the_end():
    proxy = Proxy(OPEN_ENV | {"AERO_L2_SHUTDOWN_DRAIN_MS": "60000"})
    proxy.signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while proxy.get("/readyz")[0] != 503:
        check(time.monotonic() < deadline, "/readyz never answered 503")
        time.sleep(0.05)
    proxy.signal(signal.SIGTERM)  # the second one forces the end
    proxy.stop(timeout=5)


# ---- a guest behind the tunnel ---------------------------------------------------------------

def udp_echo_server(holder, stop):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    holder.append(sock.getsockname()[1])
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(4096)
            sock.sendto(data.upper(), peer)
        except socket.timeout:
            pass
    sock.close()


def tcp_echo_server(holder, stop):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    holder.append(server.getsockname()[1])
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        conn.settimeout(5)
        try:
            while data := conn.recv(4096):
                conn.sendall(data[::-1])
        except OSError:
            pass
        conn.close()
    server.close()


@case("guest")
def dhcp_arp_ping_dns_udp_tcp_through_the_tunnel():
    stop = threading.Event()
    udp_port, tcp_port = [], []
    threads = [threading.Thread(target=udp_echo_server, args=(udp_port, stop), daemon=True),
               threading.Thread(target=tcp_echo_server, args=(tcp_port, stop), daemon=True)]
    for t in threads:
        t.start()
    while not udp_port or not tcp_port:
        time.sleep(0.01)
    proxy = Proxy(OPEN_ENV | {"AERO_L2_DNS_A": "echo.test=203.0.113.10",
                              "AERO_L2_UDP_FORWARD": f"203.0.113.7:7=127.0.0.1:{udp_port[0]}",
                              "AERO_L2_TCP_FORWARD": f"203.0.113.8:80=127.0.0.1:{tcp_port[0]}",
                              "AERO_L2_ALLOWED_TCP_PORTS": "80"})
    try:
        async def body():
            ws = await proxy.connect()
            guest = g.Guest()
            lease = await guest.dhcp(ws)
            check_eq(lease["address"], "10.0.2.15", "leased address")
            check_eq(lease["router"], "10.0.2.2", "router option")
            check_eq(lease["dns"], "10.0.2.2", "DNS option")
            check_eq(await guest.arp(ws, "10.0.2.2"), "02:00:00:00:00:01", "gateway MAC")
            for seq in range(3):
                await guest.ping(ws, "10.0.2.2", seq)
            check_eq(await guest.dns_a(ws, "echo.test"), "203.0.113.10", "DNS answer")
            check_eq(await guest.udp_exchange(ws, "203.0.113.7", 7, b"hello udp"), b"HELLO UDP", "UDP echo")
            check_eq(await guest.tcp_exchange(ws, "203.0.113.8", 80, b"hello tcp"), b"pct olleh", "TCP echo")
            # A port outside the allowlist is refused with a reset.
            check(await guest.tcp_refused(ws, "203.0.113.8", 81), "denied TCP port answered with RST")
            await ws.close()
        run(body())
        # The tunnel's last counters are folded into the totals when the proxy has torn it down,
        # which may be a moment after the client saw the close: wait for that (bounded).
        deadline = time.monotonic() + 5
        m = proxy.metrics()
        while (m["l2_sessions_active"] != 0 or m["l2_tcp_conns_active"] != 0) and time.monotonic() < deadline:
            time.sleep(0.05)
            m = proxy.metrics()
        check(m["l2_frames_rx_total"] >= 10, "frames from the guest counted")
        check(m["l2_frames_tx_total"] >= 10, "frames to the guest counted")
        check(m["l2_bytes_rx_total"] > 0 and m["l2_bytes_tx_total"] > 0, "bytes counted")
        check(m["l2_dns_queries_total"] >= 1, "DNS metric")
        check(m["l2_policy_denied_total"] >= 1, "policy denial metric")
        check_eq(m["l2_tcp_conns_active"], 0.0, "TCP gauge back to 0")
    finally:
        stop.set()
        proxy.stop()
        for t in threads:
            t.join()


@case("guest")
def one_session_per_tunnel():
    proxy = Proxy(OPEN_ENV)
    try:
        async def body():
            a, b = await proxy.connect(), await proxy.connect()
            ga, gb = g.Guest(mac="52:54:00:00:00:0a"), g.Guest(mac="52:54:00:00:00:0b")
            # Each tunnel has its own DHCP server: both get the first address.
            check_eq((await ga.dhcp(a))["address"], "10.0.2.15", "first tunnel's lease")
            check_eq((await gb.dhcp(b))["address"], "10.0.2.15", "second tunnel's lease")
            await a.close()
            await b.close()
        run(body())
        check_eq(proxy.metric("l2_sessions_total"), 2.0, "two sessions")
    finally:
        proxy.stop()


@case("capture")
def pcapng_capture_read_by_tshark():
    tshark = shutil.which("tshark")
    check(tshark is not None, "tshark is needed (scripts/install-deps.sh installs it)")
    directory = tempfile.mkdtemp()
    try:
        proxy = Proxy(OPEN_ENV | {"AERO_L2_CAPTURE_DIR": directory + "/captures"})
        try:
            async def body():
                ws = await proxy.connect()
                await g.Guest().dhcp(ws)
                await ws.close()
            run(body())
            deadline = time.monotonic() + 5
            while proxy.metric("l2_sessions_active") != 0:
                check(time.monotonic() < deadline, "tunnel did not end")
                time.sleep(0.05)
            check(proxy.metric("l2_capture_frames_total") >= 5, "capture metric")
        finally:
            proxy.stop()
        files = os.listdir(directory + "/captures")
        check_eq(len(files), 1, "one capture file per tunnel")
        check(files[0].endswith("-session-1.pcapng") and len(files[0].split("-")[0]) == 13, f"file name {files[0]}")
        result = subprocess.run([tshark, "-r", os.path.join(directory, "captures", files[0]), "-Y", "dhcp",
                                 "-T", "fields", "-e", "dhcp.option.dhcp", "-e", "frame.p2p_dir"],
                                capture_output=True, text=True, timeout=60)
        check_eq(result.returncode, 0, f"tshark exit status ({result.stderr})")
        rows = [line.split("\t") for line in result.stdout.splitlines() if line.strip()]
        # DHCP message types 1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK; p2p_dir 1 = received (inbound).
        check_eq([r[0] for r in rows], ["1", "2", "3", "5"], "the DHCP exchange")
        check_eq([r[1] for r in rows], ["1", "0", "1", "0"], "directions")
        result = subprocess.run([tshark, "-r", os.path.join(directory, "captures", files[0]), "-q", "-z", "io,phs"],
                                capture_output=True, text=True, timeout=60)
        check("eth" in result.stdout, "tshark reads the Ethernet link type")
    finally:
        shutil.rmtree(directory)


def main():
    global PROXY_BINARY
    if len(sys.argv) < 3 or sys.argv[2] not in CASES:
        print(f"usage: {sys.argv[0]} PROXY GROUP [CASE...]; groups: {', '.join(CASES)}")
        return 2
    PROXY_BINARY = sys.argv[1]
    selected = [c for c in CASES[sys.argv[2]] if len(sys.argv) == 3 or c.__name__ in sys.argv[3:]]
    failures = 0
    for test in selected:
        started = time.monotonic()
        try:
            test()
            print(f"PASS {test.__name__} ({time.monotonic() - started:.2f} s)", flush=True)
        except Exception as error:  # noqa: BLE001 - report every failure and go on
            failures += 1
            print(f"FAIL {test.__name__}: {type(error).__name__}: {error}", flush=True)
    print(f"{len(selected) - failures}/{len(selected)} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
