#!/usr/bin/env python3
"""Fails when a ${VAR} of etc/lexiaid.conf is missing from the environment-variable table of
DOCKER_DEPLOYMENT.md (a table row whose first cell is `VAR`), or when docker-compose.yml does not
pass it through (LEXIAID_LISTEN and LEXIAID_PLUGIN_DIR excepted: the image fixes them).
Prints "N passed, N failed". python3 stdlib only."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def conf_vars(text):
    out = []
    for line in text.splitlines():
        s = line.lstrip()
        if s.startswith("#") or s.startswith("//"):
            continue
        for v in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", line.replace("$$", "")):
            if v not in out:
                out.append(v)
    return out


def main():
    conf = conf_vars(read("etc/lexiaid.conf"))
    doc = read("DOCKER_DEPLOYMENT.md")
    documented = set(re.findall(r"^\|\s*`([A-Za-z_][A-Za-z0-9_]*)`\s*\|", doc, re.M))
    compose = read("docker-compose.yml")
    passed = failed = 0
    if not conf:
        print("FAIL no ${VAR} found in etc/lexiaid.conf")
        failed += 1
    for v in conf:
        for ok, what in ((v in documented, "documented in DOCKER_DEPLOYMENT.md"),
                         (v in ("LEXIAID_LISTEN", "LEXIAID_PLUGIN_DIR")
                          or re.search(r"^\s+%s:" % re.escape(v), compose, re.M), "passed by docker-compose.yml")):
            print(("ok   " if ok else "FAIL ") + v + " " + what)
            passed += bool(ok)
            failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
