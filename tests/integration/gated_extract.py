#!/usr/bin/env python3
"""gated_extract: a lexiaid-extract for the tests that holds a document
until the test lets it go, so that "while its extraction runs" is an event
a test can wait for, not a guess about time.

It takes lexiaid-extract's arguments and stdin. A file that starts with
the line "GATE <name>" is held: the program appends the pid of the worker
that started it (its parent) to $LX_GATE_DIR/<name>.runs, writes
$LX_GATE_DIR/<name>.started (holding that pid) and waits until
$LX_GATE_DIR/<name>.go exists; then the gate line is dropped. The file (a
PDF: the plugin reads txt and md without a child) is handed, like every
other file, to the real program, $LX_REAL_EXTRACTOR, whose answer and exit status are its
own. python3 stdlib only.
"""

import os
import subprocess
import sys
import time


def main():
    data = sys.stdin.buffer.read()
    gate_dir = os.environ.get("LX_GATE_DIR", "")
    if gate_dir and data.startswith(b"GATE "):
        name = data[5:].split(b"\n", 1)[0].decode("ascii").strip()
        started = os.path.join(gate_dir, name + ".started")
        with open(os.path.join(gate_dir, name + ".runs"), "a") as f:  # every run, in order
            f.write("%d\n" % os.getppid())
        with open(started + ".tmp", "w") as f:
            f.write("%d\n" % os.getppid())
        os.rename(started + ".tmp", started)  # whole, or not there
        go = os.path.join(gate_dir, name + ".go")
        while not os.path.exists(go):
            time.sleep(0.02)
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""  # the file after the gate line
    p = subprocess.run([os.environ["LX_REAL_EXTRACTOR"]] + sys.argv[1:], input=data)
    return p.returncode if p.returncode >= 0 else 128 - p.returncode


if __name__ == "__main__":
    sys.exit(main())
