"""The exporter's HTTP server: GET /metrics and / only, on one thread that no client can stall.

bptraf serves its own HTTP rather than prometheus_client's server, which answers every path and
method but a few, starts a thread per connection with no time limit (one slow client holds a thread
for ever, many exhaust memory), and looks its own address up in DNS when it binds. Here one asyncio
loop in one thread serves every connection: a request head must arrive whole within HEAD_TIMEOUT_S
and fit in HEAD_LIMIT bytes, an idle keep-alive connection is closed after IDLE_TIMEOUT_S (or as soon
as a new one needs its place), and at most MAX_CONNECTIONS are open. Names are never resolved: the
sockets come bound to an address given as digits, and no peer address is ever looked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bptraf.errors import BptrafError

HEAD_LIMIT = 8192  # bytes of request line and headers
HEAD_TIMEOUT_S = 10.0  # from a request's first byte to its blank line
IDLE_TIMEOUT_S = 60.0  # a keep-alive connection between requests
WRITE_TIMEOUT_S = 10.0  # for a client to take an answer
LINGER_S = 2.0  # reading what a refused client still sends, so it gets to read the refusal
LINGER_BYTES = 4 << 20
MAX_CONNECTIONS = 64

INDEX = b'<html><head><title>bptraf</title></head><body><a href="/metrics">metrics</a></body></html>\n'
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    505: "HTTP Version Not Supported",
}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    close: bool = False  # end the connection after this answer


def error(status: int, close: bool = False) -> Response:
    return Response(status, f"{status} {REASONS[status]}\n".encode(), close=close)


Metrics = Callable[[str], "tuple[bytes, str]"]  # Accept header -> (body, content type)


def route(method: str, target: str, accept: str, metrics: Metrics) -> Response:
    """The answer to one well-formed request: GET /metrics, GET / (a link to it), nothing else."""
    path = target.split("?", 1)[0]
    if path not in ("/", "/metrics"):
        return error(404)
    if method != "GET":
        return error(405)
    if path == "/":
        return Response(200, INDEX, "text/html; charset=utf-8")
    try:
        body, content_type = metrics(accept)
    except Exception:  # a failed read must not end the server; the scraper sees the failure
        return error(500)
    return Response(200, body, content_type)


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool


def parse_head(head: bytes) -> Request | Response:
    """A request head (up to and including its blank line), or the error answer it deserves."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        return error(400, close=True)
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        return error(505, close=True)
    if not target.startswith("/") or not method.isalpha():
        return error(400, close=True)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            return error(400, close=True)
        headers[name.lower()] = value.strip()
    # No request here has a body; one announced could not be told apart from the next request.
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        return error(400, close=True)
    connection = headers.get("connection", "").lower()
    keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, target, headers, keep)


def encode(response: Response, method: str = "GET") -> bytes:
    head = [
        f"HTTP/1.1 {response.status} {REASONS[response.status]}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
    ]
    if response.status == 405:
        head.append("Allow: GET")
    if response.close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body


class Server:
    """Serves bound, listening sockets on a thread of its own until stop()."""

    def __init__(self, sockets: list[socket.socket], metrics: Metrics) -> None:
        self._sockets = sockets
        self._metrics = metrics
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._idle: dict[asyncio.StreamWriter, float] = {}  # open connections; the time each went idle
        self._ready = threading.Event()
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bptraf-exporter", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self.failure is not None:
            raise BptrafError(f"the exporter could not start serving: {self.failure or 'timed out'}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait for the thread; no scrape runs after this returns (unless it timed out)."""
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout)
        for sock in self._sockets:
            sock.close()

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # kept for whoever stops the server; never printed over the TUI
            self.failure = exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        servers = [await asyncio.start_server(self._serve, sock=s, limit=HEAD_LIMIT) for s in self._sockets]
        self._ready.set()
        await self._stopping.wait()
        for srv in servers:
            srv.close()
        for writer in list(self._idle):
            writer.transport.abort()
        # End every connection's task here, so none is left pending when the loop closes.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        if len(self._idle) >= MAX_CONNECTIONS and not self._evict():
            writer.transport.abort()
            return
        self._idle[writer] = loop.time()
        try:
            while await self._one(reader, writer):
                self._idle[writer] = loop.time()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or was too slow: nothing to tell anyone
        finally:
            self._idle.pop(writer, None)
            writer.transport.abort()

    def _evict(self) -> bool:
        """Make room by closing the connection idle longest between requests; False if none is."""
        idle = [(since, w) for w, since in self._idle.items() if since >= 0]
        if not idle:
            return False
        _since, writer = min(idle, key=lambda x: x[0])
        self._idle.pop(writer, None)
        writer.transport.abort()
        return True

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; True to wait for another on the same connection."""
        first = await asyncio.wait_for(reader.readexactly(1), IDLE_TIMEOUT_S)
        self._idle[writer] = -1.0  # busy: not to be evicted
        try:
            rest = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        except asyncio.LimitOverrunError:
            await self._refuse(reader, writer, error(431, close=True))
            return False
        parsed = parse_head(first + rest)
        if isinstance(parsed, Response):
            await self._refuse(reader, writer, parsed)
            return False
        answer = route(parsed.method, parsed.target, parsed.headers.get("accept", ""), self._metrics)
        if not parsed.keep_alive:
            answer = Response(answer.status, answer.body, answer.content_type, close=True)
        writer.write(encode(answer))
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
        return not answer.close

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: Response) -> None:
        """Answer a bad request, then read (and drop) what the client still sends for a bounded while:
        closing with unread data would reset the connection before the client read the answer."""
        writer.write(encode(answer))
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
        with contextlib.suppress(OSError):
            writer.write_eof()
        loop = asyncio.get_running_loop()
        deadline, left = loop.time() + LINGER_S, LINGER_BYTES
        while left > 0 and loop.time() < deadline:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), deadline - loop.time())
            except (asyncio.TimeoutError, asyncio.LimitOverrunError, ValueError):
                return
            if not chunk:
                return
            left -= len(chunk)
