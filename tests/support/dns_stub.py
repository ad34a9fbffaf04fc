"""A DNS server on loopback answering from a fixed table (dnspython parses and builds the
packets): DKIM verifiers and `mailer doctor` ask it instead of the network."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

# (name, type) -> record texts in zone-file form, e.g. ("mail._domainkey.x.org", "TXT"):
# ['"v=DKIM1; k=rsa; p=..."'], ("x.org", "MX"): ["10 bounces.x.org."]
Records = Mapping[tuple[str, str], Sequence[str]]


def _answer(records: Records, wire: bytes) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if not query.question:
        response.set_rcode(dns.rcode.FORMERR)
        return response.to_wire()
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    kind = dns.rdatatype.to_text(question.rdtype)
    texts = records.get((name, kind))
    if texts:
        response.answer.append(
            dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, kind, list(texts))
        )
    elif not any(known == name for known, _ in records):
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response.to_wire()


@contextmanager
def dns_stub(records: Records) -> Iterator[tuple[str, int]]:
    """Serve `records` over UDP on 127.0.0.1 (a free port) until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            answer = _answer(records, wire)
            if answer is not None:
                sock.sendto(answer, peer)

    thread = threading.Thread(target=serve, name="dns-stub", daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()
