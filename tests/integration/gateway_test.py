#!/usr/bin/python3
"""aero-gateway against clients we did not write: curl for the HTTP routes and Debian's
python3-websockets for /tcp; dnsmasq on a loopback port as the DNS upstream.

Usage: gateway_test.py GATEWAY_BINARY L2_PROXY_BINARY GROUP [CASE...]

Groups: http, session, tcp, ssrf, dns, tls, proxy. Each case starts its own gateway (127.0.0.1, port 0) with
the environment it needs and stops it with SIGTERM, checking that it exits 0. Session cookies
are checked with Python's own hmac, so the gateway's minting is checked against an independent
implementation; aero-l2-proxy must accept the gateway's cookie with the same secret.
The tls group makes a self-signed certificate with `openssl req -x509` and uses curl (HTTPS and
curl's own DoH client, --doh-url) and python3-websockets (wss://) against TLS_ENABLED=1. The
proxy group runs the relay modes (--dev-proxy, --token-mux) with python3-websockets.
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
import ssl
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import websockets
import websockets.exceptions

SECRET = "gateway-test-secret"
GATEWAY = None
L2_PROXY = None
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_ready_line(process, prefix, timeout=10):
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or process.poll() is not None:
            break
        ready, _, _ = select.select([process.stdout], [], [], left)
        if ready:
            chunk = os.read(process.stdout.fileno(), 1)
            if not chunk:
                break
            data += chunk
    line = data.decode(errors="replace").strip()
    check(line.startswith(prefix), f"no ready line, got {line!r}")
    return line.split()[1]


class Gateway:
    def __init__(self, env=None, args=(), cacert=None):
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "AERO_GATEWAY_SESSION_SECRET": SECRET,
                    "DNS_UPSTREAMS": "127.0.0.1:9"}
        full_env.update(env or {})
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen([GATEWAY, "--bind", "127.0.0.1:0", "--ready-stdout", *args],
                                        env=full_env, stdout=subprocess.PIPE, stderr=self.stderr)
        try:
            self.url = read_ready_line(self.process, "AERO_GATEWAY_READY http")
        except Failure as error:
            raise Failure(f"{error}: {self.logs()}")
        self.port = int(self.url.rsplit(":", 1)[1])
        self.scheme = self.url.split(":", 1)[0]
        self.cacert = cacert  # the certificate curl and websockets trust with TLS
        self.origin = "http://localhost:8080"  # PUBLIC_BASE_URL's default origin

    def logs(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self, timeout=15, expect=0):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise Failure("the gateway did not stop after SIGTERM")
        check(code == expect, f"gateway exit status {code}; its log ends with:\n{self.logs()[-3000:]}")

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.stop()
        elif self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def session_cookie(self):
        status, headers, _ = curl(self, "/session", "-X", "POST")
        check_eq(status, 201, "POST /session")
        cookie = headers["set-cookie"][0].split(";")[0]
        check(cookie.startswith("aero_session="), f"cookie {cookie!r}")
        return cookie

    def metric(self, series):
        _, _, body = curl(self, "/metrics")
        for line in body.decode().splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def curl(gateway, path, *args, data=None):
    """curl -i; returns (status, {lowercase header: [values]}, body bytes)."""
    command = ["curl", "-s", "-i", "--max-time", "10", *args]
    if gateway.cacert:
        command += ["--cacert", gateway.cacert]
    if data is not None:
        command += ["--data-binary", "@-"]
    command.append(f"{gateway.scheme}://127.0.0.1:{gateway.port}{path}")
    result = subprocess.run(command, input=data, capture_output=True, timeout=20)
    check(result.returncode == 0, f"curl failed ({result.returncode}): {result.stderr.decode()}")
    raw = result.stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def raw_request(port, request_head, timeout=5):
    """Sends a raw request (head without the final blank line) and returns (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall((request_head + "\r\n\r\n").encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers, body


def upgrade_status(gateway, path, cookie=None, origin=None, extra=(), handshake=True):
    """A raw upgrade request; returns (status, body text, headers)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{gateway.port}"]
    if handshake:
        lines += ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                  "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode()]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if origin:
        lines.append(f"Origin: {origin}")
    lines += list(extra)
    status_line, headers, body = raw_request(gateway.port, "\r\n".join(lines))
    return int(status_line.split()[1]), body.decode(errors="replace"), headers, status_line


def cookie_payload(cookie):
    token = cookie.split("=", 1)[1]
    payload_b64, sig_b64 = token.split(".")
    expected = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), payload_b64.encode(), hashlib.sha256).digest())
    check_eq(sig_b64, expected.decode().rstrip("="), "cookie signature (independent HMAC)")
    return json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))


# ---- loopback helpers ------------------------------------------------------------------------

class TcpServer:
    """A loopback TCP server running `handler(conn)` per connection on threads; counts accepts."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.handler = handler
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def echo_handler(conn):
    conn.settimeout(30)
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


class Dnsmasq:
    """dnsmasq on a loopback port answering fixed names only."""

    def __init__(self, *addresses):
        if not os.path.exists("/usr/sbin/dnsmasq"):
            raise Failure("needs dnsmasq (scripts/install-deps.sh installs dnsmasq-base)")
        self.port = free_port()
        args = ["/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={self.port}", "--user=root",
                "--local-ttl=60"]
        args += [f"--address=/{name}/{address}" for name, address in addresses]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Ready once it answers.
        for _ in range(50):
            if self.query_ok():
                return
            time.sleep(0.1)
        raise Failure("dnsmasq did not start")

    def query_ok(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(dns_query("probe.invalid", 1, 7), ("127.0.0.1", self.port))
                s.recv(512)
                return True
            except OSError:
                return False

    def upstream(self):
        return f"127.0.0.1:{self.port}"

    def close(self):
        self.process.terminate()
        self.process.wait(5)


def dns_query(name, qtype, qid=0x1234, flags=0x0100):
    message = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0)
    for label in name.split("."):
        message += bytes([len(label)]) + label.encode()
    return message + b"\x00" + struct.pack("!HH", qtype, 1)


def dns_answers(message):
    """(id, rcode, [A/AAAA rdata as text]) of a response, parsed here independently."""
    qid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", message[:12])
    offset = 12

    def skip_name(offset):
        while True:
            length = message[offset]
            if length == 0:
                return offset + 1
            if length & 0xC0 == 0xC0:
                return offset + 2
            offset += 1 + length

    for _ in range(qd):
        offset = skip_name(offset) + 4
    addresses = []
    for _ in range(an):
        offset = skip_name(offset)
        rtype, _, _, rdlength = struct.unpack("!HHIH", message[offset:offset + 10])
        offset += 10
        rdata = message[offset:offset + rdlength]
        offset += rdlength
        if rtype == 1:
            addresses.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            addresses.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return qid, flags & 0xF, addresses


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def ws_connect(gateway, query, cookie, origin=None, **kwargs):
    headers = [("Cookie", cookie)]
    return await websockets.connect(f"ws://127.0.0.1:{gateway.port}/tcp?{query}", extra_headers=headers,
                                    origin=origin, open_timeout=5, close_timeout=5, max_size=None, **kwargs)


async def expect_close(ws, timeout=10):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.exceptions.ConnectionClosed as closed:
        return closed.code, closed.reason


# ---- http ------------------------------------------------------------------------------------

@case("http")
def health_version_and_security_headers():
    with Gateway({"AERO_GATEWAY_VERSION": "1.2.3", "GIT_SHA": "abc", "BUILD_TIMESTAMP": "t0"}) as gw:
        status, headers, body = curl(gw, "/healthz", "-H", "x-request-id: req-42")
        check_eq((status, json.loads(body)), (200, {"ok": True}), "/healthz")
        check_eq(headers["x-request-id"], ["req-42"], "x-request-id echoed")
        for name, value in [("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer"),
                            ("x-frame-options", "DENY"),
                            ("permissions-policy", "camera=(), geolocation=(), microphone=(self), usb=(self)")]:
            check_eq(headers.get(name), [value], name)
        status, headers, _ = curl(gw, "/readyz")
        check_eq(status, 200, "/readyz")
        check(len(headers["x-request-id"][0]) == 36, "a generated request id is a UUID")
        status, _, body = curl(gw, "/version")
        check_eq(json.loads(body), {"version": "1.2.3", "gitSha": "abc", "builtAt": "t0"}, "/version")
        status, headers, body = curl(gw, "/metrics")
        check_eq(headers["content-type"], ["text/plain; version=0.0.4; charset=utf-8"], "metrics content type")
        check('http_requests_total{method="GET",route="/healthz",status_code="200"} 1' in body.decode(),
              "http_requests_total counts /healthz")
        status, _, body = curl(gw, "/nope")
        check_eq((status, json.loads(body)["error"]), (404, "not_found"), "unknown route")
        status, _, body = curl(gw, "/healthz?" + "a" * 9000)
        check_eq((status, json.loads(body)["error"]), (414, "url_too_long"), "long URL")


@case("http")
def cors_and_origin_guard():
    with Gateway({"ALLOWED_ORIGINS": "https://app.example, http://localhost:8080",
                  "CROSS_ORIGIN_ISOLATION": "1"}) as gw:
        status, headers, _ = curl(gw, "/session", "-X", "OPTIONS", "-H", "Origin: https://APP.example:443",
                                  "-H", "Access-Control-Request-Method: POST",
                                  "-H", "Access-Control-Request-Headers: x-custom")
        check_eq(status, 204, "preflight")
        check_eq(headers.get("access-control-allow-origin"), ["https://app.example"], "normalised origin echoed")
        check_eq(headers.get("access-control-allow-credentials"), ["true"], "credentials")
        check_eq(headers.get("access-control-allow-headers"), ["Content-Type, x-custom"], "allow headers")
        check_eq(headers.get("access-control-max-age"), ["600"], "max age")
        check_eq(headers.get("vary"), ["Origin"], "vary")
        check_eq(headers.get("cross-origin-opener-policy"), ["same-origin"], "COOP")
        check_eq(headers.get("cross-origin-embedder-policy"), ["require-corp"], "COEP")
        status, _, body = curl(gw, "/healthz", "-H", "Origin: https://evil.example")
        check_eq((status, json.loads(body)), (403, {"error": "forbidden", "message": "Origin not allowed"}),
                 "foreign origin")
        status_line, _, _ = raw_request(gw.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
                                                 "Origin: https://app.example\r\nConnection: close")
        check_eq(status_line.split()[1], "403", "repeated Origin")


@case("http")
def rate_limit_per_ip():
    with Gateway({"RATE_LIMIT_REQUESTS_PER_MINUTE": "2"}) as gw:
        statuses = [curl(gw, "/version")[0] for _ in range(3)]
        check_eq(statuses, [200, 200, 429], "third request in a minute")
        check_eq(curl(gw, "/healthz")[0], 200, "/healthz is exempt")


@case("http")
def configuration_errors_name_the_variable():
    for env, name in [({"PORT": "70000"}, "PORT"), ({"DNS_UPSTREAMS": "https://dns.example/dns-query"}, "DNS_UPSTREAMS"),
                      ({"DNS_UPSTREAMS": "::1:53"}, "DNS_UPSTREAMS"), ({"ALLOWED_ORIGINS": "ftp://x"}, "ALLOWED_ORIGINS"),
                      ({"TCP_ALLOWED_PORTS": "0"}, "TCP_ALLOWED_PORTS"), ({"TCP_ALLOWED_HOSTS": "a*.b"}, "TCP_ALLOWED_HOSTS"),
                      ({"UDP_RELAY_BASE_URL": "https://relay", "UDP_RELAY_AUTH_MODE": "jwt"}, "UDP_RELAY_JWT_SECRET"),
                      ({"SESSION_COOKIE_SAMESITE": "sometimes"}, "SESSION_COOKIE_SAMESITE")]:
        result = subprocess.run([GATEWAY, "--check-config"], env={"PATH": "/usr/bin:/bin", **env},
                                capture_output=True, timeout=10)
        check_eq(result.returncode, 2, f"exit status for {env}")
        check(name in result.stderr.decode(), f"{env}: message names {name}: {result.stderr.decode()!r}")
    result = subprocess.run([GATEWAY, "--help"], capture_output=True, timeout=10)
    check(result.returncode == 0 and b"TCP_PROXY_MAX_CONNECTIONS" in result.stdout, "--help lists the variables")


@case("http")
def graceful_shutdown_drains():
    target = TcpServer(echo_handler)
    gw = Gateway({"TCP_ALLOW_PRIVATE_IPS": "1"})
    try:
        cookie = gw.session_cookie()
        # A raw WebSocket client that never reads: its relay stays open until the close times out.
        s = socket.create_connection(("127.0.0.1", gw.port))
        s.sendall((f"GET /tcp?host=127.0.0.1&port={target.port} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                   f"{base64.b64encode(os.urandom(16)).decode()}\r\nCookie: {cookie}\r\n\r\n").encode())
        check(b" 101 " in s.recv(4096), "relay opened")
        gw.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, _, body = curl(gw, "/readyz")
        check_eq((status, json.loads(body)), (503, {"ok": False}), "/readyz while draining")
        status, text, _, _ = upgrade_status(gw, f"/tcp?host=127.0.0.1&port={target.port}", cookie)
        check_eq(status, 503, "upgrade while draining")
        # No second signal: the relay ends when its close handshake times out (5 s), then the
        # process exits 0 within SHUTDOWN_GRACE_MS.
        code = gw.process.wait(15)
        check_eq(code, 0, "exit status after draining")
        s.close()
    finally:
        if gw.process.poll() is None:
            gw.process.kill()
        target.close()


# ---- session ---------------------------------------------------------------------------------

@case("session")
def session_cookie_and_body():
    with Gateway({"SESSION_TTL_SECONDS": "120", "PUBLIC_BASE_URL": "https://gw.example/base/"}) as gw:
        status, headers, body = curl(gw, "/session", "-X", "POST", "-H", "Content-Type: application/json",
                                     data=b'{"clientVersion":"1"}')
        check_eq(status, 201, "POST /session")
        check_eq(headers.get("cache-control"), ["no-store"], "no-store")
        cookie_header = headers["set-cookie"][0]
        parts = [p.strip() for p in cookie_header.split(";")]
        check_eq(parts[1:], ["Max-Age=120", "Path=/", "HttpOnly", "SameSite=Lax"], "cookie attributes")
        claims = cookie_payload(parts[0])
        check_eq(list(claims), ["v", "sid", "exp"], "payload key order")
        check(abs(claims["exp"] - (time.time() + 120)) < 5, "exp = now + TTL")
        doc = json.loads(body)
        check_eq(doc["endpoints"], {"tcp": "/base/tcp", "tcpMux": "/base/tcp-mux", "dnsQuery": "/base/dns-query",
                                    "dnsJson": "/base/dns-json", "l2": "/base/l2",
                                    "udpRelayToken": "/base/udp-relay/token"}, "endpoints under the base path")
        check_eq(doc["limits"]["tcp"], {"maxConnections": 64, "maxMessageBytes": 1048576, "connectTimeoutMs": 10000,
                                        "idleTimeoutMs": 300000}, "tcp limits")
        check("udpRelay" not in doc, "no udpRelay without UDP_RELAY_BASE_URL")
        # Re-issue keeps the sid; the routes answer under the base path too.
        status, headers, _ = curl(gw, "/base/session", "-X", "POST", "-H", f"Cookie: {parts[0]}")
        check_eq(status, 201, "POST /base/session")
        check_eq(cookie_payload(headers["set-cookie"][0].split(";")[0])["sid"], claims["sid"], "re-issued sid")
        status, _, body = curl(gw, "/session", "-X", "POST", data=b"[1,2]")
        check_eq((status, json.loads(body)["error"]), (400, "bad_request"), "non-object body")


@case("session")
def secure_cookie_behind_trusted_proxy():
    with Gateway({"TRUST_PROXY": "1", "SESSION_COOKIE_SAMESITE": "None"}) as gw:
        _, headers, _ = curl(gw, "/session", "-X", "POST", "-H", "X-Forwarded-Proto: HTTPS, http")
        check(headers["set-cookie"][0].endswith("; SameSite=None; Secure"), headers["set-cookie"][0])
        _, headers, _ = curl(gw, "/session", "-X", "POST", "-H", "X-Forwarded-Proto: http")
        check("Secure" not in headers["set-cookie"][0], "no Secure over http")
    with Gateway() as gw:
        _, headers, _ = curl(gw, "/session", "-X", "POST", "-H", "X-Forwarded-Proto: https")
        check("Secure" not in headers["set-cookie"][0], "X-Forwarded-Proto ignored without TRUST_PROXY")


@case("session")
def l2_proxy_accepts_the_gateway_cookie():
    with Gateway() as gw:
        cookie = gw.session_cookie()
    env = {"PATH": "/usr/bin:/bin", "AERO_L2_AUTH_MODE": "session", "AERO_L2_SESSION_SECRET": SECRET,
           "AERO_L2_WORKER_THREADS": "1"}
    proxy = subprocess.Popen([L2_PROXY, "--bind", "127.0.0.1:0", "--ready-stdout"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = read_ready_line(proxy, "AERO_L2_PROXY_READY ws://")
        port = int(url.rsplit(":", 1)[1].split("/")[0])

        async def attempt(cookie_value):
            try:
                ws = await websockets.connect(url, subprotocols=["aero-l2-tunnel-v1"], origin=f"http://127.0.0.1:{port}",
                                              extra_headers=[("Cookie", cookie_value)], open_timeout=5)
            except websockets.exceptions.InvalidStatusCode as error:
                return error.status_code
            await ws.close()
            return 101
        check_eq(run(attempt(cookie)), 101, "aero-l2-proxy with the gateway's cookie")
        forged = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
        check_eq(run(attempt(forged)), 401, "aero-l2-proxy with a forged cookie")
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(10)


@case("session")
def udp_relay_token():
    with Gateway() as gw:
        status, _, body = curl(gw, "/udp-relay/token", "-X", "POST")
        check_eq((status, json.loads(body)["error"]), (404, "not_found"), "relay not configured")
    env = {"UDP_RELAY_BASE_URL": "wss://relay.example/", "UDP_RELAY_AUTH_MODE": "jwt",
           "UDP_RELAY_JWT_SECRET": "jwt-secret", "UDP_RELAY_AUDIENCE": "aud1"}
    with Gateway(env) as gw:
        status, headers, body = curl(gw, "/session", "-X", "POST", "-H", f"Origin: {gw.origin}")
        doc = json.loads(body)
        check_eq(doc["udpRelay"]["baseUrl"], "wss://relay.example", "udpRelay.baseUrl")
        check_eq(doc["udpRelay"]["endpoints"]["udp"], "/udp", "udpRelay.endpoints")
        cookie = headers["set-cookie"][0].split(";")[0]
        sid = cookie_payload(cookie)["sid"]
        check_eq(curl(gw, "/udp-relay/token", "-X", "POST", "-H", f"Cookie: {cookie}")[0], 403, "no Origin")
        check_eq(curl(gw, "/udp-relay/token", "-X", "POST", "-H", f"Origin: {gw.origin}")[0], 401, "no cookie")
        statuses = []
        for _ in range(6):
            status, _, body = curl(gw, "/udp-relay/token", "-X", "POST", "-H", f"Cookie: {cookie}",
                                   "-H", f"Origin: {gw.origin}")
            statuses.append(status)
            if status == 200:
                token = json.loads(body)["token"]
        check_eq(statuses, [200] * 5 + [429], "burst of 5 per session")
        header_b64, payload_b64, sig_b64 = token.split(".")
        expected = base64.urlsafe_b64encode(hmac.new(b"jwt-secret", f"{header_b64}.{payload_b64}".encode(),
                                                     hashlib.sha256).digest()).decode().rstrip("=")
        check_eq(sig_b64, expected, "JWT signature (independent HMAC)")
        claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
        check_eq((claims["sid"], claims["origin"], claims["aud"], claims["exp"] - claims["iat"]),
                 (sid, gw.origin, "aud1", 300), "JWT claims")


# ---- tcp -------------------------------------------------------------------------------------

@case("tcp")
def echo_both_query_forms():
    target = TcpServer(echo_handler)
    try:
        with Gateway({"TCP_ALLOW_PRIVATE_IPS": "1"}) as gw:
            cookie = gw.session_cookie()

            async def scenario():
                # target= wins over host/port when both are present.
                for query in (f"v=1&host=127.0.0.1&port={target.port}", f"target=127.0.0.1:{target.port}",
                              f"target=127.0.0.1:{target.port}&host=192.0.2.1&port=1"):
                    ws = await ws_connect(gw, query, cookie, origin=gw.origin)
                    payload = os.urandom(200000)
                    await ws.send(payload)
                    received = b""
                    while len(received) < len(payload):
                        received += await asyncio.wait_for(ws.recv(), 10)
                    check_eq(hashlib.sha256(received).hexdigest(), hashlib.sha256(payload).hexdigest(), query)
                    await ws.close()
                    check_eq(ws.close_code, 1000, "client close echoed")
            run(scenario())
            check(gw.metric('aero_gateway_tcp_bytes_total{direction="to_target"}') >= 400000, "bytes counted")
    finally:
        target.close()


@case("tcp")
def rejections_in_order():
    target = TcpServer(echo_handler)
    try:
        env = {"TCP_ALLOW_PRIVATE_IPS": "1", "TCP_ALLOWED_PORTS": f"{target.port},1",
               "TCP_ALLOWED_HOSTS": "127.0.0.1,*.allowed.test,nxdomain.test",
               "TCP_BLOCKED_HOSTS": "bad.allowed.test", "TCP_PROXY_MAX_CONNECTIONS": "1"}
        with Gateway(env) as gw:
            cookie = gw.session_cookie()
            good = f"/tcp?host=127.0.0.1&port={target.port}"
            table = [
                # (what, path, cookie, origin, handshake, status, message)
                ("not a WebSocket upgrade", good, cookie, None, False, 400, "Invalid WebSocket upgrade"),
                ("handshake before cookie", good, None, None, False, 400, "Invalid WebSocket upgrade"),
                ("no cookie", good, None, None, True, 401, "Missing or invalid session"),
                ("forged cookie", good, cookie[:-2] + "xx", None, True, 401, "Missing or invalid session"),
                ("cookie before origin", good, None, "https://evil.example", True, 401, None),
                ("foreign Origin", good, cookie, "https://evil.example", True, 403, "Origin not allowed"),
                ("origin before target", "/tcp?host=127.0.0.1", cookie, "https://evil.example", True, 403, None),
                ("missing port", "/tcp?host=127.0.0.1", cookie, None, True, 400,
                 "Missing required query parameter: port"),
                ("missing host", "/tcp?port=80", cookie, None, True, 400, "Missing required query parameter: host"),
                ("bad version", f"/tcp?v=2&host=127.0.0.1&port={target.port}", cookie, None, True, 400,
                 "Unsupported TCP proxy protocol version"),
                ("bad port", "/tcp?host=127.0.0.1&port=0x50", cookie, None, True, 400, None),
                ("unbracketed IPv6 target", "/tcp?target=::1:80", cookie, None, True, 400, None),
                ("port not allowed", "/tcp?host=127.0.0.1&port=81", cookie, None, True, 403, "Target port not allowed"),
                ("invalid host", "/tcp?host=bad_host!&port=1", cookie, None, True, 400, "Invalid host"),
                ("blocked host", "/tcp?host=bad.allowed.test&port=1", cookie, None, True, 403, "Target is blocked"),
                ("host not allowed", "/tcp?host=other.test&port=1", cookie, None, True, 403, "Target host not allowed"),
                ("apex not matched by *.", "/tcp?host=allowed.test&port=1", cookie, None, True, 403,
                 "Target host not allowed"),
                ("DNS lookup failed", "/tcp?host=nxdomain.test&port=1", cookie, None, True, 502, "DNS lookup failed"),
                ("other upgrade path", "/ws", cookie, None, True, 404, "Not Found"),
                ("long URL", "/tcp?host=" + "a" * 9000, cookie, None, True, 414, "URL too long"),
            ]
            for what, path, cookie_value, origin, handshake, status, message in table:
                got, body, headers, status_line = upgrade_status(gw, path, cookie_value, origin, handshake=handshake)
                check_eq(got, status, what)
                if message is not None:
                    check_eq(body, message + "\n", f"{what}: body")
                check_eq(headers.get("content-type"), ["text/plain; charset=utf-8"], f"{what}: content type")
                check_eq(headers.get("cache-control"), ["no-store"], f"{what}: cache-control")
                check_eq(headers.get("connection"), ["close"], f"{what}: connection")
            check_eq(upgrade_status(gw, "/ws", cookie)[3], "HTTP/1.1 404 Not Found", "reason phrase")

            async def cap():
                first = await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie)
                try:
                    await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie)
                    raise Failure("a second relay was admitted over TCP_PROXY_MAX_CONNECTIONS=1")
                except websockets.exceptions.InvalidStatusCode as error:
                    check_eq(error.status_code, 429, "per-session cap")
                await first.close()
                await asyncio.sleep(0.2)
                again = await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie)
                await again.close()
            run(cap())
        with Gateway({"TCP_ALLOW_PRIVATE_IPS": "1", "TCP_BLOCKED_CLIENT_IPS": "127.0.0.1",
                      "TCP_REQUIRE_DNS_NAME": "1"}) as gw:
            cookie = gw.session_cookie()
            check_eq(upgrade_status(gw, f"/tcp?host=127.0.0.1&port={target.port}", cookie)[:2],
                     (403, "Client IP blocked\n"), "blocked client IP")
        with Gateway({"TCP_ALLOW_PRIVATE_IPS": "1", "TCP_REQUIRE_DNS_NAME": "1"}) as gw:
            cookie = gw.session_cookie()
            check_eq(upgrade_status(gw, f"/tcp?host=127.0.0.1&port={target.port}", cookie)[:2],
                     (403, "IP-literal targets are not allowed\n"), "TCP_REQUIRE_DNS_NAME")
    finally:
        target.close()


@case("tcp")
def close_codes():
    target = TcpServer(echo_handler)
    closer = TcpServer(lambda conn: conn.sendall(b"bye"))
    silent = TcpServer(lambda conn: time.sleep(3))
    refused_port = free_port()
    try:
        env = {"TCP_ALLOW_PRIVATE_IPS": "1", "TCP_PROXY_MAX_MESSAGE_BYTES": "4096",
               "TCP_PROXY_MAX_TCP_BUFFER_BYTES": "1024", "TCP_PROXY_IDLE_TIMEOUT_MS": "500"}
        with Gateway(env) as gw:
            cookie = gw.session_cookie()

            async def scenario():
                ws = await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie)
                await ws.send("text")
                check_eq((await expect_close(ws))[0], 1003, "text message")
                ws = await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie)
                await ws.send(os.urandom(5000))
                check_eq((await expect_close(ws))[0], 1009, "message over TCP_PROXY_MAX_MESSAGE_BYTES")
                ws = await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie)
                await ws.send(os.urandom(2000))
                check_eq((await expect_close(ws))[0], 1011, "message over TCP_PROXY_MAX_TCP_BUFFER_BYTES")
                ws = await ws_connect(gw, f"host=127.0.0.1&port={closer.port}", cookie)
                check_eq(await asyncio.wait_for(ws.recv(), 5), b"bye", "data before the target's close")
                check_eq((await expect_close(ws))[0], 1000, "target closed")
                ws = await ws_connect(gw, f"host=127.0.0.1&port={refused_port}", cookie)
                code, reason = await expect_close(ws)
                check_eq((code, reason), (1011, "TCP connect failed"), "connect refused")
                ws = await ws_connect(gw, f"host=127.0.0.1&port={silent.port}", cookie)
                code, reason = await expect_close(ws)
                check_eq((code, reason), (1000, "TCP idle timeout"), "idle timeout")
                ws = await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie)
                pong = await ws.ping(b"p")
                await asyncio.wait_for(pong, 5)
                await ws.close()
            run(scenario())
    finally:
        for server in (target, closer, silent):
            server.close()


