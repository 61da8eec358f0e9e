// DNS message view, name codec and builder; the rules are described in dns.h.
#include "aero/wire/dns.h"

#include <algorithm>
#include <limits>

namespace aero::wire {

namespace {

std::uint16_t be16(ByteSpan bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}
std::uint32_t be32(ByteSpan bytes, std::size_t at) {
  return (static_cast<std::uint32_t>(be16(bytes, at)) << 16) | be16(bytes, at + 2);
}
std::uint8_t lower(std::uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}
std::string at_offset(std::size_t offset) {
  return " at offset " + std::to_string(offset);
}
// RFC 2181 §8: a TTL with the top bit set counts as 0.
std::uint32_t effective_ttl(std::uint32_t ttl) {
  return (ttl & 0x80000000u) != 0 ? 0 : ttl;
}
// Text -> a DnsName over `buffer`.
Result<DnsName> text_name(std::string_view text, std::span<std::uint8_t> buffer) {
  auto length = encode_dns_name(text, buffer);
  if (!length) return length.error();
  return DnsName::parse(buffer.first(*length), 0);
}

struct Walk {
  std::size_t encoded = 0;  // bytes at the name's own position
  std::size_t wire = 1;     // uncompressed length, root byte included
  std::size_t labels = 0;
};

// Validates the name at `offset`; nothing outside `message` is read.
Result<Walk> walk_name(ByteSpan message, std::size_t offset) {
  Walk walk;
  std::size_t pos = offset;
  std::size_t segment = offset;  // start of the current run of labels
  std::size_t hops = 0;
  bool jumped = false;
  while (true) {
    if (pos >= message.size()) {
      return make_error("truncated", "DNS name runs past the end" + at_offset(offset));
    }
    const std::uint8_t length = message[pos];
    if (length == 0) {
      if (!jumped) walk.encoded = pos + 1 - offset;
      return walk;
    }
    if ((length & 0xC0) == 0xC0) {  // RFC 1035 §4.1.4 pointer
      if (pos + 1 >= message.size()) {
        return make_error("truncated", "DNS compression pointer cut off" + at_offset(pos));
      }
      const std::size_t target = (static_cast<std::size_t>(length & 0x3F) << 8) | message[pos + 1];
      if (!jumped) walk.encoded = pos + 2 - offset;
      jumped = true;
      if (target >= segment) {
        return make_error("bad_pointer", "DNS compression pointer" + at_offset(pos) + " to " +
                                             std::to_string(target) + " does not point back");
      }
      if (++hops > kDnsMaxPointerHops) {
        return make_error("bad_pointer", "DNS name follows too many pointers" + at_offset(offset));
      }
      pos = segment = target;
      continue;
    }
    if (length > kDnsMaxLabelLength) {  // RFC 1035 §2.3.4; label types 01 and 10 are reserved
      return make_error("bad_length",
                        "DNS label length byte " + std::to_string(length) + at_offset(pos));
    }
    if (pos + 1 + length > message.size()) {
      return make_error("truncated", "DNS label runs past the end" + at_offset(pos));
    }
    walk.wire += 1u + length;
    if (walk.wire > kDnsMaxNameLength) {  // RFC 1035 §2.3.4
      return make_error("too_large", "DNS name longer than 255 bytes" + at_offset(offset));
    }
    ++walk.labels;
    pos += 1u + length;
  }
}

// Where names sit inside the RDATA of the RFC 1035 types that may compress them (RFC 3597 §4).
struct RdataLayout {
  std::size_t prefix;  // fixed bytes before the names
  std::size_t names;
  std::size_t suffix;  // fixed bytes after them
};
std::optional<RdataLayout> rdata_layout(std::uint16_t type) {
  switch (type) {
    case dns_type::ns:
    case dns_type::cname:
    case dns_type::ptr:
    case 3:
    case 4:
    case 7:
    case 8:
    case 9:  // MD, MF, MB, MG, MR
      return RdataLayout{0, 1, 0};
    case dns_type::mx: return RdataLayout{2, 1, 0};
    case dns_type::soa: return RdataLayout{0, 2, 20};
    case 14: return RdataLayout{0, 2, 0};  // MINFO
    default: return std::nullopt;
  }
}

Result<void> validate_rdata(ByteSpan message, std::uint16_t type, std::uint16_t klass,
                            std::size_t start, std::size_t length) {
  const auto mismatch = [&](std::string_view what) {
    return make_error("bad_length", "DNS type " + std::to_string(type) + " RDATA " +
                                        std::string(what) + at_offset(start));
  };
  if (klass == kDnsClassIn && type == dns_type::a && length != 4) {
    return mismatch("is not 4 bytes");  // RFC 1035 §3.4.1
  }
  if (klass == kDnsClassIn && type == dns_type::aaaa && length != 16) {
    return mismatch("is not 16 bytes");  // RFC 3596 §2.2
  }
  const auto layout = rdata_layout(type);
  if (!layout) return {};
  if (length < layout->prefix) return mismatch("too short");
  const ByteSpan rdata_end = message.first(start + length);  // names may not run past RDATA
  std::size_t at = start + layout->prefix;
  for (std::size_t i = 0; i < layout->names; ++i) {
    auto walk = walk_name(rdata_end, at);
    if (!walk) {
      if (walk.error().kind == "truncated") return mismatch("name runs past RDLENGTH");
      return walk.error();
    }
    at += walk->encoded;
  }
  if (at + layout->suffix != start + length) return mismatch("does not match its names");
  return {};
}

}  // namespace

// Label-by-label walk of an already validated name (still bounds-checked at every step).
class DnsLabelWalker {
 public:
  DnsLabelWalker(ByteSpan message, std::size_t offset) : message_(message), pos_(offset) {}
  explicit DnsLabelWalker(const DnsName& name) : DnsLabelWalker(name.message_, name.offset_) {}

