// libFuzzer target for the aero-l2-proxy upgrade pipeline: credential carriers (cookies, query
// strings, Authorization, subprotocol entries), Forwarded / X-Forwarded-* parsing, Origin and
// Host checks and the connection caps, on request headers an attacker controls.
//
// Input: lines "K value", K choosing the header (T target, P Sec-WebSocket-Protocol, O Origin,
// H Host, F Forwarded, X X-Forwarded-For, Y X-Forwarded-Host, Z X-Forwarded-Proto, C Cookie,
// A Authorization, I peer IP); the first byte picks the configuration. Invariants (trap if
// violated):
//  * an admitted request offered aero-l2-tunnel-v1 and carries a lease, which the limiter counts;
//  * a refusal has one of the pipeline's status codes and a non-empty reason;
//  * with no caps configured nothing is refused with 429; with authentication off, nothing 401.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aero/services/l2_proxy/upgrade.h"

namespace {

using namespace aero::l2proxy;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

ProxyConfig make_config(std::uint8_t selector) {
  ProxyConfig c;
  c.open = (selector & 1) != 0;
  c.trust_proxy = (selector & 2) != 0;
  c.trust_proxy_host = (selector & 4) != 0;
  if ((selector & 8) != 0) c.allowed_hosts = {"proxy.test", "proxy.test:8443"};
  if ((selector & 16) != 0) c.allowed_origins = {"https://app.test", "null"};
  switch ((selector >> 5) & 3) {
    case 0: c.auth.mode = AuthMode::none; break;
    case 1: c.auth.mode = AuthMode::token; break;
    case 2: c.auth.mode = AuthMode::session_or_token; break;
    default: c.auth.mode = AuthMode::cookie_or_jwt; break;
  }
  c.auth.api_key = "key";
  c.auth.session_secret = "session-secret";
  c.auth.jwt_secret = "jwt-secret";
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);  // NOLINT
  std::vector<std::string_view> headers[11];
  std::string_view target = "/l2";
  std::string peer = "192.0.2.1";
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    start = end + 1;
    if (line.size() < 2) continue;
    const std::string_view value = line.substr(2);
    switch (line[0]) {
      case 'T': target = value; break;
      case 'P': headers[0].push_back(value); break;
      case 'O': headers[1].push_back(value); break;
      case 'H': headers[2].push_back(value); break;
      case 'F': headers[3].push_back(value); break;
      case 'X': headers[4].push_back(value); break;
      case 'Y': headers[5].push_back(value); break;
      case 'Z': headers[6].push_back(value); break;
      case 'C': headers[7].push_back(value); break;
      case 'A': headers[8].push_back(value); break;
      case 'I': peer = std::string(value); break;
      default: break;
    }
  }
  UpgradeRequest request;
  request.target = target;
  request.websocket_upgrade = true;
  request.protocols = headers[0];
  request.origins = headers[1];
  request.hosts = headers[2];
  request.forwarded = headers[3];
  request.x_forwarded_for = headers[4];
  request.x_forwarded_host = headers[5];
  request.x_forwarded_proto = headers[6];
  request.cookies = headers[7];
  if (!headers[8].empty()) request.authorization = headers[8].front();
  request.peer_ip = peer;

  const ProxyConfig config = make_config(selector);
  const bool capped = (selector & 0x80) != 0;
  ConnectionLimiter limiter(capped ? 1 : 0, capped ? 1 : 0, capped ? 1 : 0);
  ConnectionLimiter::Lease held;
  if (capped) limiter.acquire("192.0.2.1", std::string("sid"), held);
  const std::size_t before = limiter.active();
  UpgradeOutcome outcome = admit(config, request, false, limiter, 1700000000000);
  if (outcome.rejection) {
    const unsigned s = outcome.rejection->status;
    check(s == 400 || s == 401 || s == 403 || s == 426 || s == 429);
    check(!outcome.rejection->reason.empty() && !outcome.rejection->body.empty());
    check(capped || s != 429);
    check(config.auth.mode != AuthMode::none || s != 401);
    check(limiter.active() == before);
  } else {
    check(offers_tunnel_subprotocol(request.protocols));
    check(limiter.active() == before + 1);
    outcome.admission.lease.release();
    check(limiter.active() == before);
  }
  (void)client_ip(request, true);
  return 0;
}
