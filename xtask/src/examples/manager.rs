//! Output checkers for the *manager* area of seed-programs.md (5 examples): manager dict,
//! list, `Namespace` and a manager `Semaphore` used from pool workers.

use anyhow::{ensure, Context as _, Result};

use super::check::{exact, parse_int_dict, re, Observed, FLOAT};
use super::sync::semaphore_of_two;
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("multiprocessing_manager_dict", manager_dict),
    ("multiprocessing_namespaces", namespaces),
    ("multiprocessing_namespaces_mutable", |o| {
        exact(o, &["Before event: []", "After event : []"])
    }),
    ("sfp_07_manager_list", |o| exact(o, &["List: 50"])),
    ("sfp_07_manager_semaphore", |o| {
        semaphore_of_two(o, &format!(r"(\d+) got ({FLOAT})"))
    }),
];

fn manager_dict(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 1, "expected 1 line, got {}", l.len());
    let c = re(r"Results: (\{.*\})")
        .captures(l[0])
        .with_context(|| format!("`{}` is not `Results: {{…}}`", l[0]))?;
    let mut pairs = parse_int_dict(&c[1])?;
    pairs.sort_unstable();
    let want: Vec<(i64, i64)> = (0..10).map(|i| (i, 2 * i)).collect();
    ensure!(
        pairs == want,
        "the dict holds {pairs:?}, expected exactly the pairs i: 2i for i in 0…9"
    );
    Ok(())
}

fn namespaces(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 2, "expected 2 lines, got {}", l.len());
    let error_ok = l[0]
        .strip_prefix("Before event, error: ")
        .is_some_and(|msg| msg.contains("value"));
    ensure!(
        error_ok || l[0] == "Before event: This is the value",
        "line 1: `{}` is not `Before event, error: <message that mentions value>`",
        l[0]
    );
    ensure!(
        l[1] == "After event: This is the value",
        "line 2: `{}` is not `After event: This is the value`",
        l[1]
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict() {
        let seed = "Results: {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12, 7: 14, 8: 16, 9: 18}\n";
        manager_dict(&Observed::new(seed)).unwrap();
        let shuffled =
            "Results: {3: 6, 0: 0, 1: 2, 2: 4, 4: 8, 5: 10, 6: 12, 9: 18, 7: 14, 8: 16}\n";
        manager_dict(&Observed::new(shuffled)).unwrap();
        assert!(manager_dict(&Observed::new(&seed.replace(", 9: 18", ""))).is_err());
        assert!(manager_dict(&Observed::new(&seed.replace("9: 18", "9: 19"))).is_err());
        assert!(manager_dict(&Observed::new(&seed.replace("9: 18", "8: 16"))).is_err());
        assert!(manager_dict(&Observed::new("Results: {\"0\": 0}\n")).is_err());
    }

    #[test]
    fn namespace() {
        let seed = "Before event, error: 'Namespace' object has no attribute 'value'\n\
                    After event: This is the value\n";
        namespaces(&Observed::new(seed)).unwrap();
        namespaces(&Observed::new(
            "Before event: This is the value\nAfter event: This is the value\n",
        ))
        .unwrap();
        assert!(namespaces(&Observed::new(
            "Before event, error: something broke\nAfter event: This is the value\n"
        ))
        .is_err());
        assert!(namespaces(&Observed::new(
            "Before event, consumer got: x\nAfter event, consumer got: This is the value\n"
        ))
        .is_err());
        let by = |n: &str| EXAMPLES.iter().find(|(name, _)| *name == n).unwrap().1;
        by("multiprocessing_namespaces_mutable")(&Observed::new(
            "Before event: []\nAfter event : []\n",
        ))
        .unwrap();
        assert!(by("multiprocessing_namespaces_mutable")(&Observed::new(
            "Before event: []\nAfter event: []\n"
        ))
        .is_err());
        by("sfp_07_manager_list")(&Observed::new("List: 50\n")).unwrap();
    }

    #[test]
    fn manager_semaphore_needs_all_ten() {
        let check = EXAMPLES[4].1;
        let seed8 = "4 got 0.6477163269260953\n3 got 0.36257010063693895\n\
                     5 got 0.5121752319871548\n2 got 0.795369090090284\n6 got 0.4784123199328061\n\
                     7 got 0.480959275085588\n1 got 0.6841684456946335\n9 got 0.5539105856832549\n";
        assert!(check(&Observed::new(seed8)).is_err());
        let ten = format!("{seed8}0 got 0.1\n8 got 0.2\n");
        check(&Observed::new(&ten)).unwrap();
        // Half the sum is about 2.6 s.
        assert!(check(&Observed::new(&ten).wall(2.0)).is_err());
    }
}
