// Checked big-endian byte reader and writer (architecture habit 1).
//
// ByteReader never reads past the span it was given: every read returns std::nullopt (and
// leaves the cursor unchanged) when fewer bytes remain than requested. ByteWriter appends to a
// caller-owned vector; encoders call reserve() once with the exact size so no reallocation
// happens per field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace aero {

using ByteSpan = std::span<const std::uint8_t>;
using Bytes = std::vector<std::uint8_t>;

inline ByteSpan as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};  // NOLINT
}
inline std::string_view as_chars(ByteSpan bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};  // NOLINT
}

class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}

  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  std::optional<std::uint8_t> u8() {
    if (remaining() < 1) return std::nullopt;
    return data_[pos_++];
  }
  std::optional<std::uint16_t> u16be() {
    auto v = fixed<2>();
    if (!v) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
  }
  std::optional<std::uint32_t> u32be() {
    auto v = fixed<4>();
    if (!v) return std::nullopt;
    return static_cast<std::uint32_t>(*v);
  }
  std::optional<std::uint64_t> u64be() { return fixed<8>(); }

  // The next n bytes as a sub-span of the input (no copy).
  std::optional<ByteSpan> take(std::size_t n) {
    if (remaining() < n) return std::nullopt;
    ByteSpan out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // Everything not yet read.
  ByteSpan rest() {
    ByteSpan out = data_.subspan(pos_);
    pos_ = data_.size();
    return out;
  }

 private:
  template <std::size_t N>
  std::optional<std::uint64_t> fixed() {
    if (remaining() < N) return std::nullopt;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < N; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += N;
    return v;
  }

  ByteSpan data_;
  std::size_t pos_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}

  void reserve(std::size_t extra) { out_.reserve(out_.size() + extra); }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16be(std::uint16_t v) { fixed(v, 2); }
  void u32be(std::uint32_t v) { fixed(v, 4); }
  void u64be(std::uint64_t v) { fixed(v, 8); }
  void bytes(ByteSpan data) { out_.insert(out_.end(), data.begin(), data.end()); }
  void bytes(std::string_view text) { bytes(as_bytes(text)); }
  std::size_t size() const { return out_.size(); }

 private:
  void fixed(std::uint64_t v, int width) {
    for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) {
      out_.push_back(static_cast<std::uint8_t>(v >> shift));
    }
  }

  Bytes& out_;
};

}  // namespace aero
