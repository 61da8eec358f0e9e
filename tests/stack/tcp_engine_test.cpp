// TcpEngine against a fake host: every RFC 9293 state transition the engine takes, the
// options, flow and congestion control, recovery, timers and limits.
#include "aero/stack/tcp_engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "stack/tcp_fake_sockets.h"

namespace aero::stack {
namespace {

using test::FakeSockets;
using namespace std::chrono_literals;

constexpr Ipv4Address kGuest{{10, 0, 2, 15}};
constexpr Ipv4Address kRemote{{93, 184, 216, 34}};
constexpr std::uint16_t kGuestPort = 40000;
constexpr std::uint16_t kRemotePort = 80;

class TcpEngineTest : public testing::Test {
 protected:
  void SetUp() override { make_engine(); }

  void make_engine() {
    config.isn_secret = 0x1234;
    engine = std::make_unique<TcpEngine>(config, mtu, host, host);
  }

  // Sends a guest segment on the test connection.
  void guest(std::uint8_t flags, std::string_view payload = {},
             std::optional<std::uint32_t> seq = std::nullopt,
             std::optional<std::uint32_t> ack = std::nullopt, std::uint16_t window = 65535,
             wire::TcpOptions options = {}, std::uint16_t guest_port = kGuestPort) {
    wire::TcpHeader header;
    header.source_port = guest_port;
    header.destination_port = kRemotePort;
    header.sequence_number = seq.value_or(guest_next);
    header.ack_number = ack.value_or(our_next);
    header.flags = flags;
    header.window = window;
    header.options = options;
    if (timestamps && !options.timestamps) header.options.timestamps = wire::TcpTimestamps{++ts, 1};
    const ByteSpan data(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());  // NOLINT
    auto segment = test::guest_segment(header, data, kGuest, kRemote);
    ASSERT_FALSE(segment.bytes.empty());
    TcpEngine::Admission admission{allow, kRemote, kRemotePort};
    engine->handle_segment(kGuest, kRemote, segment.packet(), admission, now);
    if (!seq) guest_next += static_cast<std::uint32_t>(payload.size()) +
                            ((flags & (wire::kTcpSyn | wire::kTcpFin)) != 0 ? 1U : 0U);
  }

  wire::TcpOptions syn_options() const {
    wire::TcpOptions options;
    options.mss = 1460;
    options.window_scale = 7;
    options.sack_permitted = true;
    options.timestamps = wire::TcpTimestamps{1, 0};
    return options;
  }

  // SYN, host connect, SYN-ACK, ACK: an established connection.
  ConnectionId establish(wire::TcpOptions options) {
    guest(wire::kTcpSyn, {}, std::nullopt, 0U, 65535, options);
    const auto id = engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
    EXPECT_TRUE(id.has_value());
    EXPECT_EQ(engine->state(*id), TcpState::connecting);
    EXPECT_TRUE(host.take().empty()) << "nothing before the host connects";
    engine->handle_connected(*id, now);
    auto out = host.take();
    EXPECT_EQ(out.size(), 1U);
    const auto syn_ack = out.at(0).packet();
    EXPECT_EQ(syn_ack.flags(), wire::kTcpSyn | wire::kTcpAck);
    EXPECT_EQ(syn_ack.ack_number(), guest_next);
    our_next = syn_ack.sequence_number() + 1;
    EXPECT_EQ(engine->state(*id), TcpState::syn_received);
    guest(wire::kTcpAck);
    EXPECT_EQ(engine->state(*id), TcpState::established);
    return *id;
  }
  ConnectionId establish() { return establish(syn_options()); }

  // The remote closes: the engine sends its FIN (FIN-WAIT-1), which the test has then seen.
  void host_closes(ConnectionId id) {
    host.sockets.at(id).eof = true;
    engine->handle_readable(id, now);
    receive(host.take());
  }

  // Acknowledges everything the engine sent.
  void ack_all(std::uint16_t window = 65535) { guest(wire::kTcpAck, {}, std::nullopt, our_next, window); }

  // The data of the segments for the guest, advancing our_next past them.
  std::string receive(const std::vector<FakeSockets::Segment>& segments) {
    std::string data;
    for (const auto& s : segments) {
      const auto p = s.packet();
      data.append(reinterpret_cast<const char*>(p.payload().data()), p.payload().size());  // NOLINT
      const std::uint32_t end = p.sequence_number() + static_cast<std::uint32_t>(p.segment_length());
      if (static_cast<std::int32_t>(end - our_next) > 0) our_next = end;
    }
    return data;
  }

