#!/usr/bin/env bash
# End-to-end checks of the aero-net command-line tool: exit codes and outputs of each subcommand.
set -euo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }

# dev: creates a 0600 secret once, then reuses it.
out=$("$bin" dev --state-dir state)
grep -q "created development session secret" <<<"$out" || fail "dev did not create a secret"
[[ $(stat -c %a state/session-secret) == 600 ]] || fail "secret file is not mode 0600"
out=$("$bin" dev --state-dir state)
grep -q "reusing development session secret" <<<"$out" || fail "dev did not reuse the secret"

# session mint / verify, and rejection of a tampered token (exit 1).
token=$("$bin" session mint --secret-file state/session-secret --sid sid-cli --ttl 60)
"$bin" session verify --secret-file state/session-secret "$token" | grep -q "sid: sid-cli" \
  || fail "minted token did not verify"
tampered="${token%?}A"
[[ $tampered == "$token" ]] && tampered="${token%?}B"
set +e
"$bin" session verify --secret-file state/session-secret "$tampered" >out.txt
status=$?
set -e
[[ $status == 1 ]] || fail "tampered token: exit $status, want 1"
grep -q "rejected" out.txt || fail "tampered token not reported as rejected"

# An empty secret file is a usage error (exit 2), never an empty HMAC key.
: >empty-secret
set +e
"$bin" session mint --secret-file empty-secret >/dev/null 2>&1
status=$?
set -e
[[ $status == 2 ]] || fail "empty secret: exit $status, want 2"

# jwt mint / verify with optional claims.
jwt=$("$bin" jwt mint --secret-file state/session-secret --sid s1 --aud aero-udp-relay)
"$bin" jwt verify --secret-file state/session-secret "$jwt" | grep -q "aud: aero-udp-relay" \
  || fail "jwt did not verify"

# origin normalize / check.
[[ $("$bin" origin normalize "HTTPS://Example.COM:443/") == "https://example.com" ]] \
  || fail "origin normalize"
"$bin" origin check https://example.com --host example.com >/dev/null || fail "same-host allow"
if "$bin" origin check https://evil.test --host example.com >/dev/null; then
  fail "cross-host origin allowed"
fi

# l2 decode / encode round trip; a bad magic is rejected.
[[ $("$bin" l2 encode --type ping 0000018bcfe56800) == a20301000000018bcfe56800 ]] \
  || fail "l2 encode"
"$bin" l2 decode a20301000000018bcfe56800 | grep -q "PING" || fail "l2 decode"
if "$bin" l2 decode 00030000 >/dev/null; then fail "bad magic accepted"; fi

echo "aero-net CLI: all checks passed"
