#!/usr/bin/env python3
"""Helpers for bench/tcp_peers.sh, one per subcommand.

  free-ports N          print N free TCP ports on 127.0.0.1 (the host-side servers' ports)
  echo-server PORT SEC  echo every TCP byte back, on 127.0.0.1:PORT, for at most SEC seconds
  guest ...             run inside the guest's namespace: iperf3 both ways, then 64-byte
                        request/response round trips; prints one JSON line
  stats FILE MTU REP    turn an aero-net --stats-file into a line for the report
  cpu PEER MTU REP TICKS  the same for the CPU time the peer process used (clock ticks)
  report FILE           read the JSON lines, print the table of medians and the ratios

Only the standard library, so it runs in any namespace without set-up.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

PAYLOAD = b"x" * 64
PEERS = ("aero-net", "slirp4netns", "pasta")
# (key, heading, unit, higher_is_better)
METRICS = (
    ("fwd_gbps", "iperf3 guest->host", "Gbit/s", True),
    ("rev_gbps", "iperf3 host->guest (-R)", "Gbit/s", True),
    ("rr_p50_us", "64 B request/response, median", "us", False),
    ("cpu_s_per_gb", "peer process CPU per GB moved", "s", False),
)


def free_ports(count):
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in sockets))
    for s in sockets:
        s.close()


def echo_server(port, lifetime):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    listener.settimeout(0.5)

    def serve(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(lifetime)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    end = time.monotonic() + lifetime
    while time.monotonic() < end:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


# --- guest side -------------------------------------------------------------------------------

running = None  # the iperf3 client in progress, so SIGTERM can stop it too


def on_sigterm(_signum, _frame):
    if running is not None and running.poll() is None:
        running.kill()
    sys.exit(143)


def ip_output(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10).stdout


def wait_for_link(device, seconds):
    """slirp4netns and pasta configure the namespace after it exists: wait for the address and
    the default route."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if "inet " in ip_output("-4", "-o", "addr", "show", "dev", device) and \
                ip_output("-4", "route", "show", "default").strip():
            return True
        time.sleep(0.02)
    return False


def link_mtu(device):
    words = ip_output("-o", "link", "show", "dev", device).split()
    return int(words[words.index("mtu") + 1]) if "mtu" in words else None


def iperf3(target, port, seconds, reverse):
    global running
    argv = ["iperf3", "-c", target, "-p", str(port), "-t", str(seconds), "-J"]
    if reverse:
        argv.append("-R")
    running = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = running.communicate(timeout=seconds + 20)
    except subprocess.TimeoutExpired:
        running.kill()
        running.communicate()
        return None, None, None, "iperf3 did not finish in %d s" % (seconds + 20)
    try:
        result = json.loads(out)
    except ValueError:
        return None, None, None, out.strip()[-300:]
    if "error" in result:
        return None, None, None, result["error"]
    end = result["end"]
    gbps = end["sum_received"]["bits_per_second"] / 1e9
    moved = end["sum_received"]["bytes"]
    # The sender's retransmissions; with -R the sender is the host-side server, which this
    # client does not see.
    retransmits = None if reverse else end["sum_sent"].get("retransmits")
    return gbps, moved, retransmits, None


