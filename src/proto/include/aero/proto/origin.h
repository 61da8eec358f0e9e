// Origin header normalisation and allowlist matching for the HTTP and WebSocket front ends.
//
// Browsers send `Origin` as the serialisation of an origin (RFC 6454 §6.2, WHATWG URL §4.7):
// `scheme://host[:port]` or the opaque `null`. The functions here accept only that shape, strictly,
// and compare origins in the canonical form the WHATWG URL standard's `URL.origin` produces
// (lower-case scheme and host, default port dropped, IP addresses canonicalised), so that every
// component of the system agrees on which origins are the same.
//
// Only the http and https schemes are accepted. Hosts must be ASCII: internationalised domain
// names are accepted only in their `xn--` (Punycode) form, which is what browsers send.
// Nothing here throws, and is_origin_allowed does not allocate.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace aero::origin {

// Longest Origin / Host header value (after trimming) that is looked at; longer values are
// rejected before any parsing.
inline constexpr std::size_t kMaxOriginHeaderLength = 4096;
inline constexpr std::size_t kMaxHostHeaderLength = 4096;

// Returns the normalised origin ("https://example.com", "http://[::1]:8080", or "null"), or
// nullopt when the header value is not a valid origin serialisation. Leading and trailing ASCII
// whitespace is ignored.
std::optional<std::string> normalize_origin(std::string_view raw_origin_header);

// Returns the WHATWG `URL.host` ("example.com", "[::1]:8080") that a `Host` header value denotes
// for a request made with `scheme` ("http" or "https", any case; the scheme's default port is
// dropped), or nullopt when the value is not a plain host[:port].
std::optional<std::string> normalize_host_header(std::string_view host, std::string_view scheme);

// Decides whether a request carrying `raw_origin_header` may proceed:
//  * an invalid Origin is never allowed;
//  * an allowlist containing "*" allows every valid origin (including "null");
//  * a non-empty allowlist allows exactly the origins it lists, compared after normalising each
//    entry ("null" matches only when listed; an invalid entry matches nothing);
//  * an empty allowlist allows only same-host requests: the origin's host[:port] must equal the
//    normalised `request_host` (the Host header), with the origin scheme's default port implied;
//    a "null" origin is never same-host.
bool is_origin_allowed(std::string_view raw_origin_header,
                       std::span<const std::string> allowed_origins, std::string_view request_host);

}  // namespace aero::origin
