//! The rest of [`ListProxy`]'s Python surface: `sort` (atomic against other
//! processes' edits), slices with Python's bounds, and the `+`, `*`, `*=`
//! operators.

use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::ListProxy;
use crate::error::Result;
use crate::manager::Manager;
use crate::server::Slice;

/// A Rust range of Python indices as a Python slice `start:stop:step`.
///
/// `Unbounded` is an omitted bound. An inclusive end `..=e` is the
/// exclusive one next to it in the step's direction (`..=-1` is "to the
/// end"); an excluded start likewise.
fn to_slice(range: &impl RangeBounds<isize>, step: isize) -> Slice {
    let fwd = step > 0;
    let start = match range.start_bound() {
        Bound::Unbounded => None,
        Bound::Included(&s) => Some(s as i64),
        // One past `s` in the step's direction; past either end is empty.
        Bound::Excluded(&s) if fwd => Some(if s == -1 { i64::MAX } else { s as i64 + 1 }),
        Bound::Excluded(&s) => Some(if s == 0 { i64::MIN } else { s as i64 - 1 }),
    };
    let stop = match range.end_bound() {
        Bound::Unbounded => None,
        Bound::Excluded(&e) => Some(e as i64),
        Bound::Included(&e) if fwd => (e != -1).then_some(e as i64 + 1),
        Bound::Included(&e) => (e != 0).then_some(e as i64 - 1),
    };
    Slice {
        start,
        stop,
        step: step as i64,
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// Sorts the list in place with `T`'s `Ord`, ascending, or descending
    /// if `reverse` (Python's `sort(reverse=...)`; stable either way).
    ///
    /// Atomic with respect to every other change: the items are read with
    /// the list's version number, sorted here, and written back only if the
    /// version is unchanged; otherwise it starts again. An item appended by
    /// another process meanwhile is therefore never lost: it is sorted in
    /// on the next round. Each round is two round trips and copies the
    /// whole list both ways.
    pub fn sort(&self, reverse: bool) -> Result<()>
    where
        T: Ord,
    {
        self.sort_by(|a, b| if reverse { b.cmp(a) } else { a.cmp(b) })
    }

    /// Sorts by the key `key` computes for each item (Python's
    /// `sort(key=..., reverse=...)`); stable. The key runs here, in the
    /// caller, so it may be any closure (CPython needs a picklable one).
    pub fn sort_by_key<K: Ord>(&self, mut key: impl FnMut(&T) -> K, reverse: bool) -> Result<()> {
        self.sort_by(|a, b| {
            let o = key(a).cmp(&key(b));
            if reverse {
                o.reverse()
            } else {
                o
            }
        })
    }

    /// Sorts with a comparison function, stably, atomically as
    /// [`sort`](Self::sort) does.
    pub fn sort_by(&self, mut compare: impl FnMut(&T, &T) -> Ordering) -> Result<()> {
        loop {
            let (version, raw): (u64, Vec<ByteBuf>) = self.base.call("copy_versioned", &())?;
            let mut items = raw
                .into_iter()
                .map(|v| Ok((self.base.decode::<T>(&v)?, v)))
                .collect::<Result<Vec<(T, ByteBuf)>>>()?;
            items.sort_by(|a, b| compare(&a.0, &b.0));
            // The original encodings go back, so nothing is re-encoded.
            let sorted: Vec<ByteBuf> = items.into_iter().map(|(_, v)| v).collect();
            if self.base.call("replace_if", &(version, sorted))? {
                return Ok(());
            }
        }
    }

    /// The items in `range` (Python's `l[start:stop]`): negative bounds
    /// count from the end, bounds out of range are clamped, so the result
    /// may be shorter or empty, never an error. `..` is `l[:]`, `-2..` is
    /// `l[-2:]`, `..=-1` is `l[:]` too (an inclusive end is the exclusive
    /// one after it).
    ///
    /// A range literal whose start is above its end, such as `1..-1` for
    /// `l[1:-1]`, is refused by clippy's deny-by-default
    /// `reversed_empty_ranges` lint; write it as a `Bound` pair,
    /// `(Bound::Included(1), Bound::Excluded(-1))`, which is also a
    /// `RangeBounds<isize>`.
    pub fn get_slice(&self, range: impl RangeBounds<isize>) -> Result<Vec<T>> {
        self.get_slice_step(range, 1)
    }

    /// The items of `l[start:stop:step]`; a negative `step` walks backwards
    /// (`get_slice_step(.., -1)` is `l[::-1]`). `step == 0` is a `Value`
    /// error, `slice step cannot be zero`.
    pub fn get_slice_step(&self, range: impl RangeBounds<isize>, step: isize) -> Result<Vec<T>> {
        let raw: Vec<ByteBuf> = self.base.call("get_slice", &to_slice(&range, step))?;
        raw.into_iter().map(|v| self.base.decode_value(v)).collect()
    }

    /// Replaces the items in `range` with `items`, which may be of another
    /// length (Python's `l[start:stop] = items`): the list grows or shrinks.
    /// A range past the end appends; an empty range inserts.
    pub fn set_slice(
        &self,
        range: impl RangeBounds<isize>,
        items: impl IntoIterator<Item = T>,
    ) -> Result<()> {
        self.set_slice_step(range, 1, items)
    }

    /// Python's `l[start:stop:step] = items`. With `step != 1` (an extended
    /// slice) `items` must have the slice's length, or it is a `Value` error
    /// with Python's text.
    pub fn set_slice_step(
        &self,
        range: impl RangeBounds<isize>,
        step: isize,
        items: impl IntoIterator<Item = T>,
    ) -> Result<()> {
        let items = Manager::<()>::encode_all(items)?;
        self.base
            .call("set_slice", &(to_slice(&range, step), items))
    }

    /// Removes the items in `range` (Python's `del l[start:stop]`;
    /// `del_slice(..)` empties the list).
    pub fn del_slice(&self, range: impl RangeBounds<isize>) -> Result<()> {
        self.del_slice_step(range, 1)
    }

    /// Python's `del l[start:stop:step]`.
    pub fn del_slice_step(&self, range: impl RangeBounds<isize>, step: isize) -> Result<()> {
        self.base.call("del_slice", &to_slice(&range, step))
    }

    /// The list followed by `items`, as a new local `Vec` (Python's
    /// `l + items`, which is a plain list too); the shared list is
    /// unchanged. `l += items` is [`extend`](Self::extend).
    pub fn concat(&self, items: impl IntoIterator<Item = T>) -> Result<Vec<T>> {
        let mut v = self.to_vec()?;
        v.extend(items);
        Ok(v)
    }

    /// The list repeated `n` times, as a new local `Vec` (Python's `l * n`).
    /// The items are fetched once and decoded `n` times, so `T` needs no
    /// `Clone`.
    pub fn repeat(&self, n: usize) -> Result<Vec<T>> {
        let raw: Vec<ByteBuf> = self.base.call("copy", &())?;
        let mut out = Vec::with_capacity(raw.len().saturating_mul(n));
        for _ in 0..n {
            for v in &raw {
                out.push(self.base.decode(v)?);
            }
        }
        Ok(out)
    }

    /// Repeats the list's contents `n` times in place, in the server, in one
    /// step (Python's `l *= n`); `n == 0` empties it.
    pub fn imul(&self, n: usize) -> Result<()> {
        self.base.call("__imul__", &(n as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::to_slice;
    use crate::server::Slice;

    fn s(start: Option<i64>, stop: Option<i64>, step: i64) -> Slice {
        Slice { start, stop, step }
    }

    #[test]
    fn ranges_become_python_slices() {
        assert_eq!(to_slice(&(1..3), 1), s(Some(1), Some(3), 1));
        assert_eq!(to_slice(&(-2..), 1), s(Some(-2), None, 1));
        assert_eq!(to_slice(&(..), -1), s(None, None, -1));
        let (one, minus_one, zero, three) = (1, -1, 0, 3);
        assert_eq!(to_slice(&(one..=minus_one), 1), s(Some(1), None, 1));
        assert_eq!(to_slice(&(..=-2), 1), s(None, Some(-1), 1));
        assert_eq!(to_slice(&(three..=zero), -1), s(Some(3), None, -1));
        assert_eq!(to_slice(&(three..=one), -1), s(Some(3), Some(0), -1));
        use std::ops::Bound::{Excluded, Unbounded};
        let r: (std::ops::Bound<isize>, std::ops::Bound<isize>) = (Excluded(-1), Unbounded);
        assert_eq!(to_slice(&r, 1), s(Some(i64::MAX), None, 1));
        let r: (std::ops::Bound<isize>, std::ops::Bound<isize>) = (Excluded(0), Unbounded);
        assert_eq!(to_slice(&r, -1), s(Some(i64::MIN), None, -1));
    }
}