  std::optional<ByteSpan> next() {
    while (pos_ < message_.size() && hops_ <= kDnsMaxPointerHops) {
      const std::uint8_t length = message_[pos_];
      if (length == 0) break;
      if ((length & 0xC0) == 0xC0) {
        if (pos_ + 1 >= message_.size()) break;
        pos_ = (static_cast<std::size_t>(length & 0x3F) << 8) | message_[pos_ + 1];
        ++hops_;
        continue;
      }
      if (length > kDnsMaxLabelLength || pos_ + 1 + length > message_.size()) break;
      const ByteSpan label = message_.subspan(pos_ + 1, length);
      pos_ += 1u + length;
      return label;
    }
    pos_ = message_.size();
    return std::nullopt;
  }

 private:
  ByteSpan message_;
  std::size_t pos_;
  std::size_t hops_ = 0;
};

namespace {
bool same_label(ByteSpan a, ByteSpan b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](std::uint8_t x, std::uint8_t y) { return lower(x) == lower(y); });
}
}  // namespace

Result<DnsName> DnsName::parse(ByteSpan message, std::size_t offset) {
  auto walk = walk_name(message, offset);
  if (!walk) return walk.error();
  DnsName name;
  name.message_ = message;
  name.offset_ = offset;
  name.encoded_ = walk->encoded;
  name.wire_ = walk->wire;
  name.labels_ = walk->labels;
  return name;
}

std::string DnsName::to_string() const {
  if (labels_ == 0) return ".";
  std::string text;
  DnsLabelWalker walker(*this);
  while (auto label = walker.next()) {
    if (!text.empty()) text += '.';
    for (const std::uint8_t byte : *label) {
      if (byte == '.' || byte == '\\') {
        text += '\\';
        text += static_cast<char>(byte);
      } else if (byte >= 0x21 && byte <= 0x7E) {
        text += static_cast<char>(byte);
      } else {
        text += '\\';
        text += static_cast<char>('0' + byte / 100);
        text += static_cast<char>('0' + byte / 10 % 10);
        text += static_cast<char>('0' + byte % 10);
      }
    }
  }
  return text;
}