@case("tcp")
def backpressure_slow_reader():
    size = 8 * 1024 * 1024
    payload = os.urandom(size)

    def blaster(conn):
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)

    target = TcpServer(blaster)
    try:
        with Gateway({"TCP_ALLOW_PRIVATE_IPS": "1"}) as gw:
            cookie = gw.session_cookie()

            async def scenario():
                # A small client-side queue: the relay must stop reading the target while we sleep.
                ws = await ws_connect(gw, f"host=127.0.0.1&port={target.port}", cookie, max_queue=1,
                                      read_limit=2 ** 14)
                await asyncio.sleep(1.0)
                received = bytearray()
                while len(received) < size:
                    received += await asyncio.wait_for(ws.recv(), 10)
                check_eq(hashlib.sha256(received).hexdigest(), hashlib.sha256(payload).hexdigest(), "8 MiB intact")
                check_eq((await expect_close(ws))[0], 1000, "close after the data")
            run(scenario())
    finally:
        target.close()


# ---- ssrf ------------------------------------------------------------------------------------

DENIED_LITERALS = [
    "0.0.0.0", "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.1", "0x7f.0.0.1",
    "0177.0.0.1", "2130706433", "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.168.1.1", "192.0.0.1",
    "192.0.2.1", "198.51.100.1", "203.0.113.1", "198.18.0.1", "198.19.255.255", "224.0.0.1", "239.255.255.250",
    "240.0.0.1", "255.255.255.255", "[::]", "[::1]", "[ff02::1]", "[fe80::1]", "[fc00::1]", "[fd12:3456::1]",
    "[2001:db8::1]", "[::ffff:127.0.0.1]", "[::ffff:10.0.0.1]", "[::127.0.0.1]",
]


