//! Output checkers for the *pool* area of seed-programs.md (5 examples): `Pool` with an
//! initializer, `maxtasksperchild`, `map`, `apply_async` and callbacks.

use anyhow::{bail, ensure, Context as _, Result};

use super::check::{exact, float_in, min_wall, once_each, re, Observed, FLOAT};
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("multiprocessing_pool", |o| pool(o, 0)),
    ("multiprocessing_pool_maxtasksperchild", |o| pool(o, 5)),
    ("sfp_06_apply_async", |o| {
        exact(o, &["This is another process"])
    }),
    ("sfp_06_map", sfp_06_map),
    ("sfp_06_callback", sfp_06_callback),
];

const DOUBLED: &str = r"\[0, 2, 4, 6, 8, 10, 12, 14, 16, 18\]";

/// `Input`, `Built-in`, N..=N+`extra` distinct `Starting <Method>PoolWorker-K` lines (K covering
/// 1…N, none above N+`extra`), and the exact `Pool` line last.
fn pool(o: &Observed, extra: usize) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() >= 3, "expected at least 3 lines, got {}", l.len());
    ensure!(
        re(r"Input\s*: \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\]").is_match(l[0]),
        "line 1: `{}` is not `Input   : [0, 1, …, 9]`",
        l[0]
    );
    ensure!(
        re(&format!(
            r"Built-in: (?:{DOUBLED}|<map object at 0x[0-9a-fA-F]+>)"
        ))
        .is_match(l[1]),
        "line 2: `{}` is not `Built-in: [0, 2, …, 18]`",
        l[1]
    );
    let last = l[l.len() - 1];
    ensure!(
        re(&format!(r"Pool\s*: {DOUBLED}")).is_match(last),
        "the last line `{last}` is not `Pool    : [0, 2, …, 18]`"
    );
    let prefix = o.method.pool_worker_prefix();
    let starting = re(r"Starting (Fork|Spawn|ForkServer)PoolWorker-(\d+)");
    let mut ks: Vec<usize> = Vec::new();
    for line in &l[2..l.len() - 1] {
        let c = starting
            .captures(line)
            .with_context(|| format!("unexpected line `{line}`"))?;
        ensure!(
            &c[1] == prefix,
            "`{line}`: under the {} start method workers are named {prefix}PoolWorker-K",
            o.method.as_str()
        );
        ks.push(c[2].parse()?);
    }
    let counts: Vec<usize> = o.cpu_counts.iter().map(|c| c * 2).collect();
    let fits = |n: usize| {
        let mut sorted = ks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.len() == ks.len()
            && (n..=n + extra).contains(&ks.len())
            && (1..=n).all(|k| ks.contains(&k))
            && ks.iter().all(|&k| (1..=n + extra).contains(&k))
    };
    if !counts.iter().any(|&n| fits(n)) {
        let mut sorted = ks.clone();
        sorted.sort_unstable();
        bail!(
            "worker numbers {sorted:?}: expected {} distinct numbers covering 1…N \
             (none above N+{extra}) for N = 2 × cpu_count() in {counts:?}",
            if extra == 0 {
                "N".to_owned()
            } else {
                format!("N…N+{extra}")
            }
        );
    }
    Ok(())
}

fn sfp_06_map(o: &Observed) -> Result<()> {
    let l = o.lines();
    let got = re(r"Worker task got (\d+)");
    let mut ks = Vec::new();
    let mut numbers = Vec::new();
    for line in &l {
        if let Some(c) = got.captures(line) {
            ensure!(
                numbers.is_empty(),
                "`{line}` comes after a result number: all `Worker task got` lines come first"
            );
            ks.push(c[1].parse()?);
        } else if let Ok(n) = line.parse::<u64>() {
            numbers.push(n);
        } else {
            bail!("unexpected line `{line}`");
        }
    }
    once_each(&ks, 10, "`Worker task got K`, K =")?;
    let want: Vec<u64> = (0..10).map(|i| 2 * i).collect();
    ensure!(
        numbers == want,
        "the results are {numbers:?}, expected {want:?} in this order"
    );
    Ok(())
}

fn sfp_06_callback(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 2, "expected 2 lines, got {}", l.len());
    let task = re(&format!("Task 0 with ({FLOAT})"))
        .captures(l[0])
        .with_context(|| format!("line 1: `{}` is not `Task 0 with F`", l[0]))?;
    let callback = re(&format!("Callback got: ({FLOAT})"))
        .captures(l[1])
        .with_context(|| format!("line 2: `{}` is not `Callback got: F`", l[1]))?;
    let f = float_in(&task[1], 0.0, 1.0)?;
    let g = float_in(&callback[1], 0.0, 1.0)?;
    ensure!(f == g, "the task had {f} but the callback got {g}");
    min_wall(o, f, "the task sleeps F")
}

#[cfg(test)]
mod tests {
    use super::super::Method;
    use super::*;