  TcpConfig config;
  std::uint16_t mtu = 1500;
  FakeSockets host;
  std::unique_ptr<TcpEngine> engine;
  Instant now{std::chrono::seconds(1000)};
  bool allow = true;
  bool timestamps = false;
  std::uint32_t guest_next = 5000;
  std::uint32_t our_next = 0;
  std::uint32_t ts = 100;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

// ---- opening ------------------------------------------------------------------------------

TEST_F(TcpEngineTest, SynAckOnlyAfterTheHostConnectsWithOurOptions) {
  const auto id = establish();
  EXPECT_EQ(host.sockets.at(id).destination, kRemote);
  EXPECT_EQ(host.sockets.at(id).port, kRemotePort);
  EXPECT_EQ(engine->stats().connections_opened, 1U);
  EXPECT_EQ(engine->half_open_count(), 0U);
}

TEST_F(TcpEngineTest, SynAckCarriesMssScaleSackAndTimestampsWhenOffered) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U, 65535, syn_options());
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  engine->handle_connected(id, now);
  const auto syn_ack = host.take().at(0).packet();
  EXPECT_EQ(syn_ack.options().mss, 1460);  // MTU 1500 - 40
  ASSERT_TRUE(syn_ack.options().window_scale.has_value());
  EXPECT_EQ(*syn_ack.options().window_scale, 3);  // 256 KiB fits 65535 << 3
  EXPECT_TRUE(syn_ack.options().sack_permitted);
  ASSERT_TRUE(syn_ack.options().timestamps.has_value());
  EXPECT_EQ(syn_ack.options().timestamps->echo, 1U);
}

TEST_F(TcpEngineTest, WithoutOfferedOptionsTheSynAckHasOnlyMssAndAnUnscaledWindow) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  engine->handle_connected(id, now);
  const auto syn_ack = host.take().at(0).packet();
  EXPECT_TRUE(syn_ack.options().mss.has_value());
  EXPECT_FALSE(syn_ack.options().window_scale.has_value());
  EXPECT_FALSE(syn_ack.options().sack_permitted);
  EXPECT_FALSE(syn_ack.options().timestamps.has_value());
  EXPECT_EQ(syn_ack.window(), 65535);
}

TEST_F(TcpEngineTest, MssFollowsTheTransportMtu) {
  mtu = 65520;
  make_engine();
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  engine->handle_connected(*engine->find({kGuest, kGuestPort, kRemote, kRemotePort}), now);
  EXPECT_EQ(host.take().at(0).packet().options().mss, 65480);
}

TEST_F(TcpEngineTest, RefusedConnectAnswersRstAck) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  engine->handle_connect_failed(id, TcpConnectError::refused, now);
  const auto rst = host.take().at(0).packet();
  EXPECT_EQ(rst.flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_EQ(rst.ack_number(), guest_next);
  EXPECT_FALSE(engine->state(id).has_value());
  EXPECT_EQ(engine->stats().connect_refused, 1U);
  EXPECT_EQ(engine->half_open_count(), 0U);
}

TEST_F(TcpEngineTest, UnreachableCanAnswerIcmpInstead) {
  config.icmp_for_unreachable = true;
  make_engine();
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  engine->handle_connect_failed(id, TcpConnectError::unreachable, now);
  EXPECT_TRUE(host.take().empty());
  ASSERT_EQ(host.unreachables.size(), 1U);
  EXPECT_EQ(host.unreachables[0].code, 1);
  EXPECT_EQ(host.unreachables[0].sequence, guest_next - 1);
  EXPECT_EQ(engine->stats().connect_unreachable, 1U);
}

TEST_F(TcpEngineTest, ConnectTimeoutResetsAndClosesTheHostSocket) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  ASSERT_TRUE(engine->next_deadline().has_value());
  EXPECT_EQ(*engine->next_deadline(), now + config.connect_timeout);
  now += config.connect_timeout;
  engine->poll(now);
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_TRUE(host.sockets.at(id).aborted);
  EXPECT_EQ(engine->stats().connect_timeouts, 1U);
}

TEST_F(TcpEngineTest, PolicyDenialAnswersRstWithoutConnecting) {
  allow = false;
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  EXPECT_TRUE(host.sockets.empty());
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_EQ(engine->stats().policy_denied, 1U);
  EXPECT_EQ(engine->connection_count(), 0U);
}

TEST_F(TcpEngineTest, RetransmittedSynWhileConnectingIsAbsorbedAndInSynReceivedResendsSynAck) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  guest(wire::kTcpSyn, {}, guest_next - 1, 0U);
  EXPECT_TRUE(host.take().empty());
  EXPECT_EQ(host.sockets.size(), 1U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  engine->handle_connected(id, now);
  const auto first = host.take().at(0).packet();
  guest(wire::kTcpSyn, {}, guest_next - 1, 0U);
  const auto again = host.take().at(0).packet();
  EXPECT_EQ(again.flags(), wire::kTcpSyn | wire::kTcpAck);
  EXPECT_EQ(again.sequence_number(), first.sequence_number());
}

