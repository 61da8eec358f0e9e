// A 32-bit word of shared memory (an AIPC ring header word) accessed only atomically, as the
// peer does through Atomics.* on an Int32Array.
//
// std::atomic_ref is the tool (C++20 [atomics.ref.generic]); the libc++ of Debian's Emscripten
// 3.1.6 (LLVM 14) does not ship it yet, so there the same operations use the compiler's
// __atomic builtins, which are what atomic_ref is built on. Both lower to wasm atomics in a
// threaded (shared-memory) build and to plain loads and stores otherwise.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

namespace aero::devices::aipc_detail {

static_assert(std::endian::native == std::endian::little,
              "AIPC header words are little-endian u32s accessed in place");

class SharedWord {
 public:
  // `word` must be 4-aligned (checked when a ring is attached).
  explicit SharedWord(std::uint8_t* word)
      : word_(reinterpret_cast<std::uint32_t*>(word)) {}  // NOLINT: shared-memory word

#if defined(__cpp_lib_atomic_ref)
  std::uint32_t load(std::memory_order order) const {
    return std::atomic_ref<std::uint32_t>(*word_).load(order);
  }
  void store(std::uint32_t value, std::memory_order order) const {
    std::atomic_ref<std::uint32_t>(*word_).store(value, order);
  }
  // Strong compare-and-swap (acq_rel on success, acquire on failure); updates `expected`.
  bool compare_exchange(std::uint32_t& expected, std::uint32_t desired) const {
    return std::atomic_ref<std::uint32_t>(*word_).compare_exchange_strong(
        expected, desired, std::memory_order_acq_rel, std::memory_order_acquire);
  }
#else
  std::uint32_t load(std::memory_order order) const {
    return __atomic_load_n(word_, order == std::memory_order_relaxed ? __ATOMIC_RELAXED
                                                                      : __ATOMIC_ACQUIRE);
  }
  void store(std::uint32_t value, std::memory_order order) const {
    __atomic_store_n(word_, value,
                     order == std::memory_order_relaxed ? __ATOMIC_RELAXED : __ATOMIC_RELEASE);
  }
  bool compare_exchange(std::uint32_t& expected, std::uint32_t desired) const {
    return __atomic_compare_exchange_n(word_, &expected, desired, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
  }
#endif

 private:
  std::uint32_t* word_;
};

}  // namespace aero::devices::aipc_detail
