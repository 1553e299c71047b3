//! Output checkers for the *logging* area of seed-programs.md (2 examples). These examples are
//! captured with stdout and stderr as one stream in time order.

use anyhow::{bail, ensure, Result};

use super::check::{re, Observed};
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("multiprocessing_log_to_stderr", log_to_stderr),
    ("multiprocessing_get_logger", get_logger),
];

/// The lines both examples must show, in this order.
const REQUIRED: [&str; 5] = [
    "[INFO/Process-1] child process calling self.run()",
    "Doing some work",
    "[INFO/Process-1] process shutting down",
    "[INFO/Process-1] process exiting with exitcode 0",
    "[INFO/MainProcess] process shutting down",
];

const WORK: &str = "Doing some work";

/// Levels at INFO or above (CPython's, including its SUBWARNING).
const INFO_OR_HIGHER: [&str; 5] = ["INFO", "SUBWARNING", "WARNING", "ERROR", "CRITICAL"];

/// Levels below INFO (CPython's DEBUG and SUBDEBUG, and Rust `log`'s TRACE).
const BELOW_INFO: [&str; 3] = ["DEBUG", "SUBDEBUG", "TRACE"];

/// Checks the common shape and returns the level of every log line.
fn common(o: &Observed) -> Result<Vec<String>> {
    let l = o.lines();
    let log_line = re(r"\[([A-Z]+)/([^\]/]+)\] (.*)");
    let mut levels = Vec::new();
    for line in &l {
        if *line == WORK {
            continue;
        }
        let Some(c) = log_line.captures(line) else {
            bail!("`{line}` is neither `{WORK}` nor a log line `[LEVEL/processName] message`");
        };
        ensure!(
            INFO_OR_HIGHER.contains(&&c[1]) || BELOW_INFO.contains(&&c[1]),
            "`{line}`: unknown level {}",
            &c[1]
        );
        levels.push(c[1].to_owned());
    }
    let work = l.iter().filter(|x| **x == WORK).count();
    ensure!(work == 1, "`{WORK}` appears {work} times, expected once");
    let mut from = 0;
    for r in REQUIRED {
        match l[from..].iter().position(|x| *x == r) {
            Some(i) => from += i + 1,
            None if l.contains(&r) => bail!("`{r}` is out of order"),
            None => bail!("line `{r}` is missing"),
        }
    }
    Ok(levels)
}

fn log_to_stderr(o: &Observed) -> Result<()> {
    let levels = common(o)?;
    ensure!(
        levels.iter().any(|l| l == "DEBUG"),
        "no `[DEBUG/…]` line: the level is not really DEBUG"
    );
    Ok(())
}

fn get_logger(o: &Observed) -> Result<()> {
    let levels = common(o)?;
    if let Some(low) = levels.iter().find(|l| BELOW_INFO.contains(&l.as_str())) {
        bail!("a `[{low}/…]` line appears, but the level is INFO");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STDERR_SEED: &str = "\
[INFO/Process-1] child process calling self.run()
Doing some work
[INFO/Process-1] process shutting down
[DEBUG/Process-1] running all \"atexit\" finalizers with priority >= 0
[DEBUG/Process-1] running the remaining \"atexit\" finalizers
[INFO/Process-1] process exiting with exitcode 0
[INFO/MainProcess] process shutting down
[DEBUG/MainProcess] running all \"atexit\" finalizers with priority >= 0
[DEBUG/MainProcess] running the remaining \"atexit\" finalizers
";

    const LOGGER_SEED: &str = "\
[INFO/Process-1] child process calling self.run()
Doing some work
[INFO/Process-1] process shutting down
[INFO/Process-1] process exiting with exitcode 0
[INFO/MainProcess] process shutting down
";

    #[test]
    fn log_to_stderr_seed_and_violations() {
        log_to_stderr(&Observed::new(STDERR_SEED)).unwrap();
        let e = log_to_stderr(&Observed::new(LOGGER_SEED)).unwrap_err();
        assert!(e.to_string().contains("DEBUG"), "{e}");
        let extra = format!("[DEBUG/MainProcess] terminating daemon Process-2\n{STDERR_SEED}");
        log_to_stderr(&Observed::new(&extra)).unwrap();
        let garbage = format!("{STDERR_SEED}hello\n");
        assert!(log_to_stderr(&Observed::new(&garbage)).is_err());
        let twice = format!("{STDERR_SEED}Doing some work\n");
        assert!(log_to_stderr(&Observed::new(&twice)).is_err());
        let swapped = STDERR_SEED.replace(
            "[INFO/Process-1] child process calling self.run()\nDoing some work",
            "Doing some work\n[INFO/Process-1] child process calling self.run()",
        );
        let e = log_to_stderr(&Observed::new(&swapped)).unwrap_err();
        assert!(e.to_string().contains("order"), "{e}");
        let wrong_text = STDERR_SEED.replace("exitcode 0", "exit code 0");
        assert!(log_to_stderr(&Observed::new(&wrong_text)).is_err());
    }

    #[test]
    fn get_logger_seed_and_violations() {
        get_logger(&Observed::new(LOGGER_SEED)).unwrap();
        let e = get_logger(&Observed::new(STDERR_SEED)).unwrap_err();
        assert!(e.to_string().contains("DEBUG"), "{e}");
        let sub = format!("[SUBDEBUG/Process-1] x\n{LOGGER_SEED}");
        assert!(get_logger(&Observed::new(&sub)).is_err());
        let warn = format!("[WARNING/MainProcess] something\n{LOGGER_SEED}");
        get_logger(&Observed::new(&warn)).unwrap();
        let missing = LOGGER_SEED.replace("[INFO/MainProcess] process shutting down\n", "");
        assert!(get_logger(&Observed::new(&missing)).is_err());
    }
}
