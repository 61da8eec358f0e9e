// DNS messages (RFC 1035 §4): a checked view with allocation-free iteration over questions and
// resource records, and a bounded builder for queries, responses and filtered rebuilds.
//
//   header (12 bytes): id, flags (QR opcode AA TC RD RA Z AD CD rcode), QDCOUNT, ANCOUNT,
//   NSCOUNT, ARCOUNT; then questions (name, type, class) and records (name, type, class, TTL,
//   RDLENGTH, RDATA) of the answer, authority and additional sections.
//
// Names. Labels are at most 63 bytes and a name at most 255 bytes uncompressed (RFC 1035
// §2.3.4). A compression pointer (RFC 1035 §4.1.4) must point strictly before the start of the
// run of labels that contains it (so every jump goes backwards and no loop is possible), and a
// name follows at most kDnsMaxPointerHops pointers. Label types 01 and 10 are rejected. Names
// inside the RDATA of the RFC 1035 types that may carry compressed names (NS, CNAME, PTR, MX,
// SOA, MINFO, MB, MD, MF, MG, MR) are validated at parse and re-encoded by the builder; any other
// RDATA is opaque and copied verbatim (RFC 3597 §4).
//
// Text form of names, used by DnsName::to_string() and encode_dns_name(): labels joined by '.',
// no trailing dot, the root name is ".", case preserved (comparisons are ASCII
// case-insensitive, RFC 4343). Bytes 0x21..0x7E are written as themselves except '.' and '\',
// which become "\." and "\\"; every other byte (controls, space, 0x7F..0xFF) becomes "\DDD"
// with three decimal digits (RFC 1035 §5.1). encode_dns_name() accepts exactly these escapes
// (and "\X" for any X) plus an optional trailing dot, so text round-trips.
//
// Error kinds (metrics labels): "truncated" (the message ends inside the header, a name, or a
// question or record that the counts announce), "bad_length" (a label over 63, RDLENGTH past
// the end of the message, RDATA that does not match its type, an empty label in text),
// "bad_pointer" (a compression pointer that is not strictly backwards, or too many hops),
// "too_large" (a name over 255 bytes, a message over 65535 bytes, a full builder buffer),
// "unsupported" (a second OPT record or a non-root OPT name, a bad escape in text, builder
// calls out of section order).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"

namespace aero::wire {

inline constexpr std::uint16_t kDnsPort = 53;
inline constexpr std::size_t kDnsHeaderLength = 12;
inline constexpr std::size_t kDnsMaxLabelLength = 63;
inline constexpr std::size_t kDnsMaxNameLength = 255;
inline constexpr std::size_t kDnsMaxMessageSize = 65535;   // TCP, RFC 1035 §4.2.2
inline constexpr std::size_t kDnsUdpDefaultPayload = 512;  // RFC 1035 §4.2.1
inline constexpr std::size_t kDnsMaxPointerHops = 128;

// Header flag bits (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2).
inline constexpr std::uint16_t kDnsFlagQr = 0x8000;
inline constexpr std::uint16_t kDnsFlagAa = 0x0400;
inline constexpr std::uint16_t kDnsFlagTc = 0x0200;
inline constexpr std::uint16_t kDnsFlagRd = 0x0100;
inline constexpr std::uint16_t kDnsFlagRa = 0x0080;
inline constexpr std::uint16_t kDnsFlagAd = 0x0020;
inline constexpr std::uint16_t kDnsFlagCd = 0x0010;

namespace dns_type {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t ns = 2;
inline constexpr std::uint16_t cname = 5;
inline constexpr std::uint16_t soa = 6;
inline constexpr std::uint16_t ptr = 12;
inline constexpr std::uint16_t mx = 15;
inline constexpr std::uint16_t txt = 16;
inline constexpr std::uint16_t aaaa = 28;  // RFC 3596
inline constexpr std::uint16_t opt = 41;   // RFC 6891
}  // namespace dns_type
inline constexpr std::uint16_t kDnsClassIn = 1;

enum class DnsRcode : std::uint8_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
};
enum class DnsSection : std::uint8_t { question, answer, authority, additional };

// A validated name inside a message (or inside a builder's output). Cheap to copy.
class DnsName {
 public:
  DnsName() = default;  // the root name
  // Validates the name at `offset` of `message` (pointers may target anything before it).
  static Result<DnsName> parse(ByteSpan message, std::size_t offset);
  static Result<DnsName> parse(Bytes&&, std::size_t) = delete;  // would dangle

  std::size_t encoded_length() const { return encoded_; }  // bytes at offset, pointer included
  std::size_t wire_length() const { return wire_; }        // uncompressed, root byte included
  std::size_t label_count() const { return labels_; }
  bool is_root() const { return labels_ == 0; }

  std::string to_string() const;             // escaped text form described above
  bool equals(const DnsName& other) const;   // ASCII case-insensitive
  bool equals(std::string_view text) const;  // false if `text` is not a valid name
  // Writes the uncompressed wire form; returns wire_length(), or 0 if `out` is too small.
  std::size_t write_uncompressed(std::span<std::uint8_t> out) const;

