// IPv4 fragment reassembly in a fixed arena; see ipv4_reassembler.h for the theory of operation.
#include "aero/stack/ipv4_reassembler.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "aero/wire/checksum.h"

namespace aero::stack {

namespace {

constexpr std::size_t kUnit = 8;  // RFC 791 §3.1: the fragment offset counts 8-octet units
constexpr std::size_t kMaxDatagrams = 4096;
constexpr std::size_t kMaxBufferedBytes = std::size_t{64} * 1024 * 1024;
static_assert(Ipv4Reassembler::kBlockSize % kUnit == 0, "a unit never straddles two blocks");

constexpr std::array<std::string_view, 6> kDropNames = {
    "none", "overlap", "too_big", "no_slot", "byte_cap", "bad_fragment",
};

std::size_t div_round_up(std::size_t value, std::size_t unit) {
  return (value + unit - 1) / unit;
}

}  // namespace

std::string_view reassembly_drop_name(ReassemblyDrop reason) {
  const auto index = static_cast<std::size_t>(reason);
  return index < kDropNames.size() ? kDropNames[index] : "unknown";
}

Result<void> Ipv4ReassemblyLimits::validate() const {
  if (max_datagrams < 1 || max_datagrams > kMaxDatagrams) {
    return make_error("bad_config", "max_datagrams must be 1.." + std::to_string(kMaxDatagrams));
  }
  if (max_buffered_bytes < Ipv4Reassembler::kBlockSize || max_buffered_bytes > kMaxBufferedBytes) {
    return make_error("bad_config", "max_buffered_bytes must be " +
                                        std::to_string(Ipv4Reassembler::kBlockSize) + ".." +
                                        std::to_string(kMaxBufferedBytes));
  }
  // RFC 1122 §3.3.2: a host must reassemble datagrams of at least 576 octets.
  if (max_datagram_size < wire::kIpv4MinReassemblyLength ||
      max_datagram_size > wire::kIpv4MaxTotalLength) {
    return make_error("bad_config", "max_datagram_size must be 576..65535");
  }
  if (timeout <= std::chrono::nanoseconds::zero()) {
    return make_error("bad_config", "timeout must be positive");
  }
  return {};
}

Ipv4Reassembler::Ipv4Reassembler(const Ipv4ReassemblyLimits& limits) : limits_(limits) {
  limits_.max_datagrams = std::clamp<std::size_t>(limits_.max_datagrams, 1, kMaxDatagrams);
  limits_.max_buffered_bytes =
      std::clamp<std::size_t>(limits_.max_buffered_bytes, kBlockSize, kMaxBufferedBytes);
  limits_.max_datagram_size = std::clamp<std::size_t>(
      limits_.max_datagram_size, wire::kIpv4MinReassemblyLength, wire::kIpv4MaxTotalLength);
  if (limits_.timeout <= std::chrono::nanoseconds::zero()) {
    limits_.timeout = std::chrono::seconds(30);
  }

  max_payload_ = limits_.max_datagram_size - wire::kIpv4MinHeaderLength;
  blocks_per_slot_ = div_round_up(max_payload_, kBlockSize);
  words_per_slot_ = div_round_up(div_round_up(max_payload_, kUnit), 64);
}

void Ipv4Reassembler::allocate() {
  slots_.resize(limits_.max_datagrams);
  block_tables_.assign(limits_.max_datagrams * blocks_per_slot_, kNoBlock);
  bitmaps_.assign(limits_.max_datagrams * words_per_slot_, 0);
  const std::size_t blocks = capacity_bytes() / kBlockSize;
  arena_.resize(blocks * kBlockSize);
  free_blocks_.resize(blocks);
  for (std::size_t i = 0; i < blocks; ++i) {
    // Hand out low block numbers first (popped from the top).
    free_blocks_[i] = static_cast<std::uint32_t>(blocks - 1 - i);
  }
  free_count_ = blocks;
  output_.resize(limits_.max_datagram_size);
}

std::span<std::uint32_t> Ipv4Reassembler::blocks_of(std::size_t slot) {
  return std::span<std::uint32_t>(block_tables_).subspan(slot * blocks_per_slot_, blocks_per_slot_);
}

std::span<std::uint64_t> Ipv4Reassembler::bitmap_of(std::size_t slot) {
  return std::span<std::uint64_t>(bitmaps_).subspan(slot * words_per_slot_, words_per_slot_);
}

std::uint8_t* Ipv4Reassembler::unit_bytes(std::size_t slot, std::size_t unit) {
  const std::size_t at = unit * kUnit;
  const std::uint32_t block = blocks_of(slot)[at / kBlockSize];
  return arena_.data() + std::size_t{block} * kBlockSize + at % kBlockSize;
}

std::optional<std::size_t> Ipv4Reassembler::find(const wire::Ipv4Packet& fragment) const {
  // RFC 791 §3.2: fragments belong together when source, destination, protocol and
  // identification agree.
  const Ipv4Address source = fragment.source();
  const Ipv4Address destination = fragment.destination();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.in_use && s.identification == fragment.identification() &&
        s.protocol == fragment.protocol() && s.source == source && s.destination == destination) {
      return i;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> Ipv4Reassembler::claim(const wire::Ipv4Packet& fragment, Instant now) {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.in_use) continue;
    s = Slot{};
    s.in_use = true;
    s.source = fragment.source();
    s.destination = fragment.destination();
    s.protocol = fragment.protocol();
    s.identification = fragment.identification();
    s.deadline = now + limits_.timeout;
    ++slots_in_use_;
    return i;
  }
  return std::nullopt;
}

