"""M1 in CPython: process start + join of a trivial target, per start method.

Prints one line per method: `M1 <method> median_ms=<x> p10=<x> p90=<x> n=<n>`.
Usage: python3 benches/python/m1_process_start.py [N]
"""
import multiprocessing as mp
import statistics
import sys
import time


def trivial():
    pass


def measure(method, n):
    ctx = mp.get_context(method)
    # warm up (starts the fork server once)
    p = ctx.Process(target=trivial)
    p.start()
    p.join()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        p = ctx.Process(target=trivial)
        p.start()
        p.join()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[len(samples) // 10], samples[len(samples) * 9 // 10]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    for method in ("fork", "spawn", "forkserver"):
        med, p10, p90 = measure(method, n if method != "spawn" else max(5, n // 3))
        print(f"M1 {method} median_ms={med:.3f} p10={p10:.3f} p90={p90:.3f} n={n}")
