"""Flow flood generator: every frame a new flow (source address and port from a counter), sent with
AF_PACKET at a paced rate. Run inside the generator's network namespace.

    python -m bench.floodgen IFACE --frames N --pps R --dst-mac MAC [--seconds S]

Prints one JSON line: frames sent and the seconds it took. Paced in bursts of 64 frames, so the
receiving veth's ring (256 frames) never overflows while a pass-mode receiver drains it.
"""

from __future__ import annotations

import argparse
import errno
import json
import socket
import struct
import time
from pathlib import Path

from bench.trafgen import udp_frame


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("iface")
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--pps", type=float, required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--seconds", type=float, default=60.0, help="stop by then, whatever is left")
    args = p.parse_args()
    src_mac = bytes.fromhex(Path(f"/sys/class/net/{args.iface}/address").read_text().strip().replace(":", ""))
    frame = bytearray(udp_frame(bytes.fromhex(args.dst_mac.replace(":", "")), src_mac))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((args.iface, 0))
        print("sending", flush=True)
        start = time.monotonic()
        sent = 0
        for i in range(args.frames):
            if i % 1024 == 0 and time.monotonic() - start > args.seconds:
                break
            # 198.18.x.y and a source port: 2^32 tuples. The IPv4 checksum goes stale; XDP counts
            # the frame before the stack would check it.
            struct.pack_into("!HH", frame, 28, i >> 16 & 0xFFFF, i & 0xFFFF)
            struct.pack_into("!H", frame, 34, (i * 7919) & 0xFFFF)
            while True:
                try:
                    s.send(frame)
                    break
                except OSError as exc:  # ENOBUFS: the device queue is full; the receiver is behind
                    if exc.errno != errno.ENOBUFS:
                        raise
                    time.sleep(0.0002)
            sent += 1
            if i % 64 == 63:
                time.sleep(max(0.0, start + (i + 1) / args.pps - time.monotonic()))
        print(json.dumps({"frames": sent, "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    main()