TEST_F(TcpEngineTest, SynAckIsRetransmittedThenTheConnectionGivesUp) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  engine->handle_connected(id, now);
  host.take();
  for (unsigned i = 0; i < config.max_syn_retransmissions; ++i) {
    now = *engine->next_deadline();
    engine->poll(now);
    EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpSyn | wire::kTcpAck);
  }
  now = *engine->next_deadline();
  engine->poll(now);
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_FALSE(engine->state(id).has_value());
}

TEST_F(TcpEngineTest, BadAckInSynReceivedIsReset) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  engine->handle_connected(id, now);
  host.take();
  guest(wire::kTcpAck, {}, std::nullopt, 12345U);
  const auto rst = host.take().at(0).packet();
  EXPECT_EQ(rst.flags(), wire::kTcpRst);
  EXPECT_EQ(rst.sequence_number(), 12345U);
  EXPECT_EQ(engine->state(id), TcpState::syn_received);
}

TEST_F(TcpEngineTest, GuestRstWhileConnectingDropsTheConnection) {
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto id = *engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  guest(wire::kTcpRst, {}, guest_next, 0U);
  EXPECT_FALSE(engine->state(id).has_value());
  EXPECT_TRUE(host.sockets.at(id).aborted);
}

// ---- data from the guest ------------------------------------------------------------------

TEST_F(TcpEngineTest, InOrderDataGoesStraightToTheHostAndIsAcknowledged) {
  const auto id = establish();
  guest(wire::kTcpAck | wire::kTcpPsh, "hello");
  guest(wire::kTcpAck | wire::kTcpPsh, " world");
  EXPECT_EQ(host.sockets.at(id).from_guest, "hello world");
  const auto out = host.take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().packet().ack_number(), guest_next);
  EXPECT_EQ(engine->buffered_bytes(), 0U);
}

TEST_F(TcpEngineTest, BatchingWritesAndAcknowledgesOncePerFlush) {
  engine->set_batching(true);
  const auto id = establish();
  host.take();
  for (int i = 0; i < 5; ++i) guest(wire::kTcpAck, "chunk");
  EXPECT_TRUE(host.sockets.at(id).from_guest.empty()) << "nothing before the flush";
  EXPECT_TRUE(host.take().empty()) << "no ACK before the flush";
  engine->flush(now);
  EXPECT_EQ(host.sockets.at(id).from_guest, "chunkchunkchunkchunkchunk");
  EXPECT_EQ(host.sockets.at(id).writes, 1U);
  const auto& acks = host.take();
  ASSERT_EQ(acks.size(), 1U);
  EXPECT_EQ(acks[0].packet().ack_number(), guest_next);
  // A guest FIN after batched data shuts the host side only once the data is written.
  guest(wire::kTcpAck, "tail");
  guest(wire::kTcpAck | wire::kTcpFin);
  EXPECT_FALSE(host.sockets.at(id).shut_write);
  engine->flush(now);
  EXPECT_TRUE(host.sockets.at(id).shut_write);
  EXPECT_EQ(host.sockets.at(id).from_guest, "chunkchunkchunkchunkchunktail");
}

TEST_F(TcpEngineTest, OneSegmentIsAcknowledgedAfterTheDelayedAckTime) {
  establish();
  host.take();
  guest(wire::kTcpAck, "x");
  EXPECT_TRUE(host.take().empty());
  ASSERT_TRUE(engine->next_deadline().has_value());
  now = *engine->next_deadline();
  EXPECT_LE(now - Instant{std::chrono::seconds(1000)}, config.delayed_ack);
  engine->poll(now);
  EXPECT_EQ(host.take().at(0).packet().ack_number(), guest_next);
}

TEST_F(TcpEngineTest, SlowHostClosesTheWindowAndReopensIt) {
  config.receive_buffer = 8192;
  make_engine();
  const auto id = establish(wire::TcpOptions{.mss = 1460});
  host.sockets.at(id).write_room = 0;
  const std::string data = pattern(8192);
  for (std::size_t at = 0; at < data.size(); at += 1024) guest(wire::kTcpAck, data.substr(at, 1024));
  EXPECT_EQ(engine->buffered_bytes(), 8192U);
  const auto out = host.take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().packet().window(), 0);
  // A zero-window probe: its data is not taken, its ACK is answered.
  guest(wire::kTcpAck, "zz", guest_next, std::nullopt);
  EXPECT_EQ(engine->stats().window_probes_answered, 1U);
  EXPECT_EQ(engine->buffered_bytes(), 8192U);
  host.take();
  host.sockets.at(id).write_room = static_cast<std::size_t>(-1);
  engine->handle_writable(id, now);
  EXPECT_EQ(host.sockets.at(id).from_guest, data);
  const auto update = host.take();
  ASSERT_EQ(update.size(), 1U);
  EXPECT_EQ(update[0].packet().window(), 8192);
  EXPECT_EQ(engine->buffered_bytes(), 0U);
}

