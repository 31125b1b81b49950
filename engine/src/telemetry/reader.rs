//! A bounds-checked little-endian reader over one datagram: every read either succeeds or returns
//! [`DecodeError::Truncated`], so no input can make the decoder panic.

use super::DecodeError;

/// Reads little-endian values from a byte slice, front to back.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// A value with a fixed little-endian wire layout.
pub trait Wire: Sized {
    /// Reads one value.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`] when the bytes run out.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`] when fewer than `n` remain.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(DecodeError::Truncated {
                got: self.bytes.len(),
                need: self.pos.saturating_add(n),
            });
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// Reads one value of type `T`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`] when the bytes run out.
    pub fn get<T: Wire>(&mut self) -> Result<T, DecodeError> {
        T::read(self)
    }

    /// Reads `n` values of type `T` (a per-car array whose length depends on the packet format).
    ///
    /// # Errors
    /// [`DecodeError::Truncated`] when the bytes run out.
    pub fn vec<T: Wire>(&mut self, n: usize) -> Result<Vec<T>, DecodeError> {
        (0..n).map(|_| T::read(self)).collect()
    }

    /// A fixed-size, NUL-padded UTF-8 string (invalid bytes are replaced, never rejected).
    ///
    /// # Errors
    /// [`DecodeError::Truncated`] when the bytes run out.
    pub fn string(&mut self, n: usize) -> Result<String, DecodeError> {
        let raw = self.take(n)?;
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
    }
}

macro_rules! wire_le {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let bytes = r.take(std::mem::size_of::<$t>())?;
                let mut buf = [0u8; std::mem::size_of::<$t>()];
                buf.copy_from_slice(bytes);
                Ok(<$t>::from_le_bytes(buf))
            }
        }
    )*};
}

wire_le!(u8, i8, u16, i16, u32, u64, f32, f64);

impl<T: Wire + Copy + Default, const N: usize> Wire for [T; N] {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut out = [T::default(); N];
        for slot in &mut out {
            *slot = T::read(r)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_stops_at_the_end() {
        let bytes = [
            0x34, 0x12, 0x00, 0x00, 0x80, 0x3f, b'H', b'A', b'M', 0, 0xff,
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.get::<u16>().unwrap(), 0x1234);
        assert_eq!(r.get::<f32>().unwrap(), 1.0);
        assert_eq!(r.string(4).unwrap(), "HAM");
        assert_eq!(r.position(), 10);
        assert!(matches!(
            r.get::<u16>(),
            Err(DecodeError::Truncated { got: 11, need: 12 })
        ));
        assert_eq!(r.get::<[u8; 1]>().unwrap(), [0xff]);
    }
}
