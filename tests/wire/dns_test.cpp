// DNS view, names and builder: dig-style captures with compression and EDNS, a CNAME chain,
// negative answers, responses built and parsed back, filtered rebuilds and malformed messages.
#include "aero/wire/dns.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aero::wire {
namespace {

Bytes hex(std::string_view text) {  // hex digits; anything else is ignored
  Bytes out;
  int high = -1;
  for (const char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  return out;
}

Ipv4Address ip4(std::string_view text) {
  return Ipv4Address::parse(text).value();
}
Ipv6Address ip6(std::string_view text) {
  return Ipv6Address::parse(text).value();
}

// `dig example.com` through a validating resolver: answer owner compressed to the question,
// EDNS payload 1232 with a COOKIE option.
const Bytes kDigResponse =
    hex("9c4e 81a0 0001 0001 0000 0001"             // id, QR RD RA AD, counts
        "07 6578616d706c65 03 636f6d 00 0001 0001"  // example.com A IN
        "c00c 0001 0001 00000a94 0004 5db8d70e"     // A 93.184.215.14, TTL 2708
        "00 0029 04d0 00000000 001c"                // OPT, 1232, 28 bytes of options
        "000a 0018 a1b2c3d4e5f60718 0100000065a1b2c3d4e5f60718293a4b");  // COOKIE

// `dig AAAA example.com` query: RD AD, OPT 1232 with a client cookie.
const Bytes kDigQueryAaaa =
    hex("1a2b 0120 0001 0000 0000 0001"
        "07 6578616d706c65 03 636f6d 00 001c 0001"
        "00 0029 04d0 00000000 000c 000a 0008 f1e2d3c4b5a69788");

// www.microsoft.com: three CNAMEs then an A, names compressed against earlier ones.
const Bytes kCnameChain =
    hex("4f21 8180 0001 0004 0000 0000"
        "03777777096d6963726f736f667403636f6d0000010001"  // www.microsoft.com A
        "c00c 0005 0001 00000e10 0023"                    // CNAME, TTL 3600
        "03777777096d6963726f736f667407636f6d2d632d3307656467656b6579036e657400"
        "c02f 0005 0001 00000384 0037"  // CNAME, TTL 900
        "03777777096d6963726f736f667407636f6d2d632d3307656467656b6579036e6574"
        "0b676c6f62616c7265646972 06616b61646e73 c04d"
        "c05e 0005 0001 00000384 0019"  // CNAME, TTL 900
        "06653133363738 0464736362 0a616b616d616965646765 c04d"
        "c0a1 0001 0001 00000014 0004 173283c8");  // A 23.50.131.200, TTL 20

// NXDOMAIN for nonexistent.example.com with the zone's SOA in the authority section.
const Bytes kNxdomain =
    hex("2f1d 8183 0001 0000 0001 0000"
        "0b6e6f6e6578697374656e74076578616d706c6503636f6d00 0001 0001"
        "c018 0006 0001 00000e10 002c"                    // SOA example.com, TTL 3600
        "026e73 056963616e6e 036f7267 00"                 // ns.icann.org
        "036e6f63 03646e73 c038"                          // noc.dns.icann.org
        "78a50842 00001c20 00000e10 00127500 00000e10");  // serial refresh retry expire minimum

DnsMessage parse_ok(ByteSpan bytes) {
  auto m = DnsMessage::parse(bytes);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return std::move(m).value();
}

std::string_view kind_of(const Bytes& bytes) {
  auto m = DnsMessage::parse(bytes);
  return m.ok() ? std::string_view("ok") : m.error().kind;
}

TEST(DnsParse, DigResponseWithCompressionAndOpt) {
  const DnsMessage m = parse_ok(kDigResponse);
  EXPECT_EQ(m.id(), 0x9c4e);
  EXPECT_TRUE(m.is_response());
  EXPECT_TRUE(m.recursion_desired());
  EXPECT_FALSE(m.truncated());
  EXPECT_EQ(m.opcode(), 0);
  EXPECT_EQ(m.rcode(), 0);
  EXPECT_EQ(m.count(DnsSection::question), 1u);
  EXPECT_EQ(m.count(DnsSection::additional), 1u);
  ASSERT_EQ(m.questions().size(), 1u);
  const DnsQuestion q = *m.questions().begin();
  EXPECT_EQ(q.name.to_string(), "example.com");
  EXPECT_EQ(q.type, dns_type::a);
  EXPECT_EQ(q.klass, kDnsClassIn);
  std::vector<DnsRecord> answers(m.answers().begin(), m.answers().end());
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].name.encoded_length(), 2u);  // a pointer
  EXPECT_EQ(answers[0].name.wire_length(), 13u);
  EXPECT_TRUE(answers[0].name.equals(q.name));
  EXPECT_EQ(answers[0].a(), ip4("93.184.215.14"));
  EXPECT_FALSE(answers[0].aaaa());
  EXPECT_FALSE(answers[0].cname());
  EXPECT_EQ(m.min_answer_ttl(), 2708u);
  auto edns = m.edns();
  ASSERT_TRUE(edns);
  EXPECT_EQ(edns->udp_payload_size, 1232);
  EXPECT_EQ(edns->version, 0);
  EXPECT_FALSE(edns->dnssec_ok);
  EXPECT_EQ(edns->options.size(), 28u);
  EXPECT_EQ(m.max_udp_payload(), 1232u);
}

