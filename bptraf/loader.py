"""Compile and load the XDP programs in a short-lived child process.

bcc compiles with LLVM, which stays mapped in any process that loaded it (about 100 MiB of RSS). The
child compiles, loads, and hands the program and map fds back over a Unix socket (SCM_RIGHTS); the
long-running bptraf process then holds only fds, and never imports bcc.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from bptraf.errors import BptrafError

_TIMEOUT_S = 120


def load(action: str, nifaces: int, flows_max: int) -> tuple[dict[frozenset[str], list[int]], dict[str, int]]:
    """({feature set: program fds by slot}, {role: map fd}), owned by the caller from now on."""
    from bptraf.bpf import MAP_ROLES, VARIANTS

    roles, variants = MAP_ROLES[action], VARIANTS[action]
    nprogs = nifaces * len(variants)
    nfds = nprogs + len(roles)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with parent:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bptraf.loader", action, str(nifaces), str(flows_max), str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        parent.settimeout(_TIMEOUT_S)
        try:
            msg, fds, _flags, _addr = socket.recv_fds(parent, 65536, nfds)
        except (socket.timeout, OSError) as exc:
            proc.kill()
            raise BptrafError(f"the program loader did not answer: {exc}") from None
        finally:
            proc.wait()
    reply = json.loads(msg or b'{"error": "the program loader exited without a word"}')
    if "error" in reply:
        for fd in fds:
            os.close(fd)
        raise BptrafError(reply["error"])
    if len(fds) != nfds:
        raise BptrafError(f"the program loader sent {len(fds)} fds, not {nfds}")
    progs = {v: fds[i * nifaces : (i + 1) * nifaces] for i, v in enumerate(variants)}
    return progs, dict(zip(roles, fds[nprogs:]))


def _child(action: str, nifaces: int, flows_max: int, sock_fd: int) -> int:
    from bptraf.bpf import MAP_ROLES, VARIANTS, import_bcc, load_programs

    with socket.socket(fileno=sock_fd) as sock:
        try:
            bpf, prog_fds, maps = load_programs(import_bcc(), action, nifaces, flows_max)
        except BptrafError as exc:
            sock.send(json.dumps({"error": str(exc)}).encode())
            return 1
        fds = [fd for v in VARIANTS[action] for fd in prog_fds[v]] + [maps[role] for role in MAP_ROLES[action]]
        socket.send_fds(sock, [json.dumps({"ok": True}).encode()], fds)
        bpf.cleanup()  # closes this process's copies only; the parent's keep everything alive
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
