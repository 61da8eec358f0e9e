/* C API for the frame backends, the AIPC shared-memory ring and the frame pump.
 *
 * An embedder (for example the WebAssembly build driven from JavaScript) connects a NIC to a
 * backend through a pump:
 *
 *   aero_backend* be = aero_ring_backend_create(ipc, ipc_len, NULL);  NET_TX/NET_RX in ipc
 *   aero_pump* pump = aero_pump_create(be, NULL);                      256/256 frames a tick
 *   host.transmit = my_transmit;     my_transmit(user, f, n) { return aero_pump_transmit(pump, f, n); }
 *   aero_e1000* nic = aero_e1000_create(&host, mac);                   see e1000_c.h
 *   ... on doorbells and timers:
 *   aero_pump_tick_e1000(pump, nic, now_ns, &result);                  then sleep until
 *                                                                      result.next_deadline_ns
 *   aero_pump_destroy(pump); aero_e1000_destroy(nic); aero_backend_destroy(be);
 *
 * and the same for virtio-net (virtio_net_c.h) with aero_pump_tick_virtio_net,
 *
 * or, without shared memory, aero_queue_backend_create() and move frames with
 * aero_queue_backend_push_rx / aero_queue_backend_pop_tx.
 *
 * The AIPC layout (Aero's docs/ipc-protocol.md): a 16-byte header {magic "AIPC", version 1,
 * total_bytes, queue_count}, 16-byte queue descriptors {kind, offset_bytes, capacity_bytes, 0},
 * and per queue a ring header {head, tail_reserve, tail_commit, capacity} (u32, accessed with
 * Atomics) followed by capacity bytes of records {u32 length, payload, pad to 4}; a length of
 * 0xFFFFFFFF marks a wrap to offset 0. The memory must stay valid and 4-aligned while a ring or
 * backend uses it; in WebAssembly it must be inside the module's memory (allocate it with
 * malloc and give the other side a view of that memory).
 *
 * Nothing here allocates per frame. All functions are single-threaded per object and never
 * block; only the ring memory may be shared with another thread (the peer of each ring).
 * Functions taking an object never accept NULL for it.
 */
#ifndef AERO_DEVICES_BACKENDS_C_H
#define AERO_DEVICES_BACKENDS_C_H

#include <stddef.h>
#include <stdint.h>

#include "aero/devices/e1000_c.h"
#include "aero/devices/virtio_net_c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- AIPC buffer layout -------------------------------------------------------------------- */

#define AERO_AIPC_MAGIC 0x43504941u /* "AIPC" little-endian */
#define AERO_AIPC_VERSION 1u
#define AERO_AIPC_WRAP_MARKER 0xFFFFFFFFu
#define AERO_AIPC_KIND_CMD 0u
#define AERO_AIPC_KIND_EVT 1u
#define AERO_AIPC_KIND_NET_TX 2u /* emulator -> network worker */
#define AERO_AIPC_KIND_NET_RX 3u /* network worker -> emulator */
#define AERO_AIPC_KIND_HID_IN 4u
#define AERO_AIPC_NET_RING_CAPACITY (512u * 1024u)
#define AERO_AIPC_NET_MAX_FRAME 2048u

typedef struct aero_aipc_queue_spec {
  uint32_t kind;
  uint32_t capacity_bytes; /* data area; a multiple of 4, at least 8 */
} aero_aipc_queue_spec;

/* Bytes a buffer with these queues needs; 0 if a capacity is invalid or the total exceeds
 * 4 GiB - 1. */
size_t aero_aipc_buffer_size(const aero_aipc_queue_spec* queues, size_t count);
/* Formats buf (exactly aero_aipc_buffer_size bytes, 4-aligned): header, descriptors, empty
 * rings. Returns 1 on success, 0 on invalid arguments. */
int aero_aipc_buffer_format(uint8_t* buf, size_t len, const aero_aipc_queue_spec* queues,
                            size_t count);
/* Validates the layout and finds the nth queue of kind: 1 with *offset_bytes (of the ring
 * header) and *capacity_bytes set, 0 if the buffer is invalid or has no such queue. */
int aero_aipc_buffer_find_queue(const uint8_t* buf, size_t len, uint32_t kind, uint32_t nth,
                                uint32_t* offset_bytes, uint32_t* capacity_bytes);

/* ---- AIPC ring ----------------------------------------------------------------------------- */

typedef struct aero_aipc_ring aero_aipc_ring;

