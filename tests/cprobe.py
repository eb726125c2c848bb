"""Ask the C compiler about kernel/*.h: compile a tiny program that includes them and prints
sizes, offsets and enum values, so Python's view of the layout is checked against C's own."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

KERNEL = Path(__file__).resolve().parent.parent / "kernel"

PRELUDE = """
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
"""


def run_c(body: str, headers: tuple[str, ...] = ("counters.h",)) -> dict[str, int]:
    """Compile `body` (statements of main that printf("name %ld\\n", value)) and return its lines."""
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "no C compiler (gcc) for the layout check"
    src = PRELUDE + "".join(f'#include "{h}"\n' for h in headers) + f"int main(void) {{\n{body}\nreturn 0;\n}}\n"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "probe.c").write_text(src)
        subprocess.run([cc, "-I", str(KERNEL), "-o", f"{tmp}/probe", f"{tmp}/probe.c"], check=True, timeout=60)
        out = subprocess.run([f"{tmp}/probe"], check=True, capture_output=True, text=True, timeout=10).stdout
    return {name: int(value) for name, value in (line.split() for line in out.splitlines())}


def layout(struct: str, fields: tuple[str, ...]) -> dict[str, int]:
    """sizeof(struct X) as `sizeof`, and each field's offset."""
    body = f'printf("sizeof %ld\\n", (long)sizeof(struct {struct}));\n'
    body += "".join(f'printf("{f} %ld\\n", (long)offsetof(struct {struct}, {f}));\n' for f in fields)
    return run_c(body)