 private:
  friend class DnsLabelWalker;
  static constexpr std::array<std::uint8_t, 1> kRoot{0};

  ByteSpan message_{kRoot};
  std::size_t offset_ = 0;
  std::size_t encoded_ = 1;
  std::size_t wire_ = 1;
  std::size_t labels_ = 0;
};

// Text name -> uncompressed wire form in `out`; returns its length.
Result<std::size_t> encode_dns_name(std::string_view text, std::span<std::uint8_t> out);

struct DnsQuestion {
  DnsName name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
};

struct DnsRecord {
  DnsSection section = DnsSection::answer;
  DnsName name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;
  ByteSpan rdata;
  ByteSpan message;  // the whole message, for names inside rdata
  std::size_t rdata_offset = 0;

  std::optional<Ipv4Address> a() const;     // type A, class IN
  std::optional<Ipv6Address> aaaa() const;  // type AAAA, class IN
  std::optional<DnsName> cname() const;     // type CNAME: the target
};

namespace detail {
DnsQuestion decode_dns_entry(ByteSpan message, std::size_t offset, DnsSection section,
                             std::size_t& next, DnsQuestion* tag);
DnsRecord decode_dns_entry(ByteSpan message, std::size_t offset, DnsSection section,
                           std::size_t& next, DnsRecord* tag);
}  // namespace detail

// The questions or the records of one section of a parsed message, decoded on the fly.
template <class Entry>
class DnsEntries {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = const Entry*;
    using reference = const Entry&;

    iterator() = default;
    const Entry& operator*() const { return current_; }
    const Entry* operator->() const { return &current_; }
    iterator& operator++() {
      --remaining_;
      offset_ = next_;
      load();
      return *this;
    }
    bool operator==(const iterator& other) const { return remaining_ == other.remaining_; }

   private:
    friend class DnsEntries;
    iterator(ByteSpan message, std::size_t offset, std::size_t count, DnsSection section)
        : message_(message), offset_(offset), remaining_(count), section_(section) {
      load();
    }
    void load() {
      if (remaining_ > 0) {
        current_ = detail::decode_dns_entry(message_, offset_, section_, next_,
                                            static_cast<Entry*>(nullptr));
      }
    }
    ByteSpan message_;
    std::size_t offset_ = 0;
    std::size_t next_ = 0;
    std::size_t remaining_ = 0;
    DnsSection section_ = DnsSection::question;
    Entry current_{};
  };

  DnsEntries(ByteSpan message, std::size_t offset, std::size_t count, DnsSection section)
      : message_(message), offset_(offset), count_(count), section_(section) {}
  iterator begin() const { return iterator(message_, offset_, count_, section_); }
  iterator end() const { return iterator(); }
  std::size_t size() const { return count_; }

 private:
  ByteSpan message_;
  std::size_t offset_;
  std::size_t count_;
  DnsSection section_;
};

// The EDNS(0) OPT pseudo-record (RFC 6891 §6.1.2-6.1.3).
struct DnsEdns {
  std::uint16_t udp_payload_size = 0;  // the CLASS field
  std::uint8_t extended_rcode = 0;     // upper 8 bits of the 12-bit rcode
  std::uint8_t version = 0;
  bool dnssec_ok = false;
  ByteSpan options;  // RDATA: {code, length, data}...
};

// A validated view of a DNS message. It borrows the bytes given to parse().
class DnsMessage {
 public:
  static Result<DnsMessage> parse(ByteSpan message);
  static Result<DnsMessage> parse(Bytes&&) = delete;  // the view would dangle

  ByteSpan bytes() const { return bytes_; }
  std::uint16_t id() const { return load16(0); }
  std::uint16_t flags() const { return load16(2); }
  bool is_response() const { return (flags() & kDnsFlagQr) != 0; }
  std::uint8_t opcode() const { return static_cast<std::uint8_t>((flags() >> 11) & 0x0F); }
  bool truncated() const { return (flags() & kDnsFlagTc) != 0; }
  bool recursion_desired() const { return (flags() & kDnsFlagRd) != 0; }
  std::uint8_t rcode() const { return static_cast<std::uint8_t>(flags() & 0x0F); }
  std::size_t count(DnsSection section) const { return load16(4 + 2 * index(section)); }

  DnsEntries<DnsQuestion> questions() const;
  DnsEntries<DnsRecord> records(DnsSection section) const;  // answer, authority or additional
  DnsEntries<DnsRecord> answers() const { return records(DnsSection::answer); }

  std::optional<DnsEdns> edns() const;
  // The largest UDP response the sender accepts: 512, or the EDNS payload size if larger
  // (RFC 6891 §6.2.3, §6.2.5).
  std::size_t max_udp_payload() const;
  // For caching: the smallest answer TTL (RFC 2181 §8: a TTL with the top bit set counts as
  // 0); std::nullopt without answers.
  std::optional<std::uint32_t> min_answer_ttl() const;
  // For negative caching (RFC 2308 §5): min(SOA TTL, SOA MINIMUM) of the authority's SOA.
  std::optional<std::uint32_t> negative_ttl() const;