TEST_F(TcpEngineTest, OutOfOrderDataIsHeldAndReportedWithSack) {
  const auto id = establish();
  const std::uint32_t start = guest_next;
  guest(wire::kTcpAck, "world", start + 5);
  auto out = host.take();
  ASSERT_EQ(out.size(), 1U);
  const auto ack = out[0].packet();
  EXPECT_EQ(ack.ack_number(), start);
  ASSERT_EQ(ack.options().sack_block_count, 1U);
  EXPECT_EQ(ack.options().sack_blocks[0].left, start + 5);
  EXPECT_EQ(ack.options().sack_blocks[0].right, start + 10);
  EXPECT_TRUE(host.sockets.at(id).from_guest.empty());
  guest(wire::kTcpAck, "hello", start);
  EXPECT_EQ(host.sockets.at(id).from_guest, "helloworld");
  out = host.take();
  EXPECT_EQ(out.back().packet().ack_number(), start + 10);
  EXPECT_EQ(out.back().packet().options().sack_block_count, 0U);
  EXPECT_EQ(engine->stats().out_of_order, 1U);
}

TEST_F(TcpEngineTest, DuplicateAndOverlappingDataIsDeliveredOnce) {
  const auto id = establish();
  const std::uint32_t start = guest_next;
  guest(wire::kTcpAck, "abcdef", start);
  guest(wire::kTcpAck, "abcdef", start);
  guest(wire::kTcpAck, "defghi", start + 3);
  EXPECT_EQ(host.sockets.at(id).from_guest, "abcdefghi");
}

TEST_F(TcpEngineTest, GuestFinShutsTheHostWriteSideAfterTheData) {
  const auto id = establish();
  host.sockets.at(id).write_room = 3;
  guest(wire::kTcpAck, "abcdef");
  guest(wire::kTcpAck | wire::kTcpFin);
  EXPECT_EQ(engine->state(id), TcpState::close_wait);
  EXPECT_FALSE(host.sockets.at(id).shut_write) << "data still waiting";
  host.sockets.at(id).write_room = 100;
  engine->handle_writable(id, now);
  EXPECT_EQ(host.sockets.at(id).from_guest, "abcdef");
  EXPECT_TRUE(host.sockets.at(id).shut_write);
  EXPECT_FALSE(host.sockets.at(id).closed) << "the other direction is still open";
}

// ---- data to the guest --------------------------------------------------------------------

TEST_F(TcpEngineTest, HostDataIsCutToTheGuestMssLessOptionsAndConsumedWhenAcked) {
  timestamps = true;
  const auto id = establish();
  host.take();
  host.sockets.at(id).to_guest = pattern(5000);
  engine->handle_readable(id, now);
  const auto out = host.take();
  ASSERT_EQ(out.size(), 4U);
  EXPECT_EQ(out[0].packet().payload().size(), 1460U - 12U);  // timestamps take 12 bytes
  EXPECT_EQ(receive(out), pattern(5000));
  EXPECT_EQ(host.sockets.at(id).consumed, 0U) << "kept until acknowledged";
  ack_all();
  EXPECT_EQ(host.sockets.at(id).consumed, 5000U);
  EXPECT_EQ(engine->stats().bytes_to_guest, 5000U);
}

TEST_F(TcpEngineTest, InitialWindowIsTenSegmentsThenSlowStartGrowsIt) {
  const auto id = establish(wire::TcpOptions{.mss = 1000, .window_scale = 4});
  host.take();
  host.sockets.at(id).to_guest = pattern(100000);
  engine->handle_readable(id, now);
  EXPECT_EQ(receive(host.take()).size(), 10000U);  // RFC 6928: ten segments
  now += 1ms;
  ack_all();
  EXPECT_EQ(receive(host.take()).size(), 12000U);  // +2 MSS (RFC 3465, L = 2)
}

TEST_F(TcpEngineTest, TheGuestWindowLimitsWhatIsInFlight) {
  const auto id = establish(wire::TcpOptions{.mss = 1000});
  guest(wire::kTcpAck, {}, std::nullopt, std::nullopt, 2500);
  host.take();
  host.sockets.at(id).to_guest = pattern(10000);
  engine->handle_readable(id, now);
  EXPECT_EQ(receive(host.take()).size(), 2000U);  // sender SWS: no 500-byte runt in flight
}

