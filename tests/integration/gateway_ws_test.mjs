// aero-gateway's /tcp, /tcp-mux and /udp against Node's `ws` client (a client we did not
// write), with loopback TCP and UDP servers written here on Node's own net and dgram modules.
//
// Usage: node gateway_ws_test.mjs GATEWAY_BINARY NODE_PACKAGE_DIR GROUP [CASE...]
// (NODE_PACKAGE_DIR: the directory whose node_modules holds `ws`.)
// Groups: tcp, mux, udp, tls (wss:// with a self-signed certificate from `openssl req -x509`).
// Each case starts its own gateway (127.0.0.1, port 0) with the environment it
// needs and stops it with SIGTERM, checking that it exits 0. Frames are built here from the
// protocol description (aero-tcp-mux-v1, UDP relay v1/v2), not with the gateway's codecs.
// Prints "N passed, N failed" last.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import crypto from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const [GATEWAY, NODE_PACKAGE, GROUP, ...ONLY] = process.argv.slice(2);
const require = createRequire(path.resolve(NODE_PACKAGE, "package.json"));
const WebSocket = require("ws");

const SECRET = "gateway-ws-test-secret";
const ORIGIN = "http://localhost:8080";  // PUBLIC_BASE_URL's default origin
const CASES = { tcp: [], mux: [], udp: [], tls: [] };
const test = (group, name, fn) => CASES[group].push({ name, fn });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Rejects after `ms` (every wait in this file is bounded).
function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); }),
  ]);
}

// ---- the gateway ------------------------------------------------------------------------------