 private:
  DnsMessage() = default;
  static std::size_t index(DnsSection section) { return static_cast<std::size_t>(section); }
  std::uint16_t load16(std::size_t at) const;

  ByteSpan bytes_;
  std::array<std::size_t, 4> section_offset_{};  // where each section starts
  std::size_t opt_offset_ = 0;                   // the OPT record, 0 if none
};

// Writes a message into a caller-provided buffer, keeping the header counts current. Names
// are compressed only against names this builder has written (their suffixes at offsets below
// 0x4000), so pointers stay valid whatever the source message contained. A failed add leaves
// the message unchanged. Sections must be filled in order.
class DnsBuilder {
 public:
  static Result<DnsBuilder> start(std::span<std::uint8_t> out, std::uint16_t id,
                                  std::uint16_t flags, std::size_t max_size = kDnsMaxMessageSize);
  // A response to `query`: same id and opcode, RD and CD copied, QR and RA set, `rcode`, and
  // the query's questions copied.
  static Result<DnsBuilder> response_to(std::span<std::uint8_t> out, const DnsMessage& query,
                                        DnsRcode rcode = DnsRcode::noerror,
                                        std::size_t max_size = kDnsMaxMessageSize);

  Result<void> add_question(const DnsName& name, std::uint16_t type,
                            std::uint16_t klass = kDnsClassIn);
  Result<void> add_question(std::string_view name, std::uint16_t type,
                            std::uint16_t klass = kDnsClassIn);
  // RDATA copied verbatim.
  Result<void> add_record(DnsSection section, const DnsName& name, std::uint16_t type,
                          std::uint16_t klass, std::uint32_t ttl, ByteSpan rdata);
  Result<void> add_record(DnsSection section, std::string_view name, std::uint16_t type,
                          std::uint16_t klass, std::uint32_t ttl, ByteSpan rdata);
  // A record of a parsed message; names inside RFC 1035 RDATA are re-encoded.
  Result<void> add_record(DnsSection section, const DnsRecord& record);
  // Answers owned by the first question's name (written as a pointer to it).
  Result<void> add_answer_a(std::uint32_t ttl, Ipv4Address address);
  Result<void> add_answer_aaaa(std::uint32_t ttl, Ipv6Address address);
  // An OPT record in the additional section (RFC 6891 §6.1.2), no options.
  Result<void> add_opt(std::uint16_t udp_payload_size, bool dnssec_ok = false);

  void set_flags(std::uint16_t flags);
  std::size_t size() const { return pos_; }
  ByteSpan bytes() const { return ByteSpan(out_.first(pos_)); }

 private:
  static constexpr std::size_t kTableSize = 64;
  DnsBuilder(std::span<std::uint8_t> out, std::size_t limit) : out_(out), limit_(limit) {}
  Result<void> begin_entry(DnsSection section);
  Result<void> put(ByteSpan bytes);
  Result<void> put16(std::uint16_t value);
  Result<void> put_name(const DnsName& name);
  Result<void> put_rdata(const DnsRecord& record);
  Result<void> add_answer(std::uint16_t type, std::uint32_t ttl, ByteSpan rdata);
  Result<void> add_entry(DnsSection section, const DnsName& name, std::uint16_t type,
                         std::uint16_t klass, std::uint32_t ttl, const DnsRecord* source,
                         ByteSpan rdata);

  std::span<std::uint8_t> out_;
  std::size_t limit_ = 0;
  std::size_t pos_ = 0;
  DnsSection section_ = DnsSection::question;
  std::array<std::uint16_t, kTableSize> table_offset_{};  // name suffixes written so far
  std::array<std::uint16_t, kTableSize> table_length_{};  // their uncompressed lengths
  std::size_t table_size_ = 0;
};

// A response to `query` with no answers: SERVFAIL, NXDOMAIN, REFUSED, NOTIMP, FORMERR...
Result<std::size_t> build_dns_error(std::span<std::uint8_t> out, const DnsMessage& query,
                                    DnsRcode rcode, std::size_t max_size = kDnsMaxMessageSize);

// Rebuilds `message` into `out` keeping the header flags, the questions and only the records
// for which keep(const DnsRecord&) is true (OPT included); counts are recomputed and names
// re-encoded. Returns the new length ("too_large" when it does not fit in `max_size`).
template <class Keep>
Result<std::size_t> rebuild_dns_message(std::span<std::uint8_t> out, const DnsMessage& message,
                                        Keep&& keep, std::size_t max_size = kDnsMaxMessageSize) {
  auto builder = DnsBuilder::start(out, message.id(), message.flags(), max_size);
  if (!builder) return builder.error();
  for (const DnsQuestion& question : message.questions()) {
    auto status = builder->add_question(question.name, question.type, question.klass);
    if (!status) return status.error();
  }
  for (DnsSection section : {DnsSection::answer, DnsSection::authority, DnsSection::additional}) {
    for (const DnsRecord& record : message.records(section)) {
      if (!keep(record)) continue;
      auto status = builder->add_record(section, record);
      if (!status) return status.error();
    }
  }
  return builder->size();
}

}  // namespace aero::wire
