// aero-gateway core: the /tcp-mux stream state machine (MuxSession) driven by a recording host,
// the /udp binding table, the subprotocol check and the new configuration variables.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "aero/proto/tcp_mux.h"
#include "aero/services/gateway/config.h"
#include "aero/services/gateway/http_rules.h"
#include "aero/services/gateway/tcp_mux_session.h"
#include "aero/services/gateway/udp_bindings.h"

namespace aero::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ByteSpan bytes_of(std::string_view text) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());  // NOLINT
}
std::string text_of(ByteSpan bytes) { return std::string(bytes.begin(), bytes.end()); }

Bytes frame(mux::MsgType type, std::uint32_t id, ByteSpan payload = {}) {
  return *mux::encode_frame(type, id, payload);
}
Bytes open_frame(std::uint32_t id, std::string host, std::uint16_t port) {
  return frame(mux::MsgType::open, id, *mux::encode_open(mux::OpenRequest{std::move(host), port, ""}));
}
Bytes data_frame(std::uint32_t id, std::string_view data) { return frame(mux::MsgType::data, id, bytes_of(data)); }
Bytes close_frame(std::uint32_t id, std::uint8_t flags) {
  const Bytes payload = mux::encode_close(flags);
  return frame(mux::MsgType::close, id, payload);
}

struct SeenFrame {
  std::uint8_t type;
  std::uint32_t id;
  std::string payload;
};

// Records every request; frames for the client are parsed back with the protocol's parser.
class RecordingHost : public MuxHost {
 public:
  void send_to_client(Bytes frames) override {
    ASSERT_TRUE(parser.push(frames, [this](const mux::FrameView& f) {
      frames_seen.push_back(SeenFrame{f.msg_type, f.stream_id, text_of(f.payload)});
    }));
  }
  void resolve(MuxStreamKey key, const std::string& name) override { resolves.emplace_back(key, name); }
  void dial(MuxStreamKey key, const IpAddress& address, std::uint16_t port) override {
    dials.push_back({key, address.to_string() + ":" + std::to_string(port)});
  }
  void write_target(MuxStreamKey key, ByteSpan bytes) override { writes.emplace_back(key, text_of(bytes)); }
  void end_target(MuxStreamKey key) override { ends.push_back(key); }
  void release_target(MuxStreamKey key, bool graceful) override { releases.emplace_back(key, graceful); }

  mux::StreamParser parser;
  std::vector<SeenFrame> frames_seen;
  std::vector<std::pair<MuxStreamKey, std::string>> resolves, dials, writes;
  std::vector<MuxStreamKey> ends;
  std::vector<std::pair<MuxStreamKey, bool>> releases;
};

class MuxSessionTest : public ::testing::Test {
 protected:
  MuxSessionTest() { policy.allow_private_ips = true; }

  MuxSession& session() {
    if (!session_) session_ = std::make_unique<MuxSession>(host, policy, limits, slots, "sid", &metrics);
    return *session_;
  }
  void send(const Bytes& bytes) { ASSERT_TRUE(session().on_client_message(bytes, now)); }
  // The last ERROR frame as (id, code, message).
  std::tuple<std::uint32_t, std::uint16_t, std::string> last_error() {
    for (auto it = host.frames_seen.rbegin(); it != host.frames_seen.rend(); ++it) {
      if (it->type == static_cast<std::uint8_t>(mux::MsgType::error)) {
        auto error = mux::decode_error(bytes_of(it->payload));
        EXPECT_TRUE(error);
        return {it->id, error->code, error->message};
      }
    }
    ADD_FAILURE() << "no ERROR frame";
    return {};
  }
  // Opens `id` to 127.0.0.1:80 and connects it; returns its key.
  MuxStreamKey open_connected(std::uint32_t id) {
    send(open_frame(id, "127.0.0.1", 80));
    const MuxStreamKey key = host.dials.back().first;
    session().on_connected(key, now);
    return key;
  }

  TcpPolicy policy;
  MuxLimits limits;
  SessionSlots slots{64};
  Metrics metrics;
  RecordingHost host;
  Clock::time_point now = Clock::time_point{} + 1000s;
  std::unique_ptr<MuxSession> session_;
};