TEST(DnsParse, DigQueryWithOpt) {
  const DnsMessage m = parse_ok(kDigQueryAaaa);
  EXPECT_FALSE(m.is_response());
  EXPECT_EQ(m.questions().begin()->type, dns_type::aaaa);
  EXPECT_EQ(m.answers().size(), 0u);
  EXPECT_EQ(m.max_udp_payload(), 1232u);
  EXPECT_FALSE(m.min_answer_ttl());
}

TEST(DnsParse, FollowsCnameChain) {
  const DnsMessage m = parse_ok(kCnameChain);
  DnsName current = m.questions().begin()->name;
  std::optional<Ipv4Address> address;
  std::vector<std::string> chain;
  for (const DnsRecord& record : m.answers()) {
    if (!record.name.equals(current)) continue;
    if (auto target = record.cname()) {
      current = *target;
      chain.push_back(target->to_string());
    } else if (auto a = record.a()) {
      address = a;
    }
  }
  EXPECT_EQ(chain,
            (std::vector<std::string>{"www.microsoft.com-c-3.edgekey.net",
                                      "www.microsoft.com-c-3.edgekey.net.globalredir.akadns.net",
                                      "e13678.dscb.akamaiedge.net"}));
  EXPECT_EQ(address, ip4("23.50.131.200"));
  EXPECT_EQ(m.min_answer_ttl(), 20u);
  EXPECT_EQ(m.max_udp_payload(), 512u);  // no EDNS
  EXPECT_TRUE(current.equals("E13678.DSCB.akamaiedge.net."));
  std::array<std::uint8_t, 255> flat{};
  ASSERT_EQ(current.write_uncompressed(flat), 28u);
  EXPECT_EQ(Bytes(flat.begin(), flat.begin() + 28),
            hex("06653133363738 0464736362 0a616b616d616965646765 036e6574 00"));
  EXPECT_EQ(current.write_uncompressed(std::span(flat).first(27)), 0u);
}

TEST(DnsParse, NegativeAnswerTtl) {
  const DnsMessage m = parse_ok(kNxdomain);
  EXPECT_EQ(m.rcode(), static_cast<std::uint8_t>(DnsRcode::nxdomain));
  EXPECT_FALSE(m.min_answer_ttl());
  EXPECT_EQ(m.negative_ttl(), 3600u);  // RFC 2308 §5
  const DnsRecord soa = *m.records(DnsSection::authority).begin();
  EXPECT_EQ(soa.name.to_string(), "example.com");
  EXPECT_EQ(m.records(DnsSection::question).size(), 0u);
}

