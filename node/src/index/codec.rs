//! Little-endian binary encoding for the index files, with a magic tag per file kind.

use std::io::{self, Read, Write};

pub fn write_magic(w: &mut impl Write, magic: &[u8; 8]) -> io::Result<()> {
    w.write_all(magic)
}

pub fn read_magic(r: &mut impl Read, magic: &[u8; 8]) -> io::Result<()> {
    let mut found = [0u8; 8];
    r.read_exact(&mut found)?;
    if &found != magic {
        return Err(invalid(format!(
            "not a {} file",
            String::from_utf8_lossy(magic).trim_end_matches('\0')
        )));
    }
    Ok(())
}

pub fn write_u64(w: &mut impl Write, v: u64) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

pub fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

pub fn read_usize(r: &mut impl Read) -> io::Result<usize> {
    usize::try_from(read_u64(r)?).map_err(|_| invalid("length overflows usize"))
}

pub fn write_u32s(w: &mut impl Write, values: &[u32]) -> io::Result<()> {
    write_u64(w, values.len() as u64)?;
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

pub fn read_u32s(r: &mut impl Read) -> io::Result<Vec<u32>> {
    let bytes = read_bytes(r, 4)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub fn write_f32s(w: &mut impl Write, values: &[f32]) -> io::Result<()> {
    write_u64(w, values.len() as u64)?;
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

pub fn read_f32s(r: &mut impl Read) -> io::Result<Vec<f32>> {
    let bytes = read_bytes(r, 4)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub fn write_u8s(w: &mut impl Write, values: &[u8]) -> io::Result<()> {
    write_u64(w, values.len() as u64)?;
    w.write_all(values)
}

pub fn read_u8s(r: &mut impl Read) -> io::Result<Vec<u8>> {
    read_bytes(r, 1)
}

/// Reads a length-prefixed run of `width`-byte items, refusing absurd lengths before
/// allocating (a torn or foreign file must not exhaust memory).
fn read_bytes(r: &mut impl Read, width: usize) -> io::Result<Vec<u8>> {
    const MAX_BYTES: usize = 1 << 40;
    let len = read_usize(r)?;
    let total = len
        .checked_mul(width)
        .filter(|&t| t <= MAX_BYTES)
        .ok_or_else(|| invalid("length out of range"))?;
    let mut bytes = Vec::new();
    r.take(total as u64).read_to_end(&mut bytes)?;
    if bytes.len() != total {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated file",
        ));
    }
    Ok(bytes)
}

pub fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}
