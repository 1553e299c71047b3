//! Output checkers for the *channels* area of seed-programs.md (6 examples): Queue,
//! JoinableQueue with consumers, and Pipe.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Result};

use super::check::{exact, float_in, min_wall, once_each, re, Observed, FLOAT};
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("multiprocessing_queue", |o| {
        exact(o, &["Doing something fancy in Process-1 for Fancy Dan!"])
    }),
    ("multiprocessing_producer_consumer", producer_consumer),
    ("sfp_05_pipe", sfp_05_pipe),
    ("sfp_05_queue", sfp_05_queue),
    ("days72_queue", |o| {
        exact(o, &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
    }),
    ("days72_pipe", |o| exact(o, &["20", "40", "60"])),
];

fn producer_consumer(o: &Observed) -> Result<()> {
    let l = o.lines();
    let first = l.first().copied().unwrap_or_default();
    let n: usize = match re(r"Creating (\d+) consumers").captures(first) {
        Some(c) => c[1].parse()?,
        None => bail!("the first line must be `Creating N consumers`, got `{first}`"),
    };
    let allowed: Vec<usize> = o.cpu_counts.iter().map(|c| c * 2).collect();
    ensure!(
        allowed.contains(&n),
        "{n} consumers, but 2 × cpu_count() is {allowed:?}"
    );
    let task = re(r"Consumer-(\d+): (\d+) \* (\d+)");
    let exiting = re(r"Consumer-(\d+): Exiting");
    let result = re(r"Result: (\d+) \* (\d+) = (\d+)");
    let (mut tasks, mut results, mut exits) = (Vec::new(), Vec::new(), Vec::new());
    let mut exited: BTreeMap<usize, usize> = BTreeMap::new();
    let (mut last_consumer, mut first_result) = (0, usize::MAX);
    for (i, line) in l.iter().enumerate().skip(1) {
        if let Some(c) = task.captures(line) {
            let k: usize = c[1].parse()?;
            ensure!((1..=n).contains(&k), "`{line}`: no Consumer-{k} among {n}");
            ensure!(c[2] == c[3], "`{line}` is not `i * i`");
            ensure!(
                !exited.contains_key(&k),
                "`{line}` comes after `Consumer-{k}: Exiting`"
            );
            tasks.push(c[2].parse()?);
            last_consumer = i;
        } else if let Some(c) = exiting.captures(line) {
            let k: usize = c[1].parse()?;
            ensure!((1..=n).contains(&k), "`{line}`: no Consumer-{k} among {n}");
            exited.insert(k, i);
            exits.push(k as u64 - 1);
            last_consumer = i;
        } else if let Some(c) = result.captures(line) {
            let (a, b, p): (u64, u64, u64) = (c[1].parse()?, c[2].parse()?, c[3].parse()?);
            ensure!(a == b && p == a * a, "`{line}` is not `i * i = i²`");
            results.push(a);
            first_result = first_result.min(i);
        } else {
            bail!("unexpected line `{line}`");
        }
    }
    once_each(&tasks, 10, "task")?;
    once_each(&exits, n as u64, "`Consumer-K: Exiting`, K-1 =")?;
    once_each(&results, 10, "result")?;
    ensure!(
        last_consumer < first_result,
        "every consumer line must come before every `Result` line"
    );
    Ok(())
}

/// The pipe/queue rule: one party's lines in a fixed order with ten floats, the other's two
/// lines anywhere (its first before the first float); nothing else; runs ≥ the sum.
struct TwoParty<'a> {
    /// The receiving side's first line.
    recv_start: &'a str,
    /// The prefix of a received-value line.
    got: &'a str,
    /// The line for the `None` sentinel, if the rule requires it before the end.
    sentinel: Option<&'a str>,
    /// The receiving side's last line.
    recv_end: &'a str,
    /// The sending side's two lines.
    send: [&'a str; 2],
}

