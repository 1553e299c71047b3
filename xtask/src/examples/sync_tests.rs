//! Tests of the *sync* area checkers against the seed outputs of seed-programs.md and
//! against wrong outputs that must be rejected.

use super::*;

fn ok(check: Checker, out: &str) {
    if let Err(e) = check(&Observed::new(out)) {
        panic!("rejected: {e}\n{out}");
    }
}

fn bad(check: Checker, out: &str, why: &str) {
    let e = check(&Observed::new(out)).expect_err("accepted wrong output");
    assert!(e.to_string().contains(why), "wrong reason: {e}");
}

const EVENT_SEED: &str = "main: waiting before calling Event.set()\nwait_for_event: starting\n\
wait_for_event_timeout: starting\nwait_for_event_timeout: e.is_set()-> False\n\
main: event is set\nwait_for_event: e.is_set()-> True\n";

#[test]
fn event_orders_and_timing() {
    ok(event, EVENT_SEED);
    ok(
        event,
        &EVENT_SEED.replace("False", "false").replace("True", "true"),
    );
    bad(
        event,
        "wait_for_event: starting\nwait_for_event_timeout: starting\n\
         wait_for_event_timeout: e.is_set()-> False\nmain: waiting before calling Event.set()\n\
         main: event is set\nwait_for_event: e.is_set()-> True\n",
        "before",
    );
    assert!(event(&Observed::new(EVENT_SEED).wall(2.0)).is_err());
    ok(lock, "Lock acquired directly\nLock acquired via with\n");
}

#[test]
fn condition_order() {
    let seed = "Starting stage_2[1]\nStarting stage_2[2]\nStarting s1\n\
                s1 done and ready for stage 2\nstage_2[1] running\nstage_2[2] running\n";
    ok(condition, seed);
    // The rst's block-buffered order is rejected.
    bad(
        condition,
        "Starting s1\nStarting stage_2[1]\nStarting stage_2[2]\n\
         s1 done and ready for stage 2\nstage_2[1] running\nstage_2[2] running\n",
        "before",
    );
    bad(
        condition,
        &seed.replace("stage_2[2] running", "stage 2[2] running"),
        "missing",
    );
}

#[test]
fn semaphore_lists() {
    // The seed without its OCR-garbled line.
    let seed = "\
Activating 0 now running ['0', '1', '2']
Activating 1 now running ['0', '1', '2']
Activating 2 now running ['0', '1', '2']
Activating 3 now running ['0', '1', '3']
Activating 4 now running ['1', '3', '4']
Activating 6 now running ['1', '4', '6']
Now running ['1', '4', '6']
Now running ['1', '4', '6']
Activating 5 now running ['1', '4', '5']
Activating 8 now running ['4', '5', '8']
Activating 7 now running ['5', '8', '7']
Now running ['5', '8', '7']
Activating 9 now running ['8', '7', '9']
Now running ['8', '9']
Now running ['9']
Now running []
";
    ok(semaphore, seed);
    ok(semaphore, &seed.replace('\'', "\""));
    bad(
        semaphore,
        &seed.replace("Now running ['8', '9']", "Now running ['8', '9', '7', '6']"),
        "more than 3",
    );
    bad(
        semaphore,
        &seed.replace("Activating 9 now running ['8', '7', '9']", ""),
        "Activating 9 appears 0 times",
    );
    bad(
        semaphore,
        &seed.replace(
            "Activating 9 now running ['8', '7', '9']",
            "Activating 9 now running ['8', '7']",
        ),
        "does not contain 9",
    );
    bad(semaphore, &seed.replace("['9']", "['9', '9']"), "repeated");
    bad(
        semaphore,
        "Activating 0 now running ['0']\nActivating 1 now running ['1']\nActivating 2 now running ['2']\n\
         Activating 3 now running ['3']\nActivating 4 now running ['4']\nActivating 5 now running ['5']\n\
         Activating 6 now running ['6']\nActivating 7 now running ['7']\nActivating 8 now running ['8']\n\
         Activating 9 now running ['9']\n",
        "no `Now running`",
    );
    // The seed's garbled OCR line is not a valid line.
    bad(
        semaphore,
        "Now running ['8', '7', Now running ['8', '9'] Now running ['8', '9']\n",
        "",
    );
}

