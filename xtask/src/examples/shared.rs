//! Output checkers for the *shared state* area of seed-programs.md (3 examples): globals
//! under fork, a shared `Value`, and a named `SharedMemory` block.

use anyhow::{ensure, Context as _, Result};

use super::check::{exact, float_in, re, Observed, FLOAT};
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("sfp_05_fork_globals", fork_globals),
    ("sfp_05_shared_value", shared_value),
    ("days72_shared_memory", shared_memory),
];

fn fork_globals(o: &Observed) -> Result<()> {
    exact(
        o,
        &[
            "main process: Hello there",
            "child process before: Hello there",
            "child process after: hello hello!",
            "main process: Hello there",
        ],
    )
}

fn shared_value(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 2, "expected 2 lines, got {}", l.len());
    let wrote = re(&format!("Wrote: ({FLOAT})"))
        .captures(l[0])
        .with_context(|| format!("line 1: `{}` is not `Wrote: F`", l[0]))?;
    let read = re(&format!("Read: ({FLOAT})"))
        .captures(l[1])
        .with_context(|| format!("line 2: `{}` is not `Read: F`", l[1]))?;
    let (f1, f2) = (
        float_in(&wrote[1], 0.0, 1.0)?,
        float_in(&read[1], 0.0, 1.0)?,
    );
    ensure!(
        (f1 - f2).abs() <= 1e-6,
        "wrote {f1} but read {f2}: they differ by more than 1e-6"
    );
    Ok(())
}

fn shared_memory(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 1, "expected 1 line, got {}", l.len());
    let size: u64 = l[0]
        .parse()
        .ok()
        .with_context(|| format!("`{}` is not an integer", l[0]))?;
    if cfg!(target_os = "linux") {
        ensure!(size == 1024, "size {size}: on Linux it must be 1024");
    } else {
        ensure!(
            (1024..=65536).contains(&size),
            "size {size} is not in 1024…65536"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals() {
        let seed = "main process: Hello there\nchild process before: Hello there\n\
                    child process after: hello hello!\nmain process: Hello there\n";
        fork_globals(&Observed::new(seed)).unwrap();
        // What spawn would print must be rejected: the child never saw the global.
        assert!(fork_globals(&Observed::new(
            "main process: Hello there\nchild process before: \n\
             child process after: hello hello!\nmain process: Hello there\n"
        ))
        .is_err());
    }

    #[test]
    fn value_agrees() {
        shared_value(&Observed::new(
            "Wrote: 0.17691104226938958\nRead: 0.17691104114055634\n",
        ))
        .unwrap();
        shared_value(&Observed::new("Wrote: 0.5\nRead: 0.5\n")).unwrap();
        let e = shared_value(&Observed::new("Wrote: 0.5\nRead: 0.6\n")).unwrap_err();
        assert!(e.to_string().contains("differ"), "{e}");
        assert!(shared_value(&Observed::new("Read: 0.5\nWrote: 0.5\n")).is_err());
        assert!(shared_value(&Observed::new("Wrote: 1.5\nRead: 1.5\n")).is_err());
    }

    #[test]
    fn memory_size() {
        shared_memory(&Observed::new("1024\n")).unwrap();
        assert!(shared_memory(&Observed::new("4096\n")).is_err());
        assert!(shared_memory(&Observed::new("1024\n1024\n")).is_err());
        assert!(shared_memory(&Observed::new("size 1024\n")).is_err());
    }
}