def request_response(target, port, count):
    """One connection, TCP_NODELAY, COUNT round trips of 64 bytes after 100 unmeasured ones."""
    conn = socket.create_connection((target, port), timeout=10)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for i in range(100 + count):
        start = time.perf_counter_ns()
        conn.sendall(PAYLOAD)
        got = 0
        while got < len(PAYLOAD):
            chunk = conn.recv(4096)
            if not chunk:
                raise ConnectionError("echo server closed the connection")
            got += len(chunk)
        if i >= 100:
            samples.append((time.perf_counter_ns() - start) / 1000)
    conn.close()
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def guest(args):
    signal.signal(signal.SIGTERM, on_sigterm)
    record = {"peer": args.peer, "mtu": args.mtu, "rep": args.rep, "errors": []}
    if not wait_for_link(args.device, 10):
        record["errors"].append("%s was not configured within 10 s" % args.device)
        print(json.dumps(record), flush=True)
        return 1
    record["link_mtu"] = link_mtu(args.device)
    if record["link_mtu"] != args.mtu:
        # The peer configured another MTU than asked for: set it, and say so in the record.
        subprocess.run(["ip", "link", "set", "dev", args.device, "mtu", str(args.mtu)], check=True)
        record["errors"].append("link MTU was %s, set to %d" % (record["link_mtu"], args.mtu))
        record["link_mtu"] = link_mtu(args.device)
    # One one-off server per direction: a persistent iperf3 server closes and reopens its
    # listener after each test, and resets a connection that arrives in between.
    for key, port, reverse in (("fwd", args.iperf_port_fwd, False),
                               ("rev", args.iperf_port_rev, True)):
        gbps, moved, retransmits, error = iperf3(args.target, port, args.seconds, reverse)
        record[key + "_gbps"] = gbps
        record[key + "_bytes"] = moved
        if retransmits is not None:
            record[key + "_retransmits"] = retransmits
        if error:
            record["errors"].append("iperf3 %s: %s" % (key, error))
    try:
        record["rr_p50_us"], record["rr_p99_us"] = request_response(
            args.target, args.echo_port, args.round_trips)
    except (OSError, ConnectionError) as error:
        record["rr_p50_us"] = None
        record["errors"].append("request/response: %s" % error)
    print(json.dumps(record), flush=True)
    return 0


def stats_line(path, mtu, rep):
    with open(path) as source:
        counters = json.load(source)
    print(json.dumps({"kind": "aero-net-stats", "mtu": mtu, "rep": rep, "tcp": counters["tcp"]}))
    return 0


def cpu_line(peer, mtu, rep, ticks):
    seconds = ticks / os.sysconf("SC_CLK_TCK")
    print(json.dumps({"kind": "peer-cpu", "peer": peer, "mtu": mtu, "rep": rep,
                      "cpu_s": seconds}))
    return 0


# --- report -----------------------------------------------------------------------------------

def fmt(value, unit):
    if value is None:
        return "—"
    return "%.2f" % value if unit in ("Gbit/s", "s") else "%.0f" % value


