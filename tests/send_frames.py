"""Send hex-encoded Ethernet frames, one per stdin line, out of an interface (run inside the test netns)."""

import socket
import sys

iface = sys.argv[1]
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind((iface, 0))
    for line in sys.stdin:
        line = line.strip()
        if line:
            frame = bytes.fromhex(line)
            if s.send(frame) != len(frame):
                sys.exit(f"short send of a {len(frame)}-byte frame")
