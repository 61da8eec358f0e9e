// The gateway's DNS forwarder through the session: forwarding, caching, the rebinding filter,
// static names, policy, limits, timeouts and truncation.
#include <gtest/gtest.h>

#include <map>

#include "aero/stack/session.h"
#include "aero/wire/dns.h"
#include "fake_host.h"
#include "guest_frames.h"

namespace aero::stack {
namespace {

using namespace std::chrono_literals;
using wire::DnsRcode;

const Ipv4Address kPublic{{93, 184, 216, 34}};

class DnsHost : public test::RecordingHost {
 public:
  bool dns_query(QueryId id, ByteSpan query) override {
    if (refuse) return false;
    queries[id] = Bytes(query.begin(), query.end());
    return true;
  }
  std::map<QueryId, Bytes> queries;
  bool refuse = false;
};

Bytes make_query(std::string_view name, std::uint16_t type, std::uint16_t id = 0x1234,
                 std::optional<std::uint16_t> edns = std::nullopt) {
  Bytes out(512);
  auto builder = wire::DnsBuilder::start(out, id, wire::kDnsFlagRd).value();
  EXPECT_TRUE(builder.add_question(name, type).ok());
  if (edns) {
    EXPECT_TRUE(builder.add_opt(*edns).ok());
  }
  out.resize(builder.size());
  return out;
}

// An upstream answer to `query` with the given A records (and optional padding TXT to grow it).
Bytes make_answer(const Bytes& query, std::vector<Ipv4Address> addresses, std::uint32_t ttl = 300,
                  std::size_t txt_bytes = 0) {
  Bytes out(wire::kDnsMaxMessageSize);
  auto parsed = wire::DnsMessage::parse(query).value();
  auto builder = wire::DnsBuilder::response_to(out, parsed).value();
  for (const auto& address : addresses) EXPECT_TRUE(builder.add_answer_a(ttl, address).ok());
  if (txt_bytes > 0) {
    Bytes txt;
    while (txt.size() < txt_bytes) {
      txt.push_back(200);
      txt.insert(txt.end(), 200, 'x');
    }
    EXPECT_TRUE(builder.add_record(wire::DnsSection::additional, "pad.example", wire::dns_type::txt,
                                   wire::kDnsClassIn, ttl, txt).ok());
  }
  out.resize(builder.size());
  return out;
}

std::uint8_t rcode_of(const Bytes& message) {
  auto parsed = wire::DnsMessage::parse(message);
  EXPECT_TRUE(parsed.ok());
  return parsed ? parsed->rcode() : 0xFF;
}

class DnsForwarderTest : public testing::Test {
 protected:
  Session& session() {
    if (!session_) {
      EXPECT_TRUE(config_.validate().ok());
      session_.emplace(config_, host_, now_);
      session_->handle_guest_frame(test::arp_request(test::kGuestMac, test::kGuestIp, test::kGatewayIp), now_);
      host_.take();
    }
    return *session_;
  }
  void ask(const Bytes& query, std::uint16_t port = 33333) {
    session().handle_guest_frame(test::udp_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                                                 test::kGatewayIp, port, 53, query),
                                 now_);
  }
  // The single DNS message sent to the guest since the last call.
  Bytes reply() {
    auto frames = host_.take();
    EXPECT_EQ(frames.size(), 1U);
    if (frames.empty()) return {};
    const auto ip = test::ipv4_of(frames.back());
    EXPECT_EQ(ip.source(), test::kGatewayIp);
    auto udp = wire::UdpPacket::parse(ip.payload()).value();
    EXPECT_EQ(udp.source_port(), 53);
    EXPECT_TRUE(udp.checksum_ok(ip.source(), ip.destination()));
    return Bytes(udp.payload().begin(), udp.payload().end());
  }
  std::vector<Ipv4Address> addresses_of(const Bytes& message) {
    std::vector<Ipv4Address> out;
    auto parsed = wire::DnsMessage::parse(message).value();
    for (const auto& record : parsed.answers()) {
      if (auto a = record.a()) out.push_back(*a);
    }
    return out;
  }

