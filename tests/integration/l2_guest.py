"""A scripted guest for tunnel tests: builds and parses the Ethernet frames of DHCP (RFC 2131),
ARP (RFC 826), ICMP echo (RFC 792), DNS (RFC 1035), UDP and a minimal TCP client (RFC 9293),
and exchanges them as aero-l2-tunnel-v1 FRAME messages over a websockets connection.

Written from the RFCs, independently of the stack under test."""
import asyncio
import random
import socket
import struct
import time

FRAME = 0x00
BROADCAST = b"\xff" * 6


def mac_bytes(text):
    return bytes(int(part, 16) for part in text.split(":"))


def mac_text(data):
    return ":".join(f"{b:02x}" for b in data)


def ip_bytes(text):
    return socket.inet_aton(text)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src, dst, protocol, payload, ident=0):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, protocol, 0,
                         ip_bytes(src), ip_bytes(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def udp(src, dst, sport, dport, payload):
    length = 8 + len(payload)
    pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 17, length)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    value = checksum(pseudo + header + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, value) + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, options=b""):
    offset = (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, window, 0, 0) + options
    pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 6, len(header) + len(payload))
    value = checksum(pseudo + header + payload)
    return header[:16] + struct.pack("!H", value) + header[18:] + payload


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Parsed:
    """The layers of one frame the guest received."""

    def __init__(self, frame):
        self.frame = frame
        self.dst, self.src = frame[0:6], frame[6:12]
        self.ethertype = struct.unpack("!H", frame[12:14])[0]
        self.arp = self.ip = self.udp = self.tcp = self.icmp = None
        body = frame[14:]
        if self.ethertype == 0x0806 and len(body) >= 28:
            op, = struct.unpack("!H", body[6:8])
            self.arp = {"op": op, "sender_mac": body[8:14], "sender_ip": socket.inet_ntoa(body[14:18]),
                        "target_ip": socket.inet_ntoa(body[24:28])}
        elif self.ethertype == 0x0800 and len(body) >= 20:
            ihl = (body[0] & 0x0F) * 4
            total = struct.unpack("!H", body[2:4])[0]
            self.ip = {"src": socket.inet_ntoa(body[12:16]), "dst": socket.inet_ntoa(body[16:20]),
                       "proto": body[9]}
            payload = body[ihl:total]
            if body[9] == 17 and len(payload) >= 8:
                sport, dport = struct.unpack("!HH", payload[:4])
                self.udp = {"sport": sport, "dport": dport, "payload": payload[8:]}
            elif body[9] == 6 and len(payload) >= 20:
                sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", payload[:14])
                self.tcp = {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags,
                            "payload": payload[(off >> 4) * 4:]}
            elif body[9] == 1 and len(payload) >= 8:
                kind, code, _, ident, seq = struct.unpack("!BBHHH", payload[:8])
                self.icmp = {"type": kind, "code": code, "id": ident, "seq": seq, "payload": payload[8:]}


def dhcp_options(data):
    options, i = {}, 0
    while i < len(data):
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        length = data[i + 1]
        options[code] = data[i + 2:i + 2 + length]
        i += 2 + length
    return options