impl TwoParty<'_> {
    fn check(&self, o: &Observed) -> Result<()> {
        let l = o.lines();
        let value = re(&format!("{}({FLOAT})", regex::escape(self.got)));
        let mut recv: Vec<&str> = Vec::new();
        let mut values = Vec::new();
        let mut first_got = usize::MAX;
        let mut send_at = Vec::new();
        for (i, line) in l.iter().enumerate() {
            if let Some(c) = value.captures(line) {
                values.push(float_in(&c[1], 0.0, 1.0)?);
                first_got = first_got.min(i);
                recv.push("VALUE");
            } else if Some(*line) == self.sentinel {
                first_got = first_got.min(i);
                recv.push(line);
            } else if *line == self.recv_start || *line == self.recv_end {
                recv.push(line);
            } else if self.send.contains(line) {
                send_at.push((i, *line));
            } else if line.contains("None") {
                bail!("`{line}`: None must not be printed here");
            } else {
                bail!("unexpected line `{line}`");
            }
        }
        let mut want = vec![self.recv_start];
        want.extend(["VALUE"; 10]);
        want.extend(self.sentinel);
        want.push(self.recv_end);
        ensure!(
            recv == want,
            "the receiving side printed {recv:?} (VALUE = `{}F`), expected {want:?}",
            self.got
        );
        let sent: Vec<&str> = send_at.iter().map(|s| s.1).collect();
        ensure!(
            sent == self.send,
            "the sending side printed {sent:?}, expected {:?}",
            self.send
        );
        ensure!(
            send_at[0].0 < first_got,
            "`{}` must come before the first `{}`",
            self.send[0],
            self.got.trim_end()
        );
        min_wall(o, values.iter().sum(), "the sum of the received values")
    }
}

fn sfp_05_pipe(o: &Observed) -> Result<()> {
    TwoParty {
        recv_start: "Receiver: Running",
        got: ">receiver got ",
        sentinel: Some(">receiver got None"),
        recv_end: "Receiver: Done",
        send: ["Sender: Running", "Sender: Done"],
    }
    .check(o)
}