    const POOL_SEED: &str = "\
Input : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
Built-in: <map object at 0x1007b2be0>
Starting ForkPoolWorker-3
Starting ForkPoolWorker-4
Starting ForkPoolWorker-5
Starting ForkPoolWorker-6
Starting ForkPoolWorker-1
Starting ForkPoolWorker-7
Starting ForkPoolWorker-2
Starting ForkPoolWorker-8
Pool : [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
";

    fn with(out: &str, cpus: usize, method: Method) -> Observed {
        let mut o = Observed::new(out);
        o.cpu_counts = vec![cpus];
        o.method = method;
        o
    }

    #[test]
    fn pool_seed_and_python2_form() {
        pool(&with(POOL_SEED, 4, Method::Fork), 0).unwrap();
        let py2 = "Input   : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n\
                   Built-in: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]\n\
                   Starting SpawnPoolWorker-2\nStarting SpawnPoolWorker-1\n\
                   Pool    : [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]\n";
        pool(&with(py2, 1, Method::Spawn), 0).unwrap();
        let fs = py2.replace("SpawnPool", "ForkServerPool");
        pool(&with(&fs, 1, Method::ForkServer), 0).unwrap();
    }

    #[test]
    fn pool_rejections() {
        // 8 workers but 2 CPUs.
        let e = pool(&with(POOL_SEED, 2, Method::Fork), 0).unwrap_err();
        assert!(e.to_string().contains("worker numbers"), "{e}");
        // Named after the wrong start method.
        let e = pool(&with(POOL_SEED, 4, Method::Spawn), 0).unwrap_err();
        assert!(e.to_string().contains("SpawnPoolWorker"), "{e}");
        let dup = POOL_SEED.replace("Worker-8", "Worker-7");
        assert!(pool(&with(&dup, 4, Method::Fork), 0).is_err());
        let bad_last = POOL_SEED.replace("16, 18]", "18, 16]");
        assert!(pool(&with(&bad_last, 4, Method::Fork), 0).is_err());
        let late =
            POOL_SEED.replace("Starting ForkPoolWorker-8\n", "") + "Starting ForkPoolWorker-8\n";
        assert!(pool(&with(&late, 4, Method::Fork), 0).is_err());
    }

    #[test]
    fn maxtasksperchild() {
        let seed_ocr = POOL_SEED.replace("ForkPoolWorker-5", "ForkPoolWorker 5");
        assert!(pool(&with(&seed_ocr, 4, Method::Fork), 5).is_err());
        pool(&with(POOL_SEED, 4, Method::Fork), 5).unwrap();
        let more = POOL_SEED.replace(
            "Starting ForkPoolWorker-8\n",
            "Starting ForkPoolWorker-8\nStarting ForkPoolWorker-10\nStarting ForkPoolWorker-9\n",
        );
        pool(&with(&more, 4, Method::Fork), 5).unwrap();
        assert!(pool(&with(&more, 4, Method::Fork), 0).is_err());
        let too_high = POOL_SEED.replace(
            "Starting ForkPoolWorker-8\n",
            "Starting ForkPoolWorker-8\nStarting ForkPoolWorker-14\n",
        );
        assert!(pool(&with(&too_high, 4, Method::Fork), 5).is_err());
    }

    const MAP_SEED: &str = "Worker task got 0\nWorker task got 1\nWorker task got 2\n\
Worker task got 3\nWorker task got 4\nWorker task got 5\nWorker task got 6\nWorker task got 7\n\
Worker task got 8\nWorker task got 9\n0\n2\n4\n6\n8\n10\n12\n14\n16\n18\n";

    #[test]
    fn map() {
        sfp_06_map(&Observed::new(MAP_SEED)).unwrap();
        let shuffled = MAP_SEED.replace("got 3\nWorker task got 4", "got 4\nWorker task got 3");
        sfp_06_map(&Observed::new(&shuffled)).unwrap();
        let unordered = MAP_SEED.replace("4\n6\n", "6\n4\n");
        assert!(sfp_06_map(&Observed::new(&unordered)).is_err());
        let late = MAP_SEED.replace("Worker task got 9\n", "") + "Worker task got 9\n";
        let e = sfp_06_map(&Observed::new(&late)).unwrap_err();
        assert!(e.to_string().contains("come first"), "{e}");
    }

    #[test]
    fn callback() {
        let seed = "Task 0 with 0.4982746119315874\nCallback got: 0.4982746119315874\n";
        sfp_06_callback(&Observed::new(seed)).unwrap();
        assert!(sfp_06_callback(&Observed::new(seed).wall(0.3)).is_err());
        let differ = seed.replace("got: 0.49", "got: 0.48");
        assert!(sfp_06_callback(&Observed::new(&differ)).is_err());
        let swapped = "Callback got: 0.5\nTask 0 with 0.5\n";
        assert!(sfp_06_callback(&Observed::new(swapped)).is_err());
        EXAMPLES[2].1(&Observed::new("This is another process\n")).unwrap();
    }
}
