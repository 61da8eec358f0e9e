// The AIPC buffer layout and ring (see aipc_ring.h for the format).
//
// Theory of operation of the ring:
//  * Producer: read head and tail_reserve; free = capacity - (tail_reserve - head). The record
//    goes at tail_reserve % capacity if it fits before the end; otherwise the rest of the data
//    area is skipped (wrap marker when at least 4 bytes remain, implicit padding below that).
//    The skip and the record are reserved together by one compare-and-swap, written, then
//    published in reservation order through tail_commit.
//  * Consumer: between head and tail_commit, skip implicit padding or a wrap marker (at most
//    once: after a skip the cursor is at offset 0, where neither can be), then read one record.
//    Every length is checked against the end of the data area and the committed bytes before
//    anything is copied, so a bad length is reported as corrupt instead of being followed.
#include "aero/devices/aipc_ring.h"

#include <cstring>
#include <thread>

#include "shared_word.h"

namespace aero::devices::aipc {

namespace {

using aipc_detail::SharedWord;

constexpr std::size_t kHeadWord = 0;
constexpr std::size_t kTailReserveWord = 4;
constexpr std::size_t kTailCommitWord = 8;
constexpr std::size_t kCapacityWord = 12;

// Bounds on the producer's loops. A lost compare-and-swap means another producer progressed,
// so 1024 rounds only run out under extreme contention (reported as `full`: retry later). The
// commit wait covers a producer preempted between reservation and commit.
constexpr unsigned kReserveAttempts = 1024;
constexpr std::uint32_t kSpinsBeforeYield = 64;

std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
void store_le32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

bool aligned4(const void* p) {
  return (reinterpret_cast<std::uintptr_t>(p) & 3U) == 0;  // NOLINT: alignment check
}

}  // namespace

// ---- Buffer layout ---------------------------------------------------------------------------

std::optional<std::size_t> buffer_size(std::span<const QueueSpec> queues) {
  std::uint64_t total = kBufferHeaderBytes + std::uint64_t{queues.size()} * kQueueDescriptorBytes;
  for (const QueueSpec& q : queues) {
    if (q.capacity_bytes < kMinCapacity || q.capacity_bytes % kRecordAlign != 0) {
      return std::nullopt;
    }
    total = (total + kRecordAlign - 1) & ~std::uint64_t{kRecordAlign - 1};
    total += kRingHeaderBytes + q.capacity_bytes;
    if (total > UINT32_MAX) return std::nullopt;
  }
  if (total > UINT32_MAX) return std::nullopt;
  return static_cast<std::size_t>(total);
}

Result<void> format_buffer(std::span<std::uint8_t> buffer, std::span<const QueueSpec> queues) {
  const auto size = buffer_size(queues);
  if (!size) {
    return make_error("bad_descriptor", "queue capacities must be multiples of 4, at least 8");
  }
  if (buffer.size() != *size) {
    return make_error("length_mismatch", "buffer is not exactly the layout's size");
  }
  if (!aligned4(buffer.data())) return make_error("misaligned", "buffer is not 4-aligned");
  std::memset(buffer.data(), 0, buffer.size());
  store_le32(buffer.data() + 0, kMagic);
  store_le32(buffer.data() + 4, kVersion);
  store_le32(buffer.data() + 8, static_cast<std::uint32_t>(*size));
  store_le32(buffer.data() + 12, static_cast<std::uint32_t>(queues.size()));
  std::size_t offset = kBufferHeaderBytes + queues.size() * kQueueDescriptorBytes;
  for (std::size_t i = 0; i < queues.size(); ++i) {
    offset = (offset + kRecordAlign - 1) & ~(kRecordAlign - 1);
    std::uint8_t* d = buffer.data() + kBufferHeaderBytes + i * kQueueDescriptorBytes;
    store_le32(d + 0, queues[i].kind);
    store_le32(d + 4, static_cast<std::uint32_t>(offset));
    store_le32(d + 8, queues[i].capacity_bytes);
    store_le32(d + 12, 0);
    store_le32(buffer.data() + offset + kCapacityWord, queues[i].capacity_bytes);
    offset += kRingHeaderBytes + queues[i].capacity_bytes;
  }
  return {};
}

Result<QueueInfo> find_queue(ByteSpan buffer, std::uint32_t kind, std::uint32_t nth) {
  if (buffer.size() < kBufferHeaderBytes) return make_error("too_short", "no AIPC header");
  if (load_le32(buffer.data()) != kMagic) return make_error("bad_magic", "not an AIPC buffer");
  if (load_le32(buffer.data() + 4) != kVersion) {
    return make_error("bad_version", "unsupported AIPC version");
  }
  if (load_le32(buffer.data() + 8) != buffer.size()) {
    return make_error("length_mismatch", "total_bytes differs from the buffer length");
  }
  const std::uint64_t count = load_le32(buffer.data() + 12);
  const std::uint64_t table_end = kBufferHeaderBytes + count * kQueueDescriptorBytes;
  if (table_end > buffer.size()) return make_error("too_short", "descriptor table truncated");
  std::optional<QueueInfo> found;
  std::uint32_t seen = 0;
  for (std::uint64_t i = 0; i < count; ++i) {  // bounded: count <= buffer.size() / 16
    const std::uint8_t* d = buffer.data() + kBufferHeaderBytes + i * kQueueDescriptorBytes;
    const QueueInfo q{load_le32(d), load_le32(d + 4), load_le32(d + 8)};
    const std::uint64_t end = std::uint64_t{q.offset_bytes} + kRingHeaderBytes + q.capacity_bytes;
    if (load_le32(d + 12) != 0 || q.offset_bytes % kRecordAlign != 0 ||
        q.capacity_bytes % kRecordAlign != 0 || q.offset_bytes < table_end ||
        end > buffer.size() ||
        load_le32(buffer.data() + q.offset_bytes + kCapacityWord) != q.capacity_bytes) {
      return make_error("bad_descriptor", "queue descriptor " + std::to_string(i) + " invalid");
    }
    if (q.kind == kind && !found) {
      if (seen == nth) found = q;
      ++seen;
    }
  }
  if (!found) return make_error("not_found", "no queue of kind " + std::to_string(kind));
  return *found;
}

// ---- Ring ------------------------------------------------------------------------------------

Result<AipcRing> AipcRing::attach(std::span<std::uint8_t> region) {
  if (region.size() < kRingHeaderBytes) return make_error("too_short", "no ring header");
  if (!aligned4(region.data())) return make_error("misaligned", "ring header is not 4-aligned");
  const std::uint32_t capacity =
      SharedWord(region.data() + kCapacityWord).load(std::memory_order_acquire);
  if (capacity < kMinCapacity || capacity > region.size() - kRingHeaderBytes) {
    return make_error("bad_capacity", "ring capacity word does not fit the region");
  }
  return AipcRing(region.data(), region.data() + kRingHeaderBytes, capacity);
}

Result<AipcRing> AipcRing::format(std::span<std::uint8_t> region, std::uint32_t capacity) {
  if (region.size() < kRingHeaderBytes || capacity < kMinCapacity ||
      capacity > region.size() - kRingHeaderBytes) {
    return make_error("bad_capacity", "capacity does not fit the region");
  }
  if (!aligned4(region.data())) return make_error("misaligned", "ring header is not 4-aligned");
  SharedWord(region.data() + kHeadWord).store(0, std::memory_order_relaxed);
  SharedWord(region.data() + kTailReserveWord).store(0, std::memory_order_relaxed);
  SharedWord(region.data() + kTailCommitWord).store(0, std::memory_order_relaxed);
  SharedWord(region.data() + kCapacityWord).store(capacity, std::memory_order_release);
  return attach(region);
}

PushStatus AipcRing::try_push(ByteSpan payload) {
  if (pending_ && !publish()) return PushStatus::blocked;
  if (payload.size() >= kWrapMarker) return PushStatus::too_large;
  const std::uint64_t record = record_size(payload.size());
  if (record > capacity_) return PushStatus::too_large;
  const SharedWord head_word(header_ + kHeadWord);
  const SharedWord reserve_word(header_ + kTailReserveWord);
  bool inconsistent = false;
  for (unsigned attempt = 0; attempt < kReserveAttempts; ++attempt) {
    const std::uint32_t head = head_word.load(std::memory_order_acquire);
    std::uint32_t tail = reserve_word.load(std::memory_order_acquire);
    const std::uint32_t used = tail - head;
    if (used > capacity_) {
      // Either the consumer moved head between our two loads (retry), or the cursors are
      // corrupt (reported once the attempts run out).
      inconsistent = true;
      continue;
    }
    inconsistent = false;
    const std::uint32_t free = capacity_ - used;
    const std::uint32_t index = tail % capacity_;
    const std::uint32_t remaining = capacity_ - index;
    std::uint32_t padding = 0;
    bool marker = false;
    if (remaining < kLengthBytes) {
      padding = remaining;  // implicit padding
    } else if (remaining < record) {
      padding = remaining;  // wrap marker, record at offset 0
      marker = true;
    }
    const std::uint64_t reserve = std::uint64_t{padding} + record;
    if (reserve > free) return PushStatus::full;
    const std::uint32_t end = tail + static_cast<std::uint32_t>(reserve);
    if (!reserve_word.compare_exchange(tail, end)) continue;

    if (marker) store_le32(data_ + index, kWrapMarker);
    const std::uint32_t at = (tail + padding) % capacity_;
    const auto length = static_cast<std::uint32_t>(payload.size());
    store_le32(data_ + at, length);
    if (!payload.empty()) std::memcpy(data_ + at + kLengthBytes, payload.data(), payload.size());
    const std::size_t pad = static_cast<std::size_t>(record) - kLengthBytes - payload.size();
    if (pad > 0) std::memset(data_ + at + kLengthBytes + payload.size(), 0, pad);

    const Reservation mine{tail, end};
    if (!commit(mine, commit_spins_)) pending_ = mine;
    return PushStatus::ok;
  }
  return inconsistent ? PushStatus::corrupt : PushStatus::full;
}

bool AipcRing::commit(Reservation r, std::uint32_t spin_limit) {
  const SharedWord commit_word(header_ + kTailCommitWord);
  for (std::uint32_t spin = 0; spin < spin_limit; ++spin) {
    // Only the producer whose reservation starts at tail_commit may move it, so nobody can
    // change it between this check and the store.
    if (commit_word.load(std::memory_order_acquire) == r.start) {
      commit_word.store(r.end, std::memory_order_release);
      return true;
    }
    if (spin >= kSpinsBeforeYield) std::this_thread::yield();
  }
  return false;
}

bool AipcRing::publish() {
  if (!pending_) return true;
  if (!commit(*pending_, 1)) return false;
  pending_.reset();
  return true;
}

PopResult AipcRing::try_pop(std::span<std::uint8_t> out) {
  const SharedWord head_word(header_ + kHeadWord);
  const SharedWord commit_word(header_ + kTailCommitWord);
  const std::uint32_t tail = commit_word.load(std::memory_order_acquire);
  std::uint32_t head = head_word.load(std::memory_order_acquire);
  // head moves (and is stored) only when the call ends in ok, too_large or empty after a
  // skip, so a corrupt ring is left exactly as found.
  // Two rounds: at most one skip (padding or marker) precedes a record.
  for (int round = 0; round < 2; ++round) {
    if (head == tail) {
      if (round > 0) head_word.store(head, std::memory_order_release);
      return {PopStatus::empty, 0};
    }
    const std::uint32_t available = tail - head;
    if (available > capacity_) return {PopStatus::corrupt, 0};
    const std::uint32_t index = head % capacity_;
    const std::uint32_t remaining = capacity_ - index;
    if (remaining >= kLengthBytes) {
      const std::uint32_t length = load_le32(data_ + index);
      if (length != kWrapMarker) {
        const std::uint64_t total = record_size(length);
        if (total > remaining || total > available) return {PopStatus::corrupt, 0};
        const std::uint32_t next = head + static_cast<std::uint32_t>(total);
        if (length > out.size()) {
          head_word.store(next, std::memory_order_release);
          return {PopStatus::too_large, length};
        }
        if (length > 0) std::memcpy(out.data(), data_ + index + kLengthBytes, length);
        head_word.store(next, std::memory_order_release);
        return {PopStatus::ok, length};
      }
      // A producer writes a marker only when the record does not fit before the end; at
      // offset 0 the whole data area remains, so a marker there is corruption (and following
      // it would skip a whole lap).
      if (index == 0) return {PopStatus::corrupt, 0};
    }
    // Implicit padding (fewer than 4 bytes left) or a wrap marker: skip to offset 0.
    if (remaining > available) return {PopStatus::corrupt, 0};
    head += remaining;
  }
  return {PopStatus::corrupt, 0};
}

bool AipcRing::empty() const {
  return SharedWord(header_ + kHeadWord).load(std::memory_order_acquire) ==
         SharedWord(header_ + kTailCommitWord).load(std::memory_order_acquire);
}

std::uint32_t AipcRing::used_bytes() const {
  const std::uint32_t head = SharedWord(header_ + kHeadWord).load(std::memory_order_acquire);
  const std::uint32_t tail = SharedWord(header_ + kTailCommitWord).load(std::memory_order_acquire);
  const std::uint32_t used = tail - head;
  return used > capacity_ ? capacity_ : used;
}

std::uint32_t AipcRing::max_payload() const {
  return (capacity_ & ~std::uint32_t{kRecordAlign - 1}) - static_cast<std::uint32_t>(kLengthBytes);
}

}  // namespace aero::devices::aipc
