#!/usr/bin/env python3
"""Page faults of a freshly forked child, by what they touch (docs/performance.md,
"A forked child's first touches").

    benches/child-faults.py [--bin BIN] [--runs N] ROW...

ROW is an `mp-scenarios` row that forks children and does nothing else per
start, such as `M1-fork`, `M1-forkserver` or `raw:M1-forkserver` (BIN: default
target/release/mp-scenarios, built by `cargo build --release -p
multiprocess-benches --bin mp-scenarios`). Each row runs once under `perf
record -e page-faults -c 1 -d` (every fault, with its address). The children
are the processes that were forked, never exec'd and never forked one of their
own (so not a fork server, nor a spawned process). A fork does not copy the
page tables of file mappings, so each 64 KiB window of code a child runs is a
fault of its own (fault-around maps the window), at about 2.6 us each on this
kind of machine; each page of data it writes first is a copy-on-write fault.

The program and libc load at a random address, so where the 64 KiB windows
fall in their code, and with it the count, changes from run to run: each row
runs N times (default 5). Prints per row and run the median faults per child,
split into code windows and data pages, their means over the runs, then the
faults of the child with the median count in the last run, in order, with the
code or data they hit.
"""

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile

EVENT = re.compile(
    r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+.*?PERF_RECORD_(FORK|COMM|EXIT)(?:\((\d+):(\d+)\):\((\d+):(\d+)\))?"
)
FORK = re.compile(r"PERF_RECORD_FORK\((\d+):(\d+)\):\((\d+):(\d+)\)")
COMM = re.compile(r"PERF_RECORD_COMM(?: exec)?: .*?:(\d+)/(\d+)")


def record(binary, row, data):
    env = dict(os.environ)
    method = row.split(":")[-1].removeprefix("M1-")
    if method in ("fork", "spawn", "forkserver"):
        env["MULTIPROCESS_START_METHOD"] = method
    subprocess.run(
        ["perf", "record", "-q", "-o", data, "-e", "page-faults", "-c", "1", "-d",
         "--", binary, row],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )


def parse(data):
    """(forks: child pid -> parent pid, exec'd pids, faults: pid -> [(sym, dso, addr_sym, addr_dso)])"""
    out = subprocess.run(
        ["perf", "script", "-i", data, "--show-task-events",
         "-F", "pid,ip,sym,symoff,addr,dso"],
        check=True, capture_output=True, text=True,
    ).stdout
    forks, execd, faults = {}, set(), collections.defaultdict(list)
    for line in out.splitlines():
        m = FORK.search(line)
        if m:
            child_pid, _, parent_pid, _ = map(int, m.groups())
            if child_pid != parent_pid:
                forks[child_pid] = parent_pid
            continue
        m = COMM.search(line)
        if m:
            execd.add(int(m.group(1)))
            continue
        if "PERF_RECORD" in line:
            continue
        parts = line.split()
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        faults[int(parts[0])].append(line.split(None, 1)[1].strip())
    return forks, execd, faults


def classify(fault):
    """('code', where) for an instruction fetch, ('data', where) otherwise."""
    # `addr sym+off (dso) ip sym+off (dso)`: the address faulted on first,
    # then the instruction that faulted.
    fields = re.findall(r"([0-9a-f]+) (.*?) \((.*?)\)", fault)
    if len(fields) < 2:
        return "data", fault
    (addr, addr_sym, addr_dso), (ip, ip_sym, ip_dso) = fields[0], fields[1]
    if addr == ip:
        return "code", f"{os.path.basename(ip_dso)} {ip_sym}"
    return "data", f"{os.path.basename(addr_dso)} {addr_sym} (by {ip_sym})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/mp-scenarios")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("rows", nargs="+")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for row in args.rows:
            per_run = []
            for _ in range(args.runs):
                data = os.path.join(tmp, "perf.data")
                record(args.bin, row, data)
                forks, execd, faults = parse(data)
                parents = set(forks.values())
                children = [p for p in forks if p not in execd and p not in parents]
                if not children:
                    print(f"{row}: no forked child seen", file=sys.stderr)
                    break
                counts = {p: len(faults[p]) for p in children}
                code = {p: sum(classify(f)[0] == "code" for f in faults[p]) for p in children}
                med = statistics.median(counts.values())
                per_run.append((med, statistics.median(code.values())))
                typical = min(children, key=lambda p: (abs(counts[p] - med), p))
            if not per_run:
                continue
            runs = ", ".join(f"{m:g} ({c:g} code)" for m, c in per_run)
            mean = statistics.mean(m for m, _ in per_run)
            mean_code = statistics.mean(c for _, c in per_run)
            print(f"== {row}: {len(children)} children a run; median faults per child "
                  f"by run: {runs}; mean {mean:.1f} ({mean_code:.1f} code, "
                  f"{mean - mean_code:.1f} data)")
            for f in faults[typical]:
                kind, where = classify(f)
                print(f"   {kind:4} {where}")

if __name__ == "__main__":
    main()
