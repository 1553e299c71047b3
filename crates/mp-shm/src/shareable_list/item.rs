//! [`Item`]: one value of a [`ShareableList`](crate::ShareableList), and its
//! slot encoding in CPython's layout (a `struct` format of at most 8
//! characters plus a back-transform code).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One item of a [`ShareableList`](crate::ShareableList): the types Python's
/// `ShareableList` can hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Item {
    /// `None` (format `xxxxxx?x`).
    None,
    /// `bool` (format `xxxxxxx?`).
    Bool(bool),
    /// `int`, as a 64-bit integer (format `q`).
    Int(i64),
    /// `float` (format `d`).
    Float(f64),
    /// `str`, stored as UTF-8 (format `Ns`); trailing NULs are lost, as in
    /// Python.
    Str(String),
    /// `bytes` (format `Ns`); trailing NULs are lost, as in Python.
    Bytes(Vec<u8>),
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Item {
            fn from(v: $t) -> Item {
                Item::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for Item {
    fn from(v: f64) -> Item {
        Item::Float(v)
    }
}
impl From<f32> for Item {
    fn from(v: f32) -> Item {
        Item::Float(f64::from(v))
    }
}
impl From<bool> for Item {
    fn from(v: bool) -> Item {
        Item::Bool(v)
    }
}
impl From<&str> for Item {
    fn from(v: &str) -> Item {
        Item::Str(v.to_owned())
    }
}
impl From<String> for Item {
    fn from(v: String) -> Item {
        Item::Str(v)
    }
}
impl From<&[u8]> for Item {
    fn from(v: &[u8]) -> Item {
        Item::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for Item {
    fn from(v: Vec<u8>) -> Item {
        Item::Bytes(v)
    }
}
impl From<()> for Item {
    fn from((): ()) -> Item {
        Item::None
    }
}
impl<T: Into<Item>> From<Option<T>> for Item {
    fn from(v: Option<T>) -> Item {
        v.map_or(Item::None, Into::into)
    }
}

/// Python's `repr` of the item (`None`, `True`, `1`, `2.5`, `'s'`, `b'b'`).
impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::None => f.write_str("None"),
            Item::Bool(true) => f.write_str("True"),
            Item::Bool(false) => f.write_str("False"),
            Item::Int(i) => write!(f, "{i}"),
            Item::Float(x) => write!(f, "{x:?}"),
            Item::Str(s) => write!(f, "'{}'", s.escape_debug()),
            Item::Bytes(b) => write!(f, "b'{}'", b.escape_ascii()),
        }
    }
}

/// The back-transform codes of CPython's layout.
pub(crate) const CODE_PLAIN: i8 = 0;
pub(crate) const CODE_STR: i8 = 1;
pub(crate) const CODE_BYTES: i8 = 2;
pub(crate) const CODE_NONE: i8 = 3;

/// Slots are multiples of this many bytes.
pub(crate) const ALIGN: usize = 8;
/// The largest `Ns` slot whose format fits 8 characters (`9999992s`).
pub(crate) const MAX_TEXT_SLOT: usize = 9_999_992;

impl Item {
    /// The encoded text of a `str`/`bytes` item, `None` for the others.
    pub(crate) fn text(&self) -> Option<&[u8]> {
        match self {
            Item::Str(s) => Some(s.as_bytes()),
            Item::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The back-transform code.
    pub(crate) fn code(&self) -> i8 {
        match self {
            Item::Str(_) => CODE_STR,
            Item::Bytes(_) => CODE_BYTES,
            Item::None => CODE_NONE,
            _ => CODE_PLAIN,
        }
    }

    /// The slot size a new list gives this item: 8 bytes, or the text
    /// rounded up to the next multiple of 8 (at least one NUL), as CPython
    /// does (it counts characters, we count UTF-8 bytes: the same for ASCII,
    /// and never too small).
    pub(crate) fn new_slot(&self) -> usize {
        self.text().map_or(ALIGN, |t| ALIGN * (t.len() / ALIGN + 1))
    }

    /// The format and bytes for a slot of `capacity` bytes (8 for the
    /// fixed-width types, whatever the slot).
    pub(crate) fn encode(&self, capacity: usize) -> (String, Vec<u8>) {
        let mut fixed = [0u8; ALIGN];
        let format = match self {
            Item::None => "xxxxxx?x",
            Item::Bool(b) => {
                fixed[7] = u8::from(*b);
                "xxxxxxx?"
            }
            Item::Int(i) => {
                fixed = i.to_le_bytes();
                "q"
            }
            Item::Float(x) => {
                fixed = x.to_le_bytes();
                "d"
            }
            Item::Str(_) | Item::Bytes(_) => {
                let mut bytes = self.text().unwrap_or_default().to_vec();
                bytes.resize(capacity, 0);
                return (format!("{capacity}s"), bytes);
            }
        };
        (format.to_owned(), fixed.to_vec())
    }

    /// Decodes a slot: its format, code and bytes (`data` is the slot
    /// through the end of the data area). `Err` says why it is no item.
    pub(crate) fn decode(format: &str, code: i8, data: &[u8]) -> Result<Item, String> {
        let fixed = || -> Result<[u8; 8], String> {
            data.get(..ALIGN)
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| "a slot is shorter than 8 bytes".to_owned())
        };
        let text = || -> Result<&[u8], String> {
            let n: usize = format
                .strip_suffix('s')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("format {format:?} is not a text format"))?;
            let bytes = data
                .get(..n)
                .ok_or_else(|| format!("format {format:?} runs past the data area"))?;
            let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            Ok(&bytes[..end])
        };
        match (code, format) {
            (CODE_NONE, _) => Ok(Item::None),
            (CODE_PLAIN, "q") => Ok(Item::Int(i64::from_le_bytes(fixed()?))),
            (CODE_PLAIN, "d") => Ok(Item::Float(f64::from_le_bytes(fixed()?))),
            (CODE_PLAIN, "xxxxxxx?") => Ok(Item::Bool(fixed()?[7] != 0)),
            (CODE_STR, _) => String::from_utf8(text()?.to_vec())
                .map(Item::Str)
                .map_err(|_| "a str item is not UTF-8".to_owned()),
            (CODE_BYTES, _) => Ok(Item::Bytes(text()?.to_vec())),
            _ => Err(format!("format {format:?} with type code {code}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_round_trips() {
        let items = [
            Item::None,
            Item::Bool(true),
            Item::Int(-5),
            Item::Float(2.5),
            Item::Str("héllo".into()),
            Item::Bytes(b"a\0b".to_vec()),
        ];
        for it in items {
            let (fmt, bytes) = it.encode(it.new_slot());
            assert!(fmt.len() <= 8 && bytes.len() == it.new_slot(), "{it:?}");
            assert_eq!(Item::decode(&fmt, it.code(), &bytes), Ok(it));
        }
        assert_eq!(Item::from("12345678").new_slot(), 16);
        assert_eq!(Item::from(Some(3u8)), Item::Int(3));
        assert_eq!(Item::from(None::<i64>), Item::None);
        assert!(Item::decode("q", CODE_STR, b"xxxxxxxx").is_err());
        assert!(Item::decode("99s", CODE_BYTES, &[0; 8]).is_err());
        assert!(Item::decode("d", CODE_PLAIN, &[0; 4]).is_err());
        assert!(Item::decode("q", 7, &[0; 8]).is_err());
        assert_eq!(
            [
                Item::Str("it's".into()),
                Item::Bytes(vec![0xff]),
                Item::Float(1.0)
            ]
            .map(|i| i.to_string()),
            ["'it\\'s'", "b'\\xff'", "1.0"]
        );
    }
}