TEST(DnsName, TextFormEscapesAndRoundTrips) {
  const Bytes wire = hex("03 612e62 01 5c 04 20ff41 7a 00");  // "a.b", "\", " \xffAz"
  auto name = DnsName::parse(wire, 0);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->to_string(), "a\\.b.\\\\.\\032\\255Az");
  std::array<std::uint8_t, 255> out{};
  auto length = encode_dns_name(name->to_string(), out);
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*length)), wire);
  EXPECT_TRUE(name->equals("A\\.B.\\092.\\ \\255aZ"));

  EXPECT_EQ(DnsName().to_string(), ".");
  EXPECT_TRUE(DnsName().is_root());
  EXPECT_EQ(encode_dns_name(".", out).value(), 1u);
  EXPECT_EQ(encode_dns_name("", out).value(), 1u);
  EXPECT_EQ(encode_dns_name("example.com.", out).value(), 13u);
  EXPECT_EQ(encode_dns_name("a..b", out).error().kind, "bad_length");
  EXPECT_EQ(encode_dns_name(".a", out).error().kind, "bad_length");
  EXPECT_EQ(encode_dns_name("a\\", out).error().kind, "unsupported");
  EXPECT_EQ(encode_dns_name("a\\25", out).error().kind, "unsupported");
  EXPECT_EQ(encode_dns_name("a\\256", out).error().kind, "unsupported");
  EXPECT_EQ(encode_dns_name(std::string(63, 'x'), out).value(), 65u);
  EXPECT_EQ(encode_dns_name(std::string(64, 'x'), out).error().kind, "bad_length");
  const std::string l63(63, 'x');
  const std::string max = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'y');  // 255
  EXPECT_EQ(encode_dns_name(max, out).value(), 255u);
  EXPECT_EQ(encode_dns_name(max + "y", out).error().kind, "too_large");
  EXPECT_EQ(encode_dns_name("example.com", std::span(out).first(12)).error().kind, "too_large");
  EXPECT_FALSE(name->equals("a..b"));
}

// A header with one question (or `an` answers), then `rest`.
Bytes with_header(std::string_view rest, int qd = 1, int an = 0) {
  Bytes m = hex("abcd 0100");
  for (const int n : {qd, an, 0, 0}) {
    m.push_back(0);
    m.push_back(static_cast<std::uint8_t>(n));
  }
  const Bytes tail = hex(rest);
  m.insert(m.end(), tail.begin(), tail.end());
  return m;
}

// Record 1 (TXT) holds a root label and `hops` pointers each aiming at the previous one;
// record 2's owner points at the last of them.
Bytes pointer_chain(std::size_t hops) {
  Bytes m = with_header("", 0, 2);
  const Bytes head = hex("00 0010 0001 00000000");
  m.insert(m.end(), head.begin(), head.end());
  const std::size_t rdata = m.size() + 2;
  const std::size_t length = 1 + 2 * hops;
  m.push_back(static_cast<std::uint8_t>(length >> 8));
  m.push_back(static_cast<std::uint8_t>(length));
  m.push_back(0);
  std::size_t previous = rdata;
  for (std::size_t i = 0; i < hops; ++i) {
    const std::size_t here = m.size();
    m.push_back(static_cast<std::uint8_t>(0xC0 | (previous >> 8)));
    m.push_back(static_cast<std::uint8_t>(previous));
    previous = here;
  }
  m.push_back(static_cast<std::uint8_t>(0xC0 | (previous >> 8)));
  m.push_back(static_cast<std::uint8_t>(previous));
  const Bytes tail = hex("0010 0001 00000000 0000");
  m.insert(m.end(), tail.begin(), tail.end());
  return m;
}

TEST(DnsParse, RejectsMalformedNames) {
  ASSERT_EQ(kind_of(with_header("01 61 00 0001 0001")), "ok");
  // RFC 1035 §4.1.4: pointers must go strictly backwards.
  EXPECT_EQ(kind_of(with_header("01 61 c0 0c 0001 0001")), "bad_pointer");  // loop to itself
  EXPECT_EQ(kind_of(with_header("c0 12 0001 0001 00")), "bad_pointer");     // forward
  EXPECT_EQ(kind_of(with_header("ff ff 0001 0001")), "bad_pointer");        // past the end
  EXPECT_EQ(kind_of(with_header("c0")), "truncated");
  EXPECT_EQ(kind_of(pointer_chain(127)), "ok");  // 128 hops
  EXPECT_EQ(kind_of(pointer_chain(128)), "bad_pointer");
  // RFC 1035 §2.3.4: labels up to 63 bytes, names up to 255.
  EXPECT_EQ(kind_of(with_header("3f" + std::string(126, 'a') + "00 0001 0001")), "ok");
  EXPECT_EQ(kind_of(with_header("40" + std::string(128, 'a') + "00 0001 0001")), "bad_length");
  EXPECT_EQ(kind_of(with_header("81 61 00 0001 0001")), "bad_length");  // label type 10
  const std::string l63 = "3f" + std::string(126, 'a');
  EXPECT_EQ(kind_of(with_header(l63 + l63 + l63 + "3d" + std::string(122, 'b') + "00 0001 0001")),
            "ok");
  EXPECT_EQ(kind_of(with_header(l63 + l63 + l63 + "3e" + std::string(124, 'b') + "00 0001 0001")),
            "too_large");
  EXPECT_EQ(kind_of(with_header("07 6578616d706c")), "truncated");
}

