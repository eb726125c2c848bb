"""results.json -> results.md: every figure, the ratios with their spread, and each target met or missed."""

from __future__ import annotations


def _mpps(s: dict) -> str:
    return f"{s['median'] / 1e6:.2f} ({s['min'] / 1e6:.2f}–{s['max'] / 1e6:.2f})"


def _spread(s: dict, fmt: str = ".3f") -> str:
    return f"{s['median']:{fmt}} ({s['min']:{fmt}}–{s['max']:{fmt}})"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


NOISE = (
    "Timings on this 2-vCPU VM swing from run to run: read the ratios, each taken pair by pair within "
    "the run; where a spread is wider than a target's margin, the run cannot tell met from missed."
)


# How the flow update was chosen: one measurement of the candidates, made once (not by every bench run)
# with /tmp-built variants of track_flow, the kernel's test-run average (min of 5 interleaved rounds
# of 1,000,000 runs; the machine was shared, so differences under ~3 ns are noise).
CANDIDATES = [
    "How this design was chosen (one run of the candidates on this VM's earlier AMD EPYC host, kernel test-run average, the least "
    "of 5 interleaved rounds; IPv4/UDP and IPv6/TCP; the parser alone took 35–38 ns):",
    "",
    "| flow table | hit: --flows − parser | 100,000-flow mix / one flow |",
    "|---|---|---|",
    "| before: one per-CPU LRU, 40-byte keys, first/last timestamps | +75 / +84 ns | 6.3× / 6.9× |",
    "| per-CPU LRU, IPv4 and IPv6 tables (16/40-byte keys), no timestamps | +47 / +54 ns | 8.4× / 8.9× |",
    "| shared-value LRU with per-CPU LRU lists (BPF_F_NO_COMMON_LRU), atomic adds | +38 / +43 ns | 7.3× / 6.5× |",
    "| per-CPU hash (not LRU), full-table flag | +37 / +42 ns | 2.05× / 1.01× |",
    "| **hash (not LRU), atomic adds, full-table flag (chosen)** | +36 / +42 ns | 1.96× / 0.99× |",
    "",
    "Timestamps cost a helper call and a store per packet; the LRU's insert into a full table evicts "
    "under locks, 400–900 ns a miss. The chosen table refuses inserts when full and userspace evicts in "
    "batches; its value is shared by all CPUs (atomic adds), so a read copies 16 bytes a flow whatever "
    "the CPU count. In that run the IPv6 mix hit the IPv4 table's full flag (one flag then), which is "
    "why it shows no miss cost; the bench above measures each table on its own.",
]