class Guest:
    def __init__(self, mac="52:54:00:12:34:56"):
        self.mac = mac_bytes(mac)
        self.ip = "0.0.0.0"
        self.gateway_mac = BROADCAST
        self.ident = 1
        self.next_port = 40000 + random.randrange(1000)

    # ---- plumbing ------------------------------------------------------------------------------

    def eth(self, dst, ethertype, payload):
        frame = dst + self.mac + struct.pack("!H", ethertype) + payload
        return frame + b"\0" * max(0, 60 - len(frame))

    def ip_frame(self, dst, protocol, payload):
        self.ident = (self.ident + 1) & 0xFFFF
        return self.eth(self.gateway_mac, 0x0800, ipv4(self.ip, dst, protocol, payload, self.ident))

    async def send(self, ws, frame):
        await ws.send(bytes([0xA2, 0x03, FRAME, 0]) + frame)

    async def receive(self, ws, predicate, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the guest timed out waiting for a frame")
            data = await asyncio.wait_for(ws.recv(), left)
            if not isinstance(data, bytes) or len(data) < 18 or data[2] != FRAME:
                continue
            parsed = Parsed(data[4:])
            if parsed.dst not in (self.mac, BROADCAST):
                continue
            if predicate(parsed):
                return parsed

    def port(self):
        self.next_port += 1
        return self.next_port

    # ---- DHCP, ARP, ICMP -----------------------------------------------------------------------

    def _dhcp_message(self, xid, kind, extra=b""):
        bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4,
                            b"\0" * 4, b"\0" * 4, self.mac + b"\0" * 10, b"", b"")
        options = b"\x63\x82\x53\x63" + bytes([53, 1, kind]) + extra + bytes([55, 3, 1, 3, 6, 255])
        payload = udp("0.0.0.0", "255.255.255.255", 68, 67, bootp + options)
        return self.eth(BROADCAST, 0x0800, ipv4("0.0.0.0", "255.255.255.255", 17, payload))

    async def dhcp(self, ws):
        xid = random.getrandbits(32)

        def reply(kind):
            def match(p):
                if not p.udp or p.udp["sport"] != 67 or p.udp["dport"] != 68:
                    return False
                body = p.udp["payload"]
                if len(body) < 240 or struct.unpack("!I", body[4:8])[0] != xid:
                    return False
                return dhcp_options(body[240:]).get(53) == bytes([kind])
            return match

        await self.send(ws, self._dhcp_message(xid, 1))
        offer = await self.receive(ws, reply(2))
        offered = socket.inet_ntoa(offer.udp["payload"][16:20])
        server = dhcp_options(offer.udp["payload"][240:])[54]
        await self.send(ws, self._dhcp_message(xid, 3, bytes([50, 4]) + ip_bytes(offered) + bytes([54, 4]) + server))
        ack = await self.receive(ws, reply(5))
        options = dhcp_options(ack.udp["payload"][240:])
        self.ip = socket.inet_ntoa(ack.udp["payload"][16:20])
        self.gateway_mac = ack.src
        return {"address": self.ip, "router": socket.inet_ntoa(options[3][:4]),
                "dns": socket.inet_ntoa(options[6][:4]), "server": socket.inet_ntoa(server)}

    async def arp(self, ws, target):
        body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, self.mac, ip_bytes(self.ip), b"\0" * 6,
                           ip_bytes(target))
        await self.send(ws, self.eth(BROADCAST, 0x0806, body))
        reply = await self.receive(ws, lambda p: p.arp and p.arp["op"] == 2 and p.arp["sender_ip"] == target)
        return mac_text(reply.arp["sender_mac"])

    async def ping(self, ws, target, seq):
        data = struct.pack("!Q", seq) * 4
        header = struct.pack("!BBHHH", 8, 0, 0, 0x1234, seq)
        message = header[:2] + struct.pack("!H", checksum(header + data)) + header[4:] + data
        await self.send(ws, self.ip_frame(target, 1, message))
        reply = await self.receive(ws, lambda p: p.icmp and p.icmp["type"] == 0 and p.icmp["seq"] == seq
                                   and p.ip["src"] == target)
        assert reply.icmp["payload"] == data, "echo reply payload"

    # ---- UDP and DNS ---------------------------------------------------------------------------

    def udp_frame(self, dst, sport, dport, payload):
        return self.ip_frame(dst, 17, udp(self.ip, dst, sport, dport, payload))

    async def udp_exchange(self, ws, dst, dport, payload):
        sport = self.port()
        await self.send(ws, self.udp_frame(dst, sport, dport, payload))
        reply = await self.receive(ws, lambda p: p.udp and p.udp["dport"] == sport and p.ip["src"] == dst)
        return reply.udp["payload"]

    async def dns_a(self, ws, name, server="10.0.2.2"):
        query_id = random.getrandbits(16)
        question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
        query = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
        sport = self.port()
        await self.send(ws, self.udp_frame(server, sport, 53, query))
        reply = await self.receive(ws, lambda p: p.udp and p.udp["sport"] == 53 and p.udp["dport"] == sport)
        message = reply.udp["payload"]
        assert struct.unpack("!H", message[:2])[0] == query_id, "DNS id"
        answers = struct.unpack("!H", message[6:8])[0]
        i = 12 + len(question) + 4
        for _ in range(answers):
            if message[i] & 0xC0 == 0xC0:
                i += 2
            else:
                while message[i]:
                    i += message[i] + 1
                i += 1
            kind, _, _, length = struct.unpack("!HHIH", message[i:i + 10])
            i += 10
            if kind == 1 and length == 4:
                return socket.inet_ntoa(message[i:i + 4])
            i += length
        return None

    # ---- TCP -----------------------------------------------------------------------------------

    def tcp_frame(self, dst, sport, dport, seq, ack, flags, payload=b"", options=b""):
        return self.ip_frame(dst, 6, tcp(self.ip, dst, sport, dport, seq, ack, flags, payload, options=options))

    async def tcp_exchange(self, ws, dst, dport, data):
        """Connects, sends `data`, reads the peer's answer until it closes, closes."""
        sport = self.port()
        isn = random.getrandbits(32)
        mss = struct.pack("!BBH", 2, 4, 1460)
        await self.send(ws, self.tcp_frame(dst, sport, dport, isn, 0, SYN, options=mss))

        def ours(p):
            return p.tcp and p.tcp["sport"] == dport and p.tcp["dport"] == sport and p.ip["src"] == dst

        syn_ack = await self.receive(ws, lambda p: ours(p) and p.tcp["flags"] & (SYN | ACK) == SYN | ACK)
        assert syn_ack.tcp["ack"] == (isn + 1) & 0xFFFFFFFF, "SYN-ACK acknowledges our SYN"
        seq, ack = (isn + 1) & 0xFFFFFFFF, (syn_ack.tcp["seq"] + 1) & 0xFFFFFFFF
        await self.send(ws, self.tcp_frame(dst, sport, dport, seq, ack, ACK))
        await self.send(ws, self.tcp_frame(dst, sport, dport, seq, ack, PSH | ACK, data))
        seq = (seq + len(data)) & 0xFFFFFFFF
        received = b""
        fin_sent = False
        while True:
            segment = await self.receive(ws, ours)
            t = segment.tcp
            if t["flags"] & RST:
                raise AssertionError("connection reset")
            if t["payload"] and t["seq"] == ack:
                received += t["payload"]
                ack = (ack + len(t["payload"])) & 0xFFFFFFFF
            if t["flags"] & FIN and t["seq"] + len(t["payload"]) & 0xFFFFFFFF == ack:
                ack = (ack + 1) & 0xFFFFFFFF
                await self.send(ws, self.tcp_frame(dst, sport, dport, seq, ack, ACK))
                break
            if t["payload"]:
                await self.send(ws, self.tcp_frame(dst, sport, dport, seq, ack, ACK))
            if len(received) >= len(data) and not fin_sent:
                await self.send(ws, self.tcp_frame(dst, sport, dport, seq, ack, FIN | ACK))
                seq = (seq + 1) & 0xFFFFFFFF
                fin_sent = True
        if not fin_sent:
            await self.send(ws, self.tcp_frame(dst, sport, dport, seq, ack, FIN | ACK))
        return received

    async def tcp_refused(self, ws, dst, dport):
        sport = self.port()
        await self.send(ws, self.tcp_frame(dst, sport, dport, random.getrandbits(32), 0, SYN))
        reply = await self.receive(ws, lambda p: (p.tcp and p.tcp["dport"] == sport) or
                                   (p.icmp and p.icmp["type"] == 3))
        return bool(reply.tcp and reply.tcp["flags"] & RST) or bool(reply.icmp)