TEST_F(TcpEngineTest, RetransmissionTimeoutResendsFromTheFirstUnacknowledgedByte) {
  const auto id = establish(wire::TcpOptions{.mss = 1000});
  host.take();
  host.sockets.at(id).to_guest = pattern(3000);
  engine->handle_readable(id, now);
  const auto first = host.take();
  ASSERT_EQ(first.size(), 3U);
  now = *engine->next_deadline();
  EXPECT_EQ(now - Instant{std::chrono::seconds(1000)}, config.initial_rto);
  engine->poll(now);
  const auto again = host.take();
  ASSERT_EQ(again.size(), 1U);  // loss window: one segment
  EXPECT_EQ(again[0].packet().sequence_number(), first[0].packet().sequence_number());
  EXPECT_EQ(engine->stats().timeouts, 1U);
  // The back-off doubles the timer (RFC 6298 §5.5).
  const auto before = now;
  now = *engine->next_deadline();
  EXPECT_EQ(now - before, 2 * config.initial_rto);
}

TEST_F(TcpEngineTest, SegmentationOffloadSendsTheWholeWindowInOneSegment) {
  engine->set_segmentation_offload(16000);
  const auto id = establish(wire::TcpOptions{.mss = 1000});
  host.take();
  host.sockets.at(id).to_guest = pattern(12000);
  engine->handle_readable(id, now);
  const auto sent = host.take();
  // The initial window (RFC 6928: 10 MSS, plus the byte the SYN-ACK's ACK added) in one
  // offloaded segment, for the transport to cut into frames of one MSS of data.
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_GT(sent[0].packet().payload().size(), 9000U);
  EXPECT_EQ(sent[0].frame_data, 1000U);
  std::string data = receive(sent);
  ack_all();
  const auto rest = host.take();
  ASSERT_EQ(rest.size(), 1U);
  data += receive(rest);
  EXPECT_TRUE(data == pattern(12000)) << "the data arrives whole and in order";
}

TEST_F(TcpEngineTest, SegmentationOffloadRoundsDownToWholeSegmentsAndMarksOnlyLongOnes) {
  engine->set_segmentation_offload(2500);  // room for two segments of 1000
  const auto id = establish(wire::TcpOptions{.mss = 1000});
  host.take();
  host.sockets.at(id).to_guest = pattern(4500);
  engine->handle_readable(id, now);
  const auto sent = host.take();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[0].packet().payload().size(), 2000U);
  EXPECT_EQ(sent[0].frame_data, 1000U);
  EXPECT_EQ(sent[1].packet().payload().size(), 2000U);
  EXPECT_EQ(sent[2].packet().payload().size(), 500U);
  EXPECT_EQ(sent[2].frame_data, 0U) << "a segment that fits one frame is an ordinary frame";
}

TEST_F(TcpEngineTest, RetransmissionsAfterOffloadStayOneMssLong) {
  engine->set_segmentation_offload(16000);
  const auto id = establish(wire::TcpOptions{.mss = 1000});
  host.take();
  host.sockets.at(id).to_guest = pattern(3000);
  engine->handle_readable(id, now);
  const auto first = host.take();
  ASSERT_EQ(first.size(), 1U);
  now = *engine->next_deadline();
  engine->poll(now);
  const auto again = host.take();
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(again[0].packet().sequence_number(), first[0].packet().sequence_number());
  EXPECT_EQ(again[0].packet().payload().size(), 1000U);
  EXPECT_EQ(again[0].frame_data, 0U);
}

TEST_F(TcpEngineTest, TooManyTimeoutsResetTheConnection) {
  config.max_retransmissions = 2;
  make_engine();
  const auto id = establish();
  host.sockets.at(id).to_guest = "data";
  engine->handle_readable(id, now);
  for (int i = 0; i < 3; ++i) {
    now = *engine->next_deadline();
    engine->poll(now);
  }
  EXPECT_EQ(host.take().back().packet().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_TRUE(host.sockets.at(id).aborted);
}

TEST_F(TcpEngineTest, ThreeDuplicateAcksTriggerFastRetransmit) {
  const auto id = establish(wire::TcpOptions{.mss = 1000});
  host.take();
  host.sockets.at(id).to_guest = pattern(8000);
  engine->handle_readable(id, now);
  const auto sent = host.take();
  ASSERT_EQ(sent.size(), 8U);
  const std::uint32_t first = sent[0].packet().sequence_number();
  for (int i = 0; i < 3; ++i) guest(wire::kTcpAck, {}, std::nullopt, first);
  const auto out = host.take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].packet().sequence_number(), first);
  EXPECT_EQ(engine->stats().fast_retransmits, 1U);
}

