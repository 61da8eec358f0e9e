// The loopback server and the clients of bench/gateway.sh: TCP relayed through a raw TCP relay
// (socat), websockify, aero-gateway /tcp and aero-gateway /tcp-mux, driven by Node's `ws` (a
// WebSocket client aero-net did not write).
//
// Usage: node gateway_bench.mjs sink
//          Listens on 127.0.0.1 (a free port), prints "SINK_READY PORT". Per connection the first
//          line decides: "D N\n" sends N pattern bytes; "U N\n" checks the next N bytes against
//          the pattern and answers "OK N\n" (or "BAD <offset>\n" at the first wrong or surplus
//          byte); "S\n" answers "idle M\n" (connections that have sent nothing yet) and ends. A
//          connection that sends nothing is an idle relayed connection. After D and U the client
//          closes: websockify 0.10 drops the data it still holds for the client when the target
//          ends the connection, so the sink never ends first.
//        node gateway_bench.mjs throughput MODE URL DIRECTION STREAMS BYTES [MASK]
//          MODE raw (URL tcp://127.0.0.1:P), websockify (ws://127.0.0.1:P/), tcp (the gateway's
//          http://127.0.0.1:P; the target is taken from $SINK_PORT) or mux (the same, one
//          /tcp-mux WebSocket carrying STREAMS streams). DIRECTION down or up. BYTES are split
//          evenly over STREAMS parallel streams. MASK zero (default) or random: the WebSocket
//          masking key of the client's frames (see below). Prints one JSON line with the rate.
//        node gateway_bench.mjs idle MODE URL COUNT PID
//          Opens COUNT idle relayed connections (MODE websockify, tcp or mux) to the sink, waits
//          until the sink holds all of them, and prints one JSON line with the resident memory
//          of process PID and its descendants before and after (VmRSS and Pss, KiB).
//
// Data integrity: the pattern is a fixed pseudo-random sequence with a period of 1048573 bytes (a
// prime, so that no relay's read or message size lines up with it); the receiver compares every
// byte at its offset and counts them, so a relay that loses, duplicates, reorders or corrupts data
// fails the run instead of looking fast.
//
// Masking: RFC 6455 §5.3 makes clients mask their frames. `ws` masks in JavaScript (its native
// helper is optional and not installed), which costs this client more CPU than the relays spend
// per byte on a 2-core machine; with MASK=zero the client sends the all-zero key, which `ws`
// skips, while the relays still unmask every frame as usual. Both WebSocket relays are driven the
// same way.
//
// Every wait is bounded (a run that stalls exits 1 after $TIMEOUT_S seconds, default 120).
import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const NODE_PACKAGE = process.env.NODE_PACKAGE_DIR ?? path.resolve(here, "../tests/integration/node");
const require = createRequire(path.resolve(NODE_PACKAGE, "package.json"));
const WebSocket = require("ws");

const PERIOD = 1048573;
const CHUNK = 64 * 1024;   // bytes per write and per WebSocket message
const IN_FLIGHT = 8;       // WebSocket messages handed to `ws` and not yet flushed, per socket
const TIMEOUT_S = Number(process.env.TIMEOUT_S ?? 120);

// The pattern twice in a row, so that any PERIOD-long window is one subarray.
const PATTERN2 = (() => {
  const blocks = [];
  for (let i = 0; i * 32 < PERIOD; i++) {
    blocks.push(crypto.createHash("sha256").update(`aero-gateway-bench-${i}`).digest());
  }
  const once = Buffer.concat(blocks).subarray(0, PERIOD);
  return Buffer.concat([once, once]);
})();

function fail(message) {
  process.stderr.write(`gateway_bench: ${message}\n`);
  process.exit(1);
}

