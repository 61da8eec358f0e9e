// The aero-net subcommands: thin wrappers that read files and arguments, call the codecs, and
// print results. Secrets are read from files (never argv, which other users can see) and never
// printed.
#include "commands.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "aero/base/bytes.h"
#include "aero/proto/base64.h"
#include "aero/proto/l2_tunnel.h"
#include "aero/proto/origin.h"
#include "aero/proto/relay_jwt.h"
#include "aero/proto/session_token.h"

namespace aero::cli {

namespace {

constexpr int kRejected = 1;
constexpr int kUsageError = 2;

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The secret is the file's content without a trailing newline, so `echo secret > file` works.
std::optional<std::string> read_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot read secret file " << path << "\n";
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string secret = buffer.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) {
    std::cerr << "error: secret file " << path << " is empty\n";
    return std::nullopt;
  }
  return secret;
}

std::optional<Bytes> parse_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    if (std::sscanf(hex.c_str() + i, "%2x", &value) != 1 || !std::isxdigit(hex[i]) ||
        !std::isxdigit(hex[i + 1])) {
      return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>(value));
  }
  return out;
}

std::string to_hex(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

std::string iso_time(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// 32 random bytes from OpenSSL's CSPRNG, as base64url text.
std::optional<std::string> new_secret() {
  Bytes key(32);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) return std::nullopt;
  return encoding::base64url_encode(key);
}

// Loads the development secret from `dir`, creating the directory and a fresh secret (mode 0600)
// on first use.
std::optional<std::string> load_or_create_dev_secret(const std::filesystem::path& dir,
                                                     bool& created) {
  const auto path = dir / "session-secret";
  created = false;
  if (std::filesystem::exists(path)) return read_secret(path.string());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "error: cannot create " << dir << ": " << ec.message() << "\n";
    return std::nullopt;
  }
  auto secret = new_secret();
  if (!secret) {
    std::cerr << "error: the system random number generator failed\n";
    return std::nullopt;
  }
  const mode_t old_mask = ::umask(077);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << *secret << "\n";
  }
  ::umask(old_mask);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write,
                               ec);
  created = true;
  return secret;
}

void print_session_claims(const session::Claims& claims) {
  std::cout << "sid: " << claims.sid << "\n"
            << "exp: " << static_cast<std::int64_t>(claims.exp) << " ("
            << iso_time(static_cast<std::int64_t>(claims.exp)) << ")\n";
}

}  // namespace

int run_dev(const DevOptions& options) {
  bool created = false;
  const std::filesystem::path dir(options.state_dir);
  auto secret = load_or_create_dev_secret(dir, created);
  if (!secret) return kUsageError;
  const auto secret_path = (dir / "session-secret").string();
  std::cout << (created ? "created" : "reusing") << " development session secret: " << secret_path
            << " (mode 0600; never commit it)\n";

  const std::string sid = session::new_session_id();
  auto token = session::mint(as_bytes(*secret), sid, unix_ms_now(), options.ttl_seconds);
  if (!token) {
    std::cerr << "error: " << token.error().message << "\n";
    return kUsageError;
  }
  auto claims = session::verify(*token, as_bytes(*secret), unix_ms_now());
  if (!claims) {
    std::cerr << "error: a freshly minted token failed verification: " << claims.error().message
              << "\n";
    return kRejected;
  }
  std::cout << "\naero_session token (valid " << options.ttl_seconds << " s, verified):\n"
            << *token << "\n\n";
  print_session_claims(*claims);
  std::cout << "\nNext steps:\n"
            << "  aero-net session verify --secret-file " << secret_path << " <token>\n"
            << "  aero-net jwt mint --secret-file " << secret_path << " --sid " << claims->sid
            << " --aud aero-udp-relay\n"
            << "  aero-net origin check https://app.example.test --host app.example.test\n"
            << "  aero-net l2 decode a20301000000018bcfe56800\n"
            << "  aero-net --help\n";
  return 0;
}

int session_mint(const std::string& secret_file, std::string sid, std::int64_t ttl_seconds) {
  auto secret = read_secret(secret_file);
  if (!secret) return kUsageError;
  if (sid.empty()) sid = session::new_session_id();
  auto token = session::mint(as_bytes(*secret), sid, unix_ms_now(), ttl_seconds);
  if (!token) {
    std::cerr << "error: " << token.error().message << "\n";
    return kUsageError;
  }
  std::cout << *token << "\n";
  return 0;
}

