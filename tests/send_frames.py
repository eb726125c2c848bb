"""Send hex-encoded Ethernet frames, one per stdin line, out of an interface (run inside the test netns).

Paced a little (1 ms every 64 frames) so a burst never overflows the receiving veth's ring: the tests
count exactly, and a frame lost before XDP would look like a counting bug.
"""

import socket
import sys
import time

iface = sys.argv[1]
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind((iface, 0))
    sent = 0
    for line in sys.stdin:
        line = line.strip()
        if line:
            frame = bytes.fromhex(line)
            if s.send(frame) != len(frame):
                sys.exit(f"short send of a {len(frame)}-byte frame")
            sent += 1
            if sent % 64 == 0:
                time.sleep(0.001)