// Checks received bytes against the pattern and counts them.
class Checker {
  constructor(expected) { this.expected = expected; this.received = 0; this.bad = -1; }
  feed(buf) {
    if (this.bad >= 0) return;
    let pos = 0;
    while (pos < buf.length) {
      const offset = this.received % PERIOD;
      const n = Math.min(buf.length - pos, PERIOD);
      if (this.received + n > this.expected
          || buf.compare(PATTERN2, offset, offset + n, pos, pos + n) !== 0) {
        this.bad = this.received;
        return;
      }
      this.received += n;
      pos += n;
    }
  }
  get done() { return this.bad < 0 && this.received === this.expected; }
}

// The next piece of the pattern to send, at most CHUNK bytes (a view, no copy).
function patternSlice(sent, total) {
  const offset = sent % PERIOD;
  return PATTERN2.subarray(offset, offset + Math.min(CHUNK, total - sent));
}

// ---- the sink ----------------------------------------------------------------------------------

function runSink() {
  const idle = new Set();
  const server = net.createServer({ noDelay: true }, (socket) => {
    idle.add(socket);
    let header = Buffer.alloc(0);
    let checker = null;
    socket.on("error", () => {});
    socket.on("close", () => idle.delete(socket));
    socket.on("data", (data) => {
      idle.delete(socket);
      if (checker) return upload(data);
      header = Buffer.concat([header, data]);
      const newline = header.indexOf(10);
      if (newline < 0) {
        if (header.length > 64) socket.destroy();
        return;
      }
      const [verb, count] = header.subarray(0, newline).toString().split(" ");
      const rest = header.subarray(newline + 1);
      const bytes = Number(count);
      if (verb === "S") {
        socket.end(`idle ${idle.size}\n`);
      } else if (verb === "D" && Number.isSafeInteger(bytes)) {
        download(bytes);
      } else if (verb === "U" && Number.isSafeInteger(bytes)) {
        checker = new Checker(bytes);
        upload(rest);
      } else {
        socket.destroy();
      }
    });
    function upload(data) {
      checker.feed(data);
      if (checker.bad >= 0) {
        socket.write(`BAD ${checker.bad}\n`);
        socket.removeAllListeners("data");
      } else if (checker.done) {
        socket.write(`OK ${checker.received}\n`);
      }
    }
    function download(total) {
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const piece = patternSlice(sent, total);
          sent += piece.length;
          if (!socket.write(piece)) return socket.once("drain", pump);
        }
      };
      pump();
    }
  });
  server.listen(0, "127.0.0.1", () => console.log(`SINK_READY ${server.address().port}`));
}

// ---- streams through the relays ----------------------------------------------------------------
// A stream has send(buf, done) (done() once the bytes are handed to the kernel), and calls
// onData(buf) and onEnd() (the relay or the sink ended it).

const maskOption = (mask) => (mask === "random" ? {} : { generateMask: (key) => key.fill(0) });

function openWebSocket(url, { protocol, cookie, mask }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol ? [protocol] : [], {
      perMessageDeflate: false,  // neither relay compresses; `ws` would offer it
      headers: cookie ? { Cookie: cookie } : {},
      maxPayload: 64 << 20,
      ...maskOption(mask),
    });
    ws.binaryType = "nodebuffer";
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_, response) => reject(new Error(`HTTP ${response.statusCode} from ${url}`)));
  });
}

async function rawStream(url) {
  const { hostname, port } = new URL(url);
  const socket = await new Promise((resolve, reject) => {
    const s = net.connect({ host: hostname, port: Number(port), noDelay: true }, () => resolve(s));
    s.once("error", reject);
  });
  const stream = { onData: () => {}, onEnd: () => {} };
  socket.on("data", (data) => stream.onData(data));
  socket.on("end", () => stream.onEnd());
  socket.on("close", () => stream.onEnd());
  socket.on("error", (error) => fail(`raw relay: ${error.message}`));
  stream.send = (buf, done) => { if (socket.write(buf)) done(); else socket.once("drain", done); };
  stream.close = () => socket.destroy();
  return stream;
}

