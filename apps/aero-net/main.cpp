// aero-net: the command-line tool for aero-net's codecs and credentials, and the entry point of
// the local development setup (`aero-net dev`).
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "commands.h"

int main(int argc, char** argv) {
  // One socket per guest TCP connection: allow as many descriptors as the hard limit does.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  CLI::App app{"aero-net: guest networking for emulated PCs (codecs, credentials, dev setup)"};
  app.set_version_flag("--version", std::string("aero-net ") + AERO_NET_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;

  aero::cli::DevOptions dev;
  auto* dev_cmd = app.add_subcommand(
      "dev", "Create (or reuse) a development signing secret, mint and verify a session token");
  dev_cmd->add_option("--state-dir", dev.state_dir, "Where the development secret is kept")
      ->capture_default_str();
  dev_cmd->add_option("--ttl", dev.ttl_seconds, "Session token lifetime in seconds")
      ->check(CLI::Range(1, 30 * 24 * 3600))
      ->capture_default_str();
  dev_cmd->callback([&] { exit_code = aero::cli::run_dev(dev); });

  // The stack on a local transport.
  aero::cli::StackOptions stack_options;
  auto* stack_cmd = app.add_subcommand(
      "stack", "Run one network stack session for a TAP device or a QEMU -netdev stream peer");
  auto* tap_opt = stack_cmd->add_option("--tap", stack_options.tap,
                                        "TAP device to serve (created if missing)");
  auto* qemu_opt = stack_cmd->add_option(
      "--qemu-listen", stack_options.qemu_listen,
      "Listen for QEMU -netdev stream peers: unix:/path or tcp:HOST:PORT");
  tap_opt->excludes(qemu_opt);
  stack_cmd->add_option("--netns", stack_options.netns,
                        "Named network namespace the TAP lives in (ip netns add NAME)")
      ->needs(tap_opt);
  stack_cmd->add_option("--duration", stack_options.duration_seconds,
                        "Stop after this many seconds (default: on SIGINT/SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  aero::cli::add_network_options(*stack_cmd, stack_options);
  stack_cmd->add_option("--gateway-ip", stack_options.gateway_ip)->capture_default_str();
  stack_cmd->add_option("--dns-ip", stack_options.dns_ip)->capture_default_str();
  stack_cmd->add_option("--guest-ip", stack_options.guest_ip,
                        "First address of the DHCP pool")->capture_default_str();
  stack_cmd->add_option("--prefix-length", stack_options.prefix_length)
      ->check(CLI::Range(8, 30))
      ->capture_default_str();
  stack_cmd->add_option("--lease-time", stack_options.lease_seconds, "DHCP lease in seconds")
      ->capture_default_str();
  stack_cmd->add_option("--pool-size", stack_options.pool_size, "DHCP pool size")
      ->capture_default_str();
  stack_cmd->add_option("--domain", stack_options.domain, "DHCP domain name (option 15)");
  stack_cmd->footer(
      "The egress policy also reads AERO_L2_ALLOWED_TCP_PORTS, AERO_L2_ALLOWED_UDP_PORTS,\n"
      "AERO_L2_ALLOWED_DOMAINS, AERO_L2_BLOCKED_DOMAINS, AERO_L2_ALLOWED_CIDRS and\n"
      "AERO_L2_DENIED_CIDRS; AERO_L2_UDP_FORWARD and AERO_L2_TCP_FORWARD add forwards.");
  stack_cmd->callback([&] {
    if (stack_options.tap.empty() && stack_options.qemu_listen.empty()) {
      throw CLI::ValidationError("stack", "one of --tap or --qemu-listen is required");
    }
    exit_code = aero::cli::run_stack(stack_options);
  });

  // A command in its own network namespace.
  aero::cli::StackOptions run_options;
  std::vector<std::string> run_command;
  auto* run_cmd = app.add_subcommand(
      "run", "Run a command in a new network namespace networked through a stack session "
             "(needs root)");
  aero::cli::add_network_options(*run_cmd, run_options);
  run_cmd->add_option("--stats-file", run_options.stats_file,
                      "Write the session's counters (JSON) to this file when the command ends");
  run_cmd->footer("Usage: aero-net run [OPTIONS] -- COMMAND [ARGS...]");
  run_cmd->callback([&] { exit_code = aero::cli::run_in_namespace(run_options, run_command); });

  // A local TAP or QEMU peer behind a remote aero-l2-proxy.
  aero::cli::add_bridge_command(app, exit_code);

  // aero_session tokens.
  auto* session = app.add_subcommand("session", "Mint or verify aero_session cookie tokens");
  session->require_subcommand(1);
  std::string secret_file;
  std::string sid;
  std::string token;
  std::int64_t ttl = 86400;
  auto* session_mint = session->add_subcommand("mint", "Mint a token (prints it)");
  session_mint->add_option("--secret-file", secret_file, "File holding the HMAC secret")
      ->required()
      ->check(CLI::ExistingFile);
  session_mint->add_option("--sid", sid, "Session id (default: a new random UUID)");
  session_mint->add_option("--ttl", ttl, "Lifetime in seconds")
      ->check(CLI::Range(1, 365 * 24 * 3600))
      ->capture_default_str();
  session_mint->callback([&] { exit_code = aero::cli::session_mint(secret_file, sid, ttl); });
  auto* session_verify = session->add_subcommand("verify", "Verify a token (prints its claims)");
  session_verify->add_option("--secret-file", secret_file, "File holding the HMAC secret")
      ->required()
      ->check(CLI::ExistingFile);
  session_verify->add_option("token", token, "The token")->required();
  session_verify->callback([&] { exit_code = aero::cli::session_verify(secret_file, token); });

  // Relay JWTs.
  auto* jwt = app.add_subcommand("jwt", "Mint or verify UDP relay JWTs (HS256)");
  jwt->require_subcommand(1);
  aero::cli::JwtMintOptions jwt_options;
  auto* jwt_mint = jwt->add_subcommand("mint", "Mint a relay JWT (prints it)");
  jwt_mint->add_option("--secret-file", jwt_options.secret_file, "File holding the HMAC secret")
      ->required()
      ->check(CLI::ExistingFile);
  jwt_mint->add_option("--sid", jwt_options.sid, "Session id")->required();
  jwt_mint->add_option("--ttl", jwt_options.ttl_seconds, "Lifetime in seconds")
      ->check(CLI::Range(1, 24 * 3600))
      ->capture_default_str();
  jwt_mint->add_option("--origin", jwt_options.origin, "origin claim");
  jwt_mint->add_option("--aud", jwt_options.aud, "aud claim");
  jwt_mint->add_option("--iss", jwt_options.iss, "iss claim");
  jwt_mint->callback([&] { exit_code = aero::cli::jwt_mint(jwt_options); });
  auto* jwt_verify = jwt->add_subcommand("verify", "Verify a relay JWT (prints its claims)");
  jwt_verify->add_option("--secret-file", secret_file, "File holding the HMAC secret")
      ->required()
      ->check(CLI::ExistingFile);
  jwt_verify->add_option("token", token, "The JWT")->required();
  jwt_verify->callback([&] { exit_code = aero::cli::jwt_verify(secret_file, token); });

  // Origin checks.
  auto* origin = app.add_subcommand("origin", "Normalize Origin headers and check allowlists");
  origin->require_subcommand(1);
  std::string raw_origin;
  std::string host;
  std::vector<std::string> allowed;
  auto* normalize = origin->add_subcommand("normalize", "Print the normalized origin");
  normalize->add_option("origin", raw_origin, "The Origin header value")->required();
  normalize->callback([&] { exit_code = aero::cli::origin_normalize(raw_origin); });
  auto* check = origin->add_subcommand("check", "Decide whether an Origin is allowed");
  check->add_option("origin", raw_origin, "The Origin header value")->required();
  check->add_option("--host", host, "The request's Host header")->required();
  check->add_option("--allow", allowed,
                    "Allowed origin (repeatable; '*' allows any valid origin; none: same host)");
  check->callback([&] { exit_code = aero::cli::origin_check(raw_origin, host, allowed); });

  // aero-l2-tunnel-v1 messages.
  auto* l2 = app.add_subcommand("l2", "Decode or encode aero-l2-tunnel-v1 messages");
  l2->require_subcommand(1);
  std::string hex;
  std::size_t max_frame = 2048;
  std::size_t max_control = 256;
  std::string type = "frame";
  auto* decode = l2->add_subcommand("decode", "Decode a message given in hex");
  decode->add_option("hex", hex, "The message bytes in hex")->required();
  decode->add_option("--max-frame-payload", max_frame)->capture_default_str();
  decode->add_option("--max-control-payload", max_control)->capture_default_str();
  decode->callback([&] { exit_code = aero::cli::l2_decode(hex, max_frame, max_control); });
  auto* encode = l2->add_subcommand("encode", "Encode a message; prints hex");
  encode->add_option("--type", type, "frame, ping, pong or error")
      ->check(CLI::IsMember({"frame", "ping", "pong", "error"}))
      ->capture_default_str();
  encode->add_option("payload", hex, "The payload in hex")->required();
  encode->callback([&] { exit_code = aero::cli::l2_encode(type, hex); });

  // `aero-net run [OPTIONS] -- COMMAND...`: everything after "--" is the command, passed through
  // untouched (its own options must not be parsed as ours).
  int parsed_argc = argc;
  if (argc > 1 && std::string_view(argv[1]) == "run") {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--") {
        run_command.assign(argv + i + 1, argv + argc);
        parsed_argc = i;
        break;
      }
    }
  }
  CLI11_PARSE(app, parsed_argc, argv);
  return exit_code;
}
