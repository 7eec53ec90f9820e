//! The write-ahead log of one shard: framed, checksummed records fsynced before a write is
//! acknowledged. A torn tail left by a crash is detected by its checksum and cut off on open.
//!
//! Record layout (little-endian): `len: u32 | crc32(seq ‖ body): u32 | seq: u64 | body[len]`.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{GrapeError, Result};
use crate::metrics;

const HEADER_LEN: usize = 16;
/// Refuse absurd lengths so a corrupt header cannot make us allocate gigabytes.
const MAX_RECORD_LEN: usize = 1 << 30;

/// One logged operation: its sequence number and serialized body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    pub seq: u64,
    pub body: Vec<u8>,
}

/// An append-only log file.
pub struct Wal {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Wal {
    /// Opens (or creates) the log, returning it with every intact record in order.
    /// Bytes after the first damaged record are truncated away.
    pub fn open(path: &Path) -> Result<(Wal, Vec<WalRecord>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(GrapeError::io(format!("open WAL {}", path.display())))?;
        let (records, valid_len) = read_records(&file).map_err(GrapeError::io("read WAL"))?;
        file.set_len(valid_len)
            .map_err(GrapeError::io("truncate torn WAL tail"))?;
        let mut wal = Wal {
            path: path.to_path_buf(),
            file,
            len: valid_len,
        };
        wal.file
            .seek(SeekFrom::End(0))
            .map_err(GrapeError::io("seek WAL"))?;
        Ok((wal, records))
    }

    /// Appends a record and fsyncs it: when this returns, the record survives a crash.
    pub fn append(&mut self, seq: u64, body: &[u8]) -> Result<()> {
        let start = Instant::now();
        let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&checksum(seq, body).to_le_bytes());
        frame.extend_from_slice(&seq.to_le_bytes());
        frame.extend_from_slice(body);
        let context = || format!("append to WAL {}", self.path.display());
        self.file
            .write_all(&frame)
            .map_err(|e| GrapeError::io(context())(e))?;
        let fsync = Instant::now();
        self.file
            .sync_data()
            .map_err(|e| GrapeError::io(context())(e))?;
        metrics::storage::wal_append(frame.len(), start.elapsed(), fsync.elapsed());
        self.len += frame.len() as u64;
        Ok(())
    }

    /// Size of the log in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every record; called once a checkpoint durably covers them.
    pub fn clear(&mut self) -> Result<()> {
        self.file.set_len(0).map_err(GrapeError::io("clear WAL"))?;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(GrapeError::io("seek WAL"))?;
        self.file.sync_all().map_err(GrapeError::io("sync WAL"))?;
        self.len = 0;
        Ok(())
    }
}

fn checksum(seq: u64, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Reads records until the end or the first damaged one; returns them and the valid length.
fn read_records(file: &File) -> std::io::Result<(Vec<WalRecord>, u64)> {
    let mut reader = BufReader::new(file);
    reader.seek(SeekFrom::Start(0))?;
    let mut records = Vec::new();
    let mut valid_len = 0u64;
    let mut header = [0u8; HEADER_LEN];
    loop {
        if read_full(&mut reader, &mut header)? < HEADER_LEN {
            break;
        }
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let seq = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        if len > MAX_RECORD_LEN {
            break;
        }
        let mut body = vec![0u8; len];
        if read_full(&mut reader, &mut body)? < len || checksum(seq, &body) != crc {
            break;
        }
        valid_len += (HEADER_LEN + len) as u64;
        records.push(WalRecord { seq, body });
    }
    Ok((records, valid_len))
}

/// Like `read_exact`, but reports how much was read instead of failing at end of file.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match reader.read(&mut buf[done..])? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, records) = Wal::open(&path).unwrap();
        assert!(records.is_empty());
        wal.append(1, b"one").unwrap();
        wal.append(2, b"two").unwrap();
        drop(wal);
        let (_, records) = Wal::open(&path).unwrap();
        assert_eq!(
            records,
            vec![
                WalRecord {
                    seq: 1,
                    body: b"one".to_vec()
                },
                WalRecord {
                    seq: 2,
                    body: b"two".to_vec()
                }
            ]
        );
    }

    #[test]
    fn torn_tail_is_cut_and_log_stays_appendable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path).unwrap();
        wal.append(1, b"kept").unwrap();
        wal.append(2, b"torn record").unwrap();
        let full = wal.len();
        drop(wal);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(full - 3).unwrap();
        let (mut wal, records) = Wal::open(&path).unwrap();
        assert_eq!(records.len(), 1);
        wal.append(3, b"after").unwrap();
        drop(wal);
        let (_, records) = Wal::open(&path).unwrap();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 3]
        );
    }

    #[test]
    fn corrupted_byte_stops_replay_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path).unwrap();
        wal.append(1, b"first").unwrap();
        wal.append(2, b"second").unwrap();
        drop(wal);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let (_, records) = Wal::open(&path).unwrap();
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn clear_empties_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path).unwrap();
        wal.append(1, b"x").unwrap();
        wal.clear().unwrap();
        assert!(wal.is_empty());
        drop(wal);
        assert!(Wal::open(&path).unwrap().1.is_empty());
    }
}
