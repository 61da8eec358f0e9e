// Per-tunnel packet capture in pcapng (draft-ietf-opsawg-pcapng), as Aero's proxy writes it:
// one Section Header Block (shb_userappl "aero-l2-proxy"), one Interface Description Block
// (LINKTYPE_ETHERNET, if_name "l2-tunnel", snaplen 65535, if_tsresol 9 = nanoseconds), then an
// Enhanced Packet Block per frame with epb_flags carrying the direction: guest -> proxy is
// inbound (1), proxy -> guest outbound (2).
//
// The cap counts every byte of the file. Once the next block would pass it, capture stops for
// good and further frames are only counted (frames_dropped). Any I/O error disables the
// capture (error() true).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::l2proxy {

class PcapngWriter {
 public:
  enum class Direction : std::uint8_t { inbound = 1, outbound = 2 };

  // Creates `<dir>/<unix_ms, 13 digits>-session-<tunnel_id>.pcapng` (never overwriting) and
  // writes the section and interface headers. `max_bytes` 0: no cap.
  static Result<std::unique_ptr<PcapngWriter>> create(const std::string& dir, std::uint64_t tunnel_id,
                                                      std::uint64_t unix_ms, std::uint64_t max_bytes);
  ~PcapngWriter();
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  // Appends one frame (timestamp in Unix nanoseconds). False when not written.
  bool write(ByteSpan frame, Direction direction, std::uint64_t unix_ns);
  void flush();

  const std::string& path() const { return path_; }
  std::uint64_t bytes_written() const { return bytes_; }
  std::uint64_t frames_written() const { return frames_; }
  std::uint64_t frames_dropped() const { return dropped_; }
  bool error() const { return error_; }
  // Bytes and errors since the last call (for folding into metrics).
  std::uint64_t take_new_bytes();

 private:
  PcapngWriter(std::FILE* file, std::string path, std::uint64_t max_bytes);
  bool append(const Bytes& block);

  std::FILE* file_;
  std::string path_;
  std::uint64_t max_bytes_;
  std::uint64_t bytes_ = 0;
  std::uint64_t reported_bytes_ = 0;
  std::uint64_t frames_ = 0;
  std::uint64_t dropped_ = 0;
  bool capped_ = false;
  bool error_ = false;
  Bytes block_;
};

// The capture file name for a tunnel (exposed for tests).
std::string capture_file_name(std::uint64_t tunnel_id, std::uint64_t unix_ms);

}  // namespace aero::l2proxy