int session_verify(const std::string& secret_file, const std::string& token) {
  auto secret = read_secret(secret_file);
  if (!secret) return kUsageError;
  auto claims = session::verify(token, as_bytes(*secret), unix_ms_now());
  if (!claims) {
    std::cout << "rejected (" << claims.error().kind << "): " << claims.error().message << "\n";
    return kRejected;
  }
  std::cout << "valid\n";
  print_session_claims(*claims);
  return 0;
}

int jwt_mint(const JwtMintOptions& options) {
  auto secret = read_secret(options.secret_file);
  if (!secret) return kUsageError;
  auto claims = relay_jwt::make_claims(options.sid, unix_ms_now(), options.ttl_seconds);
  if (!options.origin.empty()) claims.origin = options.origin;
  if (!options.aud.empty()) claims.aud = options.aud;
  if (!options.iss.empty()) claims.iss = options.iss;
  auto token = relay_jwt::mint(as_bytes(*secret), claims);
  if (!token) {
    std::cerr << "error: " << token.error().message << "\n";
    return kUsageError;
  }
  std::cout << *token << "\n";
  return 0;
}

int jwt_verify(const std::string& secret_file, const std::string& token) {
  auto secret = read_secret(secret_file);
  if (!secret) return kUsageError;
  auto claims = relay_jwt::verify(token, as_bytes(*secret), unix_ms_now() / 1000);
  if (!claims) {
    std::cout << "rejected (" << claims.error().kind << "): " << claims.error().message << "\n";
    return kRejected;
  }
  std::cout << "valid\nsid: " << claims->sid << "\niat: " << claims->iat << "\nexp: " << claims->exp
            << " (" << iso_time(claims->exp) << ")\n";
  if (claims->origin) std::cout << "origin: " << *claims->origin << "\n";
  if (claims->aud) std::cout << "aud: " << *claims->aud << "\n";
  if (claims->iss) std::cout << "iss: " << *claims->iss << "\n";
  return 0;
}

int origin_normalize(const std::string& raw_origin) {
  auto normalized = origin::normalize_origin(raw_origin);
  if (!normalized) {
    std::cout << "invalid origin\n";
    return kRejected;
  }
  std::cout << *normalized << "\n";
  return 0;
}

int origin_check(const std::string& raw_origin, const std::string& request_host,
                 const std::vector<std::string>& allowed) {
  const bool ok = origin::is_origin_allowed(raw_origin, allowed, request_host);
  std::cout << (ok ? "allowed" : "denied") << "\n";
  return ok ? 0 : kRejected;
}

int l2_decode(const std::string& hex, std::size_t max_frame, std::size_t max_control) {
  auto bytes = parse_hex(hex);
  if (!bytes) {
    std::cerr << "error: not a hex string\n";
    return kUsageError;
  }
  auto message = l2::decode(*bytes, l2::Limits{max_frame, max_control});
  if (!message) {
    std::cout << "rejected (" << message.error().kind << "): " << message.error().message << "\n";
    return kRejected;
  }
  static constexpr const char* kTypeNames[] = {"FRAME", "PING", "PONG"};
  std::cout << "type: 0x" << to_hex(ByteSpan(&message->type, 1));
  if (message->type < 3) std::cout << " (" << kTypeNames[message->type] << ")";
  if (message->is(l2::MessageType::error)) std::cout << " (ERROR)";
  if (!message->has_known_type()) std::cout << " (unknown type: ignored by receivers)";
  std::cout << "\nflags: 0x" << to_hex(ByteSpan(&message->flags, 1)) << "\n"
            << "payload (" << message->payload.size() << " bytes): " << to_hex(message->payload)
            << "\n";
  if (message->is(l2::MessageType::error)) {
    if (auto structured = l2::decode_structured_error(message->payload)) {
      std::cout << "error code: " << structured->code << " ("
                << l2::error_code_name(structured->code) << ")\nerror message: "
                << structured->message << "\n";
    } else {
      std::cout << "error text: " << as_chars(message->payload) << "\n";
    }
  }
  return 0;
}

int l2_encode(const std::string& type, const std::string& payload_hex) {
  auto payload = parse_hex(payload_hex);
  if (!payload) {
    std::cerr << "error: not a hex string\n";
    return kUsageError;
  }
  l2::MessageType message_type = l2::MessageType::frame;
  if (type == "ping") message_type = l2::MessageType::ping;
  if (type == "pong") message_type = l2::MessageType::pong;
  if (type == "error") message_type = l2::MessageType::error;
  auto encoded = l2::encode(message_type, *payload);
  if (!encoded) {
    std::cerr << "error: " << encoded.error().message << "\n";
    return kRejected;
  }
  std::cout << to_hex(*encoded) << "\n";
  return 0;
}

}  // namespace aero::cli