@case("ssrf")
def denied_ranges_never_reach_the_canary():
    canary = TcpServer(echo_handler)
    dns = Dnsmasq(("loopback.rebind.test", "127.0.0.1"), ("private.rebind.test", "10.1.2.3"),
                  ("metadata.rebind.test", "169.254.169.254"))
    try:
        with Gateway({"DNS_UPSTREAMS": dns.upstream()}) as gw:
            cookie = gw.session_cookie()
            for host in DENIED_LITERALS:
                quoted = host.replace("[", "%5B").replace("]", "%5D").replace(":", "%3A")
                for path in (f"/tcp?host={quoted}&port={canary.port}", f"/tcp?target={quoted}:{canary.port}"):
                    if path.startswith("/tcp?target=") and not host.startswith("[") and ":" in host:
                        continue
                    status, body, _, _ = upgrade_status(gw, path, cookie)
                    check_eq((status, body), (403, "Target IP is not allowed by IP egress policy\n"), host)
            for name in ("loopback.rebind.test", "private.rebind.test", "metadata.rebind.test"):
                status, body, _, _ = upgrade_status(gw, f"/tcp?host={name}&port={canary.port}", cookie)
                check_eq((status, body), (403, "Target IP is not allowed by IP egress policy\n"), name)
            status, body, _, _ = upgrade_status(gw, f"/tcp?host=unknown.rebind.test&port={canary.port}", cookie)
            check_eq((status, body), (502, "DNS lookup failed\n"), "a name without addresses")
            blocked = gw.metric("tcp_proxy_blocked_by_ip_policy_total")
            check(blocked >= len(DENIED_LITERALS) + 3, f"tcp_proxy_blocked_by_ip_policy_total = {blocked}")
        time.sleep(0.2)
        check_eq(canary.accepted, 0, "connections that reached the canary")
        # The control: with private addresses allowed, the same name does reach it.
        with Gateway({"DNS_UPSTREAMS": dns.upstream(), "TCP_ALLOW_PRIVATE_IPS": "1"}) as gw:
            cookie = gw.session_cookie()

            async def control():
                ws = await ws_connect(gw, f"host=loopback.rebind.test&port={canary.port}", cookie)
                await ws.send(b"ping")
                check_eq(await asyncio.wait_for(ws.recv(), 5), b"ping", "echo through a resolved name")
                await ws.close()
            run(control())
        check_eq(canary.accepted, 1, "the control connection")
    finally:
        dns.close()
        canary.close()


