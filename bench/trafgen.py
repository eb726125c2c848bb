"""Traffic generator, run inside the generator's network namespace, by one of two methods:

- `live`: BPF_PROG_TEST_RUN in live-frames mode running an XDP_TX program (kernel/tx.c), so the
  kernel transmits the test frame out of a veth at XDP speed, as xdp_frames;
- `clone`: BPF_PROG_TEST_RUN of a tc program (kernel/clone.c) that sends a clone of the test frame out
  of the veth on every run, as an skb. For kernels that refuse live frames; it is slower, and the
  receiving veth copies each frame before its XDP program sees it (a clone's data is shared).

    python -m bench.trafgen IFACE --seconds S --dst-mac MAC [--size 60] [--method live|clone]

Sends for S seconds, in test runs of CHUNK frames each (a test run cannot be stopped part-way but by a
signal). Prints one JSON line: frames handed to the kernel and the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import time
from pathlib import Path

from bptraf import libbpf
from bptraf.loader import import_bcc

KERNEL = Path(__file__).resolve().parent / "kernel"
CHUNK = 1 << 16  # frames per test run: some 5-50 ms by the method and the receiver


def udp_frame(dst_mac: bytes, src_mac: bytes, size: int = 60) -> bytes:
    """An Ethernet/IPv4/UDP frame of `size` bytes from 198.18.0.2 to 198.18.0.1, port 9 (discard)."""
    payload = bytes(size - 14 - 20 - 8)
    udp = struct.pack("!HHHH", 9, 9, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton("198.18.0.2"), socket.inet_aton("198.18.0.1"))  # fmt: skip
    csum = sum(struct.unpack("!10H", ip))
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
    ip = ip[:10] + struct.pack("!H", csum) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("iface")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--size", type=int, default=60)
    p.add_argument("--method", choices=("live", "clone"), default="live")
    args = p.parse_args()
    ifindex = socket.if_nametoindex(args.iface)
    src_mac = bytes.fromhex(Path(f"/sys/class/net/{args.iface}/address").read_text().strip().replace(":", ""))
    frame = udp_frame(bytes.fromhex(args.dst_mac.replace(":", "")), src_mac, args.size)
    bcc = import_bcc()
    if args.method == "live":
        b = bcc.BPF(src_file=str(KERNEL / "tx.c").encode())
        fd = b.load_func(b"bench_tx", bcc.BPF.XDP).fd
        send = lambda: libbpf.test_run_xdp(fd, frame, CHUNK, live_ifindex=ifindex, batch_size=256)  # noqa: E731
    else:
        b = bcc.BPF(src_file=str(KERNEL / "clone.c").encode(), cflags=[f"-DBENCH_IFINDEX={ifindex}"])
        fd = b.load_func(b"bench_clone", bcc.BPF.SCHED_CLS).fd
        send = lambda: libbpf.test_run_skb(fd, frame, CHUNK)  # noqa: E731
    print("sending", flush=True)
    start = time.monotonic()
    frames = 0
    while frames == 0 or time.monotonic() - start < args.seconds:
        send()
        frames += CHUNK
    print(json.dumps({"frames": frames, "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    main()