TEST_F(MuxSessionTest, OpenDialsTheLiteralAndQueuesDataUntilConnected) {
  Bytes message = open_frame(1, "127.0.0.1", 8080);
  const Bytes data = data_frame(1, "early");
  message.insert(message.end(), data.begin(), data.end());
  send(message);
  ASSERT_EQ(host.dials.size(), 1u);
  EXPECT_EQ(host.dials[0].second, "127.0.0.1:8080");
  EXPECT_TRUE(host.writes.empty());
  EXPECT_EQ(session().buffered_bytes(1), 5u);
  EXPECT_EQ(slots.held("sid"), 1u);
  session().on_connected(host.dials[0].first, now);
  ASSERT_EQ(host.writes.size(), 1u);
  EXPECT_EQ(host.writes[0].second, "early");
  session().on_target_written(host.dials[0].first, 5, now);
  EXPECT_EQ(session().buffered_bytes(1), 0u);
  EXPECT_TRUE(session().wants_target_reads(host.dials[0].first));
}

TEST_F(MuxSessionTest, FramesMayBeSplitAnywhere) {
  Bytes message = open_frame(3, "127.0.0.1", 80);
  for (const std::uint8_t byte : message) send(Bytes{byte});
  EXPECT_EQ(host.dials.size(), 1u);
}

TEST_F(MuxSessionTest, HostNamesAreResolvedOnceAndTheFirstAllowedAddressDialled) {
  policy.allow_private_ips = false;
  send(open_frame(1, "example.com", 443));
  ASSERT_EQ(host.resolves.size(), 1u);
  EXPECT_EQ(host.resolves[0].second, "example.com");
  const IpAddress addresses[] = {*IpAddress::parse("10.0.0.1"), *IpAddress::parse("93.184.216.34")};
  session().on_resolved(host.resolves[0].first, addresses, now);
  ASSERT_EQ(host.dials.size(), 1u);
  EXPECT_EQ(host.dials[0].second, "93.184.216.34:443");

  send(open_frame(2, "private.example", 443));
  const IpAddress private_only[] = {*IpAddress::parse("127.0.0.1")};
  session().on_resolved(host.resolves[1].first, private_only, now);
  EXPECT_EQ(last_error(), std::make_tuple(2u, std::uint16_t{1}, std::string("Target IP is not allowed by IP egress policy")));
  send(open_frame(3, "nxdomain.example", 443));
  session().on_resolved(host.resolves[2].first, {}, now);
  EXPECT_EQ(last_error(), std::make_tuple(3u, std::uint16_t{2}, std::string("dial failed")));
  EXPECT_EQ(session().stream_count(), 1u);
  EXPECT_EQ(slots.held("sid"), 1u);
}

TEST_F(MuxSessionTest, OpenRefusalsInAerosOrder) {
  limits.max_streams = 1;
  policy.allowed_ports = {80};
  policy.blocked_hosts = {*parse_host_pattern("blocked.example")};
  send(open_frame(0, "127.0.0.1", 80));
  EXPECT_EQ(last_error(), std::make_tuple(0u, std::uint16_t{3}, std::string("stream_id=0 is reserved")));
  send(frame(mux::MsgType::open, 1, bytes_of("\x00")));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{3}, std::string("Invalid OPEN payload")));
  send(open_frame(1, "127.0.0.1", 81));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{1}, std::string("Target port not allowed")));
  send(open_frame(1, "bad_host", 80));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{3}, std::string("Invalid host")));
  send(open_frame(1, "blocked.example", 80));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{1}, std::string("Target is blocked")));
  EXPECT_EQ(metrics.value("tcp_proxy_blocked_by_host_policy_total"), 1);
  send(open_frame(1, "127.0.0.1", 80));
  EXPECT_EQ(host.dials.size(), 1u);
  send(open_frame(2, "127.0.0.1", 80));
  EXPECT_EQ(last_error(), std::make_tuple(2u, std::uint16_t{5}, std::string("max streams exceeded")));
  send(open_frame(1, "127.0.0.1", 80));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{3}, std::string("stream_id already exists")));
  EXPECT_EQ(session().stream_count(), 0u);  // every ERROR ends its stream
  EXPECT_EQ(slots.held("sid"), 0u);
}

TEST_F(MuxSessionTest, TheSessionSlotIsSharedWithOtherSockets) {
  slots = SessionSlots(1);
  ASSERT_TRUE(slots.acquire("sid"));  // a /tcp relay of the same session
  send(open_frame(1, "127.0.0.1", 80));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{5}, std::string("session max connections exceeded")));
  slots.release("sid");
  send(open_frame(1, "127.0.0.1", 80));
  EXPECT_EQ(session().stream_count(), 1u);
}