# ---- dns -------------------------------------------------------------------------------------

@case("dns")
def doh_post_and_get_with_cache():
    dns = Dnsmasq(("real.aero.test", "93.184.216.34"), ("v6.aero.test", "2001:db8::53"))
    try:
        with Gateway({"DNS_UPSTREAMS": dns.upstream()}) as gw:
            status, headers, body = curl(gw, "/dns-query", "-X", "POST", "-H",
                                         "Content-Type: application/dns-message", data=dns_query("real.aero.test", 1))
            check_eq((status, json.loads(body)["error"]), (401, "unauthorized"), "no cookie")
            cookie = gw.session_cookie()
            status, headers, body = curl(gw, "/dns-query", "-X", "POST", "-H", f"Cookie: {cookie}",
                                         "-H", "Content-Type: application/dns-message",
                                         data=dns_query("real.aero.test", 1, 0xBEEF))
            check_eq(status, 200, "POST /dns-query")
            check_eq(headers["content-type"], ["application/dns-message"], "content type")
            check_eq(dns_answers(body), (0xBEEF, 0, ["93.184.216.34"]), "POST answer")
            encoded = base64.urlsafe_b64encode(dns_query("real.aero.test", 1, 0x0102)).decode().rstrip("=")
            status, _, body = curl(gw, f"/dns-query?dns={encoded}", "-H", f"Cookie: {cookie}")
            check_eq((status, dns_answers(body)), (200, (0x0102, 0, ["93.184.216.34"])), "GET answer, from cache")
            check_eq(gw.metric('dns_cache_hits_total{qtype="A"}'), 1.0, "cache hit counted")
            check_eq(gw.metric('dns_queries_total{qtype="A",rcode="NOERROR",source="upstream"}'), 1.0, "one upstream query")
            status, _, body = curl(gw, "/dns-query", "-X", "POST", "-H", f"Cookie: {cookie}",
                                   "-H", "Content-Type: application/dns-message", data=dns_query("v6.aero.test", 28))
            check_eq(dns_answers(body)[2], ["2001:db8::53"], "AAAA")
            # Policy: ANY and private PTR refused with 200 REFUSED.
            for name, qtype in (("real.aero.test", 255), ("4.3.2.10.in-addr.arpa", 12), ("1.0.0.127.in-addr.arpa", 12)):
                status, _, body = curl(gw, "/dns-query", "-X", "POST", "-H", f"Cookie: {cookie}",
                                       "-H", "Content-Type: application/dns-message", data=dns_query(name, qtype, 7))
                check_eq((status, dns_answers(body)[:2]), (200, (7, 5)), f"{name} type {qtype} refused")
            # Malformed requests.
            status, headers, body = curl(gw, "/dns-query", "-X", "POST", "-H", f"Cookie: {cookie}",
                                         "-H", "Content-Type: text/plain", data=dns_query("real.aero.test", 1))
            check_eq((status, dns_answers(body)[1]), (415, 1), "wrong content type: FORMERR")
            status, _, body = curl(gw, "/dns-query", "-X", "POST", "-H", f"Cookie: {cookie}",
                                   "-H", "Content-Type: application/dns-message", data=b"\x12\x34\x01")
            check_eq(status, 400, "truncated message")
            status, _, _ = curl(gw, "/dns-query?dns=!!!!", "-H", f"Cookie: {cookie}")
            check_eq(status, 400, "not base64url")
            status, _, _ = curl(gw, "/dns-query", "-H", f"Cookie: {cookie}")
            check_eq(status, 400, "missing dns")
            big = base64.urlsafe_b64encode(dns_query("real.aero.test", 1, 0x4242) + b"\x00" * 5000).decode().rstrip("=")
            status, _, body = curl(gw, f"/dns-query?dns={big}", "-H", f"Cookie: {cookie}")
            check_eq((status, dns_answers(body)[:2]), (413, (0x4242, 1)), "oversized GET keeps the id")
            status, _, _ = curl(gw, "/dns-query", "-X", "POST", "-H", f"Cookie: {cookie}",
                                "-H", "Content-Type: application/dns-message",
                                data=dns_query("real.aero.test", 1) + b"\x00" * 5000)
            check_eq(status, 413, "oversized POST")
    finally:
        dns.close()