TEST(DnsParse, RejectsMalformedMessages) {
  EXPECT_EQ(kind_of(Bytes(kDigResponse.begin(), kDigResponse.begin() + 11)), "truncated");
  EXPECT_EQ(kind_of(Bytes(65536, 0)), "too_large");
  EXPECT_EQ(kind_of(Bytes(12, 0)), "ok");
  // Counts larger than the records present.
  Bytes more = kCnameChain;
  more[7] = 5;
  EXPECT_EQ(kind_of(more), "truncated");
  EXPECT_EQ(kind_of(with_header("01 61 00 0001 0001", 2)), "truncated");
  EXPECT_EQ(kind_of(with_header("01 61 00 0001")), "truncated");
  // RDLENGTH past the end of the message.
  EXPECT_EQ(kind_of(Bytes(kDigResponse.begin(), kDigResponse.end() - 1)), "bad_length");
  // Record cut inside its fixed fields.
  EXPECT_EQ(kind_of(Bytes(kDigResponse.begin(), kDigResponse.begin() + 40)), "truncated");

  std::array<std::uint8_t, 512> buffer{};
  const auto build = [&](auto&& fill) {
    auto b = DnsBuilder::start(buffer, 1, kDnsFlagQr).value();
    EXPECT_TRUE(b.add_question("a.example", dns_type::a).ok());
    fill(b);
    return Bytes(b.bytes().begin(), b.bytes().end());
  };
  const auto record = [](std::uint16_t type, std::string_view rdata) {
    return [type, rdata](DnsBuilder& b) {
      EXPECT_TRUE(
          b.add_record(DnsSection::answer, "a.example", type, kDnsClassIn, 60, hex(rdata)).ok());
    };
  };
  EXPECT_EQ(kind_of(build(record(dns_type::a, "0a000001"))), "ok");
  EXPECT_EQ(kind_of(build(record(dns_type::a, "0a00000100"))), "bad_length");
  EXPECT_EQ(kind_of(build(record(dns_type::aaaa, "0a000001"))), "bad_length");
  EXPECT_EQ(kind_of(build(record(dns_type::cname, "01 62 c0 0c"))), "ok");
  EXPECT_EQ(kind_of(build(record(dns_type::cname, "01 62 c0 0c 00"))), "bad_length");
  EXPECT_EQ(kind_of(build(record(dns_type::cname, "03 6262"))), "bad_length");
  EXPECT_EQ(kind_of(build(record(dns_type::cname, "c0 30"))), "bad_pointer");
  EXPECT_EQ(kind_of(build(record(dns_type::mx, "000a c00c"))), "ok");
  EXPECT_EQ(kind_of(build(record(dns_type::mx, "00"))), "bad_length");
  EXPECT_EQ(kind_of(build(record(dns_type::soa, "00 00" + std::string(38, '0')))), "bad_length");
  EXPECT_EQ(kind_of(build(record(dns_type::soa, "00 00" + std::string(40, '0')))), "ok");
  EXPECT_EQ(kind_of(build(record(dns_type::txt, "05 68656c6c6f"))), "ok");
  // RFC 6891 §6.1.1: one OPT, owned by the root.
  EXPECT_EQ(kind_of(build([](DnsBuilder& b) {
              EXPECT_TRUE(b.add_opt(1232).ok());
              EXPECT_TRUE(b.add_opt(1232).ok());
            })),
            "unsupported");
  EXPECT_EQ(
      kind_of(build([](DnsBuilder& b) {
        EXPECT_TRUE(b.add_record(DnsSection::additional, "x", dns_type::opt, 1232, 0, {}).ok());
      })),
      "unsupported");
}