  StackConfig config_;
  DnsHost host_;
  Instant now_{};
  std::optional<Session> session_;
};

TEST_F(DnsForwarderTest, ForwardsAnyTypeAndReturnsTheAnswerWithTheGuestsId) {
  const Bytes query = make_query("Example.COM", wire::dns_type::a, 0xBEEF);
  ask(query);
  ASSERT_EQ(host_.queries.size(), 1U);
  const auto& [id, sent] = *host_.queries.begin();
  EXPECT_EQ(sent, query) << "the query goes upstream as the guest wrote it";
  session().handle_dns_response(id, make_answer(query, {kPublic}), now_);
  const Bytes answer = reply();
  auto parsed = wire::DnsMessage::parse(answer).value();
  EXPECT_EQ(parsed.id(), 0xBEEF);
  EXPECT_EQ(addresses_of(answer), std::vector<Ipv4Address>{kPublic});
  EXPECT_EQ(session().dns_stats().forwarded, 1U);

  ask(make_query("example.com", wire::dns_type::mx));
  EXPECT_EQ(host_.queries.size(), 2U) << "MX is forwarded too";
}

TEST_F(DnsForwarderTest, PrivateAddressesForPublicNamesNeverReachTheGuest) {
  const Bytes query = make_query("rebind.example", wire::dns_type::a);
  ask(query);
  session().handle_dns_response(host_.queries.begin()->first,
                                make_answer(query, {Ipv4Address{{127, 0, 0, 1}}, kPublic,
                                                    Ipv4Address{{169, 254, 169, 254}},
                                                    Ipv4Address{{10, 1, 2, 3}}}),
                                now_);
  EXPECT_EQ(addresses_of(reply()), std::vector<Ipv4Address>{kPublic});
  EXPECT_EQ(session().dns_stats().rebinding_filtered, 3U);
}

TEST_F(DnsForwarderTest, CachesHonouringTtlAndAgesIt) {
  const Bytes query = make_query("cache.example", wire::dns_type::a, 1);
  ask(query);
  session().handle_dns_response(host_.queries.begin()->first, make_answer(query, {kPublic}, 100), now_);
  reply();
  now_ += 40s;
  ask(make_query("CACHE.example", wire::dns_type::a, 2));
  EXPECT_EQ(host_.queries.size(), 1U) << "served from the cache";
  const Bytes cached = reply();
  auto parsed = wire::DnsMessage::parse(cached).value();
  EXPECT_EQ(parsed.id(), 2);
  EXPECT_EQ(parsed.answers().begin()->ttl, 60U);
  EXPECT_EQ(parsed.questions().begin()->name.to_string(), "CACHE.example") << "the guest's case";
  EXPECT_EQ(session().dns_stats().cache_hits, 1U);
  now_ += 61s;
  ask(make_query("cache.example", wire::dns_type::a, 3));
  EXPECT_EQ(host_.queries.size(), 2U) << "expired: asked upstream again";
}

TEST_F(DnsForwarderTest, CacheIsBounded) {
  config_.max_dns_cache_entries = 2;
  for (int i = 0; i < 5; ++i) {
    const Bytes query = make_query("n" + std::to_string(i) + ".example", wire::dns_type::a);
    ask(query);
    session().handle_dns_response(std::prev(host_.queries.end())->first, make_answer(query, {kPublic}), now_);
    reply();
  }
  EXPECT_EQ(session().dns_stats().cache_evictions, 3U);
}

TEST_F(DnsForwarderTest, StaticNamesAnswerLocally) {
  config_.dns_static = {{"dev.aero.test", Ipv4Address{{10, 0, 2, 99}}}};
  ask(make_query("DEV.aero.test.", wire::dns_type::a));
  EXPECT_EQ(addresses_of(reply()), (std::vector<Ipv4Address>{Ipv4Address{{10, 0, 2, 99}}}));
  ask(make_query("dev.aero.test", wire::dns_type::aaaa));
  const Bytes empty_bytes = reply();
  auto empty = wire::DnsMessage::parse(empty_bytes).value();
  EXPECT_EQ(empty.rcode(), 0);
  EXPECT_EQ(empty.count(wire::DnsSection::answer), 0U);
  EXPECT_TRUE(host_.queries.empty());
}

TEST_F(DnsForwarderTest, DomainPolicyAnswersNxdomain) {
  config_.policy.blocked_domains = {"blocked.example"};
  ask(make_query("www.blocked.example", wire::dns_type::a));
  EXPECT_EQ(rcode_of(reply()), 3);
  EXPECT_TRUE(host_.queries.empty());
}

TEST_F(DnsForwarderTest, PendingCapTimeoutsAndFailuresGiveServfail) {
  config_.max_pending_dns = 2;
  ask(make_query("a.example", wire::dns_type::a, 1));
  ask(make_query("b.example", wire::dns_type::a, 2));
  ask(make_query("c.example", wire::dns_type::a, 3));
  EXPECT_EQ(rcode_of(reply()), 2);
  EXPECT_EQ(session().dns_stats().servfail_pending_cap, 1U);

  session().handle_dns_failure(host_.queries.begin()->first, now_);
  EXPECT_EQ(rcode_of(reply()), 2);

  EXPECT_EQ(session().next_deadline(), Instant{} + 5s);
  now_ += 5s;
  session().poll(now_);
  const Bytes timed_out_bytes = reply();
  auto timed_out = wire::DnsMessage::parse(timed_out_bytes).value();
  EXPECT_EQ(timed_out.rcode(), 2);
  EXPECT_EQ(timed_out.id(), 2);
  EXPECT_EQ(session().dns_stats().servfail_upstream, 2U);

  host_.refuse = true;
  ask(make_query("d.example", wire::dns_type::a, 4));
  EXPECT_EQ(rcode_of(reply()), 2) << "no upstream at all";
}

TEST_F(DnsForwarderTest, LargeAnswersAreTruncatedForUdpUnlessEdnsAllowsThem) {
  const Bytes query = make_query("big.example", wire::dns_type::a, 7);
  ask(query);
  session().handle_dns_response(host_.queries.begin()->first,
                                make_answer(query, {kPublic}, 300, 1000), now_);
  const Bytes truncated_bytes = reply();
  auto truncated = wire::DnsMessage::parse(truncated_bytes).value();
  EXPECT_TRUE(truncated.truncated());
  EXPECT_EQ(truncated.count(wire::DnsSection::answer), 0U);
  EXPECT_EQ(truncated.id(), 7);

  const Bytes edns_query = make_query("big2.example", wire::dns_type::a, 8, 4096);
  ask(edns_query);
  session().handle_dns_response(std::prev(host_.queries.end())->first,
                                make_answer(edns_query, {kPublic}, 300, 1000), now_);
  const Bytes whole_bytes = reply();
  auto whole = wire::DnsMessage::parse(whole_bytes).value();
  EXPECT_FALSE(whole.truncated());
  EXPECT_EQ(whole.count(wire::DnsSection::answer), 1U);
}

TEST_F(DnsForwarderTest, RejectsWhatIsNotASingleQuestionQuery) {
  Bytes two(512);
  auto builder = wire::DnsBuilder::start(two, 9, 0).value();
  ASSERT_TRUE(builder.add_question("a.example", wire::dns_type::a).ok());
  ASSERT_TRUE(builder.add_question("b.example", wire::dns_type::a).ok());
  two.resize(builder.size());
  ask(two);
  EXPECT_EQ(rcode_of(reply()), 1);
  Bytes notify = make_query("a.example", wire::dns_type::soa);
  notify[2] = static_cast<std::uint8_t>(notify[2] | (4 << 3));  // opcode NOTIFY
  ask(notify);
  EXPECT_EQ(rcode_of(reply()), 4);
  ask(Bytes{1, 2, 3});
  EXPECT_TRUE(host_.take().empty()) << "no header, no answer";
  EXPECT_TRUE(host_.queries.empty());
}

TEST(StaticNames, ParsesAeroDnsA) {
  auto names = parse_static_names("AERO_L2_DNS_A", "Dev.Test.=10.0.2.50, other.test=1.2.3.4");
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 2U);
  EXPECT_EQ((*names)[0].name, "dev.test");
  EXPECT_FALSE(parse_static_names("AERO_L2_DNS_A", "dev.test").ok());
  EXPECT_FALSE(parse_static_names("AERO_L2_DNS_A", "dev.test=::1").ok());
}

}  // namespace
}  // namespace aero::stack