@case("dns")
def dns_json_rate_limit_and_upstream_failure():
    dns = Dnsmasq(("real.aero.test", "93.184.216.34"))
    try:
        with Gateway({"DNS_UPSTREAMS": dns.upstream(), "DNS_QPS_PER_IP": "0.001", "DNS_BURST_PER_IP": "2"}) as gw:
            cookie = gw.session_cookie()
            status, headers, body = curl(gw, "/dns-json?name=REAL.aero.test.&type=a", "-H", f"Cookie: {cookie}")
            check_eq((status, headers["content-type"]), (200, ["application/dns-json"]), "/dns-json")
            doc = json.loads(body)
            check_eq((doc["Status"], doc["RD"], doc["RA"]), (0, True, True), "flags")
            check_eq(doc["Question"], [{"name": "real.aero.test", "type": 1}], "question")
            check_eq([(a["type"], a["data"]) for a in doc["Answer"]], [(1, "93.184.216.34")], "answers")
            status, _, body = curl(gw, "/dns-json?name=real.aero.test&type=MX", "-H", f"Cookie: {cookie}")
            check_eq((status, json.loads(body)["message"]), (400, "Invalid DNS record type"), "MX refused")
            status, _, _ = curl(gw, "/dns-json?type=A", "-H", f"Cookie: {cookie}")
            check_eq(status, 429, "the third DNS request with a burst of 2")
            status, headers, body = curl(gw, "/dns-query?dns=AAAA", "-H", f"Cookie: {cookie}")
            check_eq((status, headers["content-type"], dns_answers(body)[:2]),
                     (429, ["application/dns-message"], (0, 2)), "DoH rate limited: SERVFAIL id 0")
            status, _, _ = curl(gw, "/dns-json?name=real.aero.test&type=A")
            check_eq(status, 401, "no cookie")
    finally:
        dns.close()
    with Gateway({"DNS_UPSTREAMS": f"127.0.0.1:{free_port()}", "DNS_UPSTREAM_TIMEOUT_MS": "200"}) as gw:
        cookie = gw.session_cookie()
        status, _, body = curl(gw, "/dns-query", "-X", "POST", "-H", f"Cookie: {cookie}",
                               "-H", "Content-Type: application/dns-message", data=dns_query("x.test", 1, 9))
        check_eq((status, dns_answers(body)[:2]), (200, (9, 2)), "upstream failure: 200 SERVFAIL")
        status, _, body = curl(gw, "/dns-json?name=x.test&type=A", "-H", f"Cookie: {cookie}")
        check_eq((status, json.loads(body)), (502, {"error": "bad_gateway", "message": "DNS resolution failed"}),
                 "dns-json upstream failure")


