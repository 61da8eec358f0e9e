// Smoke test of the WebAssembly build (scripts/build-wasm.sh), run by Node:
//   node tests/wasm/smoke.mjs build/wasm/aero_devices.js
//
// It plays the browser's two sides through the C API only:
//  * the emulator: guest RAM in JavaScript behind the E1000 host callbacks; an E1000 brought up
//    through its registers (bus master, TX and RX rings); an AIPC buffer with NET_TX and NET_RX
//    allocated in the module's memory; the ring backend and a pump ticking the NIC;
//  * the network worker: its own implementation of the AIPC ring in JavaScript (Atomics on an
//    Int32Array over the module's memory, as Aero's worker does), which writes a frame into
//    NET_RX and reads the guest's frame from NET_TX.
// Checks: the NET_RX frame lands in the guest's RX buffer with its descriptor done, and the
// guest's TX frame comes out of NET_TX unchanged.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import assert from 'node:assert/strict';

const modulePath = process.argv[2] && resolve(process.argv[2]);
if (!modulePath) {
  console.error('usage: node smoke.mjs path/to/aero_devices.js');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const createAeroDevices = require(modulePath);
// Hand the binary over: Emscripten 3.1.6's loader would otherwise try fetch() on a file path.
const wasmBinary = readFileSync(modulePath.replace(/\.js$/, '.wasm'));
const M = await createAeroDevices({ wasmBinary });

const heap = () => M.HEAPU8;
const view = () => new DataView(M.HEAPU8.buffer);
let passed = 0;
function check(name, fn) {
  fn();
  passed += 1;
  console.log(`ok - ${name}`);
}

// ---- The network worker's AIPC ring, written from the layout (Aero docs/ipc-protocol.md) ----

const AIPC_MAGIC = 0x43504941;
const WRAP_MARKER = 0xffffffff;
const KIND_NET_TX = 2;
const KIND_NET_RX = 3;

class WorkerRing {
  constructor(bufferOffset, kind) {
    const dv = view();
    assert.equal(dv.getUint32(bufferOffset, true), AIPC_MAGIC);
    assert.equal(dv.getUint32(bufferOffset + 4, true), 1);
    const count = dv.getUint32(bufferOffset + 12, true);
    for (let i = 0; i < count; i++) {
      const d = bufferOffset + 16 + 16 * i;
      if (dv.getUint32(d, true) === kind) {
        this.header = bufferOffset + dv.getUint32(d + 4, true);
        this.capacity = dv.getUint32(d + 8, true);
        this.data = this.header + 16;
        // Header words through Atomics, as in the browser (index = byte offset / 4).
        this.ctrl = new Int32Array(M.HEAPU8.buffer, this.header, 4);
        assert.equal(this.ctrl[3] >>> 0, this.capacity);
        return;
      }
    }
    throw new Error(`queue kind ${kind} not found`);
  }

  push(payload) {
    const head = Atomics.load(this.ctrl, 0) >>> 0;
    const tail = Atomics.load(this.ctrl, 1) >>> 0;
    const record = (4 + payload.length + 3) & ~3;
    const at = tail % this.capacity;
    const left = this.capacity - at;
    const skip = left < record ? left : 0;
    const free = this.capacity - ((tail - head) >>> 0);
    if (skip + record > free) return false;
    const end = (tail + skip + record) >>> 0;
    if (Atomics.compareExchange(this.ctrl, 1, tail | 0, end | 0) !== (tail | 0)) return false;
    const dv = view();
    if (skip >= 4) dv.setUint32(this.data + at, WRAP_MARKER, true);
    const start = ((tail + skip) >>> 0) % this.capacity;
    dv.setUint32(this.data + start, payload.length, true);
    heap().set(payload, this.data + start + 4);
    Atomics.store(this.ctrl, 2, end | 0);
    return true;
  }

  pop() {
    for (;;) {
      const head = Atomics.load(this.ctrl, 0) >>> 0;
      const tail = Atomics.load(this.ctrl, 2) >>> 0;
      if (head === tail) return null;
      const at = head % this.capacity;
      const left = this.capacity - at;
      const dv = view();
      if (left < 4 || dv.getUint32(this.data + at, true) === WRAP_MARKER) {
        Atomics.store(this.ctrl, 0, (head + left) | 0);
        continue;
      }
      const len = dv.getUint32(this.data + at, true);
      const out = heap().slice(this.data + at + 4, this.data + at + 4 + len);
      Atomics.store(this.ctrl, 0, (head + ((4 + len + 3) & ~3)) | 0);
      return out;
    }
  }
}

// ---- The emulator side --------------------------------------------------------------------

const guest = new Uint8Array(1 << 20);  // guest RAM lives in JavaScript
let nowNs = 1_000_000n;
let irqLevel = 0;
let pump = 0;

const memRead = M.addFunction((user, gpa, dst, len) => {
  const at = Number(gpa);
  if (at + len > guest.length) return 0;
  heap().set(guest.subarray(at, at + len), dst);
  return 1;
}, 'iijii');
const memWrite = M.addFunction((user, gpa, src, len) => {
  const at = Number(gpa);
  if (at + len > guest.length) return 0;
  guest.set(heap().subarray(src, src + len), at);
  return 1;
}, 'iijii');
const setIrq = M.addFunction((user, level) => { irqLevel = level; }, 'vii');
const transmit = M.addFunction((user, frame, len) => M._aero_pump_transmit(pump, frame, len), 'iiii');
const nowFn = M.addFunction(() => nowNs, 'ji');

// AIPC buffer with NET_TX and NET_RX (64 KiB each) in the module's memory.
const specs = M._malloc(16);
view().setUint32(specs, KIND_NET_TX, true);
view().setUint32(specs + 4, 65536, true);
view().setUint32(specs + 8, KIND_NET_RX, true);
view().setUint32(specs + 12, 65536, true);
const ipcSize = M._aero_aipc_buffer_size(specs, 2);
const ipc = M._malloc(ipcSize);

check('AIPC buffer formatted and parsed from JavaScript', () => {
  assert.equal(ipcSize, 16 + 32 + 2 * (16 + 65536));
  assert.equal(M._aero_aipc_buffer_format(ipc, ipcSize, specs, 2), 1);
  assert.equal(view().getUint32(ipc + 8, true), ipcSize);
});
const netTx = new WorkerRing(ipc, KIND_NET_TX);
const netRx = new WorkerRing(ipc, KIND_NET_RX);

const backend = M._aero_ring_backend_create(ipc, ipcSize, 0);
pump = M._aero_pump_create(backend, 0);
const host = M._malloc(24);  // aero_e1000_host: user + 5 callbacks, 4 bytes each in wasm32
[0, memRead, memWrite, setIrq, transmit, nowFn].forEach((v, i) => view().setUint32(host + 4 * i, v, true));
const nic = M._aero_e1000_create(host, 0);

check('objects created through the C API', () => {
  assert.notEqual(backend, 0);
  assert.notEqual(pump, 0);
  assert.notEqual(nic, 0);
  assert.equal(M._aero_e1000_config_read(nic, 0, 4) >>> 0, 0x100e8086);
});

// E1000 bring-up (Intel 8254x SDM §14): bus master, TX ring at 0x1000, RX ring at 0x2000 with
// 8 buffers of 2048 bytes at 0x10000.
const REG = { RCTL: 0x100, TCTL: 0x400, RDBAL: 0x2800, RDLEN: 0x2808, RDH: 0x2810, RDT: 0x2818,
              TDBAL: 0x3800, TDLEN: 0x3808, TDH: 0x3810, TDT: 0x3818 };
const gdv = new DataView(guest.buffer);
M._aero_e1000_config_write(nic, 0x04, 2, 0x0006);  // memory space, bus master
M._aero_e1000_mmio_write(nic, REG.TDBAL, 4, 0x1000);
M._aero_e1000_mmio_write(nic, REG.TDLEN, 4, 8 * 16);
M._aero_e1000_mmio_write(nic, REG.TCTL, 4, 0x2 | 0x8);  // EN, PSP
for (let i = 0; i < 8; i++) gdv.setUint32(0x2000 + 16 * i, 0x10000 + 2048 * i, true);
M._aero_e1000_mmio_write(nic, REG.RDBAL, 4, 0x2000);
M._aero_e1000_mmio_write(nic, REG.RDLEN, 4, 8 * 16);
M._aero_e1000_mmio_write(nic, REG.RDT, 4, 7);
M._aero_e1000_mmio_write(nic, REG.RCTL, 4, 0x2 | 0x8000 | 0x04000000);  // EN, BAM, SECRC

function ethernetFrame(length, seed) {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);                        // broadcast
  f.set([0x02, 0, 0, 0, 0, 0x01], 6);
  f[12] = 0x08; f[13] = 0x00;                // IPv4
  for (let i = 14; i < length; i++) f[i] = (seed + i * 7) & 0xff;
  return f;
}

