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
//
// Then the same for virtio-net (virtio_net_c.h) with its own AIPC buffer, backend and pump: the
// device is created with Aero's Windows 7 contract preset, and a small driver written here
// from the virtio 1.2 specification enables MSI-X, negotiates features (§3.1.1), sets up
// receiveq1 and transmitq1 as split rings (§2.7) and sets DRIVER_OK; one frame goes each way
// through aero_pump_tick_virtio_net, with the used rings, the 10-byte headers and the MSI-X
// messages (a callback with a 64-bit argument) checked.
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

// ---- virtio-net through its C API, the AIPC rings and the pump ------------------------------

const vIpc = M._malloc(ipcSize);
assert.equal(M._aero_aipc_buffer_format(vIpc, ipcSize, specs, 2), 1);
const vNetTx = new WorkerRing(vIpc, KIND_NET_TX);
const vNetRx = new WorkerRing(vIpc, KIND_NET_RX);
const vBackend = M._aero_ring_backend_create(vIpc, ipcSize, 0);
const vPump = M._aero_pump_create(vBackend, 0);

const msix = [];
const signalMsix = M.addFunction((user, vector, address, data) => {
  msix.push({ vector, address, data: data >>> 0 });
}, 'viiji');
const vTransmit = M.addFunction((user, frame, len) => M._aero_pump_transmit(vPump, frame, len), 'iiii');
// aero_virtio_net_host: user, mem_read, mem_write, set_irq, signal_msix, transmit, now_ns.
const vHost = M._malloc(28);
[0, memRead, memWrite, setIrq, signalMsix, vTransmit, nowFn]
  .forEach((v, i) => view().setUint32(vHost + 4 * i, v, true));
const vConfig = M._malloc(24);  // aero_virtio_net_config, filled by the preset
M._aero_virtio_net_config_aero_w7(vConfig);
const vnic = M._aero_virtio_net_create(vHost, vConfig);

const F_MAC = 1n << 5n, F_STATUS = 1n << 16n, F_INDIRECT = 1n << 28n, F_VERSION_1 = 1n << 32n;
check('virtio-net created with the Aero W7 preset', () => {
  assert.notEqual(vBackend, 0);
  assert.notEqual(vPump, 0);
  assert.notEqual(vnic, 0);
  assert.equal(view().getBigUint64(vConfig, true), F_VERSION_1 | F_INDIRECT | F_MAC | F_STATUS);
  assert.equal(M._aero_virtio_net_config_read(vnic, 0, 4) >>> 0, 0x10411af4);
});

// The driver. BAR0 accesses take and return 64-bit values (BigInt).
const COMMON = 0x0000, NOTIFY = 0x1000, MSIX_TABLE = 0x3100;
const mmioW = (off, size, v) => M._aero_virtio_net_mmio_write(vnic, off, size, BigInt(v));
const mmioR = (off, size) => M._aero_virtio_net_mmio_read(vnic, off, size);
const setStatus = (v) => mmioW(COMMON + 0x14, 1, v);
const status = () => Number(mmioR(COMMON + 0x14, 1));
const QSIZE = 8;
// Split rings (§2.7): descriptors, then the driver (available) ring, then the device (used) ring.
const vq = [
  { desc: 0x40000, avail: 0x40080, used: 0x40100 },  // receiveq1
  { desc: 0x41000, avail: 0x41080, used: 0x41100 },  // transmitq1
];
const RX_BUF = 0x42000, TX_BUF = 0x44000, HDR = 10;  // the contract's 10-byte header

M._aero_virtio_net_config_write(vnic, 0x04, 2, 0x0006);  // memory space, bus master
let msixCap = M._aero_virtio_net_config_read(vnic, 0x34, 1);
while (msixCap !== 0 && M._aero_virtio_net_config_read(vnic, msixCap, 1) !== 0x11) {
  msixCap = M._aero_virtio_net_config_read(vnic, msixCap + 1, 1);
}
const vectors = (M._aero_virtio_net_config_read(vnic, msixCap + 2, 2) & 0x7ff) + 1;
for (let v = 0; v < vectors; v++) {
  mmioW(MSIX_TABLE + 16 * v, 8, 0xfee00000n + BigInt(v) * 0x1000n);
  mmioW(MSIX_TABLE + 16 * v + 8, 4, 0x30 + v);
  mmioW(MSIX_TABLE + 16 * v + 12, 4, 0);  // unmasked
}
M._aero_virtio_net_config_write(vnic, msixCap + 2, 2, 0x8000);  // MSI-X enable
setStatus(0);
setStatus(1);      // ACKNOWLEDGE
setStatus(1 | 2);  // DRIVER
mmioW(COMMON + 0x00, 4, 0);
let offered = mmioR(COMMON + 0x04, 4);
mmioW(COMMON + 0x00, 4, 1);
offered |= mmioR(COMMON + 0x04, 4) << 32n;
mmioW(COMMON + 0x08, 4, 0);
mmioW(COMMON + 0x0c, 4, offered & 0xffffffffn);
mmioW(COMMON + 0x08, 4, 1);
mmioW(COMMON + 0x0c, 4, offered >> 32n);
setStatus(1 | 2 | 8);  // FEATURES_OK
const featuresOk = (status() & 8) !== 0;
const numQueues = Number(mmioR(COMMON + 0x12, 2));
for (let q = 0; q < 2; q++) {
  mmioW(COMMON + 0x16, 2, q);                // queue_select
  mmioW(COMMON + 0x18, 2, QSIZE);            // queue_size
  mmioW(COMMON + 0x1a, 2, q + 1);            // queue_msix_vector
  mmioW(COMMON + 0x20, 8, vq[q].desc);
  mmioW(COMMON + 0x28, 8, vq[q].avail);
  mmioW(COMMON + 0x30, 8, vq[q].used);
  mmioW(COMMON + 0x1c, 2, 1);                // queue_enable
}
mmioW(COMMON + 0x10, 2, 0);                  // config_msix_vector
setStatus(1 | 2 | 8 | 4);                    // DRIVER_OK

