"""Connection limits below HTTP (slowloris): a deadline for a request's headers and a cap on the
connections one client address may hold open.

    config = uvicorn.Config(app, http=guarded_protocol(), ...)

uvicorn has neither. Its keep-alive timeout is reset by every byte received and does not run on a
fresh connection, so a client sending a header line every few seconds holds a connection as long
as it likes; 1,100 of them took uvicorn past its `limit_concurrency` and every other request got
503 for as long as they trickled. ASGI middleware cannot help: it runs once the headers are in.
So the HTTP/1.1 protocol (uvicorn's h11 one) is subclassed:
- a request's headers must be complete within `header_timeout` seconds, counted from the connection
  (first request) or from the request's first byte (later requests on a kept-alive connection);
  else the connection is closed. The body and the response are not limited by it.
- a client address holds at most `per_client` connections; the next ones get a 503 and are closed.
  Addresses of trusted proxies (`forwarded_allow_ips`) are exempt: all their users share them.
"""
from __future__ import annotations

import ipaddress
import logging
import time
from collections import Counter
from typing import Any, Sequence

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

#: Seconds a client has to send a request's headers (a browser needs milliseconds).
HEADER_TIMEOUT = 10.0
#: Open connections one client address may hold (a browser opens about 6 per server).
MAX_CONNECTIONS_PER_CLIENT = 128
#: The answer to a connection over the cap (sent before the request, then the connection is closed).
_BUSY_BODY = b'{"error": "too many open connections from your address; close some and try again"}'
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
         b"retry-after: 5\r\ncontent-length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(value: str | Sequence[str] | None) -> list[str]:
    """The `--forwarded-allow-ips` value as a list: addresses and networks (`10.0.0.0/8`), or `*` for
    any; empty: none. A malformed entry is a one-line ValueError."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    out = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item != "*":
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"--forwarded-allow-ips: {item!r} is not an IP address or network; expected e.g. "
                                 "127.0.0.1 or 10.0.0.0/8 (comma-separated), or '*'") from None
        out.append(item)
    return out


def _networks(trusted: Sequence[str]) -> tuple[bool, tuple[_Network, ...]]:
    return "*" in trusted, tuple(ipaddress.ip_network(t, strict=False) for t in trusted if t != "*")


def client_key(addr: str) -> str:
    """What the connection cap counts: the address, or for IPv6 its /64 (one host usually owns a
    whole /64, so counting single addresses would let it open 2^64 times the cap)."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if not ip.is_loopback:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT, per_client: int = MAX_CONNECTIONS_PER_CLIENT,
                     trusted: Sequence[str] = ()) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header deadline and a per-client connection cap (one class per
    server: it counts the server's connections)."""
    any_proxy, nets = _networks(trusted)
    open_per_client: Counter[str] = Counter()
    warned: dict[str, float] = {}

    def exempt(addr: str) -> bool:
        if any_proxy:
            return True
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:  # a unix socket or an unknown peer: not counted
            return True
        return any(ip in n for n in nets)

    class GuardedH11Protocol(H11Protocol):
        _qa_timer: Any = None
        _qa_peer: str | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            addr = self.client[0] if self.client else None
            peer = None if addr is None or exempt(addr) else client_key(addr)
            if peer is not None:
                if open_per_client[peer] >= per_client:
                    now = time.monotonic()
                    if now - warned.get(peer, -60.0) >= 60.0:  # once a minute per address, not per connection
                        warned[peer] = now
                        log.warning("%s holds %d open connections (at most %d per client address); refusing more",
                                    peer, open_per_client[peer], per_client)
                    transport.write(_BUSY)
                    transport.close()
                    return
                open_per_client[peer] += 1
                self._qa_peer = peer
            self._qa_arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._qa_arm()  # a request begun and not yet complete: its headers are on the clock
            else:
                self._qa_disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._qa_disarm()
            self._qa_uncount()
            super().connection_lost(exc)

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            # The websocket protocol takes the transport over; this one hears no more of it.
            self._qa_disarm()
            self._qa_uncount()
            super().handle_websocket_upgrade(event)

        def _qa_arm(self) -> None:
            if self._qa_timer is None:
                self._qa_timer = self.loop.call_later(header_timeout, self._qa_expired)

        def _qa_disarm(self) -> None:
            if self._qa_timer is not None:
                self._qa_timer.cancel()
                self._qa_timer = None

        def _qa_uncount(self) -> None:
            if self._qa_peer is not None:
                open_per_client[self._qa_peer] -= 1
                if open_per_client[self._qa_peer] <= 0:
                    del open_per_client[self._qa_peer]
                self._qa_peer = None

        def _qa_expired(self) -> None:
            self._qa_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                log.debug("closing a connection from %s: no complete request headers within %g s",
                          self.client[0] if self.client else "?", header_timeout)
                self.transport.close()

    return GuardedH11Protocol
