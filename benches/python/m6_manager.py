"""M6 in CPython: a manager dict set + get from a child process.

The child runs N pairs `d[1] = i; d[1]` and reports the time per pair; the
raw baseline is two round trips of 8 bytes over a Pipe to an echoing child.
Prints `M6 dict_set_get_us=<x>` and `M6 raw_two_round_trips_us=<x>`.
Usage: python3 benches/python/m6_manager.py [N]
"""
import multiprocessing as mp
import sys
import time


def client(d, n, out):
    d[1] = 0
    d[1]
    t = time.perf_counter()
    for i in range(n):
        d[1] = i
        d[1]
    out.send((time.perf_counter() - t) / n * 1e6)


def echo(conn):
    while True:
        try:
            b = conn.recv_bytes()
        except EOFError:
            return
        conn.send_bytes(b)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with mp.Manager() as m:
        d = m.dict()
        r, w = mp.Pipe(duplex=False)
        p = mp.Process(target=client, args=(d, n, w))
        p.start()
        print(f"M6 dict_set_get_us={r.recv():.2f} n={n}")
        p.join()
    a, b = mp.Pipe()
    p = mp.Process(target=echo, args=(b,))
    p.start()
    msg = b"12345678"
    t = time.perf_counter()
    for _ in range(n):
        for _ in range(2):
            a.send_bytes(msg)
            a.recv_bytes()
    print(f"M6 raw_two_round_trips_us={(time.perf_counter() - t) / n * 1e6:.2f} n={n}")
    a.close()
    p.join()