/* Push results. */
#define AERO_AIPC_PUSH_OK 0
#define AERO_AIPC_PUSH_FULL 1      /* no room now; retry later */
#define AERO_AIPC_PUSH_TOO_LARGE 2 /* the record can never fit this ring */
#define AERO_AIPC_PUSH_CORRUPT 3   /* the ring's cursors are inconsistent */
#define AERO_AIPC_PUSH_BLOCKED 4   /* this handle's previous record still waits to be
                                      published behind another producer; nothing written */
/* Pop results. */
#define AERO_AIPC_POP_OK 0
#define AERO_AIPC_POP_EMPTY 1
#define AERO_AIPC_POP_TOO_LARGE 2 /* record longer than cap: skipped, *len = its length */
#define AERO_AIPC_POP_CORRUPT 3   /* a length or cursor contradicts the layout */

/* A handle on the ring whose 16-byte header starts at region (region_len covers header and
 * data). attach uses the capacity already in the header; format writes a fresh header with
 * the given capacity first. NULL if the region is too small, misaligned or the capacity is
 * below 8. One handle per producer thread; one consumer handle per ring. */
aero_aipc_ring* aero_aipc_ring_attach(uint8_t* region, size_t region_len);
aero_aipc_ring* aero_aipc_ring_format(uint8_t* region, size_t region_len, uint32_t capacity);
void aero_aipc_ring_destroy(aero_aipc_ring* ring);

int aero_aipc_ring_push(aero_aipc_ring* ring, const uint8_t* payload, size_t len);
/* Publishes a record whose publication had to wait for an earlier producer; 1 when nothing
 * remains pending. */
int aero_aipc_ring_publish(aero_aipc_ring* ring);
/* Pops the next record into out (at most cap bytes); *len receives the payload length. */
int aero_aipc_ring_pop(aero_aipc_ring* ring, uint8_t* out, size_t cap, size_t* len);
uint32_t aero_aipc_ring_capacity(const aero_aipc_ring* ring);
uint32_t aero_aipc_ring_used_bytes(const aero_aipc_ring* ring);

/* ---- Backends ------------------------------------------------------------------------------ */

typedef struct aero_backend aero_backend;

/* Limits of one frame queue; a zero field takes the default in brackets. */
typedef struct aero_frame_limits {
  size_t max_frames;     /* frames queued at once [1024] */
  size_t max_bytes;      /* payload bytes queued at once [1 MiB] */
  size_t max_frame_size; /* largest frame [2048] */
  size_t min_frame_size; /* smallest frame [14] */
} aero_frame_limits;

/* In-process queues; tx is guest -> host, rx host -> guest. NULL limits take the defaults.
 * Returns NULL on allocation failure. */
aero_backend* aero_queue_backend_create(const aero_frame_limits* tx, const aero_frame_limits* rx);

typedef struct aero_ring_backend_config {
  size_t max_frame_size;          /* both directions [2048] */
  aero_frame_limits tx_hold;      /* frames held while NET_TX is full [256 frames, 512 KiB] */
  uint32_t rx_skips_per_peek;     /* oversize NET_RX records skipped per look [64] */
} aero_ring_backend_config;

/* The first NET_TX and NET_RX queues of the AIPC buffer at ipc (ipc_len bytes, formatted).
 * NULL config takes the defaults. Returns NULL if the layout is invalid or lacks a queue. */
aero_backend* aero_ring_backend_create(uint8_t* ipc, size_t ipc_len,
                                       const aero_ring_backend_config* config);
void aero_backend_destroy(aero_backend* backend);

/* The NIC side, guest -> host: 1 if the backend took the frame (queued, written to NET_TX,
 * or held for a retry), 0 if it refused it (counted by reason). Prefer aero_pump_transmit
 * when a pump drives the NIC, so the pump counts the frame too. */
int aero_backend_transmit(aero_backend* backend, const uint8_t* frame, size_t len);

/* Queue backend, host side. push_rx: AERO_QUEUE_* (a refusal is back-pressure: keep the
 * frame and retry). pop_tx: copies the oldest guest frame to buf and removes it, returning
 * its length; returns 0 when empty; when cap is too small returns the length and keeps it.
 * Both return AERO_QUEUE_NOT_A_QUEUE / 0 for a ring backend. */