bool DnsName::equals(const DnsName& other) const {
  if (wire_ != other.wire_ || labels_ != other.labels_) return false;
  DnsLabelWalker a(*this);
  DnsLabelWalker b(other);
  while (true) {
    auto la = a.next();
    auto lb = b.next();
    if (!la || !lb) return !la && !lb;
    if (!same_label(*la, *lb)) return false;
  }
}

bool DnsName::equals(std::string_view text) const {
  std::array<std::uint8_t, kDnsMaxNameLength> buffer{};
  auto length = encode_dns_name(text, buffer);
  if (!length) return false;
  auto name = parse(ByteSpan(buffer).first(*length), 0);
  return name && equals(*name);
}

std::size_t DnsName::write_uncompressed(std::span<std::uint8_t> out) const {
  if (out.size() < wire_) return 0;
  std::size_t pos = 0;
  DnsLabelWalker walker(*this);
  while (auto label = walker.next()) {
    out[pos++] = static_cast<std::uint8_t>(label->size());
    std::copy(label->begin(), label->end(), out.begin() + static_cast<std::ptrdiff_t>(pos));
    pos += label->size();
  }
  out[pos++] = 0;
  return pos;
}

Result<std::size_t> encode_dns_name(std::string_view text, std::span<std::uint8_t> out) {
  std::array<std::uint8_t, kDnsMaxNameLength> buffer{};
  std::size_t w = 0;
  std::size_t length_at = 0;
  bool open = false;  // a label has been started and not closed by '.'
  if (text == ".") text = {};
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (!open) return make_error("bad_length", "empty label in DNS name");
      open = false;
      continue;
    }
    auto byte = static_cast<std::uint8_t>(c);
    if (c == '\\') {  // RFC 1035 §5.1: \X or \DDD
      if (i + 1 >= text.size()) return make_error("unsupported", "DNS name ends in '\\'");
      if (text[i + 1] >= '0' && text[i + 1] <= '9') {
        unsigned value = 0;
        for (std::size_t k = 1; k <= 3; ++k) {
          if (i + k >= text.size() || text[i + k] < '0' || text[i + k] > '9') {
            return make_error("unsupported", "DNS name escape \\DDD needs three digits");
          }
          value = value * 10 + static_cast<unsigned>(text[i + k] - '0');
        }
        if (value > 255) return make_error("unsupported", "DNS name escape over \\255");
        byte = static_cast<std::uint8_t>(value);
        i += 3;
      } else {
        byte = static_cast<std::uint8_t>(text[i + 1]);
        i += 1;
      }
    }
    if (!open) {
      if (w + 2 > kDnsMaxNameLength - 1) return make_error("too_large", "DNS name over 255");
      length_at = w++;
      buffer[length_at] = 0;
      open = true;
    }
    if (buffer[length_at] == kDnsMaxLabelLength) {
      return make_error("bad_length", "DNS label longer than 63 bytes");  // RFC 1035 §2.3.4
    }
    if (w + 1 > kDnsMaxNameLength - 1) return make_error("too_large", "DNS name over 255");
    buffer[w++] = byte;
    ++buffer[length_at];
  }
  buffer[w++] = 0;
  if (out.size() < w) return make_error("too_large", "DNS name does not fit the buffer");
  std::copy_n(buffer.begin(), w, out.begin());
  return w;
}

std::optional<Ipv4Address> DnsRecord::a() const {
  if (type != dns_type::a || klass != kDnsClassIn || rdata.size() != 4) return std::nullopt;
  Ipv4Address address;
  std::copy(rdata.begin(), rdata.end(), address.bytes.begin());
  return address;
}

std::optional<Ipv6Address> DnsRecord::aaaa() const {
  if (type != dns_type::aaaa || klass != kDnsClassIn || rdata.size() != 16) return std::nullopt;
  Ipv6Address address;
  std::copy(rdata.begin(), rdata.end(), address.bytes.begin());
  return address;
}