class Gateway {
  static async start(env = {}) {
    const gateway = new Gateway();
    gateway.logs = "";
    gateway.process = spawn(GATEWAY, ["--bind", "127.0.0.1:0", "--ready-stdout"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AERO_GATEWAY_SESSION_SECRET: SECRET,
             DNS_UPSTREAMS: "127.0.0.1:9", TCP_ALLOW_PRIVATE_IPS: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    gateway.process.stderr.on("data", (chunk) => { gateway.logs += chunk; });
    gateway.exited = new Promise((resolve) => gateway.process.on("exit", (code) => resolve(code)));
    const line = await within(10000, new Promise((resolve, reject) => {
      let out = "";
      gateway.process.stdout.on("data", (chunk) => {
        out += chunk;
        if (out.includes("\n")) resolve(out.split("\n")[0]);
      });
      gateway.exited.then(() => reject(new Error(`gateway exited: ${gateway.logs}`)));
    }), "ready line");
    assert.match(line, /^AERO_GATEWAY_READY https?:\/\//);
    gateway.url = line.split(" ")[1];
    gateway.port = Number(gateway.url.split(":").pop());
    return gateway;
  }

  async cookie() {
    const response = await fetch(`${this.url}/session`, { method: "POST" });
    assert.equal(response.status, 201);
    return response.headers.get("set-cookie").split(";")[0];
  }

  async metric(series) {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
    }
    return 0;
  }

  async stop() {
    if (this.process.exitCode === null) this.process.kill("SIGTERM");
    const code = await within(15000, this.exited, "gateway exit");
    assert.equal(code, 0, `gateway exit status; log:\n${this.logs.slice(-3000)}`);
  }

  kill() { if (this.process.exitCode === null) this.process.kill("SIGKILL"); }
}

// A raw upgrade request: resolves to { status, body, headers }.
function rawUpgrade(gateway, target, extraLines) {
  return within(5000, new Promise((resolve, reject) => {
    const socket = net.connect(gateway.port, "127.0.0.1");
    let data = "";
    const done = () => {
      const [head, body] = data.split("\r\n\r\n");
      const lines = head.split("\r\n");
      resolve({ status: Number(lines[0].split(" ")[1]), body, lines });
      socket.destroy();
    };
    socket.on("data", (chunk) => {
      data += chunk;
      if (data.startsWith("HTTP/1.1 101 ") && data.includes("\r\n\r\n")) done();  // a WebSocket now
    });
    socket.on("end", done);
    socket.on("error", reject);
    socket.write([`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${gateway.port}`, "Upgrade: websocket",
                  "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                  `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString("base64")}`, ...extraLines, "", ""].join("\r\n"));
  }), "raw upgrade");
}

// A WebSocket through `ws`; resolves once open, with a message queue and the close event.
// `ca`: the certificate to trust, for wss:// to a TLS gateway.
async function connect(gateway, route, { cookie, protocols, origin, ca } = {}) {
  const headers = cookie ? { Cookie: cookie } : {};
  const scheme = ca ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://127.0.0.1:${gateway.port}${route}`, protocols, { headers, origin, ca });
  ws.binaryType = "nodebuffer";
  const client = { ws, messages: [], waiters: [] };
  client.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on("message", (data, isBinary) => {
    client.messages.push({ data: Buffer.from(data), isBinary });
    for (const waiter of client.waiters.splice(0)) waiter();
  });
  ws.on("error", () => {});
  await within(5000, new Promise((resolve, reject) => {
    ws.on("open", resolve);
    ws.on("unexpected-response", (_, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    ws.on("error", reject);
  }), "websocket open");
  client.next = async (ms = 5000) => {
    if (client.messages.length === 0) {
      await within(ms, new Promise((resolve) => client.waiters.push(resolve)), "websocket message");
    }
    return client.messages.shift();
  };
  return client;
}

// ---- aero-tcp-mux-v1 frames, written from the protocol description -----------------------------

const OPEN = 1, DATA = 2, CLOSE = 3, ERROR = 4, PING = 5, PONG = 6;

function frame(type, id, payload = Buffer.alloc(0)) {
  const header = Buffer.alloc(9);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(id, 1);
  header.writeUInt32BE(payload.length, 5);
  return Buffer.concat([header, payload]);
}

function openPayload(host, port, metadata = "") {
  const h = Buffer.from(host), m = Buffer.from(metadata);
  const out = Buffer.alloc(2 + h.length + 2 + 2 + m.length);
  out.writeUInt16BE(h.length, 0);
  h.copy(out, 2);
  out.writeUInt16BE(port, 2 + h.length);
  out.writeUInt16BE(m.length, 4 + h.length);
  m.copy(out, 6 + h.length);
  return out;
}

const openFrame = (id, host, port) => frame(OPEN, id, openPayload(host, port));
const closeFrame = (id, flags) => frame(CLOSE, id, Buffer.from([flags]));

// Reassembles the server's frames from binary messages (frames may span or share messages).
class MuxClient {
  constructor(client) {
    this.client = client;
    this.buffer = Buffer.alloc(0);
    this.frames = [];
  }
  send(...frames) { this.client.ws.send(Buffer.concat(frames)); }
  async next(ms = 5000) {
    const deadline = Date.now() + ms;
    while (true) {
      if (this.buffer.length >= 9) {
        const length = this.buffer.readUInt32BE(5);
        if (this.buffer.length >= 9 + length) {
          const f = { type: this.buffer[0], id: this.buffer.readUInt32BE(1), payload: this.buffer.subarray(9, 9 + length) };
          this.buffer = this.buffer.subarray(9 + length);
          return f;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a mux frame");
      const message = await this.client.next(left);
      assert.ok(message.isBinary, "server messages are binary");
      this.buffer = Buffer.concat([this.buffer, message.data]);
    }
  }
  async expectError(id, code, message) {
    const f = await this.next();
    assert.equal(f.type, ERROR, `expected ERROR on stream ${id}, got type ${f.type}`);
    assert.equal(f.id, id);
    const messageLength = f.payload.readUInt16BE(2);
    assert.equal(f.payload.length, 4 + messageLength, "ERROR length fields agree");
    assert.deepEqual([f.payload.readUInt16BE(0), f.payload.subarray(4).toString()], [code, message]);
  }
}

async function muxSession(gateway, cookie, ca) {
  const client = await connect(gateway, "/tcp-mux", { cookie, protocols: ["aero-tcp-mux-v1"], ca });
  assert.equal(client.ws.protocol, "aero-tcp-mux-v1");
  return new MuxClient(client);
}

// ---- loopback servers ------------------------------------------------------------------------

function tcpServer(onConnection) {
  const server = net.createServer({ allowHalfOpen: true }, onConnection);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
const echoServer = () => tcpServer((socket) => {
  socket.on("error", () => {});
  socket.pipe(socket);  // ends its side after the client's FIN, once everything is echoed
});
const closedPort = async () => {
  const server = await tcpServer(() => {});
  const port = server.address().port;
  await new Promise((resolve) => server.close(resolve));
  return port;
};

async function udpSocket(type = "udp4", address = "127.0.0.1") {
  const socket = dgram.createSocket(type);
  await new Promise((resolve, reject) => { socket.once("error", reject); socket.bind(0, address, resolve); });
  return socket;
}
async function udpEcho(type = "udp4", address = "127.0.0.1") {
  const socket = await udpSocket(type, address);
  socket.on("message", (message, remote) => socket.send(message, remote.port, remote.address));
  return socket;
}

// ---- /tcp-mux ----------------------------------------------------------------------------------

test("mux", "upgrade_checks", async () => {
  const gateway = await Gateway.start();
  try {
    const cookie = await gateway.cookie();
    const protocol = "Sec-WebSocket-Protocol: aero-tcp-mux-v1";
    let r = await rawUpgrade(gateway, "/tcp-mux", [protocol]);
    assert.deepEqual([r.status, r.body], [401, "Missing or invalid session\n"]);
    r = await rawUpgrade(gateway, "/tcp-mux", [`Cookie: ${cookie}`, "Origin: https://evil.example", protocol]);
    assert.deepEqual([r.status, r.body], [403, "Origin not allowed\n"]);
    r = await rawUpgrade(gateway, "/tcp-mux", [`Cookie: ${cookie}`]);
    assert.deepEqual([r.status, r.body], [400, "Missing required subprotocol: aero-tcp-mux-v1\n"]);
    r = await rawUpgrade(gateway, "/tcp-mux", [`Cookie: ${cookie}`, "Sec-WebSocket-Protocol: chat"]);
    assert.deepEqual([r.status, r.body], [400, "Missing required subprotocol: aero-tcp-mux-v1\n"]);
    r = await rawUpgrade(gateway, "/tcp-mux", [`Cookie: ${cookie}`, "Sec-WebSocket-Protocol: aero tcp"]);
    assert.deepEqual([r.status, r.body], [400, "Invalid Sec-WebSocket-Protocol header\n"]);
    r = await rawUpgrade(gateway, "/tcp-mux", [`Cookie: ${cookie}`, "Sec-WebSocket-Protocol: chat, aero-tcp-mux-v1",
                                               `Origin: ${ORIGIN}`]);
    assert.equal(r.status, 101);
    assert.ok(r.lines.some((l) => l.toLowerCase() === "sec-websocket-protocol: aero-tcp-mux-v1"), r.lines.join("|"));
    const mux = await muxSession(gateway, cookie);  // and `ws` accepts the answer
    mux.client.ws.close(1000);
    assert.equal((await within(5000, mux.client.closed, "close")).code, 1000);
  } finally { gateway.kill(); }
});

test("mux", "concurrent_streams_echo_byte_exact", async () => {
  const echo = await echoServer();
  const gateway = await Gateway.start();
  try {
    const mux = await muxSession(gateway, await gateway.cookie());
    const port = echo.address().port;
    const streams = [1, 3, 5, 7, 9, 11];
    const sent = new Map(), received = new Map(), fins = new Set();
    // Each stream: OPEN and its first DATA in one message, then DATA in uneven pieces, some
    // split across WebSocket messages, then FIN.
    for (const id of streams) {
      const data = crypto.randomBytes(150000 + id * 1000);
      sent.set(id, data);
      received.set(id, []);
      mux.send(openFrame(id, "127.0.0.1", port), frame(DATA, id, data.subarray(0, 1000)));
    }
    for (const id of streams) {
      const data = sent.get(id);
      let offset = 1000;
      while (offset < data.length) {
        const piece = data.subarray(offset, offset + 7000 + id);
        const f = frame(DATA, id, piece);
        mux.client.ws.send(f.subarray(0, 5));  // a header split across messages
        mux.client.ws.send(f.subarray(5));
        offset += piece.length;
      }
      mux.send(closeFrame(id, 1));
    }
    while (fins.size < streams.length) {
      const f = await mux.next(10000);
      if (f.type === DATA) received.get(f.id).push(Buffer.from(f.payload));
      else if (f.type === CLOSE) { assert.equal(f.payload[0], 1, "CLOSE FIN"); fins.add(f.id); }
      else assert.fail(`unexpected frame type ${f.type} on ${f.id}`);
    }
    for (const id of streams) assert.ok(Buffer.concat(received.get(id)).equals(sent.get(id)), `stream ${id} echoed byte-exact`);
    // Both FINs: the streams are gone and their ids may be reused.
    mux.send(openFrame(1, "127.0.0.1", port), frame(DATA, 1, Buffer.from("again")), closeFrame(1, 1));
    let f = await mux.next();
    assert.deepEqual([f.type, f.id, f.payload.toString()], [DATA, 1, "again"]);
    f = await mux.next();
    assert.deepEqual([f.type, f.id], [CLOSE, 1]);
    assert.equal(await gateway.metric("aero_gateway_tcp_mux_streams_active"), 0);
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("mux", "half_close_and_rst", async () => {
  // The target answers only after the client's FIN: the stream must stay readable.
  let targetClosed;
  const targetSawClose = new Promise((resolve) => { targetClosed = resolve; });
  const server = await tcpServer((socket) => {
    let total = 0;
    socket.on("data", (chunk) => { total += chunk.length; });
    socket.on("end", () => { if (total === 5) socket.end(`got ${total}`); });
    socket.on("close", () => targetClosed(total));
    socket.on("error", () => {});
  });
  const resetter = await tcpServer((socket) => { socket.on("error", () => {}); socket.once("data", () => socket.resetAndDestroy()); });
  const gateway = await Gateway.start();
  try {
    const mux = await muxSession(gateway, await gateway.cookie());
    mux.send(openFrame(2, "127.0.0.1", server.address().port), frame(DATA, 2, Buffer.from("hello")), closeFrame(2, 1));
    let f = await mux.next();
    assert.deepEqual([f.type, f.id, f.payload.toString()], [DATA, 2, "got 5"]);
    f = await mux.next();
    assert.deepEqual([f.type, f.id, [...f.payload]], [CLOSE, 2, [1]]);
    // DATA after our own FIN on a live stream is a protocol error.
    mux.send(openFrame(4, "127.0.0.1", server.address().port), closeFrame(4, 1), frame(DATA, 4, Buffer.from("x")));
    await mux.expectError(4, 3, "stream is half-closed (client FIN)");
    // RST from the client aborts the target connection.
    mux.send(openFrame(6, "127.0.0.1", server.address().port), frame(DATA, 6, Buffer.from("abc")));
    await sleep(100);
    mux.send(closeFrame(6, 2));
    // (streams 4 and 6 close their target connections; the first close seen is enough)
    await within(5000, targetSawClose, "target connection closed");
    // A target that resets: CLOSE RST.
    mux.send(openFrame(8, "127.0.0.1", resetter.address().port), frame(DATA, 8, Buffer.from("boom")));
    f = await mux.next();
    assert.deepEqual([f.type, f.id, [...f.payload]], [CLOSE, 8, [2]]);
    await gateway.stop();
  } finally { gateway.kill(); server.close(); resetter.close(); }
});

test("mux", "error_codes", async () => {
  const echo = await echoServer();
  const port = echo.address().port;
  const gateway = await Gateway.start({ TCP_BLOCKED_HOSTS: "127.0.0.2,*.blocked.example", TCP_MUX_MAX_STREAM_BUFFER_BYTES: "1000" });
  try {
    const mux = await muxSession(gateway, await gateway.cookie());
    mux.send(openFrame(0, "127.0.0.1", port));
    await mux.expectError(0, 3, "stream_id=0 is reserved");
    mux.send(frame(OPEN, 1, Buffer.from([0, 5, 0x61])));
    await mux.expectError(1, 3, "Invalid OPEN payload");
    mux.send(openFrame(1, "bad_host", 80));
    await mux.expectError(1, 3, "Invalid host");
    mux.send(openFrame(1, "127.0.0.2", port));
    await mux.expectError(1, 1, "Target is blocked");
    mux.send(openFrame(1, "a.blocked.example", port));
    await mux.expectError(1, 1, "Target is blocked");
    mux.send(openFrame(1, "127.0.0.1", await closedPort()));
    await mux.expectError(1, 2, "dial failed");
    mux.send(frame(DATA, 77, Buffer.from("x")));
    await mux.expectError(77, 4, "unknown stream");
    mux.send(frame(9, 5, Buffer.from("?")));
    await mux.expectError(5, 3, "Unknown msg_type 9");
    mux.send(openFrame(3, "127.0.0.1", port), frame(CLOSE, 3, Buffer.from([1, 1])));
    await mux.expectError(3, 3, "Invalid CLOSE payload");
    mux.send(openFrame(3, "127.0.0.1", port), openFrame(3, "127.0.0.1", port));
    await mux.expectError(3, 3, "stream_id already exists");
    // DATA beyond TCP_MUX_MAX_STREAM_BUFFER_BYTES (queued before the connection is up).
    mux.send(openFrame(5, "127.0.0.1", port), frame(DATA, 5, Buffer.alloc(600)), frame(DATA, 5, Buffer.alloc(600)));
    await mux.expectError(5, 6, "stream buffered too much data");
    // CLOSE on an unknown stream and ERROR from the client are ignored; PING answers PONG.
    mux.send(closeFrame(99, 1), frame(ERROR, 1, Buffer.from([0, 1, 0, 0])), frame(PING, 0, Buffer.from("ping-0")),
             frame(PING, 42, Buffer.from("ping-42")), frame(PONG, 0, Buffer.from("ignored")));
    let f = await mux.next();
    assert.deepEqual([f.type, f.id, f.payload.toString()], [PONG, 0, "ping-0"]);
    f = await mux.next();
    assert.deepEqual([f.type, f.id, f.payload.toString()], [PONG, 42, "ping-42"]);
    assert.ok(await gateway.metric('aero_gateway_tcp_mux_errors_total{code="6"}') >= 1);
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("mux", "port_policy_and_ip_policy", async () => {
  const echo = await echoServer();
  const gateway = await Gateway.start({ TCP_ALLOWED_PORTS: "1", TCP_ALLOW_PRIVATE_IPS: "0" });
  try {
    const mux = await muxSession(gateway, await gateway.cookie());
    mux.send(openFrame(1, "127.0.0.1", echo.address().port));
    await mux.expectError(1, 1, "Target port not allowed");
    mux.send(openFrame(1, "127.0.0.1", 1));
    await mux.expectError(1, 1, "Target IP is not allowed by IP egress policy");
    mux.send(openFrame(1, "[::1]", 1));
    await mux.expectError(1, 1, "Target IP is not allowed by IP egress policy");
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("mux", "stream_limits", async () => {
  const echo = await echoServer();
  const port = echo.address().port;
  const gateway = await Gateway.start({ TCP_MUX_MAX_STREAMS: "2", TCP_PROXY_MAX_CONNECTIONS: "3" });
  try {
    const cookie = await gateway.cookie();
    const a = await muxSession(gateway, cookie);
    a.send(openFrame(1, "127.0.0.1", port), openFrame(2, "127.0.0.1", port), openFrame(3, "127.0.0.1", port));
    await a.expectError(3, 5, "max streams exceeded");
    // The session's connection cap is shared by every socket of the session.
    const b = await muxSession(gateway, cookie);
    b.send(openFrame(1, "127.0.0.1", port), openFrame(2, "127.0.0.1", port));
    await b.expectError(2, 5, "session max connections exceeded");
    // A stream that ends gives its slot back.
    a.send(closeFrame(1, 2), openFrame(3, "127.0.0.1", port), frame(DATA, 3, Buffer.from("ok")));
    const f = await a.next();
    assert.deepEqual([f.type, f.id, f.payload.toString()], [DATA, 3, "ok"]);
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("mux", "idle_timeout", async () => {
  const echo = await echoServer();
  const gateway = await Gateway.start({ TCP_PROXY_IDLE_TIMEOUT_MS: "300" });
  try {
    const mux = await muxSession(gateway, await gateway.cookie());
    mux.send(openFrame(1, "127.0.0.1", echo.address().port), frame(DATA, 1, Buffer.from("hi")));
    const f = await mux.next();
    assert.deepEqual([f.type, f.payload.toString()], [DATA, "hi"]);
    await mux.expectError(1, 2, "TCP idle timeout");
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("mux", "close_codes", async () => {
  const gateway = await Gateway.start({ TCP_MUX_MAX_FRAME_PAYLOAD_BYTES: "1000", TCP_PROXY_MAX_MESSAGE_BYTES: "5000" });
  try {
    const cookie = await gateway.cookie();
    let mux = await muxSession(gateway, cookie);
    mux.client.ws.send("text");
    assert.equal((await within(5000, mux.client.closed, "1003")).code, 1003);
    mux = await muxSession(gateway, cookie);
    const header = Buffer.alloc(9);
    header.writeUInt8(DATA, 0);
    header.writeUInt32BE(1, 1);
    header.writeUInt32BE(1001, 5);
    mux.client.ws.send(header);  // refused from its header, before any payload
    assert.equal((await within(5000, mux.client.closed, "1002")).code, 1002);
    mux = await muxSession(gateway, cookie);
    mux.client.ws.send(Buffer.alloc(5001));
    assert.equal((await within(5000, mux.client.closed, "1009")).code, 1009);
    mux = await muxSession(gateway, cookie);
    const stopping = gateway.stop();
    const closed = await within(5000, mux.client.closed, "1001");
    assert.deepEqual([closed.code, closed.reason], [1001, "shutting down"]);
    await stopping;
  } finally { gateway.kill(); }
});

test("mux", "backpressure_slow_client", async () => {
  // A target that sends 8 MiB at once while the client reads nothing for a while: the gateway
  // stops reading the target instead of buffering everything, and every byte still arrives.
  const total = 8 * 1024 * 1024;
  const blob = crypto.randomBytes(total);
  const server = await tcpServer((socket) => { socket.on("error", () => {}); socket.end(blob); });
  const gateway = await Gateway.start();
  try {
    const mux = await muxSession(gateway, await gateway.cookie());
    mux.client.ws.pause();
    mux.send(openFrame(1, "127.0.0.1", server.address().port));
    await sleep(500);
    assert.ok(await gateway.metric("aero_gateway_tcp_mux_backpressure_pauses_total") >= 1, "paused");
    mux.client.ws.resume();
    const parts = [];
    while (true) {
      const f = await mux.next(10000);
      if (f.type === CLOSE) break;
      assert.equal(f.type, DATA);
      parts.push(Buffer.from(f.payload));
    }
    assert.ok(Buffer.concat(parts).equals(blob), "all bytes, in order");
    await gateway.stop();
  } finally { gateway.kill(); server.close(); }
});

// ---- /udp --------------------------------------------------------------------------------------

function v1Frame(guestPort, ip, port, payload) {
  const out = Buffer.alloc(8 + payload.length);
  out.writeUInt16BE(guestPort, 0);
  ip.split(".").forEach((octet, i) => out.writeUInt8(Number(octet), 2 + i));
  out.writeUInt16BE(port, 6);
  payload.copy(out, 8);
  return out;
}

function v2Frame(guestPort, ip, port, payload) {
  const v6 = ip.includes(":");
  const address = v6 ? ipv6Bytes(ip) : Buffer.from(ip.split(".").map(Number));
  const header = Buffer.from([0xa2, 0x02, v6 ? 0x06 : 0x04, 0x00, guestPort >> 8, guestPort & 0xff]);
  const tail = Buffer.from([port >> 8, port & 0xff]);
  return Buffer.concat([header, address, tail, payload]);
}

function ipv6Bytes(text) {
  const [head, tail] = text.split("::");
  const h = head ? head.split(":") : [], t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function parseUdpFrame(data) {
  if (data[0] === 0xa2 && data[1] === 0x02) {
    const v6 = data[2] === 0x06;
    const ipLength = v6 ? 16 : 4;
    const ip = data.subarray(6, 6 + ipLength);
    return { version: 2, guestPort: data.readUInt16BE(4), ip: v6 ? ip.toString("hex") : [...ip].join("."),
             port: data.readUInt16BE(6 + ipLength), payload: data.subarray(8 + ipLength) };
  }
  return { version: 1, guestPort: data.readUInt16BE(0), ip: [...data.subarray(2, 6)].join("."),
           port: data.readUInt16BE(6), payload: data.subarray(8) };
}

async function udpSession(gateway, route, cookie, ca) {
  const client = await connect(gateway, route, { cookie, ca });
  const ready = await client.next();
  assert.equal(ready.isBinary, false, "ready is a text message");
  const parsed = JSON.parse(ready.data.toString());
  assert.equal(parsed.type, "ready");
  assert.match(parsed.sessionId, /^[0-9a-f]{32}$/);
  return client;
}

async function nextBinary(client, ms = 5000) {
  const message = await client.next(ms);
  assert.ok(message.isBinary);
  return message.data;
}

test("udp", "multiplexed_echo_v1_v2", async () => {
  const echo = await udpEcho();
  const port = echo.address().port;
  const gateway = await Gateway.start();
  try {
    const client = await udpSession(gateway, "/udp", await gateway.cookie());
    client.ws.send(v1Frame(5353, "127.0.0.1", port, Buffer.from("v1 datagram")));
    let f = parseUdpFrame(await nextBinary(client));
    assert.deepEqual([f.version, f.guestPort, f.ip, f.port, f.payload.toString()], [1, 5353, "127.0.0.1", port, "v1 datagram"]);
    client.ws.send(v2Frame(6000, "127.0.0.1", port, Buffer.from("v2 datagram")));
    f = parseUdpFrame(await nextBinary(client));
    // PREFER_V2 is off: IPv4 answers come back as v1.
    assert.deepEqual([f.version, f.guestPort, f.ip, f.port, f.payload.toString()], [1, 6000, "127.0.0.1", port, "v2 datagram"]);
    // Byte-exact binary payloads, several in flight.
    const payloads = Array.from({ length: 20 }, (_, i) => crypto.randomBytes(100 + i * 50));
    for (const p of payloads) client.ws.send(v1Frame(7000, "127.0.0.1", port, p));
    const got = [];
    for (let i = 0; i < payloads.length; ++i) got.push(parseUdpFrame(await nextBinary(client)).payload.toString("hex"));
    assert.deepEqual(got.sort(), payloads.map((p) => p.toString("hex")).sort());
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("udp", "multiplexed_prefer_v2_and_ipv6", async () => {
  const echo = await udpEcho();
  let echo6 = null;
  try { echo6 = await udpEcho("udp6", "::1"); } catch { echo6 = null; }
  const gateway = await Gateway.start({ PREFER_V2: "1" });
  try {
    const client = await udpSession(gateway, "/udp", await gateway.cookie());
    client.ws.send(v1Frame(1000, "127.0.0.1", echo.address().port, Buffer.from("a")));
    assert.equal(parseUdpFrame(await nextBinary(client)).version, 1, "v1 until the client sends v2");
    client.ws.send(v2Frame(1000, "127.0.0.1", echo.address().port, Buffer.from("b")));
    assert.equal(parseUdpFrame(await nextBinary(client)).version, 2, "v2 once it has");
    if (echo6) {
      client.ws.send(v2Frame(1001, "::1", echo6.address().port, Buffer.from("six")));
      const f = parseUdpFrame(await nextBinary(client));
      assert.deepEqual([f.version, f.ip, f.payload.toString()], [2, "00000000000000000000000000000001", "six"]);
    }
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); echo6?.close(); }
});

test("udp", "inbound_filtering", async () => {
  // The target answers twice: from its own socket, and from another port; only the first counts.
  const other = await udpSocket();
  const target = await udpSocket();
  target.on("message", (message, remote) => {
    other.send(Buffer.from("from another port"), remote.port, remote.address);
    setTimeout(() => target.send(message, remote.port, remote.address), 50);
  });
  const gateway = await Gateway.start();
  try {
    const cookie = await gateway.cookie();
    const client = await udpSession(gateway, "/udp", cookie);
    for (const text of ["one", "two"]) {
      client.ws.send(v1Frame(4000, "127.0.0.1", target.address().port, Buffer.from(text)));
      const f = parseUdpFrame(await nextBinary(client));
      assert.deepEqual([f.port, f.payload.toString()], [target.address().port, text]);
    }
    assert.ok(await gateway.metric('aero_gateway_udp_dropped_total{reason="filtered"}') >= 2);
    // The per-target form: the socket is connected, so the kernel filters.
    const single = await udpSession(gateway, `/udp?host=127.0.0.1&port=${target.address().port}`, cookie);
    for (const text of ["three", "four"]) {
      single.ws.send(Buffer.from(text));
      assert.equal((await nextBinary(single)).toString(), text);
    }
    await gateway.stop();
  } finally { gateway.kill(); other.close(); target.close(); }
});

test("udp", "per_target_echo_and_upgrade_checks", async () => {
  const echo = await udpEcho();
  const port = echo.address().port;
  const gateway = await Gateway.start({ TCP_BLOCKED_HOSTS: "127.0.0.2" });
  try {
    const cookie = await gateway.cookie();
    const client = await udpSession(gateway, `/udp?target=127.0.0.1:${port}`, cookie);
    const data = crypto.randomBytes(1200);
    client.ws.send(data);
    assert.ok((await nextBinary(client)).equals(data));
    client.ws.send(Buffer.alloc(1201));  // over MAX_DATAGRAM_PAYLOAD_BYTES: dropped
    client.ws.send(Buffer.from("after"));
    assert.equal((await nextBinary(client)).toString(), "after");
    let r = await rawUpgrade(gateway, `/udp?host=127.0.0.1&port=${port}`, []);
    assert.deepEqual([r.status, r.body], [401, "Missing or invalid session\n"]);
    r = await rawUpgrade(gateway, `/udp?host=127.0.0.2&port=${port}`, [`Cookie: ${cookie}`]);
    assert.deepEqual([r.status, r.body], [403, "Target is blocked\n"]);
    r = await rawUpgrade(gateway, "/udp?host=127.0.0.1", [`Cookie: ${cookie}`]);
    assert.deepEqual([r.status, r.body], [400, "Missing required query parameter: port\n"]);
    client.ws.send("text");
    assert.equal((await within(5000, client.closed, "1003")).code, 1003);
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("udp", "policy_caps_and_sizes", async () => {
  const echo = await udpEcho();
  const port = echo.address().port;
  const gateway = await Gateway.start({ MAX_UDP_BINDINGS_PER_SESSION: "2", MAX_DATAGRAM_PAYLOAD_BYTES: "100",
                                        TCP_BLOCKED_HOSTS: "127.0.0.2" });
  try {
    const client = await udpSession(gateway, "/udp", await gateway.cookie());
    client.ws.send(v1Frame(1, "127.0.0.2", port, Buffer.from("denied")));
    client.ws.send(v1Frame(1, "127.0.0.1", 0, Buffer.from("port 0")));
    client.ws.send(Buffer.from([1, 2, 3]));  // malformed
    client.ws.send(v1Frame(1, "127.0.0.1", port, Buffer.alloc(101)));  // oversized
    for (const guest of [1, 2, 3]) {  // the third binding evicts the least recently used
      client.ws.send(v1Frame(guest, "127.0.0.1", port, Buffer.from(`g${guest}`)));
      assert.equal(parseUdpFrame(await nextBinary(client)).payload.toString(), `g${guest}`);
    }
    assert.equal(await gateway.metric('aero_gateway_udp_dropped_total{reason="denied_by_policy"}'), 1);
    assert.equal(await gateway.metric('aero_gateway_udp_dropped_total{reason="malformed"}'), 2);
    assert.equal(await gateway.metric('aero_gateway_udp_dropped_total{reason="oversized"}'), 1);
    assert.equal(await gateway.metric('aero_gateway_udp_bindings_closed_total{reason="evicted"}'), 1);
    client.ws.send(Buffer.alloc(100 + 24 + 1));  // over one frame's size: 1009
    assert.equal((await within(5000, client.closed, "1009")).code, 1009);
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("udp", "idle_timeouts", async () => {
  const echo = await udpEcho();
  const port = echo.address().port;
  const gateway = await Gateway.start({ UDP_BINDING_IDLE_TIMEOUT_MS: "300" });
  try {
    const cookie = await gateway.cookie();
    const multi = await udpSession(gateway, "/udp", cookie);
    multi.ws.send(v1Frame(9, "127.0.0.1", port, Buffer.from("x")));
    await nextBinary(multi);
    const single = await udpSession(gateway, `/udp?host=127.0.0.1&port=${port}`, cookie);
    const closed = await within(5000, single.closed, "per-target idle close");
    assert.deepEqual([closed.code, closed.reason], [1000, "idle timeout"]);
    // The multiplexed WebSocket stays; its idle binding is swept.
    for (let i = 0; i < 50 && await gateway.metric('aero_gateway_udp_bindings_closed_total{reason="idle"}') < 1; ++i) await sleep(100);
    assert.equal(await gateway.metric('aero_gateway_udp_bindings_closed_total{reason="idle"}'), 1);
    multi.ws.send(v1Frame(9, "127.0.0.1", port, Buffer.from("again")));
    assert.equal(parseUdpFrame(await nextBinary(multi)).payload.toString(), "again");
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

// ---- /tcp ----------------------------------------------------------------------------------

// Collects a /tcp WebSocket's binary messages until `bytes` have arrived.
async function receiveBytes(client, bytes, ms = 20000) {
  const parts = [];
  let total = 0;
  const deadline = Date.now() + ms;
  while (total < bytes) {
    const message = await client.next(Math.max(1, deadline - Date.now()));
    assert.ok(message.isBinary, "/tcp sends binary messages");
    parts.push(message.data);
    total += message.data.length;
  }
  return Buffer.concat(parts);
}

test("tcp", "echo_both_query_forms_byte_exact", async () => {
  const echo = await echoServer();
  const port = echo.address().port;
  const gateway = await Gateway.start();
  try {
    const cookie = await gateway.cookie();
    for (const route of [`/tcp?host=127.0.0.1&port=${port}`, `/tcp?v=1&target=127.0.0.1:${port}`]) {
      const client = await connect(gateway, route, { cookie, origin: ORIGIN });
      const data = crypto.randomBytes(3 << 20);  // 3 MiB in messages of 64 KiB
      for (let at = 0; at < data.length; at += 65536) client.ws.send(data.subarray(at, at + 65536));
      const back = await receiveBytes(client, data.length);
      assert.ok(back.equals(data), `${route}: the echo is byte for byte what was sent`);
      client.ws.close(1000);
      assert.equal((await within(5000, client.closed, "close")).code, 1000);
    }
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("tcp", "target_end_closes_the_websocket_after_its_data", async () => {
  const server = await tcpServer((socket) => socket.end(Buffer.from("bye")));
  const gateway = await Gateway.start();
  try {
    const client = await connect(gateway, `/tcp?host=127.0.0.1&port=${server.address().port}`,
                                 { cookie: await gateway.cookie() });
    assert.equal((await receiveBytes(client, 3)).toString(), "bye");
    assert.equal((await within(5000, client.closed, "close after the target's end")).code, 1000);
    await gateway.stop();
  } finally { gateway.kill(); server.close(); }
});

test("tcp", "text_and_oversize_messages_close_with_1003_and_1009", async () => {
  const echo = await echoServer();
  const port = echo.address().port;
  const gateway = await Gateway.start({ TCP_PROXY_MAX_MESSAGE_BYTES: "1024" });
  try {
    const cookie = await gateway.cookie();
    const text = await connect(gateway, `/tcp?host=127.0.0.1&port=${port}`, { cookie });
    text.ws.send("a text message");
    assert.equal((await within(5000, text.closed, "close on text")).code, 1003);
    const big = await connect(gateway, `/tcp?host=127.0.0.1&port=${port}`, { cookie });
    big.ws.send(Buffer.alloc(1025));
    assert.equal((await within(5000, big.closed, "close on oversize")).code, 1009);
    await gateway.stop();
  } finally { gateway.kill(); echo.close(); }
});

test("tcp", "refusals_carry_the_reference_status_codes", async () => {
  const echo = await echoServer();
  const port = echo.address().port;
  const gateway = await Gateway.start({ TCP_PROXY_MAX_CONNECTIONS: "1", TCP_ALLOW_PRIVATE_IPS: "0" });
  const refused = async (route, options) => {
    try {
      await connect(gateway, route, options);
    } catch (error) {
      return Number(/upgrade refused: (\d+)/.exec(error.message)?.[1]);
    }
    return 101;
  };
  try {
    const cookie = await gateway.cookie();
    assert.equal(await refused(`/tcp?host=127.0.0.1&port=${port}`, {}), 401, "no cookie");
    assert.equal(await refused(`/tcp?host=127.0.0.1&port=${port}`, { cookie, origin: "https://evil.example" }), 403);
    assert.equal(await refused(`/tcp?host=127.0.0.1`, { cookie }), 400, "no port");
    assert.equal(await refused(`/tcp?v=2&host=127.0.0.1&port=${port}`, { cookie }), 400, "version");
    assert.equal(await refused(`/tcp?host=127.0.0.1&port=${port}`, { cookie }), 403, "loopback by the IP policy");
    await gateway.stop();
  } finally { gateway.kill(); }
  // The echo server stays up: a refused target would close the first relay and free its slot.
  const open = await Gateway.start({ TCP_PROXY_MAX_CONNECTIONS: "1" });
  try {
    const cookie = await open.cookie();
    const first = await connect(open, `/tcp?host=127.0.0.1&port=${port}`, { cookie });
    const second = await (async () => {
      try { await connect(open, `/tcp?host=127.0.0.1&port=${port}`, { cookie }); } catch (error) { return error.message; }
      return "opened";
    })();
    assert.match(second, /upgrade refused: 429/, "the session's one slot is taken");
    first.ws.close(1000);
    await within(5000, first.closed, "close");
    await open.stop();
  } finally { open.kill(); echo.close(); }
});

// ---- TLS ---------------------------------------------------------------------------------------

// A self-signed certificate for 127.0.0.1 in a temporary directory.
function makeCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aero-gateway-wss-"));
  const cert = path.join(dir, "cert.pem"), key = path.join(dir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore", timeout: 30000 });
  return { dir, cert, key, ca: fs.readFileSync(cert) };
}

// POST /session over HTTPS, trusting `ca`: the Set-Cookie header.
function httpsSession(gateway, ca) {
  return within(5000, new Promise((resolve, reject) => {
    const request = https.request({ host: "127.0.0.1", port: gateway.port, path: "/session", method: "POST", ca },
                                  (response) => {
      response.resume();
      assert.equal(response.statusCode, 201);
      resolve(response.headers["set-cookie"][0]);
    });
    request.on("error", reject);
    request.end();
  }), "POST /session over TLS");
}

test("tls", "wss_tcp_mux_and_udp", async () => {
  const certificate = makeCertificate();
  const server = await echoServer();
  const echo = await udpEcho();
  const gateway = await Gateway.start({ TLS_ENABLED: "1", TLS_CERT_PATH: certificate.cert, TLS_KEY_PATH: certificate.key });
  try {
    assert.match(gateway.url, /^https:/);
    const setCookie = await httpsSession(gateway, certificate.ca);
    assert.ok(setCookie.split(";").map((a) => a.trim()).includes("Secure"), `Secure cookie: ${setCookie}`);
    const cookie = setCookie.split(";")[0];
    // /tcp-mux over wss://: two streams echoed byte-exact.
    const mux = await muxSession(gateway, cookie, certificate.ca);
    const payloads = [crypto.randomBytes(200000), crypto.randomBytes(3000)];
    mux.send(openFrame(1, "127.0.0.1", server.address().port), openFrame(3, "127.0.0.1", server.address().port),
             frame(DATA, 1, payloads[0]), frame(DATA, 3, payloads[1]), closeFrame(1, 1), closeFrame(3, 1));
    const received = { 1: [], 3: [] }, fins = new Set();
    while (fins.size < 2) {
      const f = await mux.next(10000);
      if (f.type === DATA) received[f.id].push(Buffer.from(f.payload));
      else if (f.type === CLOSE) fins.add(f.id);
      else assert.fail(`unexpected frame type ${f.type}`);
    }
    assert.ok(Buffer.concat(received[1]).equals(payloads[0]), "stream 1 byte-exact over TLS");
    assert.ok(Buffer.concat(received[3]).equals(payloads[1]), "stream 3 byte-exact over TLS");
    mux.client.ws.close();
    // /udp over wss://: the ready message, then a v1 datagram echoed.
    const udp = await udpSession(gateway, "/udp", cookie, certificate.ca);
    udp.ws.send(v1Frame(4000, "127.0.0.1", echo.address().port, Buffer.from("datagram over tls")));
    assert.equal(parseUdpFrame(await nextBinary(udp)).payload.toString(), "datagram over tls");
    udp.ws.close();
    // Without the certificate trusted the client refuses the connection.
    await assert.rejects(connect(gateway, "/udp", { cookie, ca: fs.readFileSync("/dev/null") }));
    await gateway.stop();
  } finally {
    gateway.kill(); server.close(); echo.close();
    fs.rmSync(certificate.dir, { recursive: true, force: true });
  }
});

// ---- runner ------------------------------------------------------------------------------------

const cases = (CASES[GROUP] ?? []).filter((c) => ONLY.length === 0 || ONLY.includes(c.name));
if (cases.length === 0) {
  console.error(`no cases for group ${GROUP}`);
  process.exit(2);
}
let passed = 0, failed = 0;
for (const c of cases) {
  try {
    await within(60000, c.fn(), c.name);
    console.log(`ok ${c.name}`);
    ++passed;
  } catch (error) {
    console.log(`FAIL ${c.name}: ${error.stack ?? error}`);
    ++failed;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
