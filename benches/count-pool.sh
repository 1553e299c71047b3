#!/bin/bash
# Instructions per M4b round trip, each process apart, counted by callgrind
# (docs/performance.md, "The pool's round trip, counted"):
#
#   benches/count-pool.sh OUT [TOP]
#
# Copies the working tree (committed and uncommitted changes) into a
# throwaway worktree, /work/.count-pool-tree by default ($COUNT_TREE), and
# changes it for measurement only: valgrind 3.19 refuses `pidfd_open`, so
# there mp-sys falls back to an eventfd (a pidfd that never fires, which a
# run ending in `close` and `join` never waits on), and system calls go
# through libc (`--cfg rustix_use_libc`: rustix's vDSO set-up crashes under
# valgrind; libc's wrappers add about 250 instructions per round trip in the
# parent and 100 in a worker). Runs `examples/m4b_count` for N = 2,000 and
# 12,000 under the fork start method and prints, per process (the parent,
# then its workers), (Ir at 12,000 - Ir at 2,000) / 10,000 in all, the code
# lines (64 bytes) holding the instructions run in each round trip (what a
# round trip brings into the instruction cache after the other process
# ran), and (Ir at 12,000 - Ir at 2,000) / 10,000 for
# the TOP (default 25) functions that grew most. The run is pinned to CPU 0,
# as M4b is: the worker, woken by the request, replies before the parent
# looks, and the parent takes the path it takes in the row (unpinned under
# valgrind it waits every time: `sched_yield`, `ppoll` and a second look
# under the lock, about 350 more instructions). Nothing of the change
# reaches the checkout; the worktree and its target directory
# ($COUNT_TARGET, default /work/.count-pool-target) are kept for the next
# run (remove them with `git worktree remove --force` and `rm -rf`).
set -euo pipefail
out=$1; top=${2:-25}
repo=$(git rev-parse --show-toplevel)
tree=${COUNT_TREE:-/work/.count-pool-tree}
target=${COUNT_TARGET:-/work/.count-pool-target}
rm -rf "$out"; mkdir -p "$out"
[ -d "$tree" ] || git -C "$repo" worktree add -q --detach "$tree" HEAD
(
  cd "$tree"
  git reset -q --hard; git clean -qfd
  git checkout -q --detach "$(git -C "$repo" rev-parse HEAD)"
  git -C "$repo" diff HEAD | git apply --allow-empty
  git -C "$repo" ls-files --others --exclude-standard | while read -r f; do
    mkdir -p "$(dirname "$f")"; cp "$repo/$f" "$f"
  done
  python3 - <<'PY'
p = 'crates/mp-sys/src/process.rs'
s = open(p).read()
old = "rustix::process::pidfd_open(pid, PidfdFlags::empty()).map_err(pidfd_refused)"
new = """match rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => Ok(fd),
        // SAFETY: measurement only (benches/count-pool.sh): eventfd(2) takes
        // no pointers, and the fd it returns is new and owned here.
        Err(rustix::io::Errno::NOSYS) => Ok(unsafe {
            <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(libc::eventfd(0, libc::EFD_CLOEXEC))
        }),
        Err(e) => Err(pidfd_refused(e)),
    }"""
assert old in s, "mp-sys' pidfd_open changed: update benches/count-pool.sh"
open(p, 'w').write(s.replace(old, new))
PY
  RUSTFLAGS="--cfg rustix_use_libc -C force-frame-pointers=yes" CARGO_TARGET_DIR="$target" \
    CARGO_INCREMENTAL=0 cargo build -q --release -p multiprocess-benches --example m4b_count
)
for n in 2000 12000; do
  mkdir -p "$out/$n"
  MULTIPROCESS_START_METHOD=fork taskset -c 0 valgrind -q --tool=callgrind \
    --dump-instr=yes --compress-pos=no --compress-strings=no \
    --callgrind-out-file="$out/$n/cg.%p" "$target/release/examples/m4b_count" "$n" 2>/dev/null
done
python3 - "$out" "$top" <<'PY'
import os, re, subprocess, sys
out, top = sys.argv[1], int(sys.argv[2])
def load(d):
    files = sorted(os.listdir(d), key=lambda f: int(f.split('.')[1]))
    procs = []
    for f in files:
        txt = subprocess.run(['callgrind_annotate', '--inclusive=no', '--threshold=100',
                              '--auto=no', os.path.join(d, f)],
                             capture_output=True, text=True).stdout
        total = int(re.search(r'([\d,]+) \(100.0%\)\s+PROGRAM TOTALS', txt).group(1).replace(',', ''))
        fns = {}
        for line in txt.splitlines():
            m = re.match(r'\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)', line)
            if m and 'PROGRAM TOTALS' not in line:
                fns[m.group(2)] = int(m.group(1).replace(',', ''))
        procs.append((total, fns))
    return procs
small, large = load(os.path.join(out, '2000')), load(os.path.join(out, '12000'))
names = ['parent'] + [f'worker {i}' for i in range(1, len(large))]
def lines_run(path_small, path_large):
    # Each instruction's executions (its Ir) in the two runs: the ones run
    # in nearly every round trip, and the 64-byte code lines they lie on.
    def per_instr(path):
        counts, last, skip = {}, 0, False
        for line in open(path):
            head = line[:1]
            if line.startswith('calls='):
                skip = True
            elif head.isdigit() or head in '+-*':
                pos, *rest = line.split()
                if pos.startswith('0x'):
                    last = int(pos, 16)
                elif pos[0] in '+-':
                    last += int(pos)
                elif pos != '*':
                    last = int(pos)
                if skip:
                    skip = False  # a call's inclusive cost, not its instruction's
                elif len(rest) > 1:
                    counts[last] = counts.get(last, 0) + int(rest[1])
        return counts
    a, b = per_instr(path_small), per_instr(path_large)
    hot = [i for i, n in b.items() if n - a.get(i, 0) >= 9000]
    return len(hot), len({i >> 6 for i in hot})
files = lambda n: sorted(os.listdir(os.path.join(out, n)), key=lambda f: int(f.split('.')[1]))
for name, (a, _), (b, _), fa, fb in zip(names, small, large, files('2000'), files('12000')):
    hot, lines = lines_run(os.path.join(out, '2000', fa), os.path.join(out, '12000', fb))
    print(f'{name}: {(b - a) / 10000:.1f} instructions per round trip; '
          f'{hot} instructions on {lines} code lines ({lines * 64 / 1024:.1f} KiB) run in each')
for name, (_, a), (_, b) in zip(names, small, large):
    grew = {k: (b.get(k, 0) - a.get(k, 0)) / 10000 for k in set(a) | set(b)}
    rows = [(v, k) for k, v in grew.items() if v >= 1]
    if not rows:
        continue
    print(f'--- {name}, by function (self)')
    for v, k in sorted(rows, reverse=True)[:top]:
        print(f'{v:8.1f}  {k[:150]}')
PY