async function wsStream(url, options) {
  const ws = await openWebSocket(url, options);
  const stream = { onData: () => {}, onEnd: () => {} };
  ws.on("message", (data) => stream.onData(data));
  ws.on("close", (code, reason) => { stream.closeCode = code; stream.closeReason = `${reason}`; stream.onEnd(); });
  ws.on("error", (error) => fail(`WebSocket: ${error.message}`));
  stream.send = (buf, done) => ws.send(buf, { binary: true }, (error) => (error ? fail(`send: ${error.message}`) : done()));
  stream.close = () => ws.terminate();
  return stream;
}

// aero-tcp-mux-v1 (frame layout in docs/gateway.md): one WebSocket, streams 1..count.
const MUX = { open: 1, data: 2, close: 3, error: 4 };
function muxFrame(type, id, payload) {
  const frame = Buffer.allocUnsafe(9 + payload.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt32BE(id, 1);
  frame.writeUInt32BE(payload.length, 5);
  payload.copy(frame, 9);
  return frame;
}
function muxOpenPayload(host, port) {
  const hostBytes = Buffer.from(host);
  const payload = Buffer.alloc(2 + hostBytes.length + 2 + 2);
  payload.writeUInt16BE(hostBytes.length, 0);
  hostBytes.copy(payload, 2);
  payload.writeUInt16BE(port, 2 + hostBytes.length);
  return payload;  // metadata_len 0
}

async function muxStreams(url, options, count, sinkPort) {
  const ws = await openWebSocket(url, { ...options, protocol: "aero-tcp-mux-v1" });
  if (ws.protocol !== "aero-tcp-mux-v1") fail(`/tcp-mux answered subprotocol "${ws.protocol}"`);
  const streams = new Map();
  let pending = Buffer.alloc(0);
  ws.on("message", (data) => {
    let buf = pending.length ? Buffer.concat([pending, data]) : data;
    let pos = 0;
    while (buf.length - pos >= 9) {
      const length = buf.readUInt32BE(pos + 5);
      if (buf.length - pos - 9 < length) break;
      const type = buf[pos];
      const stream = streams.get(buf.readUInt32BE(pos + 1));
      const payload = buf.subarray(pos + 9, pos + 9 + length);
      pos += 9 + length;
      if (!stream) continue;
      if (type === MUX.data) stream.onData(payload);
      else if (type === MUX.close) stream.onEnd();
      else if (type === MUX.error) fail(`/tcp-mux ERROR ${payload.readUInt16BE(0)} ${payload.subarray(4)}`);
    }
    pending = Buffer.from(buf.subarray(pos));
  });
  let closing = false;
  ws.on("close", (code, reason) => closing || fail(`/tcp-mux closed ${code} ${reason}`));
  ws.on("error", (error) => fail(`/tcp-mux: ${error.message}`));
  const open = muxOpenPayload("127.0.0.1", sinkPort);
  const opens = [];
  for (let id = 1; id <= count; id++) {
    const stream = { onData: () => {}, onEnd: () => {} };
    stream.send = (buf, done) => ws.send(muxFrame(MUX.data, id, buf), { binary: true },
                                         (error) => (error ? fail(`send: ${error.message}`) : done()));
    streams.set(id, stream);
    opens.push(muxFrame(MUX.open, id, open));
  }
  for (let i = 0; i < opens.length; i += 256) ws.send(Buffer.concat(opens.slice(i, i + 256)));
  const result = [...streams.values()];
  result.shutdown = () => { closing = true; ws.terminate(); };
  return result;
}

async function sessionCookie(base) {
  const response = await fetch(`${base}/session`, { method: "POST" });
  if (response.status !== 201) fail(`POST /session answered ${response.status}`);
  return response.headers.get("set-cookie").split(";")[0];
}

async function openStreams(mode, url, count, mask) {
  const sinkPort = Number(process.env.SINK_PORT);
  switch (mode) {
    case "raw": return Promise.all(Array.from({ length: count }, () => rawStream(url)));
    case "websockify": return Promise.all(Array.from({ length: count }, () => wsStream(url, { mask })));
    case "tcp": {
      const cookie = await sessionCookie(url);
      const target = `${url.replace(/^http/, "ws")}/tcp?host=127.0.0.1&port=${sinkPort}`;
      return Promise.all(Array.from({ length: count }, () => wsStream(target, { cookie, mask })));
    }
    case "mux": {
      const cookie = await sessionCookie(url);
      return muxStreams(`${url.replace(/^http/, "ws")}/tcp-mux`, { cookie, mask }, count, sinkPort);
    }
    default: return fail(`unknown mode ${mode}`);
  }
}

// ---- throughput --------------------------------------------------------------------------------

function transfer(stream, direction, bytes) {
  return new Promise((resolve, reject) => {
    const header = Buffer.from(`${direction === "down" ? "D" : "U"} ${bytes}\n`);
    if (direction === "down") {
      const checker = new Checker(bytes);
      stream.onData = (data) => {
        checker.feed(data);
        if (checker.bad >= 0) reject(new Error(`download: wrong byte at offset ${checker.bad}`));
        else if (checker.done) resolve();
      };
      stream.onEnd = () => (checker.done ? resolve() : reject(new Error(
        `download ended after ${checker.received} of ${bytes} bytes (close ${stream.closeCode ?? "-"} ${stream.closeReason ?? ""})`)));
      stream.send(header, () => {});
      return;
    }
    let answer = "";
    stream.onData = (data) => {
      answer += data;
      if (answer.endsWith("\n")) {
        if (answer === `OK ${bytes}\n`) resolve(); else reject(new Error(`upload: the sink answered ${answer.trim()}`));
      }
    };
    stream.onEnd = () => reject(new Error(`upload: ended before the sink's answer (${answer.trim()})`));
    // The header goes in front of the first piece; `sent` counts pattern bytes.
    let sent = 0;
    let inFlight = 0;
    const pump = () => {
      while (sent < bytes && inFlight < IN_FLIGHT) {
        const slice = patternSlice(sent, bytes);
        const piece = sent === 0 ? Buffer.concat([header, slice]) : slice;
        sent += slice.length;
        inFlight++;
        stream.send(piece, () => { inFlight--; pump(); });
      }
    };
    pump();
  });
}

// CPU time (user + system, clock ticks) of process PID, its live descendants and its reaped
// children (cutime, cstime): socat and websockify fork a process per connection.
function treeCpuTicks(pid) {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");  // from field 3 (state) on
      ticks += Number(fields[11]) + Number(fields[12]);                  // utime, stime
      if (p === pid) ticks += Number(fields[13]) + Number(fields[14]);   // cutime, cstime
    } catch { /* gone */ }
  }
  return ticks;
}