std::optional<DnsName> DnsRecord::cname() const {
  if (type != dns_type::cname) return std::nullopt;
  if (rdata_offset + rdata.size() > message.size()) return std::nullopt;
  auto target = DnsName::parse(message.first(rdata_offset + rdata.size()), rdata_offset);
  if (!target) return std::nullopt;
  return *target;
}

namespace detail {

DnsQuestion decode_dns_entry(ByteSpan message, std::size_t offset, DnsSection /*section*/,
                             std::size_t& next, DnsQuestion* /*tag*/) {
  DnsQuestion question;
  if (auto name = DnsName::parse(message, offset)) question.name = *name;
  const std::size_t pos = offset + question.name.encoded_length();
  next = message.size();
  if (pos + 4 > message.size()) return question;  // never after DnsMessage::parse()
  question.type = be16(message, pos);
  question.klass = be16(message, pos + 2);
  next = pos + 4;
  return question;
}

DnsRecord decode_dns_entry(ByteSpan message, std::size_t offset, DnsSection section,
                           std::size_t& next, DnsRecord* /*tag*/) {
  DnsRecord record;
  record.section = section;
  record.message = message;
  if (auto name = DnsName::parse(message, offset)) record.name = *name;
  const std::size_t pos = offset + record.name.encoded_length();
  next = message.size();
  if (pos + 10 > message.size()) return record;  // never after DnsMessage::parse()
  record.type = be16(message, pos);
  record.klass = be16(message, pos + 2);
  record.ttl = be32(message, pos + 4);
  const std::size_t length = be16(message, pos + 8);
  if (pos + 10 + length > message.size()) return record;
  record.rdata_offset = pos + 10;
  record.rdata = message.subspan(pos + 10, length);
  next = pos + 10 + length;
  return record;
}

}  // namespace detail

Result<DnsMessage> DnsMessage::parse(ByteSpan message) {
  if (message.size() > kDnsMaxMessageSize) {
    return make_error("too_large", "DNS message over 65535 bytes");
  }
  if (message.size() < kDnsHeaderLength) {
    return make_error("truncated", "DNS message shorter than its 12-byte header");
  }
  DnsMessage view;
  view.bytes_ = message;
  std::size_t pos = kDnsHeaderLength;
  view.section_offset_[0] = pos;
  for (std::size_t i = 0; i < view.count(DnsSection::question); ++i) {  // RFC 1035 §4.1.2
    auto name = walk_name(message, pos);
    if (!name) return name.error();
    pos += name->encoded;
    if (pos + 4 > message.size()) {
      return make_error("truncated", "DNS question " + std::to_string(i) + " cut off");
    }
    pos += 4;
  }
  for (const DnsSection section :
       {DnsSection::answer, DnsSection::authority, DnsSection::additional}) {
    view.section_offset_[index(section)] = pos;
    for (std::size_t i = 0; i < view.count(section); ++i) {  // RFC 1035 §4.1.3
      const std::size_t start = pos;
      auto name = walk_name(message, pos);
      if (!name) return name.error();
      pos += name->encoded;
      if (pos + 10 > message.size()) {
        return make_error("truncated", "DNS record cut off" + at_offset(start));
      }
      const std::uint16_t type = be16(message, pos);
      const std::uint16_t klass = be16(message, pos + 2);
      const std::size_t length = be16(message, pos + 8);
      if (pos + 10 + length > message.size()) {
        return make_error("bad_length", "DNS RDLENGTH runs past the end" + at_offset(pos + 8));
      }
      auto rdata = validate_rdata(message, type, klass, pos + 10, length);
      if (!rdata) return rdata.error();
      if (section == DnsSection::additional && type == dns_type::opt) {
        // RFC 6891 §6.1.1: at most one OPT, owned by the root name.
        if (view.opt_offset_ != 0) return make_error("unsupported", "more than one OPT record");
        if (name->labels != 0) return make_error("unsupported", "OPT record name is not root");
        view.opt_offset_ = start;
      }
      pos += 10 + length;
    }
  }
  return view;  // bytes after the last record are ignored
}