# ---- tls -------------------------------------------------------------------------------------

class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost in a temporary directory."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="aero-gateway-tls-")
        self.cert = os.path.join(self.directory, "cert.pem")
        self.key = os.path.join(self.directory, "key.pem")
        result = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                 "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=localhost",
                                 "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                                capture_output=True, timeout=30)
        check(result.returncode == 0, f"openssl req failed: {result.stderr.decode()}")

    def env(self):
        return {"TLS_ENABLED": "1", "TLS_CERT_PATH": self.cert, "TLS_KEY_PATH": self.key}

    def close(self):
        shutil.rmtree(self.directory, ignore_errors=True)


def http_handler(body):
    """A one-request HTTP/1.0 server for curl to fetch after resolving a name over DoH."""
    def handler(conn):
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return handler


@case("tls")
def https_routes_secure_cookie_and_protocol_versions():
    certificate = Certificate()
    try:
        with Gateway(certificate.env(), cacert=certificate.cert) as gw:
            check_eq(gw.scheme, "https", "the ready line announces https")
            status, headers, body = curl(gw, "/healthz")
            check_eq((status, json.loads(body)), (200, {"ok": True}), "/healthz over TLS")
            check_eq(headers["x-content-type-options"], ["nosniff"], "security headers over TLS")
            status, headers, body = curl(gw, "/session", "-X", "POST")
            check_eq(status, 201, "POST /session over TLS")
            attributes = [a.strip() for a in headers["set-cookie"][0].split(";")]
            check("Secure" in attributes, f"Secure on a TLS connection: {attributes}")
            # PUBLIC_BASE_URL defaults to https://localhost:PORT, so that origin is the allowed one.
            _, headers, _ = curl(gw, "/healthz", "-H", "Origin: https://localhost:8080")
            check_eq(headers.get("access-control-allow-origin"), ["https://localhost:8080"], "https origin allowed")
            check_eq(curl(gw, "/healthz", "-H", "Origin: http://localhost:8080")[0], 403, "http origin refused")
            # TLS 1.2 and 1.3 are served; 1.1 is refused in the handshake (curl exit 35).
            check_eq(curl(gw, "/healthz", "--tlsv1.2", "--tls-max", "1.2")[0], 200, "TLS 1.2")
            check_eq(curl(gw, "/healthz", "--tlsv1.3")[0], 200, "TLS 1.3")
            result = subprocess.run(["curl", "-s", "--max-time", "10", "--cacert", certificate.cert, "--tlsv1",
                                     "--tls-max", "1.1", f"https://127.0.0.1:{gw.port}/healthz"],
                                    capture_output=True, timeout=20)
            check_eq(result.returncode, 35, "TLS 1.1 refused in the handshake")
            # Plain HTTP on the TLS port gets no HTTP answer.
            result = subprocess.run(["curl", "-s", "--max-time", "10", f"http://127.0.0.1:{gw.port}/healthz"],
                                    capture_output=True, timeout=20)
            check(result.returncode != 0 and b"ok" not in result.stdout, "plain HTTP on the TLS listener fails")
            check(gw.metric("aero_gateway_tls_handshake_failures_total") >= 2, "failed handshakes counted")
            # A cookie-less upgrade is refused in plain text inside TLS, as without TLS.
            status, _, _ = curl(gw, "/tcp?host=127.0.0.1&port=1", "-H", "Upgrade: websocket",
                                "-H", "Connection: Upgrade", "-H", "Sec-WebSocket-Version: 13",
                                "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
            check_eq(status, 401, "upgrade without a cookie over TLS")
    finally:
        certificate.close()


@case("tls")
def certificate_errors_name_the_variable():
    certificate = Certificate()
    other = Certificate()
    garbage = os.path.join(certificate.directory, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    try:
        base = certificate.env()
        for env, name in [({**base, "TLS_CERT_PATH": ""}, "TLS_CERT_PATH"),
                          ({**base, "TLS_KEY_PATH": "/nonexistent/key.pem"}, "TLS_KEY_PATH"),
                          ({**base, "TLS_CERT_PATH": garbage}, "TLS_CERT_PATH"),
                          ({**base, "TLS_KEY_PATH": garbage}, "TLS_KEY_PATH"),
                          ({**base, "TLS_KEY_PATH": other.key}, "TLS_KEY_PATH"),
                          ({**base, "TLS_ENABLED": "yes"}, "TLS_ENABLED")]:
            result = subprocess.run([GATEWAY, "--check-config"], env={"PATH": "/usr/bin:/bin", **env},
                                    capture_output=True, timeout=10)
            check_eq(result.returncode, 2, f"exit status for {env}")
            check(name in result.stderr.decode(), f"message names {name}: {result.stderr.decode()!r}")
    finally:
        certificate.close()
        other.close()


@case("tls")
def curl_doh_client_resolves_through_the_gateway():
    certificate = Certificate()
    dns = Dnsmasq(("real.aero.test", "127.0.0.1"))
    web = TcpServer(http_handler(b"resolved through DoH\n"))
    try:
        env = {**certificate.env(), "DNS_UPSTREAMS": dns.upstream()}
        # curl's DoH requests carry no cookie: with the default DNS_REQUIRE_SESSION=1 they get 401
        # and curl cannot resolve the name (exit 6).
        with Gateway(env, cacert=certificate.cert) as gw:
            result = subprocess.run(["curl", "-s", "--max-time", "10", "--cacert", certificate.cert,
                                     "--doh-url", f"https://127.0.0.1:{gw.port}/dns-query",
                                     f"http://real.aero.test:{web.port}/"], capture_output=True, timeout=20)
            check_eq(result.returncode, 6, "DoH without a session: the name does not resolve")
            check(gw.metric('http_requests_total{method="POST",route="/dns-query",status_code="401"}') >= 1,
                  "curl's DoH requests reached the gateway and were refused")
        with Gateway({**env, "DNS_REQUIRE_SESSION": "0"}, cacert=certificate.cert) as gw:
            # curl applies --cacert to its DoH requests too (an absolute path; curl 7.88 fails a
            # relative one there), so no --doh-insecure is needed.
            result = subprocess.run(["curl", "-s", "--max-time", "10", "--cacert", certificate.cert,
                                     "--doh-url", f"https://127.0.0.1:{gw.port}/dns-query",
                                     f"http://real.aero.test:{web.port}/"], capture_output=True, timeout=20)
            check_eq((result.returncode, result.stdout), (0, b"resolved through DoH\n"),
                     f"curl --doh-url: {result.stderr.decode()}")
            check(gw.metric('dns_queries_total{qtype="A",rcode="NOERROR",source="upstream"}') >= 1,
                  "the A query went to the upstream")
            # A certificate curl does not trust fails the DoH request (exit 6: nothing resolved).
            result = subprocess.run(["curl", "-s", "--max-time", "10",
                                     "--doh-url", f"https://127.0.0.1:{gw.port}/dns-query",
                                     f"http://real.aero.test:{web.port}/"], capture_output=True, timeout=20)
            check_eq(result.returncode, 6, "untrusted certificate: DoH fails")
            # /dns-json is cookie-free too with DNS_REQUIRE_SESSION=0.
            status, _, body = curl(gw, "/dns-json?name=real.aero.test&type=A")
            check_eq((status, [a["data"] for a in json.loads(body)["Answer"]]), (200, ["127.0.0.1"]), "/dns-json")
            check_eq(web.accepted, 1, "curl fetched the page once, after resolving over DoH")
    finally:
        web.close()
        dns.close()
        certificate.close()


@case("tls")
def wss_tcp_echo_and_close_codes():
    certificate = Certificate()
    target = TcpServer(echo_handler)
    try:
        with Gateway({**certificate.env(), "TCP_ALLOW_PRIVATE_IPS": "1"}, cacert=certificate.cert) as gw:
            cookie = gw.session_cookie()
            context = ssl.create_default_context(cafile=certificate.cert)

            async def scenario():
                uri = f"wss://127.0.0.1:{gw.port}/tcp?host=127.0.0.1&port={target.port}"
                ws = await websockets.connect(uri, extra_headers=[("Cookie", cookie)], origin=gw.origin.replace(
                    "http://", "https://"), ssl=context, open_timeout=5, close_timeout=5, max_size=None)
                payload = os.urandom(300000)
                await ws.send(payload)
                received = b""
                while len(received) < len(payload):
                    received += await asyncio.wait_for(ws.recv(), 10)
                check_eq(hashlib.sha256(received).hexdigest(), hashlib.sha256(payload).hexdigest(), "wss echo")
                await ws.send("text")
                check_eq((await expect_close(ws))[0], 1003, "text message over wss")
                # Refused upgrades keep their status over TLS.
                try:
                    await websockets.connect(uri, ssl=context, open_timeout=5)
                    raise Failure("upgrade without cookie accepted")
                except websockets.exceptions.InvalidStatusCode as refused:
                    check_eq(refused.status_code, 401, "wss without cookie")
            run(scenario())
    finally:
        target.close()
        certificate.close()


# ---- proxy (the relay modes) -----------------------------------------------------------------

def mux_frame(kind, stream_id, payload=b""):
    return struct.pack("!BII", kind, stream_id, len(payload)) + payload


def mux_open(stream_id, host, port):
    encoded = host.encode()
    return mux_frame(1, stream_id, struct.pack("!H", len(encoded)) + encoded + struct.pack("!HH", port, 0))


async def mux_read_frame(ws, buffer):
    """One tcp-mux frame from the socket's byte stream: (kind, stream id, payload)."""
    while len(buffer) < 9 or len(buffer) < 9 + struct.unpack("!I", bytes(buffer[5:9]))[0]:
        buffer += await asyncio.wait_for(ws.recv(), 10)
    kind, stream_id, length = struct.unpack("!BII", bytes(buffer[:9]))
    payload = bytes(buffer[9:9 + length])
    del buffer[:9 + length]
    return kind, stream_id, payload


@case("proxy")
def dev_proxy_allowlist_open_mode_and_close_1008():
    target = TcpServer(echo_handler)
    canary = TcpServer(echo_handler)
    dns = Dnsmasq(("real.aero.test", "127.0.0.1"))
    try:
        env = {"AERO_PROXY_ALLOW": f"127.0.0.1:{target.port}, *.aero.test:1-65535", "DNS_UPSTREAMS": dns.upstream()}
        with Gateway(env, args=("--dev-proxy",)) as gw:
            async def scenario():
                # No cookie, no Origin check: an allowlisted target relays.
                ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/tcp?host=127.0.0.1&port={target.port}",
                                              origin="https://anything.example", open_timeout=5, close_timeout=5)
                await ws.send(b"hello dev proxy")
                check_eq(await asyncio.wait_for(ws.recv(), 10), b"hello dev proxy", "echo through the dev relay")
                await ws.close()
                # Refusals come after the upgrade: close 1008 with the reason.
                for query, reason in ((f"host=127.0.0.1&port={canary.port}", "Target not in allowlist"),
                                      (f"target=real.aero.test:{canary.port}", "Target resolves to a non-public address"),
                                      ("host=bad_host!&port=80", "Invalid host")):
                    ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/tcp?{query}", open_timeout=5)
                    check_eq(await expect_close(ws), (1008, reason), query)
                # /udp per target too; the multiplexed /udp sends its ready message without a cookie.
                ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/udp?host=127.0.0.1&port={canary.port}",
                                              open_timeout=5)
                check_eq(await expect_close(ws), (1008, "Target not in allowlist"), "/udp per target")
                ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/udp", open_timeout=5)
                check_eq(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"], "ready", "/udp ready")
                await ws.close()
            run(scenario())
            check_eq(canary.accepted, 0, "no connection reached the canary")
            # net-proxy's DoH needs no cookie; the gateway's own routes are not served.
            status, _, body = curl(gw, "/dns-json?name=real.aero.test&type=A")
            check_eq((status, [a["data"] for a in json.loads(body)["Answer"]]), (200, ["127.0.0.1"]), "/dns-json")
            status, _, body = curl(gw, "/session", "-X", "POST")
            check_eq((status, json.loads(body)), (404, {"error": "not found"}), "no /session in dev mode")
        # Without AERO_PROXY_ALLOW only public addresses; AERO_PROXY_OPEN=1 allows everything.
        with Gateway({"DNS_UPSTREAMS": dns.upstream()}, args=("--dev-proxy",)) as gw:
            async def public_only():
                ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/tcp?host=127.0.0.1&port={canary.port}",
                                              open_timeout=5)
                check_eq((await expect_close(ws))[0], 1008, "loopback refused without an allowlist")
            run(public_only())
        with Gateway({"AERO_PROXY_OPEN": "1"}, args=("--dev-proxy",)) as gw:
            async def open_mode():
                ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/tcp?target=127.0.0.1:{target.port}",
                                              open_timeout=5)
                await ws.send(b"open")
                check_eq(await asyncio.wait_for(ws.recv(), 10), b"open", "open mode")
                await ws.close()
            run(open_mode())
        check_eq(canary.accepted, 0, "no connection reached the canary")
        # Defaults: loopback, port 8081; a bad allowlist stops start-up naming the variable.
        result = subprocess.run([GATEWAY, "--dev-proxy", "--check-config"], env={"PATH": "/usr/bin:/bin"},
                                capture_output=True, timeout=10)
        config = json.loads(result.stdout)
        check_eq((config["mode"], config["host"], config["port"], config["proxyPolicy"]),
                 ("dev-proxy", "127.0.0.1", 8081, "public_only"), "dev defaults")
        result = subprocess.run([GATEWAY, "--dev-proxy", "--check-config"],
                                env={"PATH": "/usr/bin:/bin", "AERO_PROXY_ALLOW": "example.com:0"},
                                capture_output=True, timeout=10)
        check(result.returncode == 2 and b"AERO_PROXY_ALLOW" in result.stderr, "bad allowlist refused")
    finally:
        dns.close()
        canary.close()
        target.close()