TEST(DnsBuild, AnswersPointAtTheQuestion) {
  const Bytes query = hex("1a2b 0120 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001");
  const DnsMessage q = parse_ok(query);
  std::array<std::uint8_t, 512> buffer{};
  auto b = DnsBuilder::response_to(buffer, q);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->add_answer_a(300, ip4("10.0.2.15")).ok());
  EXPECT_EQ(Bytes(b->bytes().begin(), b->bytes().end()),
            hex("1a2b 8180 0001 0001 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001"
                "c00c 0001 0001 0000012c 0004 0a00020f"));
  ASSERT_TRUE(b->add_answer_aaaa(300, ip6("2001:db8::15")).ok());
  ASSERT_TRUE(b->add_opt(1232, true).ok());
  const DnsMessage r = parse_ok(b->bytes());
  EXPECT_EQ(r.answers().size(), 2u);
  std::vector<DnsRecord> answers(r.answers().begin(), r.answers().end());
  EXPECT_EQ(answers[1].aaaa(), ip6("2001:db8::15"));
  EXPECT_EQ(answers[1].name.encoded_length(), 2u);
  EXPECT_TRUE(r.edns()->dnssec_ok);
  EXPECT_EQ(r.edns()->udp_payload_size, 1232);

  auto empty = DnsBuilder::start(buffer, 7, 0).value();
  EXPECT_EQ(empty.add_answer_a(1, ip4("10.0.0.1")).error().kind, "unsupported");
}

TEST(DnsBuild, ErrorResponses) {
  Bytes status_query = kDigQueryAaaa;
  status_query[2] = static_cast<std::uint8_t>(status_query[2] | 0x10);  // opcode 2 (STATUS)
  for (const DnsRcode rcode :
       {DnsRcode::servfail, DnsRcode::nxdomain, DnsRcode::refused, DnsRcode::notimp}) {
    const Bytes& query = rcode == DnsRcode::notimp ? status_query : kDigQueryAaaa;
    std::array<std::uint8_t, 512> buffer{};
    auto length = build_dns_error(buffer, parse_ok(query), rcode);
    ASSERT_TRUE(length.ok());
    const DnsMessage r = parse_ok(ByteSpan(buffer).first(*length));
    EXPECT_EQ(r.id(), 0x1a2b);
    EXPECT_TRUE(r.is_response());
    EXPECT_TRUE(r.recursion_desired());
    EXPECT_TRUE((r.flags() & kDnsFlagRa) != 0);
    EXPECT_EQ(r.rcode(), static_cast<std::uint8_t>(rcode));
    EXPECT_EQ(r.opcode(), rcode == DnsRcode::notimp ? 2 : 0);
    EXPECT_EQ(r.questions().size(), 1u);
    EXPECT_TRUE(r.questions().begin()->name.equals("example.com"));
    EXPECT_EQ(r.questions().begin()->type, dns_type::aaaa);
    EXPECT_EQ(r.answers().size(), 0u);
    EXPECT_EQ(r.count(DnsSection::additional), 0u);
  }
  std::array<std::uint8_t, 20> small{};
  EXPECT_EQ(build_dns_error(small, parse_ok(kDigQueryAaaa), DnsRcode::servfail).error().kind,
            "too_large");
}

TEST(DnsBuild, RebuildKeepingEverythingReproducesCompressedMessages) {
  for (const Bytes* original : {&kDigResponse, &kCnameChain, &kNxdomain, &kDigQueryAaaa}) {
    std::array<std::uint8_t, 1024> buffer{};
    auto length =
        rebuild_dns_message(buffer, parse_ok(*original), [](const DnsRecord&) { return true; });
    ASSERT_TRUE(length.ok()) << length.error().message;
    EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*length)),
              *original);
  }
}

bool is_private(const DnsRecord& record) {
  if (auto a = record.a()) {
    const auto& b = a->bytes;
    return b[0] == 10 || b[0] == 127 || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 172 && (b[1] & 0xF0) == 16);
  }
  if (auto aaaa = record.aaaa()) return (aaaa->bytes[0] & 0xFE) == 0xFC;
  return false;
}

