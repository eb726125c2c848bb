"""The Prometheus exporter: `--listen [ADDR:]PORT` serves /metrics, read from the Source at scrape time.

The address is bound when the exporter is made, before anything is attached, so a taken port or a
wrong address fails with nothing to undo. Serving starts once the source is open.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

from bptraf.errors import BptrafError, UsageError
from bptraf.model import Attachment
from bptraf.source import Source

DEFAULT_PORT = 9747  # the exporters' registry (9100-9999) is full; this one is free of the well-known ones


@dataclass(frozen=True)
class Listen:
    """Where to serve: `host` None binds every address (IPv6 and IPv4 where the host has both)."""

    text: str
    host: str | None
    port: int


def parse_listen(text: str) -> Listen:
    """`PORT`, `ADDR:PORT` or `[IPv6]:PORT`; ADDR is digits, never a name (nothing is looked up)."""
    host: str | None = None
    port = text
    if text.startswith("["):
        inside, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise UsageError(f"--listen {text}: write an IPv6 address as [ADDR]:PORT")
        host, port = inside, rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    elif ":" in text:
        raise UsageError(f"--listen {text}: write an IPv6 address in brackets, as [::1]:{DEFAULT_PORT}")
    if not (port.isascii() and port.isdigit()):
        raise UsageError(f"--listen {text}: the port must be a number, 1-65535 (0 picks a free one)")
    if int(port) > 65535:
        raise UsageError(f"--listen {text}: port {int(port)} is out of range (1-65535, 0 picks a free one)")
    if host:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise UsageError(
                f"--listen {text}: {host!r} is not an IP address (names are not looked up; "
                "127.0.0.1 keeps it to this host)"
            ) from None
        if text.startswith("[") != (ip.version == 6):
            raise UsageError(f"--listen {text}: write an IPv6 address as [ADDR]:PORT, an IPv4 one as ADDR:PORT")
    return Listen(text, host or None, int(port))


def _socket(family: int, host: str, port: int, dual: bool = False) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once past TIME_WAIT
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual else 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def bind(listen: Listen) -> socket.socket:
    """A listening socket, or the one-line error: a taken port exits 1, a wrong address 2."""
    try:
        if listen.host is None:
            try:
                return _socket(socket.AF_INET6, "::", listen.port, dual=True)
            except OSError as exc:
                if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                    raise
            return _socket(socket.AF_INET, "0.0.0.0", listen.port)  # a host without IPv6
        family = socket.AF_INET6 if ipaddress.ip_address(listen.host).version == 6 else socket.AF_INET
        return _socket(family, listen.host, listen.port)
    except OSError as exc:
        where = f"--listen {listen.text}"
        if exc.errno == errno.EADDRINUSE:
            raise BptrafError(f"{where}: port {listen.port} is already in use") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"{where}: {listen.host} is not an address of this host") from None
        if exc.errno == errno.EACCES:
            raise BptrafError(f"{where}: port {listen.port} needs CAP_NET_BIND_SERVICE; pick one above 1023") from None
        raise BptrafError(f"{where}: cannot listen: {exc.strerror}") from None


def xdp_program_id(a: Attachment) -> int | None:
    """The id of the XDP program attached to a live interface now (None if it cannot be told)."""
    from bptraf import libbpf

    try:
        return libbpf.xdp_prog_ids(a.ifindex).get(a.mode)
    except OSError:
        return None


class Exporter:
    """Bound at construction, serving from start() to stop()."""

    def __init__(self, listen: Listen) -> None:
        self.listen = listen
        self.socket = bind(listen)
        self.collector = None
        self._server = None

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/metrics"

    def start(
        self, source: Source, program_id: Callable[[Attachment], int | None] = lambda _a: None, flows_top: int = 0
    ) -> None:
        from prometheus_client import CollectorRegistry, ProcessCollector

        from bptraf.exporter import encode
        from bptraf.exporter.http import Server
        from bptraf.exporter.metrics import Collector

        registry = CollectorRegistry(auto_describe=False)
        self.collector = Collector(source, program_id, flows_top)
        registry.register(self.collector)
        ProcessCollector(registry=registry)

        def metrics(accept: str) -> tuple[bytes, str]:
            families = list(registry.collect())
            if encode.wants_openmetrics(accept):
                return encode.openmetrics(families), encode.OPENMETRICS
            return encode.text(families), encode.TEXT

        self._server = Server([self.socket], metrics)
        self._server.start()

    def stop(self) -> None:
        """Stop serving; once this returns no scrape reads the source. Safe to call twice."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.socket.close()