TEST_F(MuxSessionTest, DataRules) {
  send(data_frame(9, "x"));
  EXPECT_EQ(last_error(), std::make_tuple(9u, std::uint16_t{4}, std::string("unknown stream")));
  const MuxStreamKey key = open_connected(1);
  send(data_frame(1, "abc"));
  EXPECT_EQ(host.writes.back(), std::make_pair(key, std::string("abc")));
  send(close_frame(1, mux::kCloseFin));
  EXPECT_EQ(host.ends, std::vector<MuxStreamKey>{key});
  send(data_frame(1, "late"));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{3}, std::string("stream is half-closed (client FIN)")));
  EXPECT_FALSE(session().has_stream(1));
}

TEST_F(MuxSessionTest, PerStreamBufferCap) {
  limits.max_stream_buffer_bytes = 10;
  const MuxStreamKey key = open_connected(1);
  send(data_frame(1, "0123456789"));  // exactly the cap
  EXPECT_TRUE(session().has_stream(1));
  session().on_target_written(key, 4, now);
  send(data_frame(1, "abcd"));  // back at the cap
  EXPECT_TRUE(session().has_stream(1));
  send(data_frame(1, "!"));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{6}, std::string("stream buffered too much data")));
  EXPECT_FALSE(session().has_stream(1));
  EXPECT_EQ(host.releases.back(), std::make_pair(key, false));
  // Before the connection: queued bytes count too.
  send(open_frame(2, "127.0.0.1", 80));
  send(data_frame(2, "0123456789x"));
  EXPECT_EQ(last_error(), std::make_tuple(2u, std::uint16_t{6}, std::string("stream buffered too much data")));
}

TEST_F(MuxSessionTest, CloseRules) {
  send(close_frame(5, mux::kCloseFin));  // unknown: ignored
  EXPECT_TRUE(host.frames_seen.empty());
  MuxStreamKey key = open_connected(1);
  send(frame(mux::MsgType::close, 1, bytes_of("\x01\x01")));
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{3}, std::string("Invalid CLOSE payload")));
  key = open_connected(1);  // ids may be reused once gone
  send(close_frame(1, mux::kCloseRst));
  EXPECT_FALSE(session().has_stream(1));
  EXPECT_EQ(host.releases.back(), std::make_pair(key, false));
}

TEST_F(MuxSessionTest, BothFinsEndTheStreamGracefullyInEitherOrder) {
  MuxStreamKey key = open_connected(1);
  session().on_target_data(key, bytes_of("reply"), now);
  session().on_target_eof(key);
  EXPECT_EQ(host.frames_seen.back().type, static_cast<std::uint8_t>(mux::MsgType::close));
  EXPECT_EQ(host.frames_seen.back().payload, std::string(1, '\x01'));
  EXPECT_FALSE(session().wants_target_reads(key));
  send(data_frame(1, "still writable"));  // the client's direction stays open
  EXPECT_EQ(host.writes.back().second, "still writable");
  send(close_frame(1, mux::kCloseFin));
  EXPECT_FALSE(session().has_stream(1));
  EXPECT_EQ(host.releases.back(), std::make_pair(key, true));

  key = open_connected(2);
  send(close_frame(2, mux::kCloseFin));
  EXPECT_TRUE(session().has_stream(2));
  session().on_target_eof(key);
  EXPECT_FALSE(session().has_stream(2));
  EXPECT_EQ(slots.held("sid"), 0u);
}

TEST_F(MuxSessionTest, FinBeforeTheConnectionEndsAfterTheQueuedData) {
  send(open_frame(1, "127.0.0.1", 80));
  send(data_frame(1, "queued"));
  send(close_frame(1, mux::kCloseFin));
  EXPECT_TRUE(host.ends.empty());
  session().on_connected(host.dials[0].first, now);
  ASSERT_EQ(host.writes.size(), 1u);
  EXPECT_EQ(host.ends.size(), 1u);
}