std::uint16_t DnsMessage::load16(std::size_t at) const {
  return be16(bytes_, at);
}

DnsEntries<DnsQuestion> DnsMessage::questions() const {
  return {bytes_, section_offset_[0], count(DnsSection::question), DnsSection::question};
}

DnsEntries<DnsRecord> DnsMessage::records(DnsSection section) const {
  const std::size_t n = section == DnsSection::question ? 0 : count(section);
  return {bytes_, section_offset_[index(section)], n, section};
}

std::optional<DnsEdns> DnsMessage::edns() const {
  if (opt_offset_ == 0) return std::nullopt;
  std::size_t next = 0;
  const DnsRecord opt = detail::decode_dns_entry(bytes_, opt_offset_, DnsSection::additional, next,
                                                 static_cast<DnsRecord*>(nullptr));
  DnsEdns edns;
  edns.udp_payload_size = opt.klass;
  edns.extended_rcode = static_cast<std::uint8_t>(opt.ttl >> 24);
  edns.version = static_cast<std::uint8_t>(opt.ttl >> 16);
  edns.dnssec_ok = (opt.ttl & 0x8000u) != 0;
  edns.options = opt.rdata;
  return edns;
}

std::size_t DnsMessage::max_udp_payload() const {
  const auto opt = edns();
  return std::max<std::size_t>(kDnsUdpDefaultPayload, opt ? opt->udp_payload_size : 0);
}

std::optional<std::uint32_t> DnsMessage::min_answer_ttl() const {
  std::optional<std::uint32_t> ttl;
  for (const DnsRecord& record : answers()) {
    ttl = std::min(ttl.value_or(std::numeric_limits<std::uint32_t>::max()),
                   effective_ttl(record.ttl));
  }
  return ttl;
}

std::optional<std::uint32_t> DnsMessage::negative_ttl() const {
  for (const DnsRecord& record : records(DnsSection::authority)) {
    if (record.type != dns_type::soa || record.rdata.size() < 20) continue;
    const std::uint32_t minimum = be32(record.rdata, record.rdata.size() - 4);
    return std::min(effective_ttl(record.ttl), effective_ttl(minimum));
  }
  return std::nullopt;
}

Result<DnsBuilder> DnsBuilder::start(std::span<std::uint8_t> out, std::uint16_t id,
                                     std::uint16_t flags, std::size_t max_size) {
  const std::size_t limit = std::min({out.size(), max_size, kDnsMaxMessageSize});
  if (limit < kDnsHeaderLength) return make_error("too_large", "DNS buffer under 12 bytes");
  DnsBuilder builder(out, limit);
  std::fill_n(out.begin(), kDnsHeaderLength, std::uint8_t{0});
  out[0] = static_cast<std::uint8_t>(id >> 8);
  out[1] = static_cast<std::uint8_t>(id);
  builder.pos_ = kDnsHeaderLength;
  builder.set_flags(flags);
  return builder;
}

Result<DnsBuilder> DnsBuilder::response_to(std::span<std::uint8_t> out, const DnsMessage& query,
                                           DnsRcode rcode, std::size_t max_size) {
  const auto copied =
      static_cast<std::uint16_t>(query.flags() & (0x7800 | kDnsFlagRd | kDnsFlagCd));
  const auto flags = static_cast<std::uint16_t>(kDnsFlagQr | copied | kDnsFlagRa |
                                                static_cast<std::uint16_t>(rcode));
  auto builder = start(out, query.id(), flags, max_size);
  if (!builder) return builder;
  for (const DnsQuestion& question : query.questions()) {
    auto status = builder->add_question(question.name, question.type, question.klass);
    if (!status) return status.error();
  }
  return builder;
}

void DnsBuilder::set_flags(std::uint16_t flags) {
  out_[2] = static_cast<std::uint8_t>(flags >> 8);
  out_[3] = static_cast<std::uint8_t>(flags);
}

