//! Dense vectors of one space, stored contiguously by offset.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use crate::types::Distance;

use super::codec::{self, invalid};
use super::distance::preprocess;

const MAGIC: &[u8; 8] = b"GRAPEVEC";

pub struct DenseVectors {
    dim: usize,
    distance: Distance,
    data: Vec<f32>,
}

impl DenseVectors {
    pub fn new(dim: usize, distance: Distance) -> Self {
        DenseVectors {
            dim,
            distance,
            data: Vec::new(),
        }
    }

    /// Stores a vector (normalized for Cosine) and returns its offset.
    pub fn push(&mut self, v: &[f32]) -> u32 {
        debug_assert_eq!(v.len(), self.dim);
        let start = self.data.len();
        self.data.extend_from_slice(v);
        preprocess(self.distance, &mut self.data[start..]);
        (self.len() - 1) as u32
    }

    pub fn get(&self, offset: u32) -> &[f32] {
        let start = offset as usize * self.dim;
        &self.data[start..start + self.dim]
    }

    /// Hints the CPU to fetch the vector at `offset` into the cache.
    #[inline]
    pub fn prefetch(&self, offset: u32) {
        super::prefetch::prefetch(self.get(offset));
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// Bytes held by the vectors themselves.
    pub fn memory_bytes(&self) -> usize {
        self.data.capacity() * std::mem::size_of::<f32>()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(path)?);
        codec::write_magic(&mut w, MAGIC)?;
        codec::write_u64(&mut w, self.dim as u64)?;
        codec::write_u8s(&mut w, &[distance_code(self.distance)])?;
        codec::write_f32s(&mut w, &self.data)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        let mut r = BufReader::new(File::open(path)?);
        codec::read_magic(&mut r, MAGIC)?;
        let dim = codec::read_usize(&mut r)?;
        let distance = match codec::read_u8s(&mut r)?.as_slice() {
            [code] => distance_from_code(*code)?,
            _ => return Err(invalid("bad distance field")),
        };
        let data = codec::read_f32s(&mut r)?;
        if dim == 0 || data.len() % dim != 0 {
            return Err(invalid("vector data is not a whole number of vectors"));
        }
        Ok(DenseVectors {
            dim,
            distance,
            data,
        })
    }
}

fn distance_code(d: Distance) -> u8 {
    match d {
        Distance::Cosine => 0,
        Distance::Euclid => 1,
        Distance::Dot => 2,
        Distance::Manhattan => 3,
    }
}

fn distance_from_code(code: u8) -> std::io::Result<Distance> {
    Ok(match code {
        0 => Distance::Cosine,
        1 => Distance::Euclid,
        2 => Distance::Dot,
        3 => Distance::Manhattan,
        _ => return Err(invalid(format!("unknown distance code {code}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = DenseVectors::new(3, Distance::Euclid);
        v.push(&[1.0, 2.0, 3.0]);
        v.push(&[4.0, 5.0, 6.0]);
        let path = dir.path().join("v.bin");
        v.save(&path).unwrap();
        let loaded = DenseVectors::load(&path).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded.distance(), Distance::Euclid);
        assert_eq!(loaded.get(1), &[4.0, 5.0, 6.0]);
    }

    #[test]
    fn truncated_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = DenseVectors::new(2, Distance::Dot);
        v.push(&[1.0, 2.0]);
        let path = dir.path().join("v.bin");
        v.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(DenseVectors::load(&path).is_err());
    }
}