void Ipv4Reassembler::release(std::size_t slot) {
  for (std::uint32_t& block : blocks_of(slot)) {
    if (block == kNoBlock) continue;
    free_blocks_[free_count_++] = block;
    block = kNoBlock;
  }
  std::fill_n(bitmap_of(slot).begin(), words_per_slot_, std::uint64_t{0});
  slots_[slot] = Slot{};
  --slots_in_use_;
}

ReassemblyOutcome Ipv4Reassembler::refuse(ReassemblyDrop reason,
                                          std::optional<std::size_t> drop_slot) {
  switch (reason) {
    case ReassemblyDrop::overlap: ++stats_.overlap; break;
    case ReassemblyDrop::too_big: ++stats_.too_big; break;
    case ReassemblyDrop::no_slot: ++stats_.no_slot; break;
    case ReassemblyDrop::byte_cap: ++stats_.byte_cap; break;
    case ReassemblyDrop::bad_fragment:
    case ReassemblyDrop::none: ++stats_.bad_fragment; break;
  }
  if (drop_slot) release(*drop_slot);
  return ReassemblyOutcome{ReassemblyOutcome::Status::dropped, reason, {}};
}

ReassemblyOutcome Ipv4Reassembler::add(const wire::Ipv4Packet& fragment, Instant now) {
  ++stats_.fragments;
  expire(now);
  if (!fragment.is_fragment()) return refuse(ReassemblyDrop::bad_fragment, std::nullopt);
  if (slots_.empty()) allocate();

  const std::size_t offset = fragment.fragment_offset();
  const ByteSpan data = fragment.payload();
  const std::size_t end = offset + data.size();
  const bool last = !fragment.more_fragments();
  if (data.empty()) return refuse(ReassemblyDrop::bad_fragment, std::nullopt);
  // RFC 791 §3.2: every fragment but the last carries a multiple of 8 octets.
  if (!last && data.size() % kUnit != 0) {
    return refuse(ReassemblyDrop::bad_fragment, std::nullopt);
  }

  const std::optional<std::size_t> found = find(fragment);
  const Slot* existing = found ? &slots_[*found] : nullptr;

  // RFC 791 §3.1: the reassembled total length (the offset-0 fragment's header plus all data)
  // must fit the 16-bit field, here max_datagram_size. Until the offset-0 fragment arrives the
  // header is assumed to be the minimum; when it arrives, everything seen so far is rechecked.
  std::size_t header_length = wire::kIpv4MinHeaderLength;
  if (existing != nullptr && existing->header_length != 0) {
    header_length = existing->header_length;
  } else if (offset == 0) {
    header_length = fragment.header_length();
  }
  const std::size_t highest_end = std::max(end, existing != nullptr ? existing->max_end : 0);
  if (highest_end + header_length > limits_.max_datagram_size) {
    return refuse(ReassemblyDrop::too_big, found);
  }

  // RFC 791 §3.2: the fragment with MF clear fixes the datagram's length; nothing may disagree.
  if (existing != nullptr) {
    if (last && ((existing->end && *existing->end != end) || end < existing->max_end)) {
      return refuse(ReassemblyDrop::bad_fragment, found);
    }
    if (!last && existing->end && end > *existing->end) {
      return refuse(ReassemblyDrop::bad_fragment, found);
    }
  }

  // Check pass: compare what overlaps, count the new bytes and the arena blocks needed.
  const std::size_t first_unit = offset / kUnit;
  const std::size_t end_unit = div_round_up(end, kUnit);
  std::size_t new_bytes = 0;
  std::size_t blocks_needed = 0;
  if (existing != nullptr) {
    const auto bitmap = bitmap_of(*found);
    for (std::size_t unit = first_unit; unit < end_unit; ++unit) {
      const std::size_t length = std::min(kUnit, end - unit * kUnit);
      if (((bitmap[unit / 64] >> (unit % 64)) & 1U) == 0) {
        new_bytes += length;
        continue;
      }
      // RFC 5722 §4 (IPv6, applied to IPv4 as Linux does for conflicting data): an overlap
      // with different content drops the whole datagram. Identical overlaps are harmless.
      if (std::memcmp(unit_bytes(*found, unit), data.data() + (unit * kUnit - offset), length) !=
          0) {
        return refuse(ReassemblyDrop::overlap, found);
      }
    }
    const auto table = blocks_of(*found);
    for (std::size_t block = offset / kBlockSize; block < div_round_up(end, kBlockSize); ++block) {
      if (table[block] == kNoBlock) ++blocks_needed;
    }
  } else {
    if (slots_in_use_ >= slots_.size()) return refuse(ReassemblyDrop::no_slot, std::nullopt);
    new_bytes = data.size();
    blocks_needed = div_round_up(end, kBlockSize) - offset / kBlockSize;
  }
  if (blocks_needed > free_count_) return refuse(ReassemblyDrop::byte_cap, found);

  // Commit pass: nothing below can fail.
  std::size_t slot = 0;
  if (found) {
    slot = *found;
  } else {
    const auto claimed = claim(fragment, now);
    if (!claimed) return refuse(ReassemblyDrop::no_slot, std::nullopt);  // not reached
    slot = *claimed;
  }
  Slot& s = slots_[slot];
  const auto table = blocks_of(slot);
  for (std::size_t block = offset / kBlockSize; block < div_round_up(end, kBlockSize); ++block) {
    if (table[block] == kNoBlock) table[block] = free_blocks_[--free_count_];
  }
  const auto bitmap = bitmap_of(slot);
  for (std::size_t unit = first_unit; unit < end_unit; ++unit) {
    const std::uint64_t bit = std::uint64_t{1} << (unit % 64);
    if ((bitmap[unit / 64] & bit) != 0) continue;
    const std::size_t length = std::min(kUnit, end - unit * kUnit);
    std::memcpy(unit_bytes(slot, unit), data.data() + (unit * kUnit - offset), length);
    bitmap[unit / 64] |= bit;
    s.received += length;
  }
  if (new_bytes == 0) ++stats_.duplicates;
  if (offset == 0 && s.header_length == 0) {
    const ByteSpan header = fragment.header();
    std::copy(header.begin(), header.end(), s.header.begin());
    s.header_length = header.size();
  }
  if (last) s.end = end;
  s.max_end = std::max(s.max_end, end);

  if (s.end && s.header_length != 0 && s.received == *s.end) return finish(slot);
  return ReassemblyOutcome{};
}

