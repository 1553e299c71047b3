"""M5a, M5b, M7 and M8 in CPython (stdlib only), the counterparts of benches/benches/sync.rs.

- M5a: Lock acquire+release, uncontended (ns/op).
- M5b: two processes incrementing a shared Value('Q') under its lock (ops/s; count checked).
- M7: Event ping-pong between two processes, set/wait/clear round trip (us).
- M8: SharedMemory 1 MiB create+attach+close+unlink (us).

Each prints the median over repeated runs, e.g. `M5a lock median=136.2 ns/op`.
Usage: python3 benches/python/m5_m7_m8.py [REPEATS]
For the latency scenarios, also run it pinned: taskset -c 0 python3 ...
"""
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing import shared_memory


def m5a(repeats, n=1_000_000):
    lock = mp.Lock()
    acquire, release = lock.acquire, lock.release
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            acquire()
            release()
        samples.append((time.perf_counter() - t) / n * 1e9)
    return statistics.median(samples)


def m5b_worker(value, ready, go, n):
    ready.release()
    go.wait()
    lock = value.get_lock()
    for _ in range(n):
        with lock:
            value.value += 1


def m5b(repeats, n=100_000):
    samples = []
    for _ in range(repeats):
        value = mp.Value("Q", 0)
        ready, go = mp.Semaphore(0), mp.Event()
        workers = [mp.Process(target=m5b_worker, args=(value, ready, go, n)) for _ in range(2)]
        for w in workers:
            w.start()
        for _ in workers:
            ready.acquire()
        t = time.perf_counter()
        go.set()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t
        assert all(w.exitcode == 0 for w in workers)
        assert value.value == 2 * n, f"lost increments: {value.value} != {2 * n}"
        samples.append(2 * n / elapsed)
    return statistics.median(samples)


def m7_peer(ping, pong, stop):
    while True:
        ping.wait()
        ping.clear()
        if stop.is_set():
            return
        pong.set()


def m7(repeats, n=20_000):
    ping, pong, stop = mp.Event(), mp.Event(), mp.Event()
    peer = mp.Process(target=m7_peer, args=(ping, pong, stop))
    peer.start()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()
        samples.append((time.perf_counter() - t) / n * 1e6)
    stop.set()
    ping.set()
    peer.join()
    assert peer.exitcode == 0
    return statistics.median(samples)


def m8(repeats, n=1_000, size=1 << 20):
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            shm = shared_memory.SharedMemory(create=True, size=size)
            other = shared_memory.SharedMemory(name=shm.name)
            other.close()
            shm.close()
            shm.unlink()
        samples.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(samples)


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print(f"M5a lock median={m5a(repeats):.1f} ns/op", flush=True)
    print(f"M5b value median={m5b(repeats):.0f} ops/s", flush=True)
    print(f"M7 event ping-pong median={m7(repeats):.2f} us", flush=True)
    print(f"M8 shared_memory median={m8(repeats):.1f} us", flush=True)
