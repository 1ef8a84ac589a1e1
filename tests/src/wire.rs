//! A tiny binary encoding for values a forked child hands back to the test process through a
//! pipe (no serde derive in this crate). Implemented for the shapes the suites use.

use crate::sys::{Errno, Stat};

pub trait Wire: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn take(inp: &mut &[u8]) -> Option<Self>;
}

fn take_n<'a>(inp: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if inp.len() < n {
        return None;
    }
    let (a, b) = inp.split_at(n);
    *inp = b;
    Some(a)
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn take(inp: &mut &[u8]) -> Option<Self> {
                let b = take_n(inp, std::mem::size_of::<$t>())?;
                Some(<$t>::from_le_bytes(b.try_into().ok()?))
            }
        }
    )*};
}
wire_int!(i32, u32, i64, u64, usize, u16);

impl Wire for () {
    fn put(&self, _: &mut Vec<u8>) {}
    fn take(_: &mut &[u8]) -> Option<Self> {
        Some(())
    }
}

impl Wire for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(take_n(inp, 1)?[0] != 0)
    }
}

impl Wire for Vec<u8> {
    fn put(&self, out: &mut Vec<u8>) {
        (self.len() as u64).put(out);
        out.extend_from_slice(self);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        let n = u64::take(inp)? as usize;
        Some(take_n(inp, n)?.to_vec())
    }
}

impl Wire for String {
    fn put(&self, out: &mut Vec<u8>) {
        self.as_bytes().to_vec().put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        String::from_utf8(Vec::<u8>::take(inp)?).ok()
    }
}

macro_rules! wire_vec {
    ($($t:ty),*) => {$(
        impl Wire for Vec<$t> {
            fn put(&self, out: &mut Vec<u8>) {
                (self.len() as u64).put(out);
                for x in self {
                    x.put(out);
                }
            }
            fn take(inp: &mut &[u8]) -> Option<Self> {
                let n = u64::take(inp)? as usize;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    v.push(<$t>::take(inp)?);
                }
                Some(v)
            }
        }
    )*};
}
wire_vec!(
    String,
    u64,
    i32,
    Errno,
    Stat,
    Result<(), Errno>,
    Result<Vec<u8>, Errno>,
    Result<Stat, Errno>,
    (String, Result<(), Errno>)
);

impl<T: Wire> Wire for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.put(out);
            }
        }
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        match take_n(inp, 1)?[0] {
            0 => Some(None),
            _ => Some(Some(T::take(inp)?)),
        }
    }
}

impl<T: Wire, E: Wire> Wire for Result<T, E> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Ok(v) => {
                out.push(0);
                v.put(out);
            }
            Err(e) => {
                out.push(1);
                e.put(out);
            }
        }
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        match take_n(inp, 1)?[0] {
            0 => Some(Ok(T::take(inp)?)),
            _ => Some(Err(E::take(inp)?)),
        }
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some((A::take(inp)?, B::take(inp)?))
    }
}

impl<A: Wire, B: Wire, C: Wire> Wire for (A, B, C) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
        self.2.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some((A::take(inp)?, B::take(inp)?, C::take(inp)?))
    }
}

impl<A: Wire, B: Wire, C: Wire, D: Wire> Wire for (A, B, C, D) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
        self.2.put(out);
        self.3.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some((A::take(inp)?, B::take(inp)?, C::take(inp)?, D::take(inp)?))
    }
}

impl Wire for Errno {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(Errno(i32::take(inp)?))
    }
}

impl Wire for Stat {
    fn put(&self, out: &mut Vec<u8>) {
        self.ino.put(out);
        self.dev.put(out);
        self.size.put(out);
        self.mode.put(out);
        self.nlink.put(out);
        self.uid.put(out);
        self.gid.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(Stat {
            ino: u64::take(inp)?,
            dev: u64::take(inp)?,
            size: u64::take(inp)?,
            mode: u32::take(inp)?,
            nlink: u64::take(inp)?,
            uid: u32::take(inp)?,
            gid: u32::take(inp)?,
        })
    }
}

/// Encodes a value into a fresh buffer.
pub fn encode<T: Wire>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.put(&mut out);
    out
}

/// Decodes a whole buffer; `None` if it is malformed or has trailing bytes.
pub fn decode<T: Wire>(mut buf: &[u8]) -> Option<T> {
    let v = T::take(&mut buf)?;
    buf.is_empty().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let v: Result<Vec<u8>, Errno> = Ok(vec![1, 2, 3]);
        assert_eq!(decode::<Result<Vec<u8>, Errno>>(&encode(&v)), Some(v));
        let e: Result<Vec<u8>, Errno> = Err(Errno(13));
        assert_eq!(decode::<Result<Vec<u8>, Errno>>(&encode(&e)), Some(e));
        let t = (String::from("x"), 7u64, Some(true));
        assert_eq!(decode::<(String, u64, Option<bool>)>(&encode(&t)), Some(t));
        let names: Result<Vec<String>, Errno> = Ok(vec!["a".into(), "b".into()]);
        assert_eq!(
            decode::<Result<Vec<String>, Errno>>(&encode(&names)),
            Some(names)
        );
        assert_eq!(decode::<u32>(&[1, 0, 0, 0, 9]), None);
    }
}