TEST_F(TcpEngineTest, SackBlocksSteerRetransmissionToTheHoles) {
  const auto id = establish(wire::TcpOptions{.mss = 1000, .sack_permitted = true});
  host.take();
  host.sockets.at(id).to_guest = pattern(8000);
  engine->handle_readable(id, now);
  const auto sent = host.take();
  const std::uint32_t base = sent[0].packet().sequence_number();
  // Segments 0 and 3 lost; the guest SACKs 1-2 and 4-7.
  wire::TcpOptions sack;
  sack.sack_block_count = 2;
  sack.sack_blocks[0] = {base + 1000, base + 3000};
  sack.sack_blocks[1] = {base + 4000, base + 8000};
  for (int i = 0; i < 3; ++i) guest(wire::kTcpAck, {}, std::nullopt, base, 65535, sack);
  const auto out = host.take();
  ASSERT_GE(out.size(), 2U);
  EXPECT_EQ(out[0].packet().sequence_number(), base);
  EXPECT_EQ(out[1].packet().sequence_number(), base + 3000);
  EXPECT_EQ(out[1].packet().payload().size(), 1000U);
}

TEST_F(TcpEngineTest, ZeroWindowStartsThePersistTimerWhichProbes) {
  const auto id = establish();
  guest(wire::kTcpAck, {}, std::nullopt, std::nullopt, 0);
  host.take();
  host.sockets.at(id).to_guest = "waiting";
  engine->handle_readable(id, now);
  EXPECT_TRUE(host.take().empty());
  now = *engine->next_deadline();
  engine->poll(now);
  const auto probe = host.take().at(0).packet();
  EXPECT_EQ(probe.sequence_number(), our_next - 1);
  EXPECT_EQ(engine->stats().persist_probes, 1U);
  guest(wire::kTcpAck, {}, std::nullopt, std::nullopt, 1000);
  EXPECT_EQ(receive(host.take()), "waiting");
}

// ---- closing ------------------------------------------------------------------------------

TEST_F(TcpEngineTest, PassiveCloseWalksCloseWaitAndLastAck) {
  const auto id = establish();
  guest(wire::kTcpAck | wire::kTcpFin);
  EXPECT_EQ(engine->state(id), TcpState::close_wait);
  EXPECT_TRUE(host.sockets.at(id).shut_write);
  host.sockets.at(id).to_guest = "bye";
  host.sockets.at(id).eof = true;
  host.take();
  engine->handle_readable(id, now);
  const auto out = host.take();
  EXPECT_EQ(receive(out), "bye");
  EXPECT_TRUE((out.back().packet().flags() & wire::kTcpFin) != 0);
  EXPECT_EQ(engine->state(id), TcpState::last_ack);
  ack_all();
  EXPECT_FALSE(engine->state(id).has_value());
  EXPECT_TRUE(host.sockets.at(id).closed);
  EXPECT_FALSE(host.sockets.at(id).aborted);
}

TEST_F(TcpEngineTest, ActiveCloseWalksFinWait1FinWait2AndTimeWait) {
  const auto id = establish();
  host_closes(id);
  EXPECT_EQ(engine->state(id), TcpState::fin_wait_1);
  ack_all();
  EXPECT_EQ(engine->state(id), TcpState::fin_wait_2);
  guest(wire::kTcpAck, "late data");  // the guest may still send: half-close
  EXPECT_EQ(host.sockets.at(id).from_guest, "late data");
  guest(wire::kTcpAck | wire::kTcpFin);
  EXPECT_EQ(engine->state(id), TcpState::time_wait);
  EXPECT_TRUE(host.sockets.at(id).closed);
  now += config.time_wait;
  engine->poll(now);
  EXPECT_FALSE(engine->state(id).has_value());
}

TEST_F(TcpEngineTest, SimultaneousCloseWalksClosing) {
  const auto id = establish();
  host.sockets.at(id).eof = true;
  engine->handle_readable(id, now);
  EXPECT_EQ(engine->state(id), TcpState::fin_wait_1);
  host.take();  // our FIN, which the guest's FIN below does not acknowledge
  guest(wire::kTcpAck | wire::kTcpFin, {}, std::nullopt, our_next);  // FIN, not acking ours
  EXPECT_EQ(engine->state(id), TcpState::closing);
  guest(wire::kTcpAck, {}, std::nullopt, our_next + 1);
  EXPECT_EQ(engine->state(id), TcpState::time_wait);
}

TEST_F(TcpEngineTest, FinAckedTogetherWithTheGuestFinGoesStraightToTimeWait) {
  const auto id = establish();
  host_closes(id);
  guest(wire::kTcpAck | wire::kTcpFin);
  EXPECT_EQ(engine->state(id), TcpState::time_wait);
}

TEST_F(TcpEngineTest, FinWait2TimesOut) {
  const auto id = establish();
  host_closes(id);
  ack_all();
  now += config.fin_wait_2_timeout;
  engine->poll(now);
  EXPECT_FALSE(engine->state(id).has_value());
}

