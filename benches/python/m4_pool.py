"""M4 in CPython: Pool(2).map over 200k ints (default chunksize), apply_async
round trip, imap_unordered chunksize 1 over 20k tasks.

Prints one line per scenario with the median of N runs:
`M4a map_200k median_s=<x> tasks_per_s=<x> n=<n>` and so on.
Usage: python3 benches/python/m4_pool.py [N] [start-method]
"""
import multiprocessing as mp
import statistics
import sys
import time


def double(x):
    return x * 2


def median_of(n, f):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    method = sys.argv[2] if len(sys.argv) > 2 else mp.get_start_method()
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        pool.map(double, range(64), chunksize=1)  # warm up

        med = median_of(n, lambda: pool.map(double, range(200_000)))
        print(f"M4a map_200k method={method} median_s={med:.4f} tasks_per_s={200_000 / med:.0f} n={n}")

        rounds = 2000
        med = median_of(n, lambda: [pool.apply_async(double, (21,)).get() for _ in range(rounds)])
        print(f"M4b apply_async_round_trip method={method} median_us={med / rounds * 1e6:.2f} n={n}x{rounds}")

        med = median_of(n, lambda: sum(1 for _ in pool.imap_unordered(double, range(20_000), chunksize=1)))
        print(f"M4c imap_unordered_20k method={method} median_s={med:.4f} tasks_per_s={20_000 / med:.0f} n={n}")