Result<void> DnsBuilder::put(ByteSpan bytes) {
  if (pos_ + bytes.size() > limit_) {
    return make_error("too_large", "DNS message would exceed " + std::to_string(limit_) + " bytes");
  }
  std::copy(bytes.begin(), bytes.end(), out_.begin() + static_cast<std::ptrdiff_t>(pos_));
  pos_ += bytes.size();
  return {};
}

Result<void> DnsBuilder::put16(std::uint16_t value) {
  const std::array<std::uint8_t, 2> bytes{static_cast<std::uint8_t>(value >> 8),
                                          static_cast<std::uint8_t>(value)};
  return put(bytes);
}

Result<void> DnsBuilder::put_name(const DnsName& name) {
  std::array<ByteSpan, kDnsMaxNameLength / 2> labels{};
  std::size_t n = 0;
  DnsLabelWalker walker(name);
  while (auto label = walker.next()) {
    if (n == labels.size()) break;  // cannot happen for a validated name
    labels[n++] = *label;
  }
  std::size_t remaining = name.wire_length();  // uncompressed length of the suffix at label i
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t t = 0; t < table_size_; ++t) {
      if (table_length_[t] != remaining) continue;
      DnsLabelWalker written(bytes(), table_offset_[t]);
      std::size_t k = i;
      std::optional<ByteSpan> label;
      while ((label = written.next()) && k < n && same_label(*label, labels[k])) ++k;
      if (!label && k == n) return put16(static_cast<std::uint16_t>(0xC000u | table_offset_[t]));
    }
    if (pos_ < 0x4000 && table_size_ < kTableSize) {
      table_offset_[table_size_] = static_cast<std::uint16_t>(pos_);
      table_length_[table_size_] = static_cast<std::uint16_t>(remaining);
      ++table_size_;
    }
    const std::array<std::uint8_t, 1> length{static_cast<std::uint8_t>(labels[i].size())};
    auto status = put(length);
    if (status) status = put(labels[i]);
    if (!status) return status;
    remaining -= 1 + labels[i].size();
  }
  const std::array<std::uint8_t, 1> root{0};
  return put(root);
}

Result<void> DnsBuilder::put_rdata(const DnsRecord& record) {
  const auto layout = rdata_layout(record.type);
  const std::size_t end = record.rdata_offset + record.rdata.size();
  if (!layout || end > record.message.size()) return put(record.rdata);
  if (record.rdata.size() < layout->prefix) return make_error("bad_length", "DNS RDATA too short");
  auto status = put(record.rdata.first(layout->prefix));
  std::size_t at = record.rdata_offset + layout->prefix;
  for (std::size_t i = 0; status && i < layout->names; ++i) {
    auto name = DnsName::parse(record.message.first(end), at);
    if (!name) return name.error();
    status = put_name(*name);
    at += name->encoded_length();
  }
  if (!status) return status;
  if (at + layout->suffix != end) return make_error("bad_length", "DNS RDATA does not match");
  return put(record.message.subspan(at, layout->suffix));
}

Result<void> DnsBuilder::begin_entry(DnsSection section) {
  if (section < section_) {
    return make_error("unsupported", "DNS sections must be written in order");
  }
  const std::size_t at = 4 + 2 * static_cast<std::size_t>(section);
  if (be16(bytes(), at) == 0xFFFF) return make_error("too_large", "DNS section count over 65535");
  return {};
}

