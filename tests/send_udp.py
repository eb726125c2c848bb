"""Send COUNT UDP datagrams of SIZE payload bytes to ADDR:PORT (run inside the test netns)."""

import socket
import sys

addr, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    for _ in range(count):
        s.sendto(bytes(size), (addr, port))
