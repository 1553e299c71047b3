//! Several chunks of one job in one MPI message: rank 0 sends a rank whose
//! chunks take little time a batch of them at once (one call and one reply
//! for all), so the per-message costs (a send, a probe and a receive at
//! each end, a wake-up of rank 0) are paid once per batch, not per chunk.
//! The worker runs the chunks one after the other, naming each as the task
//! it runs (the message printed if the rank dies names that chunk), and
//! returns their outputs in one reply.
//!
//! # Wire
//! A batch: `input 0 | ... | input k-1 | job label | one record per chunk |
//! label length (u64) | k (u64)`, a record being `input length | chunk index
//! | first task | tasks` (u64 each). Its reply: `output 0 | ... | output k-1
//! | output lengths (u64 each) | k (u64)`. Little-endian; the fixed fields
//! last, so a batch of one is taken by truncating, never by copying.

use mp_pool::TaskError;

/// One chunk of a batch as rank 0 describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    /// The chunk's index in its job.
    pub(crate) chunk: usize,
    /// The index of its first task in the job.
    pub(crate) first: usize,
    /// How many tasks it holds.
    pub(crate) tasks: usize,
}

const WORD: usize = 8;
const RECORD: usize = 4 * WORD;

fn put(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

/// The little-endian word at `bytes[at..at + 8]`, if it is there and fits a
/// `usize`.
fn word(bytes: &[u8], at: usize) -> Option<usize> {
    let raw = bytes.get(at..at.checked_add(WORD)?)?;
    usize::try_from(u64::from_le_bytes(raw.try_into().ok()?)).ok()
}

/// The label that names a chunk in a worker's dying message.
pub(crate) fn chunk_label(job: &str, part: &Part) -> String {
    format!(
        "{job}, chunk {} (tasks {}..{})",
        part.chunk,
        part.first,
        part.first + part.tasks
    )
}

/// The label of a whole batch (the MPI call's).
pub(crate) fn batch_label(job: &str, parts: &[Part]) -> String {
    match parts {
        [one] => chunk_label(job, one),
        [first, .., last] => format!(
            "{job}, chunks {}..{} (tasks {}..{})",
            first.chunk,
            last.chunk + 1,
            first.first,
            last.first + last.tasks
        ),
        [] => job.to_owned(),
    }
}

/// Rank 0: the batch of `inputs` (the encoded chunks `parts`, in order) of
/// the job labelled `job`. The first input's buffer becomes the message.
pub(crate) fn encode(job: &str, parts: &[Part], inputs: Vec<Vec<u8>>) -> Vec<u8> {
    let mut lens = Vec::with_capacity(inputs.len());
    let mut inputs = inputs.into_iter();
    let mut msg = inputs.next().unwrap_or_default();
    lens.push(msg.len());
    let rest: Vec<Vec<u8>> = inputs.collect();
    let body: usize = rest.iter().map(Vec::len).sum();
    msg.reserve(body + job.len() + parts.len() * RECORD + 2 * WORD);
    for input in rest {
        lens.push(input.len());
        msg.extend_from_slice(&input);
    }
    msg.extend_from_slice(job.as_bytes());
    for (part, len) in parts.iter().zip(lens) {
        for n in [len, part.chunk, part.first, part.tasks] {
            put(&mut msg, n);
        }
    }
    put(&mut msg, job.len());
    put(&mut msg, parts.len());
    msg
}

/// A worker: runs each chunk of the batch `msg` with `run`, in order,
/// naming it first with `name` (for a batch of more than one chunk; the
/// call's own label names a batch of one), and returns the reply.
/// A malformed batch runs nothing and gets a reply of no outputs (rank 0
/// then fails its chunks).
pub(crate) fn serve(
    mut msg: Vec<u8>,
    mut run: impl FnMut(Vec<u8>) -> Vec<u8>,
    mut name: impl FnMut(String),
) -> Vec<u8> {
    let Some(batch) = Batch::parse(&msg) else {
        let mut reply = Vec::new();
        put(&mut reply, 0);
        return reply;
    };
    // Owned inputs, split off from the end (the first keeps the buffer).
    let mut inputs = Vec::with_capacity(batch.parts.len());
    msg.truncate(batch.body);
    for &at in batch.starts.iter().rev() {
        inputs.push(msg.split_off(at));
    }
    inputs.reverse();
    let several = batch.parts.len() > 1;
    let mut reply: Vec<u8> = Vec::new();
    let mut lens = Vec::with_capacity(inputs.len());
    for (input, part) in inputs.into_iter().zip(&batch.parts) {
        if several {
            name(chunk_label(&batch.job, part));
        }
        let out = run(input);
        lens.push(out.len());
        if reply.is_empty() {
            reply = out;
        } else {
            reply.extend_from_slice(&out);
        }
    }
    reply.reserve((lens.len() + 1) * WORD);
    let k = lens.len();
    for len in lens {
        put(&mut reply, len);
    }
    put(&mut reply, k);
    reply
}

/// A parsed batch: where each input starts, the job's label, the parts.
struct Batch {
    /// The bytes of the inputs (they start at 0).
    body: usize,
    starts: Vec<usize>,
    job: String,
    parts: Vec<Part>,
}

impl Batch {
    fn parse(msg: &[u8]) -> Option<Batch> {
        let end = msg.len().checked_sub(2 * WORD)?;
        let label_len = word(msg, end)?;
        let k = word(msg, end + WORD)?;
        let records = end.checked_sub(k.checked_mul(RECORD)?)?;
        let label_at = records.checked_sub(label_len)?;
        let job = String::from_utf8_lossy(&msg[label_at..records]).into_owned();
        let mut starts = Vec::with_capacity(k);
        let mut parts = Vec::with_capacity(k);
        let mut at = 0usize;
        for i in 0..k {
            let r = records + i * RECORD;
            starts.push(at);
            at = at.checked_add(word(msg, r)?)?;
            parts.push(Part {
                chunk: word(msg, r + WORD)?,
                first: word(msg, r + 2 * WORD)?,
                tasks: word(msg, r + 3 * WORD)?,
            });
        }
        (at == label_at).then_some(Batch {
            body: at,
            starts,
            job,
            parts,
        })
    }
}

/// Rank 0: a batch reply split into its `k` outputs, in order (the first
/// keeps the buffer); a reply of another shape is an error for every chunk.
pub(crate) fn decode_reply(mut reply: Vec<u8>, k: usize) -> Result<Vec<Vec<u8>>, TaskError> {
    let bad = |why: String| TaskError::Decode(format!("a batch reply: {why}"));
    let end = reply
        .len()
        .checked_sub(WORD)
        .ok_or_else(|| bad(format!("{} bytes", reply.len())))?;
    let n = word(&reply, end).ok_or_else(|| bad("no count".into()))?;
    if n != k {
        return Err(bad(format!("{n} outputs for {k} chunks")));
    }
    let lens_at = k
        .checked_mul(WORD)
        .and_then(|b| end.checked_sub(b))
        .ok_or_else(|| bad(format!("{} bytes for {k} outputs", reply.len())))?;
    let mut starts = Vec::with_capacity(k);
    let mut at = 0usize;
    for i in 0..k {
        starts.push(at);
        at = word(&reply, lens_at + i * WORD)
            .and_then(|len| at.checked_add(len))
            .ok_or_else(|| bad("an output length".into()))?;
    }
    if at != lens_at {
        return Err(bad(format!("outputs of {at} bytes in {lens_at}")));
    }
    reply.truncate(at);
    let mut outputs = Vec::with_capacity(k);
    for &start in starts.iter().rev() {
        outputs.push(reply.split_off(start));
    }
    outputs.reverse();
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(n: usize) -> Vec<Part> {
        (0..n)
            .map(|i| Part {
                chunk: 5 + i,
                first: 10 + 2 * i,
                tasks: 2,
            })
            .collect()
    }

    #[test]
    fn a_batch_runs_each_chunk_in_order_and_names_it() {
        let inputs = vec![b"ab".to_vec(), Vec::new(), b"cde".to_vec()];
        let msg = encode("map of f", &parts(3), inputs.clone());
        let mut seen = Vec::new();
        let mut names = Vec::new();
        let reply = serve(
            msg,
            |input| {
                seen.push(input.clone());
                input.iter().rev().copied().collect()
            },
            |label| names.push(label),
        );
        assert_eq!(seen, inputs);
        assert_eq!(
            names,
            [
                "map of f, chunk 5 (tasks 10..12)",
                "map of f, chunk 6 (tasks 12..14)",
                "map of f, chunk 7 (tasks 14..16)"
            ]
        );
        let out = decode_reply(reply, 3).unwrap();
        assert_eq!(out, [b"ba".to_vec(), Vec::new(), b"edc".to_vec()]);
        assert_eq!(
            batch_label("map of f", &parts(3)),
            "map of f, chunks 5..8 (tasks 10..16)"
        );
    }

    #[test]
    fn a_batch_of_one_is_named_by_its_call() {
        let msg = encode("job", &parts(1), vec![b"xy".to_vec()]);
        let reply = serve(msg, |input| input, |_| panic!("named"));
        assert_eq!(decode_reply(reply, 1).unwrap(), [b"xy".to_vec()]);
        assert_eq!(batch_label("job", &parts(1)), "job, chunk 5 (tasks 10..12)");
    }

    #[test]
    fn malformed_batches_and_replies_are_errors() {
        let msg = encode("job", &parts(2), vec![b"a".to_vec(), b"b".to_vec()]);
        for cut in [0, 3, msg.len() - 1] {
            let mut bad = msg.clone();
            bad.remove(cut);
            let reply = serve(bad, |_| panic!("ran"), |_| ());
            assert!(decode_reply(reply, 2).is_err());
        }
        let reply = serve(msg, |i| i, |_| ());
        assert!(decode_reply(reply.clone(), 3).is_err());
        assert!(decode_reply(reply[1..].to_vec(), 2).is_err());
        assert!(decode_reply(Vec::new(), 1).is_err());
        let mut huge = reply;
        let at = huge.len() - 3 * WORD;
        huge[at..at + WORD].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_reply(huge, 2).is_err());
    }
}
