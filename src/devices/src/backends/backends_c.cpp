// C API for the AIPC layout, the AIPC ring and the frame backends (backends_c.h).
#include "aero/devices/backends_c.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "aero/devices/aipc_ring.h"
#include "c_handles.h"

namespace aipc = aero::devices::aipc;
using aero::devices::AipcRingBackend;
using aero::devices::AipcRingBackendConfig;
using aero::devices::FrameQueueBackend;
using aero::devices::FrameQueueBackendConfig;
using aero::devices::FrameQueueLimits;
using aero::devices::QueueRefusal;

struct aero_aipc_ring {
  explicit aero_aipc_ring(aipc::AipcRing r) : ring(r) {}
  aipc::AipcRing ring;
};

namespace {

// The specs as a span, or nothing for a NULL array with a non-zero count. Capacity 0 specs
// stay in and fail validation.
std::span<const aipc::QueueSpec> specs_of(const aero_aipc_queue_spec* queues, size_t count,
                                          std::vector<aipc::QueueSpec>& storage) {
  storage.clear();
  if (queues == nullptr) return {};
  storage.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    storage.push_back(aipc::QueueSpec{queues[i].kind, queues[i].capacity_bytes});
  }
  return storage;
}

FrameQueueLimits limits_of(const aero_frame_limits* in, FrameQueueLimits defaults) {
  if (in == nullptr) return defaults;
  FrameQueueLimits out = defaults;
  if (in->max_frames != 0) out.max_frames = in->max_frames;
  if (in->max_bytes != 0) out.max_bytes = in->max_bytes;
  if (in->max_frame_size != 0) out.max_frame_size = in->max_frame_size;
  if (in->min_frame_size != 0) out.min_frame_size = in->min_frame_size;
  return out;
}

int refusal_code(QueueRefusal r) {
  switch (r) {
    case QueueRefusal::none:
      return AERO_QUEUE_ACCEPTED;
    case QueueRefusal::runt:
      return AERO_QUEUE_REFUSED_RUNT;
    case QueueRefusal::oversize:
      return AERO_QUEUE_REFUSED_OVERSIZE;
    case QueueRefusal::frames_full:
      return AERO_QUEUE_REFUSED_FRAMES_FULL;
    case QueueRefusal::bytes_full:
      break;
  }
  return AERO_QUEUE_REFUSED_BYTES_FULL;
}

aero::ByteSpan span_of(const uint8_t* data, size_t len) {
  if (data == nullptr) return {};
  return {data, len};
}

}  // namespace