TEST_F(TcpEngineTest, NewSynReusesATimeWaitTuple) {
  const auto id = establish();
  host_closes(id);
  guest(wire::kTcpAck | wire::kTcpFin);
  ASSERT_EQ(engine->state(id), TcpState::time_wait);
  guest_next += 100000;
  guest(wire::kTcpSyn, {}, std::nullopt, 0U);
  const auto fresh = engine->find({kGuest, kGuestPort, kRemote, kRemotePort});
  ASSERT_TRUE(fresh.has_value());
  EXPECT_NE(*fresh, id);
  EXPECT_EQ(engine->state(*fresh), TcpState::connecting);
}

// ---- resets and hostile segments ----------------------------------------------------------

TEST_F(TcpEngineTest, ExactRstAbortsTheHostSocketAndInWindowRstIsChallenged) {
  const auto id = establish();
  host.take();
  guest(wire::kTcpRst, {}, guest_next + 10, 0U);
  EXPECT_EQ(engine->state(id), TcpState::established);
  EXPECT_EQ(engine->stats().challenge_acks, 1U);
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpAck);
  guest(wire::kTcpRst, {}, guest_next, 0U);
  EXPECT_FALSE(engine->state(id).has_value());
  EXPECT_TRUE(host.sockets.at(id).aborted);
}

TEST_F(TcpEngineTest, SynInASynchronisedStateIsChallenged) {
  const auto id = establish();
  host.take();
  guest(wire::kTcpSyn, {}, guest_next, 0U);
  EXPECT_EQ(engine->state(id), TcpState::established);
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpAck);
  EXPECT_EQ(engine->stats().challenge_acks, 1U);
}

TEST_F(TcpEngineTest, HostResetBecomesRstToTheGuest) {
  const auto id = establish();
  host.take();
  host.sockets.at(id).reset = true;
  engine->handle_readable(id, now);
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_FALSE(engine->state(id).has_value());
  EXPECT_EQ(engine->stats().host_resets, 1U);
}

TEST_F(TcpEngineTest, HostWriteErrorBecomesRstToTheGuest) {
  const auto id = establish();
  host.take();
  host.sockets.at(id).write_error = true;
  guest(wire::kTcpAck, "data");
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_FALSE(engine->state(id).has_value());
}

TEST_F(TcpEngineTest, SegmentsForNoConnectionAreAnsweredWithRst) {
  guest(wire::kTcpAck, "stray", 777U, 888U);
  const auto rst = host.take().at(0).packet();
  EXPECT_EQ(rst.flags(), wire::kTcpRst);
  EXPECT_EQ(rst.sequence_number(), 888U);
  guest(wire::kTcpRst, {}, 777U, 888U);
  EXPECT_TRUE(host.take().empty()) << "no RST for a RST";
  EXPECT_EQ(engine->stats().unknown_connection, 1U);
}

TEST_F(TcpEngineTest, AckForUnsentDataIsAnsweredAndIgnored) {
  const auto id = establish();
  host.take();
  guest(wire::kTcpAck, {}, std::nullopt, our_next + 5000);
  EXPECT_EQ(host.take().at(0).packet().ack_number(), guest_next);
  EXPECT_EQ(engine->state(id), TcpState::established);
}