fn sfp_05_queue(o: &Observed) -> Result<()> {
    TwoParty {
        recv_start: "Consumer: Running",
        got: ">got ",
        sentinel: None,
        recv_end: "Consumer: Done",
        send: ["Producer: Running", "Producer: Done"],
    }
    .check(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PC_SEED: &str = "\
Creating 8 consumers
Consumer-1: 0 * 0
Consumer-2: 1 * 1
Consumer-3: 2 * 2
Consumer-4: 3 * 3
Consumer-5: 4 * 4
Consumer-6: 5 * 5
Consumer-7: 6 * 6
Consumer-8: 7 * 7
Consumer-3: 8 * 8
Consumer-7: 9 * 9
Consumer-4: Exiting
Consumer-1: Exiting
Consumer-2: Exiting
Consumer-5: Exiting
Consumer-6: Exiting
Consumer-8: Exiting
Consumer-7: Exiting
Consumer-3: Exiting
Result: 6 * 6 = 36
Result: 2 * 2 = 4
Result: 3 * 3 = 9
Result: 0 * 0 = 0
Result: 1 * 1 = 1
Result: 7 * 7 = 49
Result: 4 * 4 = 16
Result: 5 * 5 = 25
Result: 8 * 8 = 64
Result: 9 * 9 = 81
";

    fn pc(out: &str) -> Result<()> {
        let mut o = Observed::new(out);
        o.cpu_counts = vec![4];
        producer_consumer(&o)
    }

    #[test]
    fn producer_consumer_seed_and_violations() {
        pc(PC_SEED).unwrap();
        let e = producer_consumer(&Observed::new(PC_SEED)).unwrap_err();
        assert!(e.to_string().contains("cpu_count"), "{e}");
        let after_exit = PC_SEED.replace("Consumer-7: 9 * 9\n", "").replace(
            "Consumer-7: Exiting\n",
            "Consumer-7: Exiting\nConsumer-7: 9 * 9\n",
        );
        assert!(pc(&after_exit).unwrap_err().to_string().contains("after"));
        let late = PC_SEED.replace("Consumer-3: Exiting\n", "").replace(
            "Result: 9 * 9 = 81\n",
            "Result: 9 * 9 = 81\nConsumer-3: Exiting\n",
        );
        assert!(pc(&late).unwrap_err().to_string().contains("before every"));
        let wrong = PC_SEED.replace("= 81", "= 80");
        assert!(pc(&wrong).is_err());
        let missing_exit = PC_SEED.replace("Consumer-8: Exiting\n", "");
        assert!(pc(&missing_exit)
            .unwrap_err()
            .to_string()
            .contains("appears 0"));
        let dup = PC_SEED.replace("Consumer-7: 9 * 9", "Consumer-7: 8 * 8");
        assert!(pc(&dup).is_err());
    }

    const PIPE_SEED: &str = "\
Sender: Running
Receiver: Running
>receiver got 0.948078639569654
>receiver got 0.74436836170323
>receiver got 0.5616808907659429
>receiver got 0.4215810585838159
>receiver got 0.5722781037208557
>receiver got 0.46904197077762444
>receiver got 0.6680454030764481
>receiver got 0.008521317435038922
>receiver got 0.9341184741199164
Sender: Done
>receiver got 0.47239922120411093
>receiver got None
Receiver: Done
";

    #[test]
    fn pipe() {
        sfp_05_pipe(&Observed::new(PIPE_SEED)).unwrap();
        // The sum is about 5.8 s.
        sfp_05_pipe(&Observed::new(PIPE_SEED).wall(5.9)).unwrap();
        assert!(sfp_05_pipe(&Observed::new(PIPE_SEED).wall(5.0)).is_err());
        let no_none = PIPE_SEED.replace(">receiver got None\n", "");
        assert!(sfp_05_pipe(&Observed::new(&no_none)).is_err());
        let late_sender = PIPE_SEED
            .replace("Sender: Running\n", "")
            .replace("Sender: Done", "Sender: Running\nSender: Done");
        let e = sfp_05_pipe(&Observed::new(&late_sender)).unwrap_err();
        assert!(e.to_string().contains("before the first"), "{e}");
        let extra = format!("{PIPE_SEED}bye\n");
        assert!(sfp_05_pipe(&Observed::new(&extra)).is_err());
        let nine = PIPE_SEED.replace(">receiver got 0.74436836170323\n", "");
        assert!(sfp_05_pipe(&Observed::new(&nine)).is_err());
    }

    const QUEUE_SEED: &str = "\
Consumer: Running
Producer: Running
>got 0.42670034948416746
>got 0.6437306997304052
>got 0.5854279118232432
>got 0.6983355928616997
>got 0.27820873726406803
>got 0.3787863412350282
>got 0.7840846305336705
>got 0.9030905887595716
>got 0.06845335982079348
Producer: Done
>got 0.6508966920630934
Consumer: Done
";

    #[test]
    fn queue() {
        sfp_05_queue(&Observed::new(QUEUE_SEED)).unwrap();
        assert!(sfp_05_queue(&Observed::new(QUEUE_SEED).wall(4.0)).is_err());
        let none = QUEUE_SEED.replace("Consumer: Done", ">got None\nConsumer: Done");
        let e = sfp_05_queue(&Observed::new(&none)).unwrap_err();
        assert!(e.to_string().contains("None"), "{e}");
        let order = QUEUE_SEED
            .replace("Consumer: Running\n", "")
            .replace("Consumer: Done", "Consumer: Running\nConsumer: Done");
        assert!(sfp_05_queue(&Observed::new(&order)).is_err());
    }

    #[test]
    fn exact_ones() {
        let by = |n: &str| EXAMPLES.iter().find(|(name, _)| *name == n).unwrap().1;
        by("multiprocessing_queue")(&Observed::new(
            "Doing something fancy in Process-1 for Fancy Dan!\n",
        ))
        .unwrap();
        by("days72_queue")(&Observed::new("0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n")).unwrap();
        assert!(by("days72_queue")(&Observed::new("0\n1\n2\n3\n4\n5\n6\n7\n9\n8\n")).is_err());
        by("days72_pipe")(&Observed::new("20\n40\n60\n")).unwrap();
        assert!(by("days72_pipe")(&Observed::new("20\n40\n")).is_err());
    }
}
