//! [`repr`]: the text of a value known only as `Serialize`, in the form
//! `{:?}` gives the std types (`1`, `"x"`, `[1, 2]`, `Some(3)`,
//! `Point { x: 1, y: 2 }`), so a managed `Namespace` can print values of
//! any type (Python's `Namespace(a=1, x=42)`), as the typed proxies print
//! theirs with `Debug`.
//!
//! Proxies inside the value are printed without taking references (see
//! [`protocol::for_display`](crate::protocol::for_display)).

use std::fmt::{self, Write};

use serde::ser::{self, Serialize};

/// The `Debug`-like text of `value`; a value whose `Serialize` fails is
/// shown as `<unprintable: why>`.
pub(crate) fn repr<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = String::new();
    let result = crate::protocol::for_display(|| value.serialize(Repr { out: &mut out }));
    match result {
        Ok(()) => out,
        Err(e) => format!("<unprintable: {e}>"),
    }
}

/// Why a value could not be printed.
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl From<fmt::Error> for Error {
    fn from(_: fmt::Error) -> Self {
        Error("formatting failed".into())
    }
}

struct Repr<'a> {
    out: &'a mut String,
}

/// A sequence, tuple, map or struct being printed: its closing text, and
/// whether an element was written yet.
struct Compound<'a> {
    out: &'a mut String,
    close: &'static str,
    first: bool,
}

impl Compound<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.sep();
        value.serialize(Repr { out: self.out })
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), Error> {
        self.sep();
        write!(self.out, "{name}: ")?;
        value.serialize(Repr { out: self.out })
    }

    fn finish(self) -> Result<(), Error> {
        self.out.push_str(self.close);
        Ok(())
    }
}

impl<'a> Repr<'a> {
    fn text(self, s: impl fmt::Display) -> Result<(), Error> {
        write!(self.out, "{s}")?;
        Ok(())
    }

    fn open(self, open: impl fmt::Display, close: &'static str) -> Result<Compound<'a>, Error> {
        write!(self.out, "{open}")?;
        Ok(Compound {
            out: self.out,
            close,
            first: true,
        })
    }
}

impl<'a> ser::Serializer for Repr<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.text(format_args!("{v:?}"))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.text(format_args!("{v:?}"))
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.text(format_args!("{v:?}"))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.text(format_args!("{v:?}"))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.text(format_args!("{v:?}"))
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.text("None")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        let mut c = self.open("Some(", ")")?;
        c.element(value)?;
        c.finish()
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.text("()")
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<(), Error> {
        self.text(name)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut c = self.open(format_args!("{name}("), ")")?;
        c.element(value)?;
        c.finish()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut c = self.open(format_args!("{variant}("), ")")?;
        c.element(value)?;
        c.finish()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.open("[", "]")
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        // A one-element tuple prints as `(x,)`, as `Debug` does.
        self.open("(", if len == 1 { ",)" } else { ")" })
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.open(format_args!("{name}("), ")")
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.open(format_args!("{variant}("), ")")
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.open("{", "}")
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Compound<'a>, Error> {
        self.open(format_args!("{name} {{ "), " }")
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.open(format_args!("{variant} {{ "), " }")
    }
}

/// The compound serializers whose elements are printed one after another.
macro_rules! elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.element(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.out.push_str(": ");
        value.serialize(Repr { out: self.out })
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// The compound serializers whose elements are named fields.
macro_rules! fields {
    ($($trait:ident),* $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::repr;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize, Debug)]
    struct Point {
        x: i32,
        y: Option<String>,
    }

    #[derive(Serialize, Debug)]
    enum Shape {
        Dot,
        Circle(f64),
        Pair(u8, u8),
        Rect { w: u8, h: u8 },
    }

    #[derive(Serialize, Debug)]
    struct Meters(f32);

    /// Prints as `{:?}` does.
    fn same<T: Serialize + std::fmt::Debug>(v: T) {
        assert_eq!(repr(&v), format!("{v:?}"));
    }

    #[test]
    fn prints_as_debug_does() {
        same(42);
        same(-1.5f64);
        same(2.0f32);
        same("it's \"x\"\n");
        same('q');
        same(true);
        same(());
        same(Some(3u8));
        same(None::<u8>);
        same(vec![1, 2, 3]);
        same((1, "a"));
        same((7,));
        same(Point {
            x: 1,
            y: Some("p".into()),
        });
        same(Shape::Dot);
        same(Shape::Circle(1.0));
        same(Shape::Pair(1, 2));
        same(Shape::Rect { w: 3, h: 4 });
        same(Meters(1.5));
        same(BTreeMap::from([(1, "a"), (2, "b")]));
    }
}