def test_run_section(t: dict) -> list[str]:
    """The BPF_PROG_TEST_RUN tables (bench/testrun.py): per frame kind, then the flow update."""
    out = [
        "With BPF_PROG_TEST_RUN: the kernel's own average per run, the least of 3 test runs sharing "
        "4,000,000 runs (its timer stops while the run is rescheduled, which a wall clock does not; "
        "interrupts and steal time only add, hence the least; whole ns; bptraf's programs the mean of 3 separate loads, "
        "since a load's speed depends on where its map lands), 7 interleaved rounds; the median ns, and each ratio's "
        "median (min–max) over the 7 per-round pairs. Pass-mode programs are compared with a bare "
        "XDP_PASS, `-d` with a bare XDP_DROP. A bare program's figure is mostly the test-run loop's own "
        "cost per run, which depends on the host CPU: the ratio targets were set where a bare XDP_PASS took "
        "21–22 ns (an AMD EPYC host); where it takes less, the same program shows a larger ratio. "
        "`bptraf − PASS` is bptraf's own cost, in ns, whatever the host's loop costs.",
        "",
        "| frame | bare PASS | bare DROP | -d | bptraf | --sizes | --flows | -d / DROP (≤ 1.10) | bptraf / PASS (≤ 1.25) | bptraf − PASS, ns | --sizes / PASS | --flows / PASS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, v in t.items():
        ns = {p: s["median"] for p, s in v["ns"].items()}
        ra = v["ratio"]
        d, c = ra["bptraf -d"], ra["bptraf"]
        out.append(
            f"| {kind} | {ns['bare XDP_PASS']:.0f} | {ns['bare XDP_DROP']:.0f} | {ns['bptraf -d']:.1f} | "
            f"{ns['bptraf']:.1f} | {ns['bptraf --sizes']:.1f} | {ns['bptraf --flows']:.1f} | "
            f"{_spread(d)} {_verdict(d['median'] <= 1.10)} | {_spread(c)} {_verdict(c['median'] <= 1.25)} | "
            f"{ns['bptraf'] - ns['bare XDP_PASS']:.1f} | "
            f"{_spread(ra['bptraf --sizes'])} | {_spread(ra['bptraf --flows'])} |"
        )
    out += [
        "",
        "### The flow update",
        "",
        "`--flows` over the parser alone, with every run hitting one flow; and a wrapper "
        "(`kernel/flowmix.c`) that gives each run a new flow out of 100,000 against the default "
        "16,384-entry table, so almost every update misses, against the same wrapper on one flow. "
        "The last column is what a hit alone cost the tables' earlier design (`kernel/lookup.c`): one "
        "hit in a kernel hash map with that table's key size, and two atomic adds, over a bare XDP_PASS; "
        "the tables are arrays of slots now, whose lookups the kernel inlines.",
        "",
        "| frame | --flows − parser, ns (≤ 20) | | 100,000-flow mix / one flow (≤ 2) | | one hash hit alone, ns |",
        "|---|---|---|---|---|---|",
    ]
    for kind, v in t.items():
        if "flows_over_parser_ns" in v:
            over, mix = v["flows_over_parser_ns"], v["mix_over_hit"]
            hit = v.get("hash_hit_over_bare_ns")
            out.append(
                f"| {kind} | {_spread(over, '.0f')} | {_verdict(over['median'] <= 20)} | "
                f"{_spread(mix, '.2f')} | {_verdict(mix['median'] <= 2)} | {_spread(hit, '.0f') if hit else '–'} |"
            )
    return out


def render(r: dict) -> str:
    m = r["machine"]
    out = [
        "# bptraf benchmark results",
        "",
        f"{m['date']} · {m['cpu']} · {m['cores']} cores · {m['memory_gib']} GiB · kernel {m['kernel']}  ",
        f"{m['versions']}  ",
        f"Windows of {r['window_s']:g} s, {r['repeats']} runs per case, interleaved; median (min–max). "
        f"Whole bench: {r['bench_seconds']:g} s.",
        "",
        r.get("note", NOISE),
        "",
        "## Receive rate under generated traffic (60-byte UDP frames, veth, generator on CPU 0, receiver NAPI on CPU 1)",
        "",
    ]
    return _after_traffic(r, out + _traffic_section(r))


# A case's receiver is the bottleneck when the generator offered this much more than it took in; a ratio
# of two cases whose generator was the bottleneck says nothing about either program.
SATURATED = 1.05


def _saturated(v: dict) -> bool:
    return v["generator_pps"]["median"] >= SATURATED * v["kernel_pps"]["median"]


def _traffic_section(r: dict) -> list[str]:
    q = r["ratios"]
    out = [
        f"Generator: {r.get('generator', 'live frames')}. A receiver is saturated (the bottleneck) where the "
        f"generator offered at least {SATURATED}× what it took in; the rest of the offered frames were dropped "
        "at the veth.",
        "",
        "| case | receiver rx, Mpps (kernel counters) | bptraf's own count, Mpps | generator offered, Mpps | receiver saturated |",
        "|---|---|---|---|---|",
    ]
    for name, v in r["traffic"].items():
        own = _mpps(v["bptraf_pps"]) if "bptraf_pps" in v else "–"
        flag = "" if v["covered"] else " (generator ran dry)"
        sat = "yes" if _saturated(v) else "no"
        out.append(f"| {name} | {_mpps(v['kernel_pps'])}{flag} | {own} | {_mpps(v['generator_pps'])} | {sat} |")
    out += [
        "",
        "## Ratios and targets (end to end)",
        "",
        "Each ratio is taken run by run over the interleaved pairs: median (min–max) of the "
        f"{r['repeats']} pairs. On veth, attaching any XDP program changes the receive path itself (frames "
        "take the XDP path and passed ones are rebuilt for the stack), so pass mode is measured against a "
        "bare XDP_PASS, not against no program. Where a spread is wider than the target's 3%, the run "
        "cannot tell met from missed: rerun on a quiet machine.",
        "",
        "| ratio | value | target | |",
        "|---|---|---|---|",
    ]
    rows = [
        ("bptraf -d / bare XDP_DROP, native", "drop_native", 0.97),
        ("bptraf -d / bare XDP_DROP, generic", "drop_generic", 0.97),
        ("bptraf (pass) / bare XDP_PASS, native", "pass_native", 0.97),
        ("bptraf (pass) / bare XDP_PASS, generic", "pass_generic", 0.97),
    ]
    for label, key, target in rows:
        if key not in q:
            continue
        case, base = r["pairs"][key]
        if not (_saturated(r["traffic"][case]) and _saturated(r["traffic"][base])):
            verdict = "cannot tell: the generator, not the receiver, set the rate"
        else:
            verdict = _verdict(q[key]["median"] >= target)
        out.append(f"| {label} | {_spread(q[key])} | ≥ {target} | {verdict} |")
    out += [
        f"| bare XDP_PASS / no program, native | {_spread(q['bare_pass_vs_none'])} | (what any XDP program costs here) | |",
        *([f"| tcpdump / no program | {_spread(q['tcpdump'])} | (for comparison) | |"] if "tcpdump" in q else []),
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
        out.append(f"| {name} | {_spread(ns, '.1f')} |")
    out += [
        "",
        f"The same, per round ({r['repeats']} interleaved rounds, each program's own window of traffic): "
        "median (min–max) of the per-round ratios. The statistics' clock reads add the same to both "
        "programs of a ratio, which brings it nearer 1 than the programs' own costs are.",
        "",
        "| ratio | value | target | |",
        "|---|---|---|---|",
    ]
    for label, v in r["cost_ratios"].items():
        target = 1.10 if "-d" in label else 1.25
        out.append(f"| {label} | {_spread(v)} | ≤ {target} | {_verdict(v['median'] <= target)} |")
    return out + ["", *test_run_section(r["test_run_ns"])]


def _after_traffic(r: dict, out: list[str]) -> str:
    out += ["", *CANDIDATES]
    out += [
        "",
        "## Flow table",
        "",
        "A full IPv4 table (written from userspace), read through its memory mapping (the used slots "
        "found by their state byte) and decoded as numpy structured arrays, matched to the previous read (what each flow gained, what went "
        "idle); then what a sample does next: rates and the top 10. Median (min–max) of 7 reads.",
        "",
        "| --flows-max | kernel memory (both tables) | read + decode | target | | rates + top 10 |",
        "|---|---|---|---|---|---|",
    ]
    targets = {"16384": 5.0, "65536": 20.0}
    for n, v in r["flow_table"].items():
        t = targets.get(n)
        verdict = _verdict(v["read_ms"]["median"] <= t) if t else ""
        out.append(
            f"| {n} | {v['kernel_memory_kib'] / 1024:.1f} MiB | {_spread(v['read_ms'], '.1f')} ms "
            f"({v['entries_read']} entries) | {f'≤ {t:g} ms' if t else ''} | {verdict} | "
            f"{_spread(v['records_ms'], '.1f')} ms |"
        )
    f = r["flood"]
    out += [
        "",
        f"Flood: `bptraf --json -i 1 --flows --flows-max 65536` while every frame is a new flow at "
        f"{f['pps_offered'] / 1e3:.0f} K new flows/s: bptraf counted {f['bptraf_counted']:,} of the "
        f"{f['frames_received']:,} frames received (totals exact: {_verdict(f['exact'])}); "
        f"{f['samples']} samples, the longest interval {f['longest_interval_s'] or 0:.2f} s "
        f"(a sample every interval: {_verdict((f['longest_interval_s'] or 9) < 1.5)}); the table-full warning "
        f"said {f['warnings']} time(s) (once: {_verdict(f['warnings'] == 1)}); {f['evicted']:,} flows "
        f"evicted, {f['untracked_packets']:,} packets found no room (counted in the totals).",
    ]
    fs, f8 = r["first_sample"], r["first_sample_8"]
    cold = [
        f"; a first run, which compiles them: {_spread(r[k], '.2f')} s" if k in r else ""
        for k in ("first_sample_cold", "first_sample_8_cold")
    ]
    out += [
        "",
        "## Start-up and the verifier",
        "",
        "With the programs an earlier run compiled, from bptraf's cache (every run but the first after an upgrade):",
        "",
        f"- start to first sample, 1 interface: {_spread(fs, '.2f')} s (target ≤ 1.5 s: "
        f"{_verdict(fs['median'] <= 1.5)}){cold[0]}",
        f"- start to first sample, 8 interfaces with `--flows --sizes`: {_spread(f8, '.2f')} s "
        f"(target ≤ 1.5 s: {_verdict(f8['median'] <= 1.5)}){cold[1]}",
        "",
        "Instructions the verifier walked per program (bpf_prog_info.verified_insns, the most of 8 slots; "
        "tests/test_verifier.py holds the budgets):",
        "",
        "| program | verified instructions |",
        "|---|---|",
    ]
    for name, n in r["verified_insns"].items():
        out.append(f"| {name} | {n:,} |")
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
        "",
    ]
    return "\n".join(out)
