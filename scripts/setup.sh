#!/usr/bin/env bash
# Idempotent set-up for bptraf on Debian/Ubuntu, as root: bcc, kernel headers, and a virtualenv
# at .venv/ that sees the system's bcc. `make setup` runs it; `make run` and `make test` call it.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-}"

say() { echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt packages and kernel headers need it): sudo make setup"
command -v apt-get >/dev/null || die "apt-get not found: install bcc's Python module (python3-bpfcc or your distro's equivalent) and the kernel headers by hand"

release="$(uname -r)"
arch="$(dpkg --print-architecture)"
want=()
dpkg-query -W -f='${Status}' python3-bpfcc 2>/dev/null | grep -q "ok installed" || want+=(python3-bpfcc)
for pkg in python3-venv libbpf1; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || want+=("$pkg")
done
# The tests drive veth pairs, namespaces and a TUI in tmux: ip, sysctl/pgrep, tmux.
command -v ip >/dev/null || want+=(iproute2)
command -v sysctl >/dev/null && command -v pgrep >/dev/null || want+=(procps)
command -v tmux >/dev/null || want+=(tmux)
# The TX tests: TSO/GSO switches, a TCP bulk sender, and the kernel's link list.
if [ "$EXTRAS" = test ]; then
    command -v ethtool >/dev/null || [ -x /usr/sbin/ethtool ] || want+=(ethtool)
    command -v iperf3 >/dev/null || want+=(iperf3)
    command -v bpftool >/dev/null || [ -x /usr/sbin/bpftool ] || want+=(bpftool)
fi
# The exporter's end-to-end test runs a real Prometheus server (and promtool lints a scrape).
new_prometheus=""
if [ "$EXTRAS" = test ] && ! command -v prometheus >/dev/null; then
    want+=(prometheus)
    new_prometheus=1
fi
headers=""
if [ ! -e "/lib/modules/$release/build" ] && [ ! -e /sys/kernel/kheaders.tar.xz ]; then
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages' -print -quit 2>/dev/null)" ] || apt-get update -q
    if apt-cache show "linux-headers-$release" >/dev/null 2>&1; then
        headers="linux-headers-$release"
    else
        headers="linux-headers-$arch"
    fi
    want+=("$headers")
fi
if [ ${#want[@]} -gt 0 ]; then
    say "installing ${want[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${want[@]}"
fi
if [ -n "$new_prometheus" ] && [ -d /run/systemd/system ]; then
    # The package starts a server on :9090; the tests start their own, so leave none running.
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi

if [ ! -e "/lib/modules/$release/build" ] && [ ! -e /sys/kernel/kheaders.tar.xz ]; then
    # No headers package matches this kernel (a custom or cloud kernel): link the distribution's
    # generic headers. bcc only needs them to compile; bptraf's programs use no kernel internals.
    build="$(ls -d /usr/src/linux-headers-*-"$arch" 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$build" ] || die "no kernel headers for $release and no generic ones in /usr/src: install linux-headers-$release"
    common="${build%-"$arch"}-common"
    mkdir -p "/lib/modules/$release"
    ln -sfn "$build" "/lib/modules/$release/build"
    [ -d "$common" ] && ln -sfn "$common" "/lib/modules/$release/source"
    say "NOTE: no headers package for kernel $release; linked $(basename "$build") to /lib/modules/$release/build"
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import bcc" 2>/dev/null; then
    rm -rf .venv
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=".venv/.installed${EXTRAS:+-$EXTRAS}"
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"
    touch "$stamp"
fi
.venv/bin/python -c "import bcc" || die "bcc is still not importable from .venv"
say "ready: .venv/bin/bptraf"
