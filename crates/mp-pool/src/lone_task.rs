//! An `apply`'s chunk in the worker: one task, run without the vectors a
//! chunk's inputs and outputs go through. A chunk of one postcard-encoded
//! input is the byte 1 (the sequence's length) followed by the input, a
//! chunk of one packed input (a number, or a one-tuple of one) the input's
//! bytes; its reply is the bytes `ChunkOutput::Done(vec![r])` is sent as. Taking the
//! vectors from the worker's spares, filling and giving them back cost an
//! `apply` about a tenth of the worker's instructions per task (measured
//! with callgrind, M4b).

use std::ops::Range;
use std::os::fd::OwnedFd;

use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::TaskError;
use crate::func::{catch_task, chunk_error, ChunkOutput};
use crate::{packed, task_word};

/// Runs the chunk whose inputs are `bytes[inputs]` if it holds exactly one
/// input (packed, or in postcard's form) and no task of it was settled
/// before (by a worker that died in it); the reply is encoded into `bytes`
/// (as the general path does, once the input is decoded). `Err(bytes)`
/// hands the request back to the general path.
pub(crate) fn run_lone<T, R>(
    bytes: Vec<u8>,
    inputs: Range<usize>,
    fds: &mut Vec<OwnedFd>,
    call: impl FnOnce(T) -> R,
) -> Result<Message, Vec<u8>>
where
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    if !task_word::runs_whole() {
        return Err(bytes);
    }
    let item: T = if packed::travels_packed::<T>() {
        // Exactly one item's bytes, and no fds; else the general path says
        // what is wrong.
        let one = bytes.get(inputs).and_then(packed::unpack_one::<T>);
        match one {
            Some(item) if fds.is_empty() => item,
            _ => return Err(bytes),
        }
    } else {
        let Some((&1, input)) = bytes.get(inputs).and_then(<[u8]>::split_first) else {
            return Err(bytes);
        };
        match mp_wire::decode_seed(input, std::mem::take(fds), std::marker::PhantomData) {
            Ok(item) => item,
            Err(e) => {
                let e = TaskError::Decode(format!("the task arguments: {e}"));
                return Ok(chunk_error(e));
            }
        }
    };
    task_word::tracker().task_begins(0);
    Ok(match catch_task(|| call(item)) {
        Ok(r) => encode_done(&r, bytes),
        // As the general path reports a chunk whose task panicked.
        Err(e) => encode_mixed(e, bytes),
    })
}

/// The reply `ChunkOutput::Done(vec![r])` is sent as, encoded into `buf`.
fn encode_done<R: Serialize + 'static>(r: &R, mut buf: Vec<u8>) -> Message {
    buf.clear();
    buf.push(packed::PACKED_DONE);
    if packed::pack(std::slice::from_ref(r), &mut buf) {
        return Message::from_bytes(buf);
    }
    match mp_wire::encode_into(&OneDone::Done(std::slice::from_ref(r)), buf) {
        Ok(m) => m,
        Err(e) => chunk_error(TaskError::Encode(e.to_string())),
    }
}

/// The reply of a lone task that failed: `ChunkOutput::Mixed` of its error.
fn encode_mixed(e: TaskError, buf: Vec<u8>) -> Message {
    let out: ChunkOutput<()> = ChunkOutput::Mixed(vec![Err(e)]);
    match mp_wire::encode_into(&out, buf) {
        Ok(m) => m,
        Err(e) => chunk_error(TaskError::Encode(e.to_string())),
    }
}

/// `ChunkOutput::Done` borrowing its one result: the same first variant,
/// so postcard writes the same bytes (a test below pins it).
#[derive(Serialize)]
enum OneDone<'a, R> {
    Done(&'a [R]),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_result_encodes_as_the_chunk_of_it() {
        let r = (String::from("x"), 7i32);
        let lone = encode_done(&r, Vec::new());
        let chunk = mp_wire::encode(&ChunkOutput::Done(vec![r.clone()])).unwrap();
        assert_eq!(lone.bytes, chunk.bytes);
        let n = encode_done(&5u64, Vec::new());
        assert_eq!(n.bytes, [packed::PACKED_DONE, 5, 0, 0, 0, 0, 0, 0, 0]);
        let failed = encode_mixed(TaskError::Cancelled, Vec::new());
        let out: ChunkOutput<String> = mp_wire::decode(failed).unwrap();
        assert_eq!(out, ChunkOutput::Mixed(vec![Err(TaskError::Cancelled)]));
    }

    #[test]
    fn only_a_chunk_of_one_postcard_input_runs_alone() {
        let one = mp_wire::encode(&vec![(3u32, String::from("a"))]).unwrap();
        let len = one.bytes.len();
        let ran = run_lone::<(u32, String), usize>(one.bytes, 0..len, &mut Vec::new(), |(n, s)| {
            n as usize + s.len()
        });
        let reply = ran.expect("run alone");
        assert_eq!(reply.bytes, [packed::PACKED_DONE, 4, 0, 0, 0, 0, 0, 0, 0]);
        let two = mp_wire::encode(&vec![(1u32, String::new()), (2, String::new())]).unwrap();
        let len = two.bytes.len();
        let back =
            run_lone::<(u32, String), u32>(two.bytes.clone(), 0..len, &mut Vec::new(), |(n, _)| n);
        assert_eq!(back.err(), Some(two.bytes), "two inputs: the general path");
        let packed_one = run_lone::<(u16,), u16>(vec![9, 0, 1], 1..3, &mut Vec::new(), |(n,)| n);
        let reply = packed_one.expect("one packed input runs alone");
        assert_eq!(reply.bytes, [packed::PACKED_DONE, 0, 1]);
        let back = run_lone::<u8, u8>(vec![1, 2], 0..2, &mut Vec::new(), |n| n);
        assert_eq!(
            back.err(),
            Some(vec![1, 2]),
            "two packed inputs: the general path"
        );
        let back = run_lone::<u32, u32>(vec![1, 2], 0..2, &mut Vec::new(), |n| n);
        assert_eq!(
            back.err(),
            Some(vec![1, 2]),
            "a ragged packed input: the general path"
        );
    }
}
