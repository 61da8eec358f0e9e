// pcapng writer (pcapng.h). Little-endian blocks, as every reader accepts either order.
#include "aero/services/l2_proxy/pcapng.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aero::l2proxy {

namespace {

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void pad4(Bytes& out) {
  while (out.size() % 4 != 0) out.push_back(0);
}
void option(Bytes& out, std::uint16_t code, ByteSpan value) {
  put16(out, code);
  put16(out, static_cast<std::uint16_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
  pad4(out);
}
ByteSpan text(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};  // NOLINT
}
// Fills in the block's total length at offset 4 and appends it again at the end.
void finish_block(Bytes& block) {
  const auto total = static_cast<std::uint32_t>(block.size() + 4);
  for (int i = 0; i < 4; ++i) block[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(total >> (8 * i));
  put32(block, total);
}

constexpr std::uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr std::uint32_t kInterfaceDescription = 0x00000001;
constexpr std::uint32_t kEnhancedPacket = 0x00000006;
constexpr std::uint16_t kLinktypeEthernet = 1;
constexpr std::uint32_t kSnaplen = 65535;

}  // namespace

std::string capture_file_name(std::uint64_t tunnel_id, std::uint64_t unix_ms) {
  char name[64];
  std::snprintf(name, sizeof name, "%013llu-session-%llu.pcapng",
                static_cast<unsigned long long>(unix_ms), static_cast<unsigned long long>(tunnel_id));
  return name;
}

Result<std::unique_ptr<PcapngWriter>> PcapngWriter::create(const std::string& dir,
                                                           std::uint64_t tunnel_id,
                                                           std::uint64_t unix_ms,
                                                           std::uint64_t max_bytes) {
  std::string path = dir + "/" + capture_file_name(tunnel_id, unix_ms);
  // Create-new: an existing file is never overwritten.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return make_error("capture_open", path + ": " + std::strerror(errno));
  std::FILE* file = ::fdopen(fd, "wb");
  if (file == nullptr) {
    ::close(fd);
    return make_error("capture_open", path + ": fdopen failed");
  }
  std::unique_ptr<PcapngWriter> writer(new PcapngWriter(file, std::move(path), max_bytes));

  Bytes shb;
  put32(shb, kSectionHeader);
  put32(shb, 0);
  put32(shb, 0x1A2B3C4D);  // byte-order magic
  put16(shb, 1);           // major
  put16(shb, 0);           // minor
  put32(shb, 0xFFFFFFFF);  // section length: unknown
  put32(shb, 0xFFFFFFFF);
  option(shb, 4, text("aero-l2-proxy"));  // shb_userappl
  option(shb, 0, {});                     // opt_endofopt
  finish_block(shb);

  Bytes idb;
  put32(idb, kInterfaceDescription);
  put32(idb, 0);
  put16(idb, kLinktypeEthernet);
  put16(idb, 0);
  put32(idb, kSnaplen);
  option(idb, 2, text("l2-tunnel"));  // if_name
  const std::uint8_t nanoseconds = 9;
  option(idb, 9, ByteSpan(&nanoseconds, 1));  // if_tsresol
  option(idb, 0, {});
  finish_block(idb);

  if (!writer->append(shb) || !writer->append(idb)) {
    return make_error("capture_io", writer->path_ + ": cannot write the headers");
  }
  return writer;
}

PcapngWriter::PcapngWriter(std::FILE* file, std::string path, std::uint64_t max_bytes)
    : file_(file), path_(std::move(path)), max_bytes_(max_bytes) {}

PcapngWriter::~PcapngWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

bool PcapngWriter::append(const Bytes& block) {
  if (error_) return false;
  if (std::fwrite(block.data(), 1, block.size(), file_) != block.size()) {
    error_ = true;
    return false;
  }
  bytes_ += block.size();
  return true;
}

bool PcapngWriter::write(ByteSpan frame, Direction direction, std::uint64_t unix_ns) {
  if (error_) return false;
  const std::size_t captured = std::min<std::size_t>(frame.size(), kSnaplen);
  // header 28 + data padded + epb_flags option 8 + end of options 4 + trailing length 4
  const std::size_t size = 28 + ((captured + 3) & ~std::size_t{3}) + 8 + 4 + 4;
  if (capped_ || (max_bytes_ != 0 && bytes_ + size > max_bytes_)) {
    capped_ = true;
    ++dropped_;
    return false;
  }
  block_.clear();
  put32(block_, kEnhancedPacket);
  put32(block_, 0);
  put32(block_, 0);  // interface 0
  put32(block_, static_cast<std::uint32_t>(unix_ns >> 32));
  put32(block_, static_cast<std::uint32_t>(unix_ns));
  put32(block_, static_cast<std::uint32_t>(captured));
  put32(block_, static_cast<std::uint32_t>(frame.size()));
  block_.insert(block_.end(), frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(captured));
  pad4(block_);
  std::uint8_t flags[4] = {static_cast<std::uint8_t>(direction), 0, 0, 0};
  option(block_, 2, ByteSpan(flags, 4));  // epb_flags: bits 0-1 direction
  option(block_, 0, {});
  finish_block(block_);
  if (!append(block_)) return false;
  ++frames_;
  return true;
}

void PcapngWriter::flush() {
  if (!error_ && std::fflush(file_) != 0) error_ = true;
}

std::uint64_t PcapngWriter::take_new_bytes() {
  const std::uint64_t n = bytes_ - reported_bytes_;
  reported_bytes_ = bytes_;
  return n;
}

}  // namespace aero::l2proxy
