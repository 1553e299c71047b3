"""The bench-compare scenarios in CPython's multiprocessing (stdlib only).

Each scenario is measured the way benches/src/scenarios/ measures it in Rust,
including the parameterised scaling and memory rows (`<base>@<param>`,
benches/src/scenarios/families.rs): `S-10us@2w`, `M1-fork@1GB`,
`RSS-idle-worker@spawn`, `USS-idle-worker@spawn`.
Usage: python3 scenarios.py <id> [--quick]   prints `RESULT <id> <value> <unit>`
       python3 scenarios.py --list             (families by their base id)
"""
import multiprocessing as mp
import os
import sys
import time
from multiprocessing import shared_memory


def iters(quick, full):
    return max(1, full // 5) if quick else full


def trivial():
    pass


def m1(method, quick):
    ctx = mp.get_context(method)
    n = iters(quick, 200 if method != "spawn" else 20)
    p = ctx.Process(target=trivial)
    p.start()
    p.join()
    t = time.perf_counter()
    for _ in range(n):
        p = ctx.Process(target=trivial)
        p.start()
        p.join()
        assert p.exitcode == 0
    return (time.perf_counter() - t) * 1e6 / n, "us"


def echo(conn, rounds):
    for _ in range(rounds):
        conn.send(conn.recv())


def m2(quick):
    rounds = iters(quick, 50_000)
    ours, theirs = mp.Pipe()
    p = mp.Process(target=echo, args=(theirs, rounds + 100))
    p.start()
    for i in range(100):
        ours.send(i)
        ours.recv()
    t = time.perf_counter()
    for i in range(rounds):
        ours.send(i)
        assert ours.recv() == i
    took = time.perf_counter() - t
    p.join()
    return took * 1e6 / rounds, "us"


def pin_to(cpu):
    """The -2cpu rows: this process on CPU `cpu` (as benches/src/placement.rs)."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as e:
        print(f"could not pin process {os.getpid()} to CPU {cpu}: {e}", file=sys.stderr)


def produce(q, n, cpu=None):
    if cpu is not None:
        pin_to(cpu)
    for i in range(n):
        q.put(i)


def m3a_2cpu(quick):
    pin_to(0)
    return m3a(quick, producer_cpu=1)


def m3e(quick):
    return m3a(quick, maxsize=4096)


def m3a(quick, producer_cpu=None, maxsize=0):
    n = iters(quick, 100_000)
    q = mp.Queue(maxsize)
    p = mp.Process(target=produce, args=(q, n, producer_cpu))
    t = time.perf_counter()
    p.start()
    for i in range(n):
        assert q.get(timeout=30) == i
    took = time.perf_counter() - t
    p.join()
    return n / took, "items/s"


def produce_big(q, n):
    item = bytes([7]) * (1 << 20)
    for _ in range(n):
        q.put(item)


def m3b(quick):
    n = iters(quick, 500)
    q = mp.Queue()
    p = mp.Process(target=produce_big, args=(q, n))
    t = time.perf_counter()
    p.start()
    for _ in range(n):
        v = q.get(timeout=30)
        assert len(v) == 1 << 20 and v[len(v) // 2] == 7
    took = time.perf_counter() - t
    p.join()
    return n * 1.048576 / took, "MB/s"


def produce_simple(q, n, cpu=None):
    if cpu is not None:
        pin_to(cpu)
    for i in range(n):
        q.put(i)


def m3c_2cpu(quick):
    pin_to(0)
    return m3c(quick, producer_cpu=1)


def m3c(quick, producer_cpu=None):
    n = iters(quick, 100_000)
    q = mp.SimpleQueue()
    p = mp.Process(target=produce_simple, args=(q, n, producer_cpu))
    t = time.perf_counter()
    p.start()
    for i in range(n):
        assert q.get() == i
    took = time.perf_counter() - t
    p.join()
    return n / took, "items/s"


def double(x):
    return x * 2


def m4a(quick):
    n, reps = 200_000, iters(quick, 10)
    with mp.Pool(2) as pool:
        pool.map(double, range(1000))
        t = time.perf_counter()
        for _ in range(reps):
            r = pool.map(double, range(n))
            assert r[-1] == 2 * (n - 1)
        return n * reps / (time.perf_counter() - t), "tasks/s"


def m4b(quick):
    n = iters(quick, 5_000)
    with mp.Pool(2) as pool:
        pool.map(double, range(1000))
        t = time.perf_counter()
        for i in range(n):
            assert pool.apply_async(double, (i,)).get() == 2 * i
        return (time.perf_counter() - t) * 1e6 / n, "us"


def m4c(quick):
    n = 20_000  # always 20k tasks, as in the Rust scenario
    with mp.Pool(2) as pool:
        pool.map(double, range(1000))
        t = time.perf_counter()
        count = sum(1 for _ in pool.imap_unordered(double, range(n), chunksize=1))
        took = time.perf_counter() - t
        assert count == n
        return n / took, "tasks/s"


def m5a(quick):
    lock = mp.Lock()
    n = iters(quick, 1_000_000)
    t = time.perf_counter()
    for _ in range(n):
        with lock:
            pass
    return (time.perf_counter() - t) * 1e9 / n, "ns"


def increment(counter, go, n, cpu=None):
    if cpu is not None:
        pin_to(cpu)
    go.wait(30)
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1


def m5b_2cpu(quick):
    return m5b(quick, cpus=(0, 1))


def m5b(quick, cpus=(None, None)):
    n = iters(quick, 200_000)
    counter = mp.Value("Q", 0)
    go = mp.Event()
    ps = [mp.Process(target=increment, args=(counter, go, n, cpu)) for cpu in cpus]
    for p in ps:
        p.start()
    time.sleep(0.05)
    t = time.perf_counter()
    go.set()
    for p in ps:
        p.join()
    took = time.perf_counter() - t
    assert counter.value == 2 * n, "lost increments"
    return 2 * n / took, "ops/s"


def dict_client(d, n, conn):
    for i in range(100):
        d[i] = i
    t = time.perf_counter()
    for i in range(n):
        d[i % 64] = i
        assert d.get(i % 64) == i
    conn.send(time.perf_counter() - t)


def m6(quick):
    n = iters(quick, 5_000)
    with mp.Manager() as manager:
        d = manager.dict()
        ours, theirs = mp.Pipe()
        p = mp.Process(target=dict_client, args=(d, n, theirs))
        p.start()
        took = ours.recv()
        p.join()
    return took * 1e6 / n, "us"


def pong(ping, back, rounds):
    for _ in range(rounds):
        ping.wait(10)
        ping.clear()
        back.set()


def m7(quick):
    rounds = iters(quick, 20_000)
    ping, back = mp.Event(), mp.Event()
    p = mp.Process(target=pong, args=(ping, back, rounds + 100))
    p.start()

    def one():
        ping.set()
        assert back.wait(10), "pong timed out"
        back.clear()

    for _ in range(100):
        one()
    t = time.perf_counter()
    for _ in range(rounds):
        one()
    took = time.perf_counter() - t
    p.join()
    return took * 1e6 / rounds, "us"


def m8(quick):
    n = iters(quick, 2_000)
    t = time.perf_counter()
    for _ in range(n):
        shm = shared_memory.SharedMemory(create=True, size=1 << 20)
        other = shared_memory.SharedMemory(name=shm.name)
        other.close()
        shm.close()
        shm.unlink()
    return (time.perf_counter() - t) * 1e6 / n, "us"


def spin(us):
    """Burns `us` microseconds of this thread's CPU time, returns `us`."""
    end = time.thread_time_ns() + us * 1000
    while time.thread_time_ns() < end:
        pass
    return us


def pool_map(task_us, workers, quick):
    """S-*: Pool(workers).map(spin, [task_us] * n), n tasks making one second
    of CPU work (a fifth in quick mode), default chunk size."""
    n = iters(quick, 1_000_000 // task_us)
    with mp.Pool(workers) as pool:
        assert len(pool.map(spin, [1] * (4 * workers))) == 4 * workers
        t = time.perf_counter()
        out = pool.map(spin, [task_us] * n)
        took = time.perf_counter() - t
        assert len(out) == n and all(us == task_us for us in out)
        return n / took, "tasks/s"


def parse_size(param):
    """`100MB`, `1GB` (decimal) in bytes."""
    for suffix, scale in (("MB", 10**6), ("GB", 10**9)):
        if param.endswith(suffix):
            return int(param[: -len(suffix)]) * scale
    raise ValueError(f"bad parent size {param!r}")


def with_parent_memory(nbytes, run):
    """Runs `run()` after writing `nbytes` bytes of fresh memory, kept alive."""
    ballast = bytearray(b"\x01") * nbytes
    try:
        return run()
    finally:
        del ballast


# The smaps_rollup lines each idle-worker row adds up: its Pss, or its USS
# (the memory no other process maps).
IDLE_WORKER = {
    "RSS-idle-worker": ("Pss:",),
    "USS-idle-worker": ("Private_Clean:", "Private_Dirty:"),
}


def rollup_mib(pid, keys):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        lines = f.read().splitlines()
    kib = 0
    for key in keys:
        found = [int(l.split()[1]) for l in lines if l.startswith(key)]
        if not found:
            raise ValueError(f"no {key} line in smaps_rollup")
        kib += found[0]
    return kib / 1024


def idle_worker(base, method, quick):
    """RSS-idle-worker (USS-idle-worker): the Pss (USS) of the one worker of
    a Pool(1), after a warm-up map and 100 ms of idling."""
    with mp.get_context(method).Pool(1) as pool:
        assert pool.map(double, range(100))[99] == 198
        pid = pool.apply(os.getpid)
        assert pid != os.getpid()
        time.sleep(0.1)
        return rollup_mib(pid, IDLE_WORKER[base]), "MiB"


SCALING = {"S-10us": 10, "S-100us": 100, "S-1ms": 1000}


def run_family(base, param, quick):
    if base in SCALING and param.endswith("w"):
        return pool_map(SCALING[base], int(param[:-1]), quick)
    if base in IDLE_WORKER:
        return idle_worker(base, param, quick)
    if base.startswith("M1-") and base in SCENARIOS:
        # Always M1's quick count, as in families.rs.
        return with_parent_memory(parse_size(param), lambda: SCENARIOS[base](True))
    raise KeyError(base)


SCENARIOS = {
    "M1-fork": lambda q: m1("fork", q),
    "M1-spawn": lambda q: m1("spawn", q),
    "M1-forkserver": lambda q: m1("forkserver", q),
    "M2": m2,
    "M3a": m3a,
    "M3a-1cpu": m3a,
    "M3a-2cpu": m3a_2cpu,
    "M3b": m3b,
    "M3c": m3c,
    "M3c-1cpu": m3c,
    "M3c-2cpu": m3c_2cpu,
    # CPython's Queue has no ring: every put goes through its feeder thread.
    "M3d": m3a,
    "M3e": m3e,
    "M4a": m4a,
    "M4b": m4b,
    "M4c": m4c,
    "M5a": m5a,
    "M5b": m5b,
    "M5b-1cpu": m5b,
    "M5b-2cpu": m5b_2cpu,
    "M6": m6,
    "M7": m7,
    "M8": m8,
}

FAMILIES = [*SCALING, *IDLE_WORKER]

if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--list":
        print("\n".join([*SCENARIOS, *FAMILIES]))
        sys.exit(0)
    base, _, param = args[0].partition("@") if args else ("", "", "")
    quick = "--quick" in args
    if param and (base in FAMILIES or base.startswith("M1-")):
        value, unit = run_family(base, param, quick)
    elif not param and base in SCENARIOS:
        value, unit = SCENARIOS[base](quick)
    else:
        print("usage: scenarios.py <id> [--quick] | --list", file=sys.stderr)
        sys.exit(2)
    print(f"RESULT {args[0]} {value} {unit}")
