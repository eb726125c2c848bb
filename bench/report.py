"""results.json -> results.md: every figure, the ratios, and each target met or missed."""

from __future__ import annotations


def _mpps(s: dict) -> str:
    return f"{s['median'] / 1e6:.2f} ({s['min'] / 1e6:.2f}–{s['max'] / 1e6:.2f})"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def ratios(r: dict) -> dict[str, float]:
    t = {name: v["kernel_pps"]["median"] for name, v in r["traffic"].items()}
    return {
        "drop_native": t["bptraf -d native"] / t["bare XDP_DROP native"],
        "drop_generic": t["bptraf -d generic"] / t["bare XDP_DROP generic"],
        "pass_native": t["bptraf native"] / t["no XDP program"],
        "pass_generic": t["bptraf generic"] / t["no XDP program"],
        "tcpdump": t["tcpdump (AF_PACKET)"] / t["no XDP program"],
    }


def render(r: dict) -> str:
    m = r["machine"]
    q = ratios(r)
    out = [
        "# bptraf benchmark results",
        "",
        f"{m['date']} · {m['cpu']} · {m['cores']} cores · {m['memory_gib']} GiB · kernel {m['kernel']}  ",
        f"{m['versions']}  ",
        f"Windows of {r['window_s']:g} s, {r['repeats']} runs per case, interleaved; median (min–max). "
        f"Whole bench: {r['bench_seconds']:g} s.",
        "",
        "## Receive rate under generated traffic (60-byte UDP frames, veth, generator on CPU 0, receiver NAPI on CPU 1)",
        "",
        "| case | receiver rx, Mpps (kernel counters) | bptraf's own count, Mpps | generator offered, Mpps |",
        "|---|---|---|---|",
    ]
    for name, v in r["traffic"].items():
        own = _mpps(v["bptraf_pps"]) if "bptraf_pps" in v else "–"
        flag = "" if v["covered"] else " (generator ran dry)"
        out.append(f"| {name} | {_mpps(v['kernel_pps'])}{flag} | {own} | {_mpps(v['generator_pps'])} |")
    out += [
        "",
        "## Ratios and targets",
        "",
        "| ratio | value | target | |",
        "|---|---|---|---|",
        f"| bptraf -d / bare XDP_DROP, native | {q['drop_native']:.3f} | ≥ 0.97 | {_verdict(q['drop_native'] >= 0.97)} |",
        f"| bptraf -d / bare XDP_DROP, generic | {q['drop_generic']:.3f} | ≥ 0.97 | {_verdict(q['drop_generic'] >= 0.97)} |",
        f"| bptraf (pass) / no program, native | {q['pass_native']:.3f} | ≥ 0.97 | {_verdict(q['pass_native'] >= 0.97)} |",
        f"| bptraf (pass) / no program, generic | {q['pass_generic']:.3f} | ≥ 0.97 | {_verdict(q['pass_generic'] >= 0.97)} |",
        f"| tcpdump / no program | {q['tcpdump']:.3f} | (for comparison) | |",
        "",
        "## In-kernel cost per packet",
        "",
        "Under the traffic above, from the kernel's BPF run-time statistics (`kernel.bpf_stats_enabled=1`, "
        "run_time_ns / run_cnt; the statistics' own clock reads are included):",
        "",
        "| program | ns/packet |",
        "|---|---|",
    ]
    for name, ns in r["cost_under_traffic_ns"].items():
        out.append(f"| {name} | {ns:.1f} |")
    out += [
        "",
        "With BPF_PROG_TEST_RUN (7 interleaved rounds, the least: interference only adds time; ns/packet from "
        "the slope between runs of 2,000,000 and 16,000,000 repeats, since each call has a fixed cost of "
        "milliseconds and this VM's clock ticks coarsely; medians and the kernel's own whole-ns averages are "
        "in results.json):",
        "",
        "| frame | bare XDP_DROP | bptraf -d | bptraf | --sizes | --flows | -d / bare (≤ 1.10) | bptraf / bare (≤ 1.25) | --sizes / bare | --flows / bare |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, v in r["test_run_ns"].items():
        bare = v["bare XDP_DROP"]
        d, c = v["bptraf -d"] / bare, v["bptraf"] / bare
        out.append(
            f"| {kind} | {bare:.1f} | {v['bptraf -d']:.1f} | {v['bptraf']:.1f} | {v['bptraf --sizes']:.1f} | "
            f"{v['bptraf --flows']:.1f} | {d:.3f} {_verdict(d <= 1.10)} | {c:.3f} {_verdict(c <= 1.25)} | "
            f"{v['bptraf --sizes'] / bare:.3f} | {v['bptraf --flows'] / bare:.3f} |"
        )
    out += [
        "",
        "ns/packet. Each feature set is its own program (a switched-off feature is not in the code at all); "
        "`--flows` hits the same flow with every packet, so it measures the hash-hit path.",
        "",
        "## Flow table",
        "",
        "| --flows-max | kernel memory (memlock) | full-table read + decode in userspace |",
        "|---|---|---|",
    ]
    for n, v in r["flow_table"].items():
        out.append(
            f"| {n} | {v['kernel_memory_kib'] / 1024:.1f} MiB | {v['read_ms']:.1f} ms ({v['entries_read']} entries) |"
        )
    fs = r["first_sample"]
    out += [
        "",
        "## bptraf's own process",
        "",
        "| output, interval | CPU % of one core | RSS MiB | peak RSS MiB |",
        "|---|---|---|---|",
    ]
    for name, v in r["userspace"].items():
        out.append(f"| {name} | {v['cpu_percent']:.2f} | {v['rss_kb'] / 1024:.1f} | {v['peak_rss_kb'] / 1024:.1f} |")
    plain = r["userspace"]["plain -i 1"]["cpu_percent"]
    tui = r["userspace"]["tui -i 1"]["cpu_percent"]
    out += [
        "",
        f"- plain writer at -i 1: {plain:.2f}% of a core (target ≤ 0.5%: {_verdict(plain <= 0.5)}); "
        f"TUI at -i 1: {tui:.2f}% (target < 2%: {_verdict(tui < 2)})",
        *(
            [
                f"- TUI at -i 1 with --sizes --flows, 16 live flows, 120x40: {tf['cpu_percent_median']:.2f}% of a core "
                f"median of {len(tf['runs'])} ({tf['cpu_percent_min']:.2f}–{tf['cpu_percent_max']:.2f}), "
                f"{tf['rss_mib_median']:.1f} MiB RSS (targets ≤ 2% and ≤ 60 MiB: "
                f"{_verdict(tf['cpu_percent_median'] <= 2 and tf['rss_mib_max'] <= 60)})"
            ]
            if (tf := r.get("tui_flows"))
            else []
        ),
        f"- start to first sample: {fs['median_s']:.2f} s median ({fs['min_s']:.2f}–{fs['max_s']:.2f}) "
        f"(target ≤ 1.5 s: {_verdict(fs['median_s'] <= 1.5)})",
        "",
    ]
    return "\n".join(out)