TEST_F(MuxSessionTest, TargetFailures) {
  MuxStreamKey key = open_connected(1);
  session().on_target_reset(key);
  EXPECT_EQ(host.frames_seen.back().type, static_cast<std::uint8_t>(mux::MsgType::close));
  EXPECT_EQ(host.frames_seen.back().payload, std::string(1, '\x02'));
  EXPECT_FALSE(session().has_stream(1));
  key = open_connected(1);
  session().on_target_write_failed(key);
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{2}, std::string("dial failed")));
  send(open_frame(2, "127.0.0.1", 80));
  session().on_connect_failed(host.dials.back().first);
  EXPECT_EQ(last_error(), std::make_tuple(2u, std::uint16_t{2}, std::string("dial failed")));
  // Late events for a stream that is gone are ignored, even when its id is reused.
  const MuxStreamKey old_key = host.dials.back().first;
  open_connected(2);
  session().on_connected(old_key, now);
  session().on_target_eof(old_key);
  EXPECT_TRUE(session().has_stream(2));
}

TEST_F(MuxSessionTest, ConnectAndIdleTimeouts) {
  limits.connect_timeout = 100ms;
  limits.idle_timeout = 1000ms;
  send(open_frame(1, "127.0.0.1", 80));
  EXPECT_EQ(session().tick_interval(), 25ms);
  session().on_tick(now + 99ms);
  EXPECT_TRUE(session().has_stream(1));
  session().on_tick(now + 100ms);
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{2}, std::string("TCP connect timeout")));
  const MuxStreamKey key = open_connected(2);
  session().on_target_data(key, bytes_of("x"), now + 500ms);
  session().on_tick(now + 1499ms);
  EXPECT_TRUE(session().has_stream(2));
  session().on_tick(now + 1500ms);
  EXPECT_EQ(last_error(), std::make_tuple(2u, std::uint16_t{2}, std::string("TCP idle timeout")));
}

TEST_F(MuxSessionTest, PingPongUnknownTypesAndClientErrors) {
  send(frame(mux::MsgType::ping, 0, bytes_of("p0")));
  send(frame(mux::MsgType::ping, 7, bytes_of("p7")));
  send(frame(mux::MsgType::pong, 0, bytes_of("ignored")));
  send(*mux::encode_frame(mux::MsgType::error, 1, mux::encode_error(1, "client error")));
  ASSERT_EQ(host.frames_seen.size(), 2u);
  EXPECT_EQ(host.frames_seen[0].type, static_cast<std::uint8_t>(mux::MsgType::pong));
  EXPECT_EQ(host.frames_seen[0].payload, "p0");
  EXPECT_EQ(host.frames_seen[1].id, 7u);
  Bytes unknown;
  ASSERT_TRUE(mux::encode_frame_into(unknown, 42, 3, bytes_of("?")));
  send(unknown);
  EXPECT_EQ(last_error(), std::make_tuple(3u, std::uint16_t{3}, std::string("Unknown msg_type 42")));
}

TEST_F(MuxSessionTest, OversizedFrameFailsTheSessionFromItsHeader) {
  limits.max_frame_payload_bytes = 16;
  Bytes header = frame(mux::MsgType::data, 1, bytes_of(std::string(17, 'x')));
  header.resize(mux::kHeaderLength);
  EXPECT_FALSE(session().on_client_message(header, now));
  EXPECT_FALSE(session().on_client_message(data_frame(1, "x"), now));  // stays failed
}

TEST_F(MuxSessionTest, CloseAllAndDestructionGiveEverySlotBack) {
  open_connected(1);
  open_connected(2);
  EXPECT_EQ(slots.held("sid"), 2u);
  session().close_all();
  EXPECT_EQ(slots.held("sid"), 0u);
  EXPECT_EQ(host.releases.size(), 2u);
  open_connected(3);
  session_.reset();
  EXPECT_EQ(slots.held("sid"), 0u);
}

