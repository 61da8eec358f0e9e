// A fake TcpSocketHost + TcpSegmentSink for driving TcpEngine directly: host sockets are byte
// strings, segments for the guest are recorded and parsed. Shared by the component tests and
// the fuzz target.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aero/stack/tcp_engine.h"
#include "aero/wire/tcp.h"

namespace aero::test {

class FakeSockets final : public stack::TcpSocketHost, public stack::TcpSegmentSink {
 public:
  struct Socket {
    Ipv4Address destination;
    std::uint16_t port = 0;
    std::string to_guest;    // bytes the remote sent, from the first unconsumed one
    bool eof = false;        // the remote closed after to_guest
    bool reset = false;      // reads fail
    std::string from_guest;  // bytes written by the engine
    std::size_t write_room = static_cast<std::size_t>(-1);  // bytes the socket takes now
    bool write_error = false;
    bool shut_write = false;
    bool closed = false;
    bool aborted = false;
    std::size_t consumed = 0;
    unsigned read_waits = 0;
    unsigned write_waits = 0;
    unsigned writes = 0;
  };

  struct Segment {
    Ipv4Address source;
    Ipv4Address destination;
    Bytes bytes;
    std::size_t frame_data = 0;  // non-zero: an offloaded segment, cut into frames of this much data
    wire::TcpPacket packet() const { return wire::TcpPacket::parse(bytes).value(); }
  };

  bool accept_connects = true;
  std::map<stack::ConnectionId, Socket> sockets;
  std::vector<Segment> segments;
  struct Unreachable {
    stack::TcpTuple tuple;
    std::uint32_t sequence;
    std::uint8_t code;
  };
  std::vector<Unreachable> unreachables;

  bool tcp_connect(stack::ConnectionId id, Ipv4Address destination, std::uint16_t port) override {
    if (!accept_connects) return false;
    Socket socket;
    socket.destination = destination;
    socket.port = port;
    sockets[id] = socket;
    return true;
  }
  std::optional<std::size_t> tcp_write(stack::ConnectionId id, ByteSpan first,
                                       ByteSpan second) override {
    auto it = sockets.find(id);
    if (it == sockets.end() || it->second.write_error || it->second.closed) return std::nullopt;
    Socket& s = it->second;
    ++s.writes;
    std::size_t written = 0;
    for (ByteSpan part : {first, second}) {
      const std::size_t n = std::min(part.size(), s.write_room - written);
      s.from_guest.append(reinterpret_cast<const char*>(part.data()), n);  // NOLINT
      written += n;
    }
    if (s.write_room != static_cast<std::size_t>(-1)) s.write_room -= written;
    if (written < first.size() + second.size()) ++s.write_waits;
    return written;
  }
  stack::TcpRead tcp_peek(stack::ConnectionId id, std::size_t offset,
                          std::span<std::uint8_t> out) override {
    auto it = sockets.find(id);
    if (it == sockets.end() || it->second.reset) return {0, stack::TcpReadStatus::reset};
    Socket& s = it->second;
    if (offset < s.to_guest.size()) {
      const std::size_t n = std::min(out.size(), s.to_guest.size() - offset);
      std::copy_n(s.to_guest.begin() + static_cast<std::ptrdiff_t>(offset), n, out.begin());
      return {n, stack::TcpReadStatus::data};
    }
    if (s.eof) return {0, stack::TcpReadStatus::eof};
    ++s.read_waits;
    return {0, stack::TcpReadStatus::would_block};
  }
  void tcp_consume(stack::ConnectionId id, std::size_t bytes) override {
    auto it = sockets.find(id);
    if (it == sockets.end()) return;
    bytes = std::min(bytes, it->second.to_guest.size());
    it->second.to_guest.erase(0, bytes);
    it->second.consumed += bytes;
  }
  void tcp_shutdown_write(stack::ConnectionId id) override { sockets[id].shut_write = true; }
  void tcp_close(stack::ConnectionId id, bool abort) override {
    auto it = sockets.find(id);
    if (it == sockets.end()) return;
    it->second.closed = true;
    it->second.aborted = abort;
  }

  std::span<std::uint8_t> tcp_segment_area() override { return area_; }
  void send_tcp_segment(Ipv4Address source, Ipv4Address destination, std::size_t length,
                        std::size_t frame_data) override {
    segments.push_back(
        {source, destination,
         Bytes(area_.begin(), area_.begin() + static_cast<std::ptrdiff_t>(length)), frame_data});
  }
  void send_tcp_unreachable(const stack::TcpTuple& tuple, std::uint32_t sequence,
                            std::uint8_t code) override {
    unreachables.push_back({tuple, sequence, code});
  }

  // The segments sent since the last take(). Batches are kept for the fake's lifetime, so the
  // packets parsed from them stay valid.
  const std::vector<Segment>& take() {
    taken_.push_back(std::exchange(segments, {}));
    return taken_.back();
  }

 private:
  std::array<std::uint8_t, 65536> area_{};
  std::list<std::vector<Segment>> taken_;
};

// A guest segment, built and parsed; the bytes live in the object.
struct GuestSegment {
  Bytes bytes;
  wire::TcpPacket packet() const { return wire::TcpPacket::parse(bytes).value(); }
};

inline GuestSegment guest_segment(const wire::TcpHeader& header, ByteSpan payload,
                                  Ipv4Address source, Ipv4Address destination) {
  GuestSegment segment;
  segment.bytes.resize(header.length(payload.size()));
  if (!header.emit(segment.bytes, payload, source, destination)) segment.bytes.clear();
  return segment;
}

}  // namespace aero::test
