//! Python's slice rules for a managed `list`: how `l[start:stop:step]`
//! picks indices (CPython's `PySlice_AdjustIndices`), and the read, assign
//! and delete operations on a vector built on them.

use serde::{Deserialize, Serialize};

use crate::error::{RemoteError, RemoteErrorKind};

/// A slice as Python writes it: `None` bounds are omitted ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Slice {
    pub(crate) start: Option<i64>,
    pub(crate) stop: Option<i64>,
    pub(crate) step: i64,
}

fn value_error(msg: impl Into<String>) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Value, msg)
}

impl Slice {
    /// The indices the slice picks in a sequence of `len`, in order.
    pub(crate) fn indices(&self, len: usize) -> Result<Vec<usize>, RemoteError> {
        let (start, _, step, n) = self.adjust(len)?;
        Ok((0..n)
            .map(|k| (start + k as i128 * step) as usize)
            .collect())
    }

    /// `(start, stop, step, slice length)` after clamping to `len`, as
    /// CPython computes them (`start`/`stop` may be -1 or `len`).
    fn adjust(&self, len: usize) -> Result<(i128, i128, i128, usize), RemoteError> {
        if self.step == 0 {
            return Err(value_error("slice step cannot be zero"));
        }
        let len = len as i128;
        let step = i128::from(self.step);
        let clamp = |bound: Option<i64>, default_fwd: i128, default_back: i128| -> i128 {
            let Some(b) = bound else {
                return if step > 0 { default_fwd } else { default_back };
            };
            let mut b = i128::from(b);
            if b < 0 {
                b += len;
                if b < 0 {
                    b = if step < 0 { -1 } else { 0 };
                }
            } else if b >= len {
                b = if step < 0 { len - 1 } else { len };
            }
            b
        };
        let start = clamp(self.start, 0, len - 1);
        let stop = clamp(self.stop, len, -1);
        let n = if step < 0 {
            if stop < start {
                (start - stop - 1) / -step + 1
            } else {
                0
            }
        } else if start < stop {
            (stop - start - 1) / step + 1
        } else {
            0
        };
        Ok((start, stop, step, n as usize))
    }

    /// `v[slice]`.
    pub(crate) fn get<T: Clone>(&self, v: &[T]) -> Result<Vec<T>, RemoteError> {
        Ok(self
            .indices(v.len())?
            .into_iter()
            .map(|i| v[i].clone())
            .collect())
    }

    /// `v[slice] = items`: any length for a step of 1 (the list grows or
    /// shrinks), the slice's own length otherwise.
    pub(crate) fn set<T>(&self, v: &mut Vec<T>, items: Vec<T>) -> Result<(), RemoteError> {
        let (start, stop, step, n) = self.adjust(v.len())?;
        if step == 1 {
            let start = start as usize;
            let stop = (stop.max(start as i128)) as usize;
            v.splice(start..stop, items);
            return Ok(());
        }
        if items.len() != n {
            return Err(value_error(format!(
                "attempt to assign sequence of size {} to extended slice of size {n}",
                items.len()
            )));
        }
        for (k, item) in items.into_iter().enumerate() {
            v[(start + k as i128 * step) as usize] = item;
        }
        Ok(())
    }

    /// `del v[slice]`.
    pub(crate) fn delete<T>(&self, v: &mut Vec<T>) -> Result<(), RemoteError> {
        let mut doomed = self.indices(v.len())?;
        doomed.sort_unstable();
        let mut doomed = doomed.into_iter().peekable();
        let mut i = 0;
        v.retain(|_| {
            let keep = doomed.peek() != Some(&i);
            if !keep {
                doomed.next();
            }
            i += 1;
            keep
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Slice;

    fn s(start: Option<i64>, stop: Option<i64>, step: i64) -> Slice {
        Slice { start, stop, step }
    }

    // Expected values are Python 3.11's.
    #[test]
    fn reads_like_python() {
        let l: Vec<i32> = (0..5).collect();
        assert_eq!(s(Some(1), Some(3), 1).get(&l).unwrap(), [1, 2]);
        assert_eq!(s(Some(-2), None, 1).get(&l).unwrap(), [3, 4]);
        assert_eq!(s(Some(5), Some(10), 1).get(&[0, 1]).unwrap(), [0; 0]);
        assert_eq!(s(None, None, 2).get(&l).unwrap(), [0, 2, 4]);
        assert_eq!(s(None, None, -1).get(&l).unwrap(), [4, 3, 2, 1, 0]);
        assert_eq!(s(Some(3), Some(0), -1).get(&l).unwrap(), [3, 2, 1]);
        assert_eq!(s(Some(-10), Some(2), 1).get(&l).unwrap(), [0, 1]);
        assert_eq!(s(Some(2), Some(-10), -1).get(&l).unwrap(), [2, 1, 0]);
        assert_eq!(
            s(Some(i64::MIN), Some(i64::MAX), i64::MAX).get(&l).unwrap(),
            [0]
        );
        assert_eq!(s(None, None, i64::MIN).get(&l).unwrap(), [4]);
        let e = s(None, None, 0).get(&l).unwrap_err();
        assert_eq!(e.message, "slice step cannot be zero");
    }

    #[test]
    fn assigns_and_deletes_like_python() {
        let mut l: Vec<i32> = (0..5).collect();
        s(Some(1), Some(3), 1)
            .set(&mut l, vec![10, 11, 12])
            .unwrap();
        assert_eq!(l, [0, 10, 11, 12, 3, 4]);
        let mut l = vec![0, 1, 2];
        s(Some(2), Some(0), 1).set(&mut l, vec![9]).unwrap();
        assert_eq!(l, [0, 1, 9, 2]);
        let mut l = vec![0, 1, 2, 3];
        s(Some(10), Some(20), 1).set(&mut l, vec![9]).unwrap();
        s(Some(-100), Some(1), 1).set(&mut l, vec![]).unwrap();
        assert_eq!(l, [1, 2, 3, 9]);
        let mut l: Vec<i32> = (0..6).collect();
        s(Some(1), Some(5), 2).set(&mut l, vec![7, 8]).unwrap();
        assert_eq!(l, [0, 7, 2, 8, 4, 5]);
        let e = s(None, None, 2).set(&mut l, vec![1]).unwrap_err();
        assert_eq!(
            e.message,
            "attempt to assign sequence of size 1 to extended slice of size 3"
        );
        let mut l = vec![0, 1, 2];
        s(None, None, -1).set(&mut l, vec![7, 8, 9]).unwrap();
        assert_eq!(l, [9, 8, 7]);

        let mut l: Vec<i32> = (0..6).collect();
        s(None, None, 2).delete(&mut l).unwrap();
        assert_eq!(l, [1, 3, 5]);
        let mut l = vec![0, 1, 2, 3];
        s(Some(3), Some(0), -2).delete(&mut l).unwrap();
        assert_eq!(l, [0, 2]);
        s(None, None, 1).delete(&mut l).unwrap();
        assert!(l.is_empty());
    }
}