// The guest posts one frame on its TX ring; the worker writes one frame into NET_RX.
const outFrame = ethernetFrame(128, 3);
guest.set(outFrame, 0x8000);
gdv.setUint32(0x1000, 0x8000, true);
gdv.setUint16(0x1000 + 8, outFrame.length, true);
guest[0x1000 + 11] = 0x01 | 0x08;            // EOP, RS
M._aero_e1000_mmio_write(nic, REG.TDT, 4, 1);
const inFrame = ethernetFrame(342, 9);
check('the worker writes a frame into NET_RX', () => assert.equal(netRx.push(inFrame), true));

const result = M._malloc(64);
M._aero_pump_tick_e1000(pump, nic, nowNs, result);
const r = new DataView(M.HEAPU8.buffer, result, 64);

check('one tick moves one frame each way', () => {
  assert.equal(r.getUint32(4, true), 1, 'tx_frames');
  assert.equal(r.getUint32(12, true), 1, 'rx_frames');
});
check('the NET_RX frame arrived in guest memory', () => {
  assert.equal(gdv.getUint16(0x2000 + 8, true), inFrame.length);
  assert.equal(guest[0x2000 + 12] & 0x03, 0x03);  // DD, EOP
  assert.deepEqual(guest.subarray(0x10000, 0x10000 + inFrame.length), inFrame);
});
check('the guest frame came out of NET_TX', () => {
  assert.deepEqual(netTx.pop(), outFrame);
  assert.equal(netTx.pop(), null);
  assert.equal(guest[0x1000 + 12] & 0x01, 0x01);  // DD written back
});
check('backend counters', () => {
  const stats = M._malloc(128);
  M._aero_backend_get_stats(backend, stats);
  const s = new DataView(M.HEAPU8.buffer, stats, 128);
  assert.equal(s.getBigUint64(0, true), 1n);   // tx_frames
  assert.equal(s.getBigUint64(56, true), 1n);  // rx_frames
  M._free(stats);
});

M._aero_e1000_destroy(nic);
M._aero_pump_destroy(pump);
M._aero_backend_destroy(backend);
M._free(ipc);
console.log(`wasm smoke: ${passed} passed, 0 failed`);
