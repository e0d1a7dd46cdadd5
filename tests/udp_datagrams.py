"""A bound UDP socket on the loopback and the datagrams waiting on it: for tests of what
`amaradar listen --asterix-udp` sends."""

import socket

import pytest


@pytest.fixture
def receiver():
    """A UDP socket bound to a free port of 127.0.0.1 (5 s receive timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    yield sock
    sock.close()


def received(sock):
    """The datagrams waiting on ``sock`` (those sent before; 0.5 s of quiet ends them)."""
    datagrams = []
    sock.settimeout(0.5)
    try:
        while True:
            datagrams.append(sock.recv(65535))
    except TimeoutError:
        return datagrams
