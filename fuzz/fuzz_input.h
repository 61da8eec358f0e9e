// The fuzzer's bytes read as a stream of little-endian fields. Reads past the end yield zeros
// (and take() copies what is left), so every input decodes to some sequence of operations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace aero::fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() { return std::uint32_t{u16()} | (std::uint32_t{u16()} << 16); }
  std::uint64_t u64() { return std::uint64_t{u32()} | (std::uint64_t{u32()} << 32); }
  // Copies up to n bytes into out; returns how many there were.
  std::size_t take(std::uint8_t* out, std::size_t n) {
    const std::size_t k = n < size_ - pos_ ? n : size_ - pos_;
    if (k > 0) std::memcpy(out, data_ + pos_, k);
    pos_ += k;
    return k;
  }
  // The next n bytes (fewer at the end), in place.
  std::span<const std::uint8_t> bytes(std::size_t n) {
    const std::size_t k = n < size_ - pos_ ? n : size_ - pos_;
    std::span<const std::uint8_t> out(data_ + pos_, k);
    pos_ += k;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;  // never beyond size_
};

}  // namespace aero::fuzz