@case("proxy")
def token_mux_auth_and_streams():
    target = TcpServer(echo_handler)
    try:
        result = subprocess.run([GATEWAY, "--token-mux", "--check-config"], env={"PATH": "/usr/bin:/bin"},
                                capture_output=True, timeout=10)
        check(result.returncode == 2 and b"AERO_PROXY_AUTH_TOKEN" in result.stderr, "the token is required")
        env = {"AERO_PROXY_AUTH_TOKEN": "s3cret-token", "AERO_PROXY_ALLOW_CIDRS": "127.0.0.0/8"}
        with Gateway(env, args=("--token-mux",)) as gw:
            mux = ["Sec-WebSocket-Protocol: aero-tcp-mux-v1"]
            check_eq(upgrade_status(gw, "/tcp-mux", extra=mux)[0], 401, "no token")
            check_eq(upgrade_status(gw, "/tcp-mux?token=wrong", extra=mux)[0], 403, "wrong token")
            check_eq(upgrade_status(gw, "/tcp-mux?token=s3cret-token")[0], 400, "subprotocol before the token")
            check_eq(upgrade_status(gw, "/tcp?token=s3cret-token&host=127.0.0.1&port=1")[0], 404, "only /tcp-mux")
            check_eq(upgrade_status(gw, "/tcp-mux", extra=mux + ["Authorization: Bearer wrong"])[0], 403, "bearer")

            async def scenario():
                for uri, headers in ((f"ws://127.0.0.1:{gw.port}/tcp-mux?token=s3cret-token", []),
                                     (f"ws://127.0.0.1:{gw.port}/tcp-mux", [("Authorization", "Bearer s3cret-token")])):
                    ws = await websockets.connect(uri, subprotocols=["aero-tcp-mux-v1"], extra_headers=headers,
                                                  open_timeout=5, close_timeout=5)
                    check_eq(ws.subprotocol, "aero-tcp-mux-v1", "subprotocol")
                    await ws.send(mux_open(1, "127.0.0.1", target.port) + mux_frame(2, 1, b"through the token relay"))
                    buffer = bytearray()
                    received = b""
                    while len(received) < len(b"through the token relay"):
                        kind, stream_id, payload = await mux_read_frame(ws, buffer)
                        check_eq((kind, stream_id), (2, 1), "DATA on stream 1")
                        received += payload
                    check_eq(received, b"through the token relay", "echo")
                    # A private address outside AERO_PROXY_ALLOW_CIDRS: ERROR 1, the socket stays open.
                    await ws.send(mux_open(3, "10.0.0.1", 80))
                    kind, stream_id, payload = await mux_read_frame(ws, buffer)
                    check_eq((kind, stream_id, struct.unpack("!H", payload[:2])[0]), (4, 3, 1), "POLICY_DENIED")
                    check(b"Target IP is blocked by IP egress policy" in payload, f"message {payload!r}")
                    await ws.close()
            run(scenario())
    finally:
        target.close()


def main():
    global GATEWAY, L2_PROXY
    if len(sys.argv) < 4 or sys.argv[3] not in CASES:
        print(f"usage: {sys.argv[0]} GATEWAY L2_PROXY GROUP [CASE...]; groups: {', '.join(CASES)}")
        return 2
    GATEWAY, L2_PROXY = sys.argv[1], sys.argv[2]
    selected = [c for c in CASES[sys.argv[3]] if len(sys.argv) == 4 or c.__name__ in sys.argv[4:]]
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