async function runThroughput(mode, url, direction, streamCount, totalBytes, mask) {
  const per = Math.floor(totalBytes / streamCount);
  const relayPid = Number(process.env.RELAY_PID ?? 0);
  const processesBefore = relayPid ? descendants(relayPid).length : 0;
  const streams = await openStreams(mode, url, streamCount, mask);
  const cpuBefore = relayPid ? treeCpuTicks(relayPid) : 0;
  const start = process.hrtime.bigint();
  await Promise.all(streams.map((stream) => transfer(stream, direction, per)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const bytes = per * streamCount;
  for (const stream of streams) stream.close?.();
  streams.shutdown?.();
  let relayCpuSeconds = null;
  if (relayPid) {
    // Until the per-connection processes are gone and reaped (their time is then the parent's).
    for (let i = 0; i < 50 && descendants(relayPid).length > processesBefore; i++) await sleep(100);
    relayCpuSeconds = (treeCpuTicks(relayPid) - cpuBefore) / 100;  // USER_HZ is 100 on Linux
  }
  console.log(JSON.stringify({ mode, direction, streams: streamCount, bytes, seconds,
                               mbps: bytes / seconds / 1e6, relayCpuSeconds,
                               relayCpuSecondsPerGB: relayCpuSeconds === null ? null : relayCpuSeconds / (bytes / 1e9),
                               checked: true }));
  process.exit(0);
}

// ---- idle connections and memory ---------------------------------------------------------------

function descendants(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* gone */ }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]) ?? []));
  return all;
}

