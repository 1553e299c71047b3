//! Splitting a job's inputs into chunks: reading them, Python's default
//! chunk size and the encoding of each chunk.

use mp_wire::{EncodeError, Message, SharedFd};
use serde::Serialize;

use crate::error::{PoolError, TaskError};
use crate::{packed, spare};

/// Reads up to `limit` items of `input`. A panic while reading ends the
/// input (Python: the iterable raised): the items read before it are
/// returned with the panic as a [`TaskError::InputPanic`] for the next task.
pub(crate) fn read_input<T>(
    input: &mut impl Iterator<Item = T>,
    limit: usize,
) -> (Vec<T>, Option<TaskError>) {
    let mut items = Vec::new();
    let read = crate::func::catch_local(|| items.extend(input.take(limit)));
    let failure = read.err().map(|e| match e {
        TaskError::Panic { message, location } => TaskError::InputPanic { message, location },
        other => other,
    });
    (items, failure)
}

/// Python's default `map` chunk size: `chunksize, extra = divmod(len, 4 *
/// processes); if extra: chunksize += 1` (0 for empty input).
///
/// ```
/// assert_eq!(mp_pool::default_chunksize(100, 4), 7);
/// assert_eq!(mp_pool::default_chunksize(200_000, 2), 25_000);
/// assert_eq!(mp_pool::default_chunksize(0, 2), 0);
/// ```
pub fn default_chunksize(len: usize, processes: usize) -> usize {
    let per = 4 * processes.max(1);
    let (chunksize, extra) = (len / per, len % per);
    if extra > 0 {
        chunksize + 1
    } else {
        chunksize
    }
}

/// The chunk size to use: the given one (which must be at least 1) or the
/// default.
pub(crate) fn resolve(
    chunksize: Option<usize>,
    len: usize,
    processes: usize,
) -> Result<usize, PoolError> {
    match chunksize {
        Some(0) => Err(PoolError::InvalidArgument(
            "chunksize must be 1+, not 0".to_string(),
        )),
        Some(n) => Ok(n),
        None => Ok(default_chunksize(len, processes).max(1)),
    }
}

/// An encoded chunk: bytes, the fds its values carry, and how many items it
/// holds.
pub(crate) struct Payload {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fds: Vec<SharedFd>,
    pub(crate) len: usize,
}

/// Encodes one chunk of items as a worker's trampoline decodes it: packed
/// if they are numbers ([`packed`]), else as postcard's `Vec<T>`.
pub(crate) fn encode_items<T: Serialize + 'static>(chunk: &[T]) -> Result<Message, EncodeError> {
    // Room for the items' in-memory size (most encode smaller) saves a
    // small chunk the buffer's growth from empty: a reallocation path of
    // some hundred instructions on every `apply`.
    let guess = std::mem::size_of_val(chunk)
        .saturating_add(8)
        .min(FIRST_ROOM_MAX);
    let mut bytes = spare::take_bytes(guess);
    if packed::pack(chunk, &mut bytes) {
        return Ok(Message::from_bytes(bytes));
    }
    mp_wire::encode_into(chunk, bytes)
}

/// The most room [`encode_items`] asks for before encoding (larger chunks
/// grow as they are written).
const FIRST_ROOM_MAX: usize = 4096;

/// Encodes one chunk of items ([`encode_items`]).
pub(crate) fn encode_chunk<T: Serialize + 'static>(chunk: &[T]) -> Result<Payload, PoolError> {
    let msg = encode_items(chunk)?;
    Ok(Payload {
        bytes: msg.bytes,
        fds: msg.fds.into_iter().map(SharedFd::from).collect(),
        len: chunk.len(),
    })
}

/// Encodes `items` in chunks of `chunksize`; returns each chunk's length and
/// encoding.
pub(crate) fn encode_chunks<T: Serialize + 'static>(
    items: &[T],
    chunksize: usize,
) -> Result<(Vec<usize>, Vec<Payload>), PoolError> {
    let mut lens = Vec::new();
    let mut payloads = Vec::new();
    for chunk in items.chunks(chunksize.max(1)) {
        payloads.push(encode_chunk(chunk)?);
        lens.push(chunk.len());
    }
    Ok((lens, payloads))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pythons_formula() {
        // 100 items on 4 workers: 100 / 16 = 6 rest 4 -> 7 (15 tasks).
        assert_eq!(default_chunksize(100, 4), 7);
        assert_eq!(default_chunksize(16, 4), 1);
        assert_eq!(default_chunksize(17, 4), 2);
        assert_eq!(default_chunksize(10, 8), 1);
        assert_eq!(default_chunksize(3, 1), 1);
        assert_eq!(default_chunksize(0, 3), 0);
        assert_eq!(default_chunksize(200_000, 2), 25_000);
        assert_eq!(resolve(None, 0, 2).unwrap(), 1);
        assert_eq!(resolve(Some(5), 100, 2).unwrap(), 5);
        assert_eq!(
            resolve(Some(0), 10, 2).unwrap_err().to_string(),
            "chunksize must be 1+, not 0"
        );
    }

    #[test]
    fn chunks_cover_the_input() {
        let items: Vec<u32> = (0..10).collect();
        let (lens, payloads) = encode_chunks(&items, 3).unwrap();
        assert_eq!(lens, vec![3, 3, 3, 1]);
        assert_eq!(payloads.len(), 4);
        assert_eq!(
            payloads[3].bytes,
            9u32.to_le_bytes(),
            "numbers travel packed"
        );
        let words = ["a", "b", "c"].map(String::from);
        let (_, payloads) = encode_chunks(&words, 2).unwrap();
        let last: Vec<String> =
            mp_wire::decode(mp_wire::Message::from_bytes(payloads[1].bytes.clone())).unwrap();
        assert_eq!(last, ["c"]);
    }
}