#define AERO_QUEUE_ACCEPTED 0
#define AERO_QUEUE_REFUSED_RUNT 1
#define AERO_QUEUE_REFUSED_OVERSIZE 2
#define AERO_QUEUE_REFUSED_FRAMES_FULL 3
#define AERO_QUEUE_REFUSED_BYTES_FULL 4
#define AERO_QUEUE_NOT_A_QUEUE 5
int aero_queue_backend_push_rx(aero_backend* backend, const uint8_t* frame, size_t len);
size_t aero_queue_backend_pop_tx(aero_backend* backend, uint8_t* buf, size_t cap);

/* Counters; fields that do not apply to a backend's kind stay 0. */
typedef struct aero_backend_stats {
  uint64_t tx_frames;           /* guest frames taken (queued, or written to NET_TX) */
  uint64_t tx_bytes;
  uint64_t tx_held;             /* ring: offered while NET_TX was full, held for a retry */
  uint64_t tx_refused_runt;     /* queue */
  uint64_t tx_refused_oversize;
  uint64_t tx_refused_full;     /* queue: frame or byte cap; ring: hold queue full */
  uint64_t tx_refused_broken;   /* ring: NET_TX corrupt */
  uint64_t rx_frames;           /* frames for the guest: queue accepted, ring popped */
  uint64_t rx_bytes;
  uint64_t rx_refused;          /* queue: push_rx refusals (all reasons) */
  uint64_t rx_skipped_oversize; /* ring: NET_RX records longer than max_frame_size */
  uint64_t rx_corrupt;          /* ring */
  uint32_t tx_queued_frames;    /* queue: TX frames waiting; ring: frames held */
  uint32_t rx_queued_frames;    /* queue: RX frames waiting */
  int32_t tx_broken;            /* ring: 1 once NET_TX was found corrupt */
  int32_t rx_broken;            /* ring: 1 once NET_RX was found corrupt */
} aero_backend_stats;
void aero_backend_get_stats(const aero_backend* backend, aero_backend_stats* out);

/* ---- Pump ---------------------------------------------------------------------------------- */

typedef struct aero_pump aero_pump;

typedef struct aero_pump_config {
  uint32_t tx_frame_budget; /* 256: no further NIC poll once this many frames left a tick */
  uint32_t rx_frame_budget; /* 256: frames offered to the NIC per tick */
  uint32_t max_polls;       /* 4: NIC polls per tick */
} aero_pump_config;

typedef struct aero_pump_tick_result {
  uint32_t polls;
  uint32_t tx_frames;
  uint32_t tx_refused;
  uint32_t rx_frames;
  uint32_t rx_dropped;      /* dropped by the NIC for a reason it counts */
  int32_t rx_held;          /* 1: the NIC had no room; the frame waits in the backend */
  int32_t tx_deferred;      /* 1: the NIC had transmit work left */
  int32_t rx_budget_exhausted;
  uint64_t tx_bytes;
  uint64_t rx_bytes;
  uint64_t next_deadline_ns; /* tick again at this time; AERO_E1000_NO_DEADLINE (the same value
                                as AERO_VIRTIO_NET_NO_DEADLINE): on events */
} aero_pump_tick_result;

/* A pump moving frames between one NIC and backend (which must outlive it). NULL config
 * takes the defaults. In a non-NULL config the budgets are taken as given (0: that direction
 * is not pumped) and max_polls 0 means 4. */
aero_pump* aero_pump_create(aero_backend* backend, const aero_pump_config* config);
void aero_pump_destroy(aero_pump* pump);
/* The NIC's transmit callback forwards here: 1 taken, 0 refused. */
int aero_pump_transmit(aero_pump* pump, const uint8_t* frame, size_t len);
/* One tick for an E1000 created with aero_e1000_create, at now_ns (the NIC's clock). out may
 * be NULL. */
void aero_pump_tick_e1000(aero_pump* pump, aero_e1000* nic, uint64_t now_ns,
                          aero_pump_tick_result* out);
/* One tick for a virtio-net device created with aero_virtio_net_create, at now_ns (the
 * device's clock): at most chains_per_tick transmit and control chains (0 takes 256, Aero's
 * per-tick bound), then up to rx_frame_budget frames for the guest; a frame the device holds
 * (too few receive buffers) stays in the backend for the next tick. out may be NULL. */
void aero_pump_tick_virtio_net(aero_pump* pump, aero_virtio_net* nic, uint32_t chains_per_tick,
                               uint64_t now_ns, aero_pump_tick_result* out);

#ifdef __cplusplus
}
#endif

#endif /* AERO_DEVICES_BACKENDS_C_H */