function memoryKiB(pid) {  // the process tree's VmRSS and Pss sums, and its process count
  let rss = 0;
  let pss = 0;
  const tree = descendants(pid);
  for (const p of tree) {
    try {
      rss += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))[1]);
      pss += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))[1]);
    } catch { /* gone */ }
  }
  return { rss, pss, processes: tree.length };
}

function sinkIdleCount() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(process.env.SINK_PORT), "127.0.0.1", () => socket.write("S\n"));
    let answer = "";
    socket.on("data", (data) => { answer += data; });
    socket.on("end", () => resolve(Number(answer.split(" ")[1])));
    socket.on("error", reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitIdle(count) {
  for (let i = 0; i < 600; i++) {
    if ((await sinkIdleCount()) === count) return;
    await sleep(100);
  }
  fail(`the sink never held ${count} idle connections (has ${await sinkIdleCount()})`);
}

async function openIdle(mode, url, count) {
  if (mode === "mux") return openStreams(mode, url, count, "zero");
  const all = [];
  for (let i = 0; i < count; i += 100) all.push(...await openStreams(mode, url, Math.min(100, count - i), "zero"));
  return all;
}

async function runIdle(mode, url, count, pid) {
  // Warm up: one relayed connection opened and closed, so that lazily made state is not counted.
  const warm = await openIdle(mode, url, 1);
  await waitIdle(1);
  for (const stream of warm) stream.close?.();
  warm.shutdown?.();
  await waitIdle(0);
  await sleep(1000);
  const before = memoryKiB(pid);
  const streams = await openIdle(mode, url, count);
  await waitIdle(count);
  await sleep(2000);
  const after = memoryKiB(pid);
  console.log(JSON.stringify({ mode, count, before, after,
                               rssPerConnectionKiB: (after.rss - before.rss) / count,
                               pssPerConnectionKiB: (after.pss - before.pss) / count }));
  for (const stream of streams) stream.close?.();
  streams.shutdown?.();
  process.exit(0);
}

// ---- reports -----------------------------------------------------------------------------------

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}
const readLines = (file) => fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