const LOCK_SEED: &str = "\
>2 got lock, sleeping 0.1537300967240235
>0 got lock, sleeping 0.15033927763482824
>3 got lock, sleeping 0.06852384740143935
>4 got lock, sleeping 0.6128370934678512
>1 got lock, sleeping 0.6095906057434888
>5 got lock, sleeping 0.9096664066862853
>6 got lock, sleeping 0.3292580160207148
>7 got lock, sleeping 0.576156511368414
>8 got lock, sleeping 0.7539760059829592
>9 got lock, sleeping 0.26463763659870543
";

#[test]
fn sfp_lock_timing_is_the_sum() {
    ok(sfp_04_lock, LOCK_SEED);
    // The sum is about 4.43 s.
    assert!(sfp_04_lock(&Observed::new(LOCK_SEED).wall(4.5)).is_ok());
    let e = sfp_04_lock(&Observed::new(LOCK_SEED).wall(4.0)).unwrap_err();
    assert!(e.to_string().contains("sum"), "{e}");
    bad(
        sfp_04_lock,
        &LOCK_SEED.replace(">9 ", ">8 "),
        "appears 2 times",
    );
    bad(
        sfp_04_lock,
        &LOCK_SEED.replace("0.26463763659870543", "1.5"),
        "not in",
    );
}

const SEM_SEED: &str = "\
Process 3 got 0.28471035400619005
Process 1 got 0.7548211067378485
Process 0 got 0.7285818407567202
Process 6 got 0.3527937627550165
Process 4 got 0.98181495633406
Process 2 got 0.5985443390280271
Process 5 got 0.3897305303458548
Process 8 got 0.2794555552459089
Process 9 got 0.44061600851138194
Process 7 got 0.9779313084749204
";

#[test]
fn sfp_semaphore_timing() {
    ok(sfp_04_semaphore, SEM_SEED);
    // Half the sum is about 2.8 s.
    assert!(sfp_04_semaphore(&Observed::new(SEM_SEED).wall(2.9)).is_ok());
    assert!(sfp_04_semaphore(&Observed::new(SEM_SEED).wall(2.5)).is_err());
    bad(
        sfp_04_semaphore,
        &SEM_SEED.replace("Process 7 got 0.9779313084749204\n", ""),
        "appears 0 times",
    );
}

const SFP_EVENT_SEED: &str = "\
Main process blocking...
Process 1 waiting...
Process 0 waiting...
Process 4 waiting...
Process 3 waiting...
Process 2 waiting...
Process 0 got 0.6141449597363285
Process 4 got 0.654083699410865
Process 2 got 0.7031834341766182
Process 1 got 0.7116801625105117
Process 3 got 0.9641420413449788
";

#[test]
fn sfp_event() {
    ok(sfp_04_event, SFP_EVENT_SEED);
    assert!(sfp_04_event(&Observed::new(SFP_EVENT_SEED).wall(2.97)).is_ok());
    assert!(sfp_04_event(&Observed::new(SFP_EVENT_SEED).wall(2.9)).is_err());
    bad(
        sfp_04_event,
        &SFP_EVENT_SEED.replace(
            "Process 2 waiting...\nProcess 0 got 0.6141449597363285",
            "Process 0 got 0.6141449597363285\nProcess 2 waiting...",
        ),
        "before every `got`",
    );
    bad(
        sfp_04_event,
        &SFP_EVENT_SEED.replace("Main process blocking...\n", ""),
        "missing",
    );
}

#[test]
fn sfp_condition_and_barrier() {
    ok(
        sfp_04_condition,
        "Main process waiting for data...\nChild sending notification...\nMain process all done\n",
    );
    let barrier = "\
Main process waiting on all results...
Process 0 got: 1.5797718210997858
Process 1 got: 5.153409616555768
Process 2 got: 6.194883621010085
Process 3 got: 6.664785986540583
Process 4 got: 7.594772825174695
All processes have their result
";
    ok(sfp_04_barrier, barrier);
    ok(
        sfp_04_barrier,
        &barrier.replace(
            "Main process waiting on all results...\nProcess 0 got: 1.5797718210997858",
            "Process 0 got: 0.001\nMain process waiting on all results...",
        ),
    );
    assert!(sfp_04_barrier(&Observed::new(barrier).wall(7.0)).is_err());
    bad(
        sfp_04_barrier,
        &barrier
            .replace("All processes have their result\n", "")
            .replace("Process 4", "All processes have their result\nProcess 4"),
        "last line",
    );
    bad(
        sfp_04_barrier,
        &barrier.replace("7.594772825174695", "10.5"),
        "not in",
    );
}