TEST(DnsBuild, RebuildDropsRebindingAnswers) {
  std::array<std::uint8_t, 512> buffer{};
  auto b = DnsBuilder::start(buffer, 0x5151, 0x8180).value();
  ASSERT_TRUE(b.add_question("rebind.example.net", dns_type::a).ok());
  ASSERT_TRUE(b.add_answer_a(60, ip4("10.0.0.1")).ok());
  ASSERT_TRUE(b.add_answer_a(60, ip4("93.184.215.14")).ok());
  ASSERT_TRUE(b.add_answer_a(30, ip4("192.168.1.1")).ok());
  ASSERT_TRUE(b.add_answer_aaaa(60, ip6("fd00::1")).ok());
  ASSERT_TRUE(b.add_record(DnsSection::answer, "x.example.net", dns_type::aaaa, kDnsClassIn, 45,
                           ip6("2606:2800:21f:cb07:6820:80da:af6b:8b2c").bytes)
                  .ok());
  ASSERT_TRUE(b.add_opt(1232).ok());
  const DnsMessage original = parse_ok(b.bytes());
  EXPECT_EQ(original.min_answer_ttl(), 30u);

  std::array<std::uint8_t, 512> out{};
  auto length =
      rebuild_dns_message(out, original, [](const DnsRecord& r) { return !is_private(r); });
  ASSERT_TRUE(length.ok());
  const DnsMessage filtered = parse_ok(ByteSpan(out).first(*length));
  EXPECT_EQ(filtered.id(), 0x5151);
  EXPECT_EQ(filtered.flags(), 0x8180);
  ASSERT_EQ(filtered.answers().size(), 2u);
  std::vector<DnsRecord> answers(filtered.answers().begin(), filtered.answers().end());
  EXPECT_EQ(answers[0].a(), ip4("93.184.215.14"));
  EXPECT_TRUE(answers[0].name.equals("rebind.example.net"));
  EXPECT_TRUE(answers[1].name.equals("x.example.net"));
  EXPECT_EQ(answers[1].name.encoded_length(), 4u);  // "x" + pointer to example.net
  EXPECT_EQ(filtered.min_answer_ttl(), 45u);
  EXPECT_EQ(filtered.max_udp_payload(), 1232u);

  // Dropping the A record of a CNAME chain keeps the CNAMEs and their names valid.
  length = rebuild_dns_message(out, parse_ok(kCnameChain),
                               [](const DnsRecord& r) { return r.type != dns_type::a; });
  ASSERT_TRUE(length.ok());
  const DnsMessage chain = parse_ok(ByteSpan(out).first(*length));
  EXPECT_EQ(chain.answers().size(), 3u);
  EXPECT_EQ(chain.min_answer_ttl(), 900u);
  EXPECT_EQ(rebuild_dns_message(
                out, parse_ok(kCnameChain), [](const DnsRecord&) { return true; }, 150)
                .error()
                .kind,
            "too_large");
}

TEST(DnsBuild, RecordsFromAnotherMessageAreRecompressed) {
  // Copying the chain's records after a different question: the source's pointers are
  // meaningless here, so names are re-encoded and compressed against this message only.
  const DnsMessage chain = parse_ok(kCnameChain);
  std::array<std::uint8_t, 512> out{};
  auto b = DnsBuilder::start(out, 1, 0x8180).value();
  ASSERT_TRUE(b.add_question("padding.example", dns_type::a).ok());
  for (const DnsRecord& record : chain.answers()) {
    ASSERT_TRUE(b.add_record(DnsSection::answer, record).ok());
  }
  const DnsMessage copy = parse_ok(b.bytes());
  std::vector<DnsRecord> a(chain.answers().begin(), chain.answers().end());
  std::vector<DnsRecord> c(copy.answers().begin(), copy.answers().end());
  ASSERT_EQ(a.size(), c.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].name.equals(c[i].name));
    EXPECT_EQ(a[i].type, c[i].type);
    EXPECT_EQ(a[i].ttl, c[i].ttl);
    if (a[i].cname()) {
      EXPECT_TRUE(a[i].cname()->equals(*c[i].cname()));
    }
  }
  EXPECT_EQ(c[3].a(), ip4("23.50.131.200"));
}

