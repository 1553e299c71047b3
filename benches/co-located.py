#!/usr/bin/env python3
"""A scenario whose processes start together on one CPU and are then let go
(docs/performance.md, "M3b's consumer after a large item"):

    benches/co-located.py [--delay MS] [--rounds N] BIN:ROW...

Each run starts `BIN ROW` with every process of it on CPU 0, and after
DELAY ms (default 20) lets every thread of its process tree run on CPUs 0
and 1; it prints the row's value. The scheduler's wake-ups can put two
processes that wake each other on one CPU and keep them there while the
other CPU idles (M3b's slow mode in the full runs): this starts every run
in that state, so the value says how well a build gets out of it. The
runs take turns (the order flips every round); per BIN:ROW it prints the
median, min and max of the values.
"""
import argparse
import os
import statistics
import subprocess
import time


def tree(pid):
    """`pid` and its descendants."""
    out = [pid]
    try:
        for task in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{task}/children') as f:
                for child in f.read().split():
                    out += tree(int(child))
    except OSError:
        pass
    return out


def run(binary, row, delay):
    p = subprocess.Popen([binary, row], stdout=subprocess.PIPE,
                         preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    time.sleep(delay / 1e3)
    freed = set()
    # Three passes: a process forked meanwhile inherits CPU 0 only.
    for _ in range(3):
        for pid in tree(p.pid):
            try:
                for task in os.listdir(f'/proc/{pid}/task'):
                    if int(task) not in freed:
                        os.sched_setaffinity(int(task), {0, 1})
                        freed.add(int(task))
            except OSError:
                pass
        time.sleep(0.001)
    out = p.communicate()[0].decode().split()
    if p.returncode != 0 or len(out) < 3:
        raise SystemExit(f'{binary} {row} failed: {out}')
    return float(out[2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--delay', type=float, default=20)
    ap.add_argument('--rounds', type=int, default=16)
    ap.add_argument('runs', nargs='+', metavar='BIN:ROW')
    args = ap.parse_args()
    runs = [tuple(r.split(':', 1)) for r in args.runs]
    values = {r: [] for r in runs}
    for i in range(args.rounds):
        for r in (runs if i % 2 == 0 else runs[::-1]):
            values[r].append(run(r[0], r[1], args.delay))
    for r in runs:
        v = values[r]
        print(f'{r[0]} {r[1]}: median {statistics.median(v):.1f} '
              f'min {min(v):.1f} max {max(v):.1f}')


if __name__ == '__main__':
    main()