// ---- /udp bindings -------------------------------------------------------------------------

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(UdpBindingTable, InboundOnlyFromRemotesTheGuestSentTo) {
  UdpRelayLimits limits;
  UdpBindingTable table(limits);
  const auto t0 = Clock::time_point{} + 100s;
  EXPECT_FALSE(table.inbound_allowed(1000, ip("8.8.8.8"), 53, t0));  // no binding
  EXPECT_TRUE(table.outbound(1000, ip("8.8.8.8"), 53, false, t0).created);
  EXPECT_FALSE(table.outbound(1000, ip("8.8.4.4"), 53, false, t0).created);
  EXPECT_TRUE(table.inbound_allowed(1000, ip("8.8.8.8"), 53, t0));
  EXPECT_FALSE(table.inbound_allowed(1000, ip("8.8.8.8"), 54, t0));   // other port
  EXPECT_FALSE(table.inbound_allowed(1000, ip("1.1.1.1"), 53, t0));   // other address
  EXPECT_FALSE(table.inbound_allowed(1001, ip("8.8.8.8"), 53, t0));   // other binding
  // A remote expires after the idle timeout (a hit refreshes it).
  EXPECT_TRUE(table.inbound_allowed(1000, ip("8.8.8.8"), 53, t0 + 59s));
  EXPECT_TRUE(table.inbound_allowed(1000, ip("8.8.8.8"), 53, t0 + 118s));
  EXPECT_FALSE(table.inbound_allowed(1000, ip("8.8.4.4"), 53, t0 + 118s));
  limits.inbound_filter_any = true;
  UdpBindingTable any(limits);
  any.outbound(5, ip("8.8.8.8"), 53, false, t0);
  EXPECT_TRUE(any.inbound_allowed(5, ip("9.9.9.9"), 1, t0));
}

TEST(UdpBindingTable, LeastRecentlyUsedBindingIsEvictedAtTheCap) {
  UdpRelayLimits limits;
  limits.max_bindings = 2;
  UdpBindingTable table(limits);
  const auto t0 = Clock::time_point{} + 100s;
  table.outbound(1, ip("8.8.8.8"), 53, false, t0);
  table.outbound(2, ip("8.8.8.8"), 53, false, t0 + 1s);
  table.outbound(1, ip("8.8.8.8"), 53, false, t0 + 2s);  // 2 is now the oldest
  const auto third = table.outbound(3, ip("8.8.8.8"), 53, false, t0 + 3s);
  EXPECT_TRUE(third.created);
  EXPECT_EQ(third.evicted, std::optional<std::uint16_t>(2));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_TRUE(table.contains(1));
}

TEST(UdpBindingTable, RemoteCapEvictsTheOldest) {
  UdpRelayLimits limits;
  limits.max_allowed_remotes = 2;
  UdpBindingTable table(limits);
  const auto t0 = Clock::time_point{} + 100s;
  table.outbound(1, ip("8.8.8.8"), 1, false, t0);
  table.outbound(1, ip("8.8.8.8"), 2, false, t0 + 1s);
  table.outbound(1, ip("8.8.8.8"), 3, false, t0 + 2s);
  EXPECT_EQ(table.remotes(1), 2u);
  EXPECT_EQ(table.remote_evictions(), 1u);
  EXPECT_FALSE(table.inbound_allowed(1, ip("8.8.8.8"), 1, t0 + 2s));
  EXPECT_TRUE(table.inbound_allowed(1, ip("8.8.8.8"), 3, t0 + 2s));
}

TEST(UdpBindingTable, IdleBindingsAreSweptAndFramingFollowsTheClient) {
  UdpRelayLimits limits;
  limits.binding_idle_timeout = 1000ms;
  limits.prefer_v2 = true;
  UdpBindingTable table(limits);
  const auto t0 = Clock::time_point{} + 100s;
  EXPECT_EQ(table.sweep_interval(), 500ms);
  table.outbound(1, ip("8.8.8.8"), 53, false, t0);
  table.outbound(2, ip("8.8.8.8"), 53, false, t0 + 800ms);
  EXPECT_EQ(table.inbound_version(ip("8.8.8.8")), 1);
  EXPECT_EQ(table.inbound_version(ip("2001:4860::8888")), 2);
  table.outbound(2, ip("8.8.8.8"), 53, true, t0 + 900ms);
  EXPECT_EQ(table.inbound_version(ip("8.8.8.8")), 2);
  EXPECT_EQ(table.sweep(t0 + 1001ms), std::vector<std::uint16_t>{1});
  EXPECT_TRUE(table.contains(2));
  limits.prefer_v2 = false;
  UdpBindingTable plain(limits);
  plain.outbound(1, ip("8.8.8.8"), 53, true, t0);
  EXPECT_EQ(plain.inbound_version(ip("8.8.8.8")), 1);
}

// ---- subprotocol and configuration ---------------------------------------------------------

