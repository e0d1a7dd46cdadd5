"""ASTERIX datagrams as UDP packets in a pcap file, which Wireshark opens as ASTERIX.

Each datagram becomes one Ethernet II / IPv4 / UDP frame to port
:data:`ASTERIX_PORT` (8600, where Wireshark's ASTERIX dissector listens), in the
classic libpcap format (microsecond time stamps, link type Ethernet), written and
read with ``dpkt``: it builds the frames, fills in the IPv4 length, identification
and header checksum and the UDP checksum, and writes the pcap headers.

Addresses: IPv4 ``src`` to ``dst`` (by default from the documentation network
192.0.2.0/24); the Ethernet addresses follow from them, locally administered
``02:00:a:b:c:d`` for a unicast address ``a.b.c.d`` and the IPv4 multicast MAC
``01:00:5e`` + the low 23 bits for a multicast one. The packets are never
fragmented (DF set), so a datagram may hold at most 65,507 bytes.
"""

import ipaddress

from ..spec.checks import check_integer

__all__ = ["ASTERIX_PORT", "MAX_PAYLOAD", "udp_frame", "write_pcap", "read_pcap"]

ASTERIX_PORT = 8600
MAX_PAYLOAD = 65507
_SNAPLEN = 65535


def _address(name, value):
    try:
        return ipaddress.IPv4Address(value)
    except (ipaddress.AddressValueError, ValueError):
        raise ValueError(f"{name} must be an IPv4 address, not {value!r}") from None


def _mac(address):
    if address.is_multicast:
        return bytes([0x01, 0x00, 0x5E]) + (int(address) & 0x7FFFFF).to_bytes(3, "big")
    return bytes([0x02, 0x00]) + address.packed


def udp_frame(payload, *, src="192.0.2.1", dst="192.0.2.2", port=ASTERIX_PORT, ident=0):
    """The Ethernet frame (bytes) of one UDP datagram from ``src:port`` to ``dst:port``."""
    import dpkt
    source, destination = _address("src", src), _address("dst", dst)
    port = check_integer("port", port, 1, 65535)
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a datagram must hold at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    udp = dpkt.udp.UDP(sport=port, dport=port, data=payload)
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=source.packed, dst=destination.packed, p=dpkt.ip.IP_PROTO_UDP, ttl=64,
                    id=ident & 0xFFFF, df=1, data=udp)
    return bytes(dpkt.ethernet.Ethernet(src=_mac(source), dst=_mac(destination),
                                        type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def write_pcap(path, datagrams, timestamps, *, src="192.0.2.1", dst="192.0.2.2",
               port=ASTERIX_PORT):
    """Write ``datagrams`` (bytes each) as UDP packets at ``timestamps`` (POSIX seconds,
    one per datagram) into the pcap file ``path``."""
    import dpkt
    datagrams, timestamps = list(datagrams), list(timestamps)
    if len(datagrams) != len(timestamps):
        raise ValueError(f"one timestamp per datagram: {len(datagrams)} datagrams, "
                         f"{len(timestamps)} timestamps")
    frames = [udp_frame(d, src=src, dst=dst, port=port, ident=i) for i, d in enumerate(datagrams)]
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=_SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
        for frame, ts in zip(frames, timestamps):
            writer.writepkt(frame, ts=ts)


def read_pcap(path, port=ASTERIX_PORT):
    """``[(timestamp, payload), ...]``: the UDP datagrams to ``port`` in the pcap file
    ``path``, in file order (other packets are passed over)."""
    import dpkt
    port = check_integer("port", port, 1, 65535)
    out = []
    with open(path, "rb") as f:
        for ts, frame in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(frame).data
            if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP) \
                    and ip.data.dport == port:
                out.append((ts, bytes(ip.data.data)))
    return out