extern "C" {

size_t aero_aipc_buffer_size(const aero_aipc_queue_spec* queues, size_t count) {
  if (queues == nullptr && count != 0) return 0;
  std::vector<aipc::QueueSpec> storage;
  const auto size = aipc::buffer_size(specs_of(queues, count, storage));
  return size ? *size : 0;
}

int aero_aipc_buffer_format(uint8_t* buf, size_t len, const aero_aipc_queue_spec* queues,
                            size_t count) {
  if (buf == nullptr || (queues == nullptr && count != 0)) return 0;
  std::vector<aipc::QueueSpec> storage;
  return aipc::format_buffer({buf, len}, specs_of(queues, count, storage)).ok() ? 1 : 0;
}

int aero_aipc_buffer_find_queue(const uint8_t* buf, size_t len, uint32_t kind, uint32_t nth,
                                uint32_t* offset_bytes, uint32_t* capacity_bytes) {
  if (buf == nullptr) return 0;
  const auto q = aipc::find_queue({buf, len}, kind, nth);
  if (!q) return 0;
  if (offset_bytes != nullptr) *offset_bytes = q->offset_bytes;
  if (capacity_bytes != nullptr) *capacity_bytes = q->capacity_bytes;
  return 1;
}

aero_aipc_ring* aero_aipc_ring_attach(uint8_t* region, size_t region_len) {
  if (region == nullptr) return nullptr;
  auto ring = aipc::AipcRing::attach({region, region_len});
  if (!ring) return nullptr;
  return new (std::nothrow) aero_aipc_ring(*ring);
}

aero_aipc_ring* aero_aipc_ring_format(uint8_t* region, size_t region_len, uint32_t capacity) {
  if (region == nullptr) return nullptr;
  auto ring = aipc::AipcRing::format({region, region_len}, capacity);
  if (!ring) return nullptr;
  return new (std::nothrow) aero_aipc_ring(*ring);
}

void aero_aipc_ring_destroy(aero_aipc_ring* ring) { delete ring; }

int aero_aipc_ring_push(aero_aipc_ring* ring, const uint8_t* payload, size_t len) {
  if (payload == nullptr && len != 0) return AERO_AIPC_PUSH_TOO_LARGE;
  switch (ring->ring.try_push(span_of(payload, len))) {
    case aipc::PushStatus::ok:
      return AERO_AIPC_PUSH_OK;
    case aipc::PushStatus::full:
      return AERO_AIPC_PUSH_FULL;
    case aipc::PushStatus::too_large:
      return AERO_AIPC_PUSH_TOO_LARGE;
    case aipc::PushStatus::corrupt:
      return AERO_AIPC_PUSH_CORRUPT;
    case aipc::PushStatus::blocked:
      break;
  }
  return AERO_AIPC_PUSH_BLOCKED;
}

int aero_aipc_ring_publish(aero_aipc_ring* ring) { return ring->ring.publish() ? 1 : 0; }

int aero_aipc_ring_pop(aero_aipc_ring* ring, uint8_t* out, size_t cap, size_t* len) {
  if (out == nullptr) cap = 0;
  const aipc::PopResult r = ring->ring.try_pop({out, cap});
  if (len != nullptr) *len = r.length;
  switch (r.status) {
    case aipc::PopStatus::ok:
      return AERO_AIPC_POP_OK;
    case aipc::PopStatus::empty:
      return AERO_AIPC_POP_EMPTY;
    case aipc::PopStatus::too_large:
      return AERO_AIPC_POP_TOO_LARGE;
    case aipc::PopStatus::corrupt:
      break;
  }
  return AERO_AIPC_POP_CORRUPT;
}

uint32_t aero_aipc_ring_capacity(const aero_aipc_ring* ring) { return ring->ring.capacity(); }
uint32_t aero_aipc_ring_used_bytes(const aero_aipc_ring* ring) {
  return ring->ring.used_bytes();
}

aero_backend* aero_queue_backend_create(const aero_frame_limits* tx,
                                        const aero_frame_limits* rx) {
  FrameQueueBackendConfig config;
  config.tx = limits_of(tx, config.tx);
  config.rx = limits_of(rx, config.rx);
  auto* handle = new (std::nothrow) aero_backend;
  if (handle == nullptr) return nullptr;
  handle->queue.reset(new (std::nothrow) FrameQueueBackend(config));
  if (!handle->queue) {
    delete handle;
    return nullptr;
  }
  return handle;
}

aero_backend* aero_ring_backend_create(uint8_t* ipc, size_t ipc_len,
                                       const aero_ring_backend_config* config) {
  if (ipc == nullptr) return nullptr;
  AipcRingBackendConfig cfg;
  if (config != nullptr) {
    if (config->max_frame_size != 0) cfg.max_frame_size = config->max_frame_size;
    cfg.tx_hold = limits_of(&config->tx_hold, cfg.tx_hold);
    if (config->rx_skips_per_peek != 0) cfg.rx_skips_per_peek = config->rx_skips_per_peek;
  }
  auto opened = AipcRingBackend::open({ipc, ipc_len}, cfg);
  if (!opened) return nullptr;
  auto* handle = new (std::nothrow) aero_backend;
  if (handle == nullptr) return nullptr;
  handle->ring.reset(new (std::nothrow) AipcRingBackend(std::move(*opened)));
  if (!handle->ring) {
    delete handle;
    return nullptr;
  }
  return handle;
}

void aero_backend_destroy(aero_backend* backend) { delete backend; }

int aero_backend_transmit(aero_backend* backend, const uint8_t* frame, size_t len) {
  if (frame == nullptr && len != 0) return 0;
  return backend->backend().transmit(span_of(frame, len)) ? 1 : 0;
}

int aero_queue_backend_push_rx(aero_backend* backend, const uint8_t* frame, size_t len) {
  if (!backend->queue) return AERO_QUEUE_NOT_A_QUEUE;
  if (frame == nullptr && len != 0) return AERO_QUEUE_REFUSED_RUNT;
  return refusal_code(backend->queue->push_rx(span_of(frame, len)));
}

size_t aero_queue_backend_pop_tx(aero_backend* backend, uint8_t* buf, size_t cap) {
  if (!backend->queue) return 0;
  const auto frame = backend->queue->tx_peek();
  if (!frame) return 0;
  if (buf == nullptr || cap < frame->size()) return frame->size();
  std::memcpy(buf, frame->data(), frame->size());
  const size_t len = frame->size();
  backend->queue->tx_pop();
  return len;
}

void aero_backend_get_stats(const aero_backend* backend, aero_backend_stats* out) {
  if (out == nullptr) return;
  *out = aero_backend_stats{};
  if (backend->queue) {
    const auto& tx = backend->queue->tx_queue();
    const auto& rx = backend->queue->rx_queue();
    out->tx_frames = tx.counters().accepted_frames;
    out->tx_bytes = tx.counters().accepted_bytes;
    out->tx_refused_runt = tx.counters().refused_runt;
    out->tx_refused_oversize = tx.counters().refused_oversize;
    out->tx_refused_full = tx.counters().refused_frames_full + tx.counters().refused_bytes_full;
    out->rx_frames = rx.counters().accepted_frames;
    out->rx_bytes = rx.counters().accepted_bytes;
    out->rx_refused = rx.counters().refused_runt + rx.counters().refused_oversize +
                      rx.counters().refused_frames_full + rx.counters().refused_bytes_full;
    out->tx_queued_frames = static_cast<uint32_t>(tx.frames());
    out->rx_queued_frames = static_cast<uint32_t>(rx.frames());
    return;
  }
  const auto& c = backend->ring->counters();
  out->tx_frames = c.tx_frames;
  out->tx_bytes = c.tx_bytes;
  out->tx_held = c.tx_held;
  out->tx_refused_oversize = c.tx_refused_oversize;
  out->tx_refused_full = c.tx_refused_hold_full;
  out->tx_refused_broken = c.tx_refused_broken;
  out->rx_frames = c.rx_frames;
  out->rx_bytes = c.rx_bytes;
  out->rx_skipped_oversize = c.rx_skipped_oversize;
  out->rx_corrupt = c.rx_corrupt;
  out->tx_queued_frames = static_cast<uint32_t>(backend->ring->tx_held_frames());
  out->tx_broken = c.tx_broken ? 1 : 0;
  out->rx_broken = c.rx_broken ? 1 : 0;
}

}  // extern "C"