ReassemblyOutcome Ipv4Reassembler::finish(std::size_t slot) {
  const Slot& s = slots_[slot];
  const std::size_t payload_length = *s.end;
  const std::size_t total = s.header_length + payload_length;  // <= max_datagram_size (add())
  const std::span<std::uint8_t> out = std::span<std::uint8_t>(output_).first(total);
  std::copy_n(s.header.begin(), s.header_length, out.begin());
  // The offset-0 fragment's header, options included (RFC 791 §3.2), made whole: the total
  // length of the datagram, MF clear and offset 0 (DF and the reserved bit kept), and a new
  // header checksum.
  wire::store_be16(out, 2, static_cast<std::uint16_t>(total));
  wire::store_be16(out, 6, static_cast<std::uint16_t>(wire::load_be16(out, 6) & 0xC000U));
  wire::store_be16(out, 10, 0);
  wire::store_be16(out, 10, wire::internet_checksum(out.first(s.header_length)));
  const auto table = blocks_of(slot);
  for (std::size_t at = 0; at < payload_length; at += kBlockSize) {
    const std::size_t length = std::min(kBlockSize, payload_length - at);
    std::memcpy(out.data() + s.header_length + at,
                arena_.data() + std::size_t{table[at / kBlockSize]} * kBlockSize, length);
  }
  release(slot);
  ++stats_.reassembled;
  return ReassemblyOutcome{ReassemblyOutcome::Status::complete, ReassemblyDrop::none, out};
}

void Ipv4Reassembler::expire(Instant now) {
  if (slots_in_use_ == 0) return;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].in_use && slots_[i].deadline <= now) {
      release(i);
      ++stats_.timed_out;
    }
  }
}

std::optional<Instant> Ipv4Reassembler::next_deadline() const {
  std::optional<Instant> earliest;
  for (const Slot& s : slots_) {
    if (s.in_use && (!earliest || s.deadline < *earliest)) earliest = s.deadline;
  }
  return earliest;
}

}  // namespace aero::stack