TEST(GatewaySubprotocol, AerosRules) {
  auto check = [](std::vector<std::string_view> values) {
    std::vector<Header> headers;
    for (auto v : values) headers.emplace_back("Sec-WebSocket-Protocol", v);
    auto rejection = check_subprotocol(headers, mux::kSubprotocol);
    return rejection ? rejection->message : std::string("ok");
  };
  EXPECT_EQ(check({"aero-tcp-mux-v1"}), "ok");
  EXPECT_EQ(check({"chat, aero-tcp-mux-v1"}), "ok");
  EXPECT_EQ(check({"chat", " aero-tcp-mux-v1 "}), "ok");
  EXPECT_EQ(check({}), "Missing required subprotocol: aero-tcp-mux-v1");
  EXPECT_EQ(check({"AERO-TCP-MUX-V1"}), "Missing required subprotocol: aero-tcp-mux-v1");
  EXPECT_EQ(check({"aero tcp"}), "Invalid Sec-WebSocket-Protocol header");
  EXPECT_EQ(check({"a,,b, aero-tcp-mux-v1"}), "ok");
  std::string many;
  for (int i = 0; i < 33; ++i) many += "p" + std::to_string(i) + ",";
  EXPECT_EQ(check({many}), "Invalid Sec-WebSocket-Protocol header");
  const std::string long_value(4097, 'a');
  EXPECT_EQ(check({long_value}), "Invalid Sec-WebSocket-Protocol header");
}

TEST(GatewayConfigUdp, DefaultsAndValidation) {
  auto load = [](std::map<std::string, std::string> env) {
    return config_from_env([env](std::string_view name) -> std::optional<std::string> {
      auto it = env.find(std::string(name));
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
  };
  auto defaults = load({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->udp_max_payload_bytes, 1200u);
  EXPECT_EQ(defaults->udp_max_bindings, 128u);
  EXPECT_EQ(defaults->udp_binding_idle_timeout, 60000ms);
  EXPECT_FALSE(defaults->udp_inbound_filter_any);
  auto set = load({{"UDP_INBOUND_FILTER_MODE", "any"}, {"PREFER_V2", "1"}, {"MAX_UDP_BINDINGS_PER_SESSION", "4"}});
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->udp_inbound_filter_any);
  EXPECT_TRUE(set->udp_prefer_v2);
  EXPECT_EQ(set->udp_max_bindings, 4u);
  auto bad = load({{"UDP_INBOUND_FILTER_MODE", "full_cone"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("UDP_INBOUND_FILTER_MODE"), std::string::npos);
  EXPECT_FALSE(load({{"MAX_DATAGRAM_PAYLOAD_BYTES", "70000"}}));
  EXPECT_FALSE(load({{"MAX_UDP_BINDINGS_PER_SESSION", "0"}}));
}

TEST_F(MuxSessionTest, TokenRelayOpenRateLimit) {
  limits.open_rate_per_second = 2;
  limits.open_burst = 3;
  limits.max_streams = 100;
  for (std::uint32_t id = 1; id <= 3; ++id) send(open_frame(id, "127.0.0.1", 80));
  EXPECT_EQ(host.dials.size(), 3u);
  send(open_frame(4, "127.0.0.1", 80));
  EXPECT_EQ(last_error(), std::make_tuple(4u, std::uint16_t{5}, std::string("OPEN rate limit")));
  EXPECT_EQ(host.dials.size(), 3u);
  EXPECT_FALSE(session().has_stream(4));
  now += 500ms;  // one token back at 2 per second
  send(open_frame(4, "127.0.0.1", 80));
  EXPECT_EQ(host.dials.size(), 4u);
}

TEST_F(MuxSessionTest, TokenRelayDataRateLimitDestroysTheStream) {
  limits.data_bytes_per_second = 10;
  limits.data_burst_bytes = 20;
  const MuxStreamKey key = open_connected(1);
  send(data_frame(1, std::string(15, 'a')));
  EXPECT_EQ(host.writes.size(), 1u);
  send(data_frame(1, std::string(10, 'b')));  // 5 tokens left
  EXPECT_EQ(last_error(), std::make_tuple(1u, std::uint16_t{6}, std::string("DATA rate limit")));
  EXPECT_FALSE(session().has_stream(1));
  ASSERT_FALSE(host.releases.empty());
  EXPECT_EQ(host.releases.back().first, key);
  // A frame larger than the burst is never allowed.
  open_connected(3);
  now += 10s;
  send(data_frame(3, std::string(21, 'c')));
  EXPECT_EQ(last_error(), std::make_tuple(3u, std::uint16_t{6}, std::string("DATA rate limit")));
}

}  // namespace
}  // namespace aero::gateway