def report(path):
    records, stats, cpu = [], [], {}
    with open(path) as source:
        for line in source:
            line = line.strip()
            if not line:
                continue
            item = json.loads(line)
            kind = item.get("kind")
            if kind == "aero-net-stats":
                stats.append(item)
            elif kind == "peer-cpu":
                cpu[(item["peer"], item["mtu"], item["rep"])] = item["cpu_s"]
            else:
                records.append(item)
    for r in records:
        moved = (r.get("fwd_bytes") or 0) + (r.get("rev_bytes") or 0)
        seconds = cpu.get((r["peer"], r["mtu"], r["rep"]))
        # Peer CPU per GB moved by iperf3 (the round trips add little); load-independent-ish.
        r["cpu_s_per_gb"] = seconds / (moved / 1e9) if seconds is not None and moved else None
    mtus = sorted({r["mtu"] for r in records})
    reps = max((r["rep"] for r in records), default=0)

    def values(peer, mtu, key):
        return [r[key] for r in records
                if r["peer"] == peer and r["mtu"] == mtu and r.get(key) is not None]

    def median(peer, mtu, key):
        found = values(peer, mtu, key)
        return statistics.median(found) if found else None

    print("Medians of %d runs each (each run: iperf3 -t N both ways, then the round trips)." % reps)
    print("Ratio = aero-net / better peer: throughput goal >= 1.50 at MTU 1500; "
          "latency goal <= 1.00.\n")
    print("| MTU | metric | aero-net | slirp4netns | pasta | aero-net / better peer |")
    print("|---|---|---|---|---|---|")
    verdicts = []
    for mtu in mtus:
        for key, heading, unit, higher_is_better in METRICS:
            medians = {peer: median(peer, mtu, key) for peer in PEERS}
            peers = [medians[p] for p in PEERS[1:] if medians[p] is not None]
            best = (max(peers) if higher_is_better else min(peers)) if peers else None
            ratio = medians["aero-net"] / best if best and medians["aero-net"] is not None \
                else None
            cells = " | ".join(fmt(medians[p], unit) for p in PEERS)
            print("| %d | %s (%s) | %s | %s |" % (
                mtu, heading, unit, cells, "—" if ratio is None else "%.2f" % ratio))
            if mtu == 1500 and ratio is not None and key != "cpu_s_per_gb":
                goal = 1.5 if higher_is_better else 1.0
                met = ratio >= goal if higher_is_better else ratio <= goal
                verdicts.append("%s: %.2f (goal %s %.2f) %s" % (
                    heading, ratio, ">=" if higher_is_better else "<=", goal,
                    "met" if met else "NOT met"))
    print("\nGoal at MTU 1500:")
    for verdict in verdicts:
        print("  " + verdict)

    print("\nEvery run (fwd Gbit/s / rev Gbit/s / request-response median us / peer CPU s per GB):")
    for mtu in mtus:
        for peer in PEERS:
            runs = sorted((r for r in records if r["peer"] == peer and r["mtu"] == mtu),
                          key=lambda r: r["rep"])
            cells = ["%s/%s/%s/%s" % (fmt(r.get("fwd_gbps"), "Gbit/s"),
                                      fmt(r.get("rev_gbps"), "Gbit/s"),
                                      fmt(r.get("rr_p50_us"), "us"),
                                      fmt(r.get("cpu_s_per_gb"), "s")) for r in runs]
            print("  MTU %-5d %-11s %s" % (mtu, peer, "  ".join(cells)))
    problems = [r for r in records if r["errors"]]
    if problems:
        print("\nProblems:")
        for r in problems:
            print("  %s MTU %d run %d: %s" % (r["peer"], r["mtu"], r["rep"], "; ".join(r["errors"])))
    if stats:
        print("\naero-net TCP counters, summed over its runs per MTU (from --stats-file):")
        keys = ("retransmissions", "fast_retransmits", "timeouts", "out_of_order",
                "outside_window", "zero_windows_advertised", "resets_to_guest", "resets_from_guest",
                "host_resets", "unknown_connection")
        for mtu in mtus:
            total = {k: sum(s["tcp"].get(k, 0) for s in stats if s["mtu"] == mtu) for k in keys}
            print("  MTU %-5d %s" % (mtu, " ".join("%s=%d" % kv for kv in total.items())))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("free-ports")
    p.add_argument("count", type=int)
    p = sub.add_parser("echo-server")
    p.add_argument("port", type=int)
    p.add_argument("seconds", type=float)
    p = sub.add_parser("guest")
    p.add_argument("--peer", required=True)
    p.add_argument("--mtu", type=int, required=True)
    p.add_argument("--rep", type=int, required=True)
    p.add_argument("--target", required=True, help="address the guest dials for the host servers")
    p.add_argument("--iperf-port-fwd", type=int, required=True, help="iperf3 -s -1, guest->host")
    p.add_argument("--iperf-port-rev", type=int, required=True, help="iperf3 -s -1, for -R")
    p.add_argument("--echo-port", type=int, required=True)
    p.add_argument("--seconds", type=int, default=5, help="iperf3 -t")
    p.add_argument("--round-trips", type=int, default=2000)
    p.add_argument("--device", default="tap0")
    p = sub.add_parser("stats")
    p.add_argument("file")
    p.add_argument("mtu", type=int)
    p.add_argument("rep", type=int)
    p = sub.add_parser("cpu")
    p.add_argument("peer")
    p.add_argument("mtu", type=int)
    p.add_argument("rep", type=int)
    p.add_argument("ticks", type=int)
    p = sub.add_parser("report")
    p.add_argument("file")
    args = parser.parse_args()
    if args.command == "free-ports":
        return free_ports(args.count)
    if args.command == "echo-server":
        return echo_server(args.port, args.seconds)
    if args.command == "guest":
        return guest(args)
    if args.command == "cpu":
        return cpu_line(args.peer, args.mtu, args.rep, args.ticks)
    if args.command == "stats":
        return stats_line(args.file, args.mtu, args.rep)
    return report(args.file)


if __name__ == "__main__":
    sys.exit(main())
