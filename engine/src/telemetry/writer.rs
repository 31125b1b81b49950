//! A little-endian writer that builds one datagram, the inverse of [`Reader`](super::reader::Reader): values go
//! in front to back, fixed-size strings are NUL-padded, and array lengths are checked against the layout.

use super::EncodeError;

/// Appends little-endian values to a growing datagram, front to back.
#[derive(Debug, Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

/// A value with a fixed little-endian wire layout; the inverse of [`Wire`](super::reader::Wire).
pub trait Encode {
    /// Appends the value's bytes.
    fn write(&self, w: &mut Writer);
}

/// Checks that an array has exactly the `n` entries its layout has slots for, and returns it.
///
/// # Errors
/// [`EncodeError::WrongCount`] naming `field` when `values.len() != n`.
pub fn exactly<'a, T>(
    field: &'static str,
    values: &'a [T],
    n: usize,
) -> Result<&'a [T], EncodeError> {
    if values.len() == n {
        Ok(values)
    } else {
        Err(EncodeError::WrongCount {
            field,
            got: values.len(),
            expected: n,
        })
    }
}

/// Checks that a field that exists from format `since` on is `Some` exactly when `format >= since`, and returns
/// the value to write, if any.
///
/// # Errors
/// [`EncodeError::FormatField`] naming `field` when the value is present in a format without the field, or absent
/// in a format with it.
pub fn since<'a, T>(
    format: u16,
    since: u16,
    field: &'static str,
    value: &'a Option<T>,
) -> Result<Option<&'a T>, EncodeError> {
    let in_format = format >= since;
    if value.is_some() == in_format {
        Ok(value.as_ref())
    } else {
        Err(EncodeError::FormatField {
            format,
            field,
            present: value.is_some(),
        })
    }
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// An empty writer with room for `n` bytes (a packet's size from the format table).
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            bytes: Vec::with_capacity(n),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) {
        self.bytes.resize(self.bytes.len().saturating_add(n), 0);
    }

    /// Appends one value.
    pub fn put<T: Encode>(&mut self, value: &T) {
        value.write(self);
    }

    /// Appends an array of exactly `n` values (the inverse of [`Reader::vec`](super::reader::Reader::vec)).
    ///
    /// # Errors
    /// [`EncodeError::WrongCount`] naming `field` when `values.len() != n`; nothing is written then.
    pub fn put_vec<T: Encode>(
        &mut self,
        field: &'static str,
        values: &[T],
        n: usize,
    ) -> Result<(), EncodeError> {
        for value in exactly(field, values, n)? {
            value.write(self);
        }
        Ok(())
    }

    /// Appends a field that exists from format `since` on: the value when `format >= since`, nothing before.
    ///
    /// # Errors
    /// [`EncodeError::FormatField`] when the value's presence does not match the format (see [`since()`]).
    pub fn put_since<T: Encode>(
        &mut self,
        format: u16,
        since_format: u16,
        field: &'static str,
        value: &Option<T>,
    ) -> Result<(), EncodeError> {
        if let Some(value) = since(format, since_format, field, value)? {
            value.write(self);
        }
        Ok(())
    }

    /// Appends a fixed-size, NUL-padded UTF-8 string of exactly `n` bytes, as the game writes names: a string that
    /// does not fit is cut at the last UTF-8 character boundary that leaves room for at least one NUL, and the rest
    /// of the field is zeroed (the inverse of [`Reader::string`](super::reader::Reader::string)). A NUL inside `s`
    /// ends the name for every reader.
    pub fn string(&mut self, s: &str, n: usize) {
        let kept = &s[..s.floor_char_boundary(n.saturating_sub(1))];
        self.bytes(kept.as_bytes());
        self.zeros(n - kept.len());
    }
}

macro_rules! encode_le {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn write(&self, w: &mut Writer) {
                w.bytes(&self.to_le_bytes());
            }
        }
    )*};
}

encode_le!(u8, i8, u16, i16, u32, u64, f32, f64);

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn write(&self, w: &mut Writer) {
        for value in self {
            value.write(w);
        }
    }
}

/// Appends values to a [`Writer`] in the order given, which must be the order of the matching `read`: fields of one
/// struct, `put!(w, car; speed, throttle, steer)`, or references to values, `put!(w; vehicle_idx, lap_time)`.
macro_rules! put {
    ($w:expr, $s:expr; $($field:ident),+ $(,)?) => {
        { $( $w.put(&$s.$field); )+ }
    };
    ($w:expr; $($value:expr),+ $(,)?) => {
        { $( $w.put($value); )+ }
    };
}
pub(crate) use put;

#[cfg(test)]
mod tests {
    use super::super::reader::Reader;
    use super::*;

    #[test]
    fn writes_little_endian_and_pads_strings() {
        let mut w = Writer::new();
        w.put(&0x1234u16);
        w.put(&1.0f32);
        w.string("HAM", 4);
        w.put(&[0xffu8]);
        assert_eq!(
            w.into_bytes(),
            [
                0x34, 0x12, 0x00, 0x00, 0x80, 0x3f, b'H', b'A', b'M', 0, 0xff
            ]
        );
    }

    #[test]
    fn strings_are_cut_at_a_char_boundary_and_always_nul_terminated() {
        let mut w = Writer::new();
        // "é" is two bytes: "Pérez" is 6 bytes, so a 4-byte field keeps "Pé" (3 bytes) and one NUL.
        w.string("Pérez", 4);
        w.string("Pérez", 3);
        w.string("ABCD", 4);
        w.string("AB", 0);
        let bytes = w.into_bytes();
        assert_eq!(bytes, b"P\xc3\xa9\0P\0\0ABC\0");
        let mut r = Reader::new(&bytes);
        assert_eq!(r.string(4).unwrap(), "Pé");
        assert_eq!(r.string(3).unwrap(), "P");
        assert_eq!(r.string(4).unwrap(), "ABC");
    }

    #[test]
    fn arrays_and_options_are_checked_against_the_layout() {
        let mut w = Writer::new();
        assert_eq!(
            w.put_vec("xs", &[1u8, 2], 3).unwrap_err(),
            EncodeError::WrongCount {
                field: "xs",
                got: 2,
                expected: 3
            }
        );
        assert!(w.is_empty());
        w.put_vec("xs", &[1u8, 2], 2).unwrap();
        w.put_since(2024, 2024, "x", &Some(3u8)).unwrap();
        w.put_since(2023, 2024, "x", &None::<u8>).unwrap();
        assert_eq!(w.len(), 3);
        assert_eq!(
            w.put_since(2023, 2024, "x", &Some(3u8)).unwrap_err(),
            EncodeError::FormatField {
                format: 2023,
                field: "x",
                present: true
            }
        );
        assert_eq!(
            since(2025, 2025, "y", &None::<u8>).unwrap_err(),
            EncodeError::FormatField {
                format: 2025,
                field: "y",
                present: false
            }
        );
    }
}