check('virtio-net handshake: features, a queue pair, DRIVER_OK', () => {
  assert.equal(offered, F_VERSION_1 | F_INDIRECT | F_MAC | F_STATUS);
  assert.equal(featuresOk, true);
  assert.equal(numQueues, 2);
  assert.equal(status(), 1 | 2 | 4 | 8);
  assert.equal(M._aero_virtio_net_negotiated_features(vnic), offered);
  assert.equal(vectors, 3);
});

function putDesc(at, addr, len, flags) {
  gdv.setBigUint64(at, BigInt(addr), true);
  gdv.setUint32(at + 8, len, true);
  gdv.setUint16(at + 12, flags, true);
  gdv.setUint16(at + 14, 0, true);
}
// Two receive buffers (device-writable), then one transmit chain: header + frame.
for (let i = 0; i < 2; i++) {
  putDesc(vq[0].desc + 16 * i, RX_BUF + 2048 * i, 2048, 2 /* WRITE */);
  gdv.setUint16(vq[0].avail + 4 + 2 * i, i, true);
}
gdv.setUint16(vq[0].avail + 2, 2, true);
mmioW(NOTIFY + 4 * 0, 2, 0);
const vOut = ethernetFrame(150, 21);
guest.fill(0, TX_BUF, TX_BUF + HDR);
guest.set(vOut, TX_BUF + HDR);
putDesc(vq[1].desc, TX_BUF, HDR + vOut.length, 0);
gdv.setUint16(vq[1].avail + 4, 0, true);
gdv.setUint16(vq[1].avail + 2, 1, true);
mmioW(NOTIFY + 4 * 1, 2, 1);
const vIn = ethernetFrame(420, 33);
check('the worker writes a frame into the virtio NET_RX', () => assert.equal(vNetRx.push(vIn), true));

M._aero_pump_tick_virtio_net(vPump, vnic, 0, nowNs, result);
const vr = new DataView(M.HEAPU8.buffer, result, 64);
check('virtio-net: one tick moves one frame each way', () => {
  assert.equal(vr.getUint32(4, true), 1, 'tx_frames');
  assert.equal(vr.getUint32(12, true), 1, 'rx_frames');
  assert.equal(vr.getInt32(20, true), 0, 'rx_held');
});
check('virtio-net: the NET_RX frame arrived in a receive buffer', () => {
  assert.equal(gdv.getUint16(vq[0].used + 2, true), 1);            // used idx
  assert.equal(gdv.getUint32(vq[0].used + 4, true), 0);            // id: the first buffer
  assert.equal(gdv.getUint32(vq[0].used + 8, true), HDR + vIn.length);
  assert.deepEqual(guest.subarray(RX_BUF, RX_BUF + HDR), new Uint8Array(HDR));
  assert.deepEqual(guest.subarray(RX_BUF + HDR, RX_BUF + HDR + vIn.length), vIn);
});
check('virtio-net: the guest frame came out of NET_TX', () => {
  assert.deepEqual(vNetTx.pop(), vOut);
  assert.equal(vNetTx.pop(), null);
  assert.equal(gdv.getUint16(vq[1].used + 2, true), 1);
  assert.equal(gdv.getUint32(vq[1].used + 4, true), 0);
});
check('virtio-net: MSI-X messages for transmitq1 and receiveq1', () => {
  assert.deepEqual(msix.map((m) => m.vector), [2, 1]);
  assert.equal(msix[0].address, 0xfee02000n);
  assert.equal(msix[0].data, 0x32);
  assert.equal(msix[1].address, 0xfee01000n);
  assert.equal(M._aero_virtio_net_irq_level(vnic), 0);
});
check('virtio-net counters', () => {
  const counters = M._malloc(45 * 8);
  M._aero_virtio_net_get_counters(vnic, counters);
  const c = new DataView(M.HEAPU8.buffer, counters, 45 * 8);
  assert.equal(c.getBigUint64(0, true), 1n);        // tx_frames
  assert.equal(c.getBigUint64(14 * 8, true), 1n);   // rx_frames
  assert.equal(c.getBigUint64(19 * 8, true), 0n);   // rx_hold
  M._free(counters);
});

M._aero_virtio_net_destroy(vnic);
M._aero_pump_destroy(vPump);
M._aero_backend_destroy(vBackend);
M._free(vIpc);
console.log(`wasm smoke: ${passed} passed, 0 failed`);
