// Fuzz target for the AIPC ring's consumer and producer over arbitrary ring memory.
//
// Input: byte 0 selects the mode, bytes 1-2 the capacity (8..4095), then 12 bytes of header
// words (head, tail_reserve, tail_commit) and the data area, then a program of operations.
//  * mode even ("hostile memory"): header and data come from the input; the program pops with
//    caps from the input and pushes payloads from the input. Invariants: pops never report
//    more than the cap, ok/too_large consume exactly one record (plus at most one skip) within
//    the committed bytes, corrupt and empty-without-skip leave head untouched, pushes never
//    move tail_reserve past head + capacity; nothing is read or written outside the region
//    (ASan) and nothing loops (libFuzzer timeout).
//  * mode odd ("well-formed"): a fresh ring, header cursors started at an arbitrary value (so
//    the u32 wrap is reached), driven by push/pop operations and checked against a FIFO model:
//    every pushed payload comes back intact and in order, full is reported only when the
//    record cannot fit, and the ring never reports corruption.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#include "aero/devices/aipc_ring.h"
#include "fuzz_input.h"

namespace {

namespace aipc = aero::devices::aipc;

using Input = aero::fuzz::FuzzInput;

std::uint32_t word(const std::uint8_t* region, int index) {
  std::uint32_t v = 0;
  std::memcpy(&v, region + 4 * index, 4);
  return v;
}
void set_word(std::uint8_t* region, int index, std::uint32_t v) {
  std::memcpy(region + 4 * index, &v, 4);
}

void check(bool ok) {
  if (!ok) std::abort();
}

void hostile(Input& in, std::uint32_t capacity) {
  // Exactly the region: ASan catches any access past it.
  std::vector<std::uint32_t> storage((aipc::kRingHeaderBytes + capacity + 3) / 4);
  auto* region = reinterpret_cast<std::uint8_t*>(storage.data());  // NOLINT
  in.take(region, 12);
  set_word(region, 3, capacity);
  in.take(region + aipc::kRingHeaderBytes, capacity);
  auto ring = aipc::AipcRing::attach({region, aipc::kRingHeaderBytes + capacity});
  check(ring.ok());
  ring->set_commit_spins(1);
  std::vector<std::uint8_t> out(4096);
  for (int op = 0; op < 64 && !in.empty(); ++op) {
    const std::uint8_t kind = in.u8();
    const std::uint32_t head = word(region, 0);
    const std::uint32_t reserve = word(region, 1);
    const std::uint32_t commit = word(region, 2);
    if (kind % 4 == 3) {
      // A peer changes a header word between our calls.
      set_word(region, in.u8() % 3, in.u32());
    } else if (kind % 4 == 2) {
      std::vector<std::uint8_t> payload(in.u16() % 2048);
      in.take(payload.data(), payload.size());
      const aipc::PushStatus s = ring->try_push(payload);
      if (s == aipc::PushStatus::ok) {
        const std::uint32_t new_reserve = word(region, 1);
        check(new_reserve - reserve <= capacity);
        check(new_reserve - head <= capacity);
      } else {
        check(word(region, 1) == reserve);
      }
    } else {
      const std::size_t cap = in.u16() % (out.size() + 1);
      const aipc::PopResult r = ring->try_pop({out.data(), cap});
      const std::uint32_t consumed = word(region, 0) - head;
      switch (r.status) {
        case aipc::PopStatus::ok:
          check(r.length <= cap);
          [[fallthrough]];
        case aipc::PopStatus::too_large:
          check(consumed >= aipc::record_size(r.length));
          check(consumed <= commit - head);
          check(commit - head <= capacity);
          break;
        case aipc::PopStatus::empty:
          check(consumed <= commit - head);
          break;
        case aipc::PopStatus::corrupt:
          check(consumed == 0);
          break;
      }
    }
  }
}

void well_formed(Input& in, std::uint32_t capacity) {
  std::vector<std::uint32_t> storage((aipc::kRingHeaderBytes + capacity + 3) / 4);
  auto* region = reinterpret_cast<std::uint8_t*>(storage.data());  // NOLINT
  auto ring = aipc::AipcRing::format({region, aipc::kRingHeaderBytes + capacity}, capacity);
  check(ring.ok());
  ring->set_commit_spins(1);
  // Start all cursors at the same arbitrary value: empty, and reaching the u32 wrap soon.
  // (Only a power-of-two capacity keeps cursor % capacity continuous across that wrap.)
  std::uint32_t start = in.u32();
  if ((capacity & (capacity - 1)) != 0) start = 0;
  for (int i = 0; i < 3; ++i) set_word(region, i, start);
  std::deque<std::vector<std::uint8_t>> model;
  std::vector<std::uint8_t> out(capacity);
  for (int op = 0; op < 256 && !in.empty(); ++op) {
    const std::uint8_t kind = in.u8();
    if (kind % 2 == 0) {
      std::vector<std::uint8_t> payload(in.u16() % (capacity + 8));
      for (std::size_t i = 0; i < payload.size(); ++i) {
        payload[i] = static_cast<std::uint8_t>(static_cast<std::size_t>(op) + i);
      }
      const std::uint32_t tail = word(region, 1);
      const std::uint32_t free = capacity - (tail - word(region, 0));
      const std::uint64_t record = aipc::record_size(payload.size());
      const std::uint32_t remaining = capacity - tail % capacity;
      const std::uint64_t need = (remaining < record ? remaining : 0) + record;
      const aipc::PushStatus s = ring->try_push(payload);
      check(s != aipc::PushStatus::corrupt && s != aipc::PushStatus::blocked);
      check(!ring->pending_commit());
      if (record > capacity) {
        check(s == aipc::PushStatus::too_large);
      } else if (s == aipc::PushStatus::full) {
        check(need > free);  // full only when the record and its skip do not fit
      } else {
        check(s == aipc::PushStatus::ok && need <= free);
        model.push_back(std::move(payload));
      }
    } else {
      const aipc::PopResult r = ring->try_pop(out);
      if (model.empty()) {
        check(r.status == aipc::PopStatus::empty);
        continue;
      }
      check(r.status == aipc::PopStatus::ok);
      check(r.length == model.front().size());
      check(r.length == 0 || std::memcmp(out.data(), model.front().data(), r.length) == 0);
      model.pop_front();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t mode = in.u8();
  const std::uint32_t capacity = aipc::kMinCapacity + in.u16() % 4088U;
  if (mode % 2 == 0) {
    hostile(in, capacity);
  } else {
    well_formed(in, capacity);
  }
  return 0;
}
