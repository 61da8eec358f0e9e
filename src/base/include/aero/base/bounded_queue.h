// BoundedQueue<T>: a FIFO with a fixed capacity chosen at construction (architecture habit 4).
//
// Storage is allocated once; push and pop never allocate. A push onto a full queue is refused
// (the caller decides whether that means back-pressure or a counted drop) and counted in
// `refused()`. Single-threaded: the sans-I/O layers own their queues.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace aero {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : slots_(capacity) {}

  std::size_t capacity() const { return slots_.size(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == slots_.size(); }
  std::uint64_t refused() const { return refused_; }

  // Appends `value`; returns false (and leaves `value` untouched) when the queue is full.
  [[nodiscard]] bool try_push(T&& value) {
    if (full()) {
      ++refused_;
      return false;
    }
    slots_[(head_ + size_) % slots_.size()].emplace(std::move(value));
    ++size_;
    return true;
  }
  [[nodiscard]] bool try_push(const T& value) {
    T copy = value;
    return try_push(std::move(copy));
  }

  std::optional<T> try_pop() {
    if (empty()) return std::nullopt;
    std::optional<T> out = std::move(slots_[head_]);
    slots_[head_].reset();
    head_ = (head_ + 1) % slots_.size();
    --size_;
    return out;
  }

  // The oldest element, or nullptr when empty.
  T* front() { return empty() ? nullptr : &*slots_[head_]; }

 private:
  std::vector<std::optional<T>> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace aero