function reportThroughput(file, streams) {
  const runs = readLines(file);
  const cell = (mode, n, direction, key) => median(runs.filter((r) => r.mode === mode && r.streams === n
                                                                 && r.direction === direction).map((r) => r[key]));
  const rate = (mode, n, direction) => cell(mode, n, direction, "mbps");
  const label = { raw: "raw relay (socat)", websockify: "websockify", tcp: "aero-gateway /tcp",
                  mux: "aero-gateway /tcp-mux" };
  const rows = [["raw", 1], ["websockify", 1], ["tcp", 1], ["raw", streams], ["websockify", streams],
                ["tcp", streams], ["mux", streams]];
  const reps = new Set(runs.map((r) => r.rep)).size;
  const col = (text, width = 10) => String(text).padStart(width);
  console.log(`median of ${reps} runs; MB/s = 10^6 bytes per second, every byte checked;`
              + " relay CPU = the relay's user + system seconds per GB moved");
  console.log(`${"path".padEnd(22)} ${col("connections", 12)} ${col("down MB/s")} ${col("up MB/s")} ${col("down CPU")} ${col("up CPU")}`);
  for (const [mode, n] of rows) {
    const connections = mode === "mux" ? `1 (${n} str.)` : `${n}`;
    console.log(`${label[mode].padEnd(22)} ${col(connections, 12)} ${col(rate(mode, n, "down").toFixed(1))} ${col(rate(mode, n, "up").toFixed(1))}`
                + ` ${col(cell(mode, n, "down", "relayCpuSecondsPerGB").toFixed(2))} ${col(cell(mode, n, "up", "relayCpuSecondsPerGB").toFixed(2))}`);
  }
  console.log(`${"ratio of throughput (of relay CPU per GB)".padEnd(46)} ${col("download", 16)} ${col("upload", 16)}`);
  const ratio = (name, a, b) => {
    const r = (direction) => `${(rate(...a, direction) / rate(...b, direction)).toFixed(2)}`
      + ` (${(cell(...a, direction, "relayCpuSecondsPerGB") / cell(...b, direction, "relayCpuSecondsPerGB")).toFixed(2)})`;
    console.log(`${name.padEnd(46)} ${col(r("down"), 16)} ${col(r("up"), 16)}`);
  };
  ratio("gateway /tcp / websockify, 1 connection", ["tcp", 1], ["websockify", 1]);
  ratio("gateway /tcp / raw relay, 1 connection", ["tcp", 1], ["raw", 1]);
  ratio(`gateway /tcp / websockify, ${streams} connections`, ["tcp", streams], ["websockify", streams]);
  ratio(`gateway /tcp / raw relay, ${streams} connections`, ["tcp", streams], ["raw", streams]);
  ratio(`gateway /tcp-mux / websockify x${streams}`, ["mux", streams], ["websockify", streams]);
  ratio(`gateway /tcp-mux / raw relay x${streams}`, ["mux", streams], ["raw", streams]);
  ratio(`gateway /tcp-mux / gateway /tcp x${streams}`, ["mux", streams], ["tcp", streams]);
}

function reportMemory(file) {
  const label = { tcp: "aero-gateway /tcp", mux: "aero-gateway /tcp-mux", websockify: "websockify" };
  console.log(`${"relay".padEnd(22)} ${"idle".padStart(6)} ${"procs".padStart(6)} ${"RSS before".padStart(11)} ${"RSS after".padStart(11)} ${"RSS/conn".padStart(9)} ${"Pss before".padStart(11)} ${"Pss after".padStart(11)} ${"Pss/conn".padStart(9)}`);
  for (const r of readLines(file)) {
    console.log(`${label[r.mode].padEnd(22)} ${String(r.count).padStart(6)} ${String(r.after.processes).padStart(6)} ${String(r.before.rss).padStart(11)} ${String(r.after.rss).padStart(11)} ${r.rssPerConnectionKiB.toFixed(1).padStart(9)} ${String(r.before.pss).padStart(11)} ${String(r.after.pss).padStart(11)} ${r.pssPerConnectionKiB.toFixed(1).padStart(9)}`);
  }
}

// ---- main --------------------------------------------------------------------------------------

const [command, ...args] = process.argv.slice(2);
if (command === "sink") {
  runSink();
} else {
  setTimeout(() => fail(`timed out after ${TIMEOUT_S} s`), TIMEOUT_S * 1000);
  if (command === "throughput") {
    const [mode, url, direction, streams, bytes, mask = "zero"] = args;
    runThroughput(mode, url, direction, Number(streams), Number(bytes), mask).catch((error) => fail(error.message));
  } else if (command === "idle") {
    const [mode, url, count, pid] = args;
    runIdle(mode, url, Number(count), Number(pid)).catch((error) => fail(error.message));
  } else if (command === "report-throughput") {
    reportThroughput(args[0], Number(args[1]));
    process.exit(0);
  } else if (command === "report-memory") {
    reportMemory(args[0]);
    process.exit(0);
  } else {
    fail("usage: gateway_bench.mjs sink | throughput MODE URL DIRECTION STREAMS BYTES [MASK] | idle MODE URL COUNT PID");
  }
}
