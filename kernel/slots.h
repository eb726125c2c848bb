/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One XDP entry point per watched interface, each with its map slot as a
 * compile-time constant: the hot path does one per-CPU array lookup with a
 * constant key and no ifindex-to-slot hash. The includer defines
 * BPTRAF_PROG(n); BPTRAF_NIFACES (a -D flag, 1..BPTRAF_MAX_IFACES) picks how
 * many are compiled.
 */
BPTRAF_PROG(0)
#if BPTRAF_NIFACES > 1
BPTRAF_PROG(1)
#endif
#if BPTRAF_NIFACES > 2
BPTRAF_PROG(2)
#endif
#if BPTRAF_NIFACES > 3
BPTRAF_PROG(3)
#endif
#if BPTRAF_NIFACES > 4
BPTRAF_PROG(4)
#endif
#if BPTRAF_NIFACES > 5
BPTRAF_PROG(5)
#endif
#if BPTRAF_NIFACES > 6
BPTRAF_PROG(6)
#endif
#if BPTRAF_NIFACES > 7
BPTRAF_PROG(7)
#endif