TEST_F(TcpEngineTest, KeepaliveProbesAnIdleGuestThenResets) {
  config.keepalive_idle = 10s;
  config.keepalive_interval = 1s;
  config.keepalive_probes = 2;
  make_engine();
  const auto id = establish();
  host.take();
  now += 10s;
  engine->poll(now);
  EXPECT_EQ(host.take().at(0).packet().sequence_number(), our_next - 1);
  now += 1s;
  engine->poll(now);
  now += 1s;
  engine->poll(now);
  const auto out = host.take();
  EXPECT_EQ(out.back().packet().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_EQ(engine->stats().keepalive_probes, 2U);
  EXPECT_EQ(engine->stats().keepalive_timeouts, 1U);
  EXPECT_FALSE(engine->state(id).has_value());
}

// ---- inbound forwards (active open toward the guest) --------------------------------------

TEST_F(TcpEngineTest, InboundOpenWalksSynSentToEstablished) {
  const auto id = engine->open_inbound(kGuest, kGuestPort, kRemote, now);
  ASSERT_TRUE(id.has_value());
  host.sockets[*id];  // the host's accepted socket
  EXPECT_EQ(engine->state(*id), TcpState::syn_sent);
  const auto syn = host.take().at(0).packet();
  EXPECT_EQ(syn.flags(), wire::kTcpSyn);
  EXPECT_EQ(syn.destination_port(), kGuestPort);
  EXPECT_TRUE(syn.options().window_scale.has_value());
  EXPECT_TRUE(syn.options().sack_permitted);
  host.sockets[*id].to_guest = "greeting";
  // The guest's SYN-ACK, from the tuple the SYN used.
  wire::TcpHeader header;
  header.source_port = kGuestPort;
  header.destination_port = syn.source_port();
  header.sequence_number = 9000;
  header.ack_number = syn.sequence_number() + 1;
  header.flags = wire::kTcpSyn | wire::kTcpAck;
  header.window = 65535;
  header.options.mss = 1460;
  auto segment = test::guest_segment(header, {}, kGuest, kRemote);
  engine->handle_segment(kGuest, kRemote, segment.packet(), {}, now);
  EXPECT_EQ(engine->state(*id), TcpState::established);
  const auto out = host.take();
  ASSERT_GE(out.size(), 2U);
  EXPECT_EQ(out[0].packet().flags(), wire::kTcpAck);
  EXPECT_EQ(out[0].packet().ack_number(), 9001U);
  our_next = syn.sequence_number() + 1;
  EXPECT_EQ(receive({out[1]}), "greeting");
  EXPECT_EQ(engine->stats().inbound_opened, 1U);
}

TEST_F(TcpEngineTest, InboundRefusedByTheGuestAbortsTheHostSocket) {
  const auto id = *engine->open_inbound(kGuest, kGuestPort, kRemote, now);
  host.sockets[id];
  const auto syn = host.take().at(0).packet();
  wire::TcpHeader header;
  header.source_port = kGuestPort;
  header.destination_port = syn.source_port();
  header.ack_number = syn.sequence_number() + 1;
  header.flags = wire::kTcpRst | wire::kTcpAck;
  auto segment = test::guest_segment(header, {}, kGuest, kRemote);
  engine->handle_segment(kGuest, kRemote, segment.packet(), {}, now);
  EXPECT_FALSE(engine->state(id).has_value());
  EXPECT_TRUE(host.sockets[id].aborted);
}

TEST_F(TcpEngineTest, SimultaneousOpenWalksSynSentToSynReceived) {
  const auto id = *engine->open_inbound(kGuest, kGuestPort, kRemote, now);
  const auto syn = host.take().at(0).packet();
  wire::TcpHeader header;
  header.source_port = kGuestPort;
  header.destination_port = syn.source_port();
  header.sequence_number = 7000;
  header.flags = wire::kTcpSyn;
  header.window = 1000;
  auto segment = test::guest_segment(header, {}, kGuest, kRemote);
  engine->handle_segment(kGuest, kRemote, segment.packet(), {}, now);
  EXPECT_EQ(engine->state(id), TcpState::syn_received);
  EXPECT_EQ(host.take().at(0).packet().flags(), wire::kTcpSyn | wire::kTcpAck);
}

// ---- limits -------------------------------------------------------------------------------

TEST_F(TcpEngineTest, ConnectionTableFullAnswersRst) {
  config.max_connections = 2;
  make_engine();
  for (std::uint16_t port = 1; port <= 3; ++port) {
    guest(wire::kTcpSyn, {}, 100U, 0U, 65535, {}, port);
  }
  EXPECT_EQ(engine->connection_count(), 2U);
  EXPECT_EQ(engine->stats().table_full, 1U);
  EXPECT_EQ(host.take().back().packet().flags(), wire::kTcpRst | wire::kTcpAck);
}

TEST_F(TcpEngineTest, HalfOpenLimitDropsSynsSilently) {
  config.max_half_open = 2;
  make_engine();
  for (std::uint16_t port = 1; port <= 5; ++port) guest(wire::kTcpSyn, {}, 100U, 0U, 65535, {}, port);
  EXPECT_EQ(engine->half_open_count(), 2U);
  EXPECT_EQ(engine->stats().half_open_limit, 3U);
  EXPECT_TRUE(host.take().empty());
}

TEST_F(TcpEngineTest, TimeWaitEntriesAreRecycledWhenTheTableIsFull) {
  config.max_connections = 1;
  make_engine();
  const auto id = establish();
  host_closes(id);
  guest(wire::kTcpAck | wire::kTcpFin);
  ASSERT_EQ(engine->state(id), TcpState::time_wait);
  guest(wire::kTcpSyn, {}, 1U, 0U, 65535, {}, 5555);
  EXPECT_EQ(engine->stats().time_wait_recycled, 1U);
  EXPECT_TRUE(engine->find({kGuest, 5555, kRemote, kRemotePort}).has_value());
}

TEST_F(TcpEngineTest, SessionBufferCapLimitsTheAdvertisedWindow) {
  config.receive_buffer = 65536;
  config.session_receive_buffer = 4096;
  make_engine();
  const auto id = establish(wire::TcpOptions{.mss = 1460});
  host.sockets.at(id).write_room = 0;
  guest(wire::kTcpAck, pattern(2048));
  guest(wire::kTcpAck, pattern(2048));  // the second segment is acknowledged at once
  const auto& out = host.take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().packet().window(), 0);
}

}  // namespace
}  // namespace aero::stack