Result<void> DnsBuilder::add_entry(DnsSection section, const DnsName& name, std::uint16_t type,
                                   std::uint16_t klass, std::uint32_t ttl, const DnsRecord* source,
                                   ByteSpan rdata) {
  auto status = begin_entry(section);
  if (!status) return status;
  const std::size_t saved_pos = pos_;
  const std::size_t saved_table = table_size_;
  status = put_name(name);
  if (status) status = put16(type);
  if (status) status = put16(klass);
  if (status && section != DnsSection::question) {
    status = put16(static_cast<std::uint16_t>(ttl >> 16));
    if (status) status = put16(static_cast<std::uint16_t>(ttl));
    const std::size_t length_at = pos_;
    if (status) status = put16(0);
    if (status) status = source != nullptr ? put_rdata(*source) : put(rdata);
    if (status) {
      const std::size_t length = pos_ - length_at - 2;
      out_[length_at] = static_cast<std::uint8_t>(length >> 8);
      out_[length_at + 1] = static_cast<std::uint8_t>(length);
    }
  }
  if (!status) {
    pos_ = saved_pos;
    table_size_ = saved_table;
    return status;
  }
  const std::size_t at = 4 + 2 * static_cast<std::size_t>(section);
  const auto n = static_cast<std::uint16_t>(be16(bytes(), at) + 1);
  out_[at] = static_cast<std::uint8_t>(n >> 8);
  out_[at + 1] = static_cast<std::uint8_t>(n);
  section_ = section;
  return {};
}

Result<void> DnsBuilder::add_question(const DnsName& name, std::uint16_t type,
                                      std::uint16_t klass) {
  return add_entry(DnsSection::question, name, type, klass, 0, nullptr, {});
}

Result<void> DnsBuilder::add_question(std::string_view name, std::uint16_t type,
                                      std::uint16_t klass) {
  std::array<std::uint8_t, kDnsMaxNameLength> buffer{};
  auto parsed = text_name(name, buffer);
  if (!parsed) return parsed.error();
  return add_question(*parsed, type, klass);
}

Result<void> DnsBuilder::add_record(DnsSection section, const DnsName& name, std::uint16_t type,
                                    std::uint16_t klass, std::uint32_t ttl, ByteSpan rdata) {
  if (section == DnsSection::question) return make_error("unsupported", "not a record section");
  return add_entry(section, name, type, klass, ttl, nullptr, rdata);
}

Result<void> DnsBuilder::add_record(DnsSection section, std::string_view name, std::uint16_t type,
                                    std::uint16_t klass, std::uint32_t ttl, ByteSpan rdata) {
  std::array<std::uint8_t, kDnsMaxNameLength> buffer{};
  auto parsed = text_name(name, buffer);
  if (!parsed) return parsed.error();
  return add_record(section, *parsed, type, klass, ttl, rdata);
}

Result<void> DnsBuilder::add_record(DnsSection section, const DnsRecord& record) {
  if (section == DnsSection::question) return make_error("unsupported", "not a record section");
  return add_entry(section, record.name, record.type, record.klass, record.ttl, &record, {});
}

Result<void> DnsBuilder::add_answer(std::uint16_t type, std::uint32_t ttl, ByteSpan rdata) {
  if (be16(bytes(), 4) == 0) return make_error("unsupported", "no question to answer");
  auto owner = DnsName::parse(bytes(), kDnsHeaderLength);  // compresses to a pointer to it
  if (!owner) return owner.error();
  return add_record(DnsSection::answer, *owner, type, kDnsClassIn, ttl, rdata);
}

Result<void> DnsBuilder::add_answer_a(std::uint32_t ttl, Ipv4Address address) {
  return add_answer(dns_type::a, ttl, address.bytes);
}

Result<void> DnsBuilder::add_answer_aaaa(std::uint32_t ttl, Ipv6Address address) {
  return add_answer(dns_type::aaaa, ttl, address.bytes);
}

Result<void> DnsBuilder::add_opt(std::uint16_t udp_payload_size, bool dnssec_ok) {
  return add_record(DnsSection::additional, DnsName(), dns_type::opt, udp_payload_size,
                    dnssec_ok ? 0x8000u : 0u, {});
}

Result<std::size_t> build_dns_error(std::span<std::uint8_t> out, const DnsMessage& query,
                                    DnsRcode rcode, std::size_t max_size) {
  auto builder = DnsBuilder::response_to(out, query, rcode, max_size);
  if (!builder) return builder.error();
  return builder->size();
}

}  // namespace aero::wire