TEST(DnsBuild, LimitsAndOrder) {
  std::array<std::uint8_t, 512> buffer{};
  auto b = DnsBuilder::start(buffer, 9, 0x8180, 60).value();
  ASSERT_TRUE(b.add_question("example.com", dns_type::a).ok());  // 29 bytes
  ASSERT_TRUE(b.add_answer_a(1, ip4("192.0.2.1")).ok());         // 45 bytes
  EXPECT_EQ(b.add_answer_a(1, ip4("192.0.2.2")).error().kind, "too_large");
  EXPECT_EQ(b.size(), 45u);
  const DnsMessage m = parse_ok(b.bytes());
  EXPECT_EQ(m.answers().size(), 1u);
  EXPECT_EQ(b.add_question("late.example", dns_type::a).error().kind, "unsupported");
  EXPECT_EQ(b.add_record(DnsSection::question, "x", 1, 1, 0, {}).error().kind, "unsupported");
  EXPECT_EQ(b.add_question("a..b", dns_type::a).error().kind, "bad_length");
  std::array<std::uint8_t, 11> tiny{};
  EXPECT_EQ(DnsBuilder::start(tiny, 1, 0).error().kind, "too_large");

  auto ttl = DnsBuilder::start(buffer, 1, 0x8180).value();
  ASSERT_TRUE(ttl.add_question("example.com", dns_type::a).ok());
  ASSERT_TRUE(ttl.add_record(DnsSection::answer, "example.com", dns_type::a, kDnsClassIn,
                             0x80000001u, hex("c0000201"))
                  .ok());
  EXPECT_EQ(parse_ok(ttl.bytes()).min_answer_ttl(), 0u);  // RFC 2181 §8
}

TEST(DnsBuild, LargeMessagesOnlyPointBelow0x4000) {
  // Pointers hold 14-bit offsets (RFC 1035 §4.1.4): names first written past 0x3FFF are not
  // compression targets, so their repeats are written out again (pointing at earlier suffixes).
  std::vector<std::uint8_t> buffer(kDnsMaxMessageSize + 100);
  auto b = DnsBuilder::start(buffer, 1, 0x8180).value();
  ASSERT_TRUE(b.add_question("example.com", dns_type::txt).ok());
  const Bytes text(20, 0x41);
  while (b.size() < 0x4000) {
    ASSERT_TRUE(
        b.add_record(DnsSection::answer, "a.example.com", dns_type::txt, kDnsClassIn, 60, text)
            .ok());
  }
  ASSERT_TRUE(
      b.add_record(DnsSection::answer, "late.example.com", dns_type::txt, kDnsClassIn, 60, text)
          .ok());
  ASSERT_TRUE(
      b.add_record(DnsSection::answer, "late.example.com", dns_type::txt, kDnsClassIn, 60, text)
          .ok());
  const DnsMessage m = parse_ok(b.bytes());
  std::vector<DnsRecord> answers(m.answers().begin(), m.answers().end());
  ASSERT_GE(answers.size(), 3u);
  const DnsRecord& first = answers[answers.size() - 2];
  const DnsRecord& second = answers.back();
  EXPECT_TRUE(first.name.equals(second.name));
  EXPECT_EQ(second.name.encoded_length(), 7u);      // "late" + pointer to example.com
  EXPECT_EQ(answers[1].name.encoded_length(), 2u);  // pointer to the first "a.example.com"

  std::vector<std::uint8_t> copy(kDnsMaxMessageSize);
  auto length = rebuild_dns_message(copy, m, [](const DnsRecord&) { return true; });
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(Bytes(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(*length)),
            Bytes(b.bytes().begin(), b.bytes().end()));

  // The builder never exceeds 65535 bytes, whatever the buffer.
  while (b.add_record(DnsSection::answer, "a.example.com", dns_type::txt, kDnsClassIn, 60, text)
             .ok()) {
  }
  EXPECT_LE(b.size(), kDnsMaxMessageSize);
  EXPECT_GT(b.size() + 36, kDnsMaxMessageSize);
  EXPECT_TRUE(DnsMessage::parse(b.bytes()).ok());
}

}  // namespace
}  // namespace aero::wire
