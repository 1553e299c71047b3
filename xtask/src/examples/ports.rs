//! Output checkers for the *ports* area: programs of CPython's own `multiprocessing`
//! documentation (`Doc/includes/mp_*.py`, the remote manager recipe) ported to the facade,
//! beyond the 52 seed examples, and `async_server` (issue 15: a Pool behind an async server).

use anyhow::{ensure, Context as _, Result};

use super::check::{exact, once_each, re, Observed};
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("cpython_mp_workers", mp_workers),
    ("cpython_remote_manager", |o| {
        exact(
            o,
            &[
                "serving 'get_queue'",
                "client 1 put 'hello'",
                "client 2 got 'hello'",
                "server stopped",
            ],
        )
    }),
    ("async_server", |o| {
        exact(
            o,
            &[
                "primes below 10000: 1229 (10 partial results streamed)",
                "primes below 100000: 9592 (10 partial results streamed)",
                "primes below 300000: 25997 (10 partial results streamed)",
            ],
        )
    }),
];

/// `Unordered results:`, then the 20 `mul(i, 7)` results in any order, then the 10
/// `plus(i, 8)` results in any order (the second batch is queued only after the first is
/// read), each `Process-K says that f(a, b) = r` with K one of the 4 workers and r right.
fn mp_workers(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 31, "expected 31 lines, got {}", l.len());
    ensure!(
        l[0] == "Unordered results:",
        "line 1: `{}` is not `Unordered results:`",
        l[0]
    );
    let batch = |lines: &[&str], func: &str, b: u64, n: u64| -> Result<()> {
        let result = re(r"^\s*Process-([1-4]) says that (mul|plus)\((\d+), (\d+)\) = (\d+)$");
        let mut keys = Vec::new();
        for line in lines {
            let c = result
                .captures(line)
                .with_context(|| format!("`{line}` is not `Process-K says that f(a, b) = r`"))?;
            ensure!(&c[2] == func, "`{line}`: expected a {func} result here");
            let (x, y, r): (u64, u64, u64) = (c[3].parse()?, c[4].parse()?, c[5].parse()?);
            ensure!(y == b, "`{line}`: the second argument of {func} is {b}");
            let want = if func == "mul" { x * y } else { x + y };
            ensure!(r == want, "`{line}`: {func}({x}, {y}) is {want}");
            keys.push(x);
        }
        once_each(&keys, n, &format!("{func} task"))
    };
    batch(&l[1..21], "mul", 7, 20)?;
    batch(&l[21..31], "plus", 8, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(mul_order: &[u64], plus_line: &str) -> String {
        let mut s = String::from("Unordered results:\n");
        for &i in mul_order {
            s += &format!(
                "\t Process-{} says that mul({i}, 7) = {}\n",
                i % 4 + 1,
                i * 7
            );
        }
        for i in 0..9 {
            s += &format!("\t Process-2 says that plus({i}, 8) = {}\n", i + 8);
        }
        s + plus_line + "\n"
    }

    #[test]
    fn mp_workers_accepts_any_order_and_rejects_wrong_results() {
        let shuffled: Vec<u64> = (0..20).rev().collect();
        let good = output(&shuffled, "\t Process-4 says that plus(9, 8) = 17");
        mp_workers(&Observed::new(&good)).unwrap();
        let wrong = output(&shuffled, "\t Process-4 says that plus(9, 8) = 18");
        assert!(mp_workers(&Observed::new(&wrong)).is_err());
        let fifth = output(&shuffled, "\t Process-5 says that plus(9, 8) = 17");
        assert!(mp_workers(&Observed::new(&fifth)).is_err());
        let mut twice: Vec<u64> = (0..20).collect();
        twice[0] = 1;
        let dup = output(&twice, "\t Process-4 says that plus(9, 8) = 17");
        assert!(mp_workers(&Observed::new(&dup)).is_err());
    }
}
