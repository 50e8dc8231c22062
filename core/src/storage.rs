//! The one door through which the core reaches a disk.
//!
//! Paths are relative to the storage's root (the log directory), with `/` as separator, for
//! example `orders-0/00000000000000000000.log`. Two implementations exist: real files in
//! `sluice-runtime` and an in-memory disk with crash semantics in `sluice-sim`. The core calls
//! `append`, `read_at`, `truncate` and friends directly — they are page-cache operations costing
//! microseconds — while `sync`, the one slow operation, is something the log *requests*
//! (`Log::sync_request`) and the driver performs and reports back, so that one fsync covers
//! many appends and the simulator can delay, fail or lose it.
//!
//! Durability contract every implementation follows:
//! - Bytes written by `append` survive a crash only once a later `sync` of that file returned Ok.
//! - `truncate` is durable only after a later `sync` of that file.
//! - Creating a file (its first `append`, even of no bytes), `rename`, `remove`,
//!   `create_dir_all` and `remove_dir` are durable when they return.

use bytes::Bytes;
use std::fmt;

/// What went wrong, classified by what the caller should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageErrorKind {
    /// The file or directory does not exist.
    NotFound,
    /// The device is full: the write did not happen, or only partly.
    NoSpace,
    /// Any other IO failure, an fsync EIO included: the directory must be taken offline.
    Io,
}

/// An IO failure, with the path it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StorageError {
    /// What to do next.
    pub kind: StorageErrorKind,
    /// The path the operation was on.
    pub path: String,
    /// The operating system's words, or the simulator's.
    pub detail: String,
}

impl StorageError {
    /// An error of `kind` on `path`.
    pub fn new(kind: StorageErrorKind, path: &str, detail: impl Into<String>) -> Self {
        Self { kind, path: path.to_string(), detail: detail.into() }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} on {}: {}", self.kind, self.path, self.detail)
    }
}

impl std::error::Error for StorageError {}

/// Files and directories under one root. See the module docs for the durability contract.
pub trait Storage {
    /// Creates `dir` and its parents. Succeeds if it exists.
    fn create_dir_all(&mut self, dir: &str) -> Result<(), StorageError>;
    /// Removes an empty directory.
    fn remove_dir(&mut self, dir: &str) -> Result<(), StorageError>;
    /// Names of the entries directly in `dir` (`""` is the root), sorted.
    fn list(&mut self, dir: &str) -> Result<Vec<String>, StorageError>;
    /// Length of the file in bytes; `NotFound` if it does not exist.
    fn len(&mut self, path: &str) -> Result<u64, StorageError>;
    /// Appends `data` at the end of the file, creating it if needed. On `NoSpace` a prefix of
    /// `data` may have been written: the caller truncates back.
    fn append(&mut self, path: &str, data: &[u8]) -> Result<(), StorageError>;
    /// Appends `parts` one after the other, as one write where the storage can (a vectored
    /// write on files). Same failure contract as `append`.
    fn append_parts(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        for part in parts {
            self.append(path, part)?;
        }
        Ok(())
    }
    /// Up to `len` bytes at `position`; fewer only at the end of the file.
    fn read_at(&mut self, path: &str, position: u64, len: usize) -> Result<Bytes, StorageError>;
    /// Makes everything appended to the file, and its length, durable.
    fn sync(&mut self, path: &str) -> Result<(), StorageError>;
    /// Cuts the file to `len` bytes (`len` at most its length).
    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError>;
    /// Removes a file.
    fn remove(&mut self, path: &str) -> Result<(), StorageError>;
    /// Atomically replaces `to` with `from`.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError>;
    /// Where the root is and how much room its volume has (DescribeLogDirs).
    fn volume(&mut self) -> Volume;
}

/// The root directory and its volume, as DescribeLogDirs reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Absolute path of the root.
    pub path: String,
    /// Size of the volume in bytes, if known.
    pub total_bytes: Option<u64>,
    /// Bytes of the volume this process may still write, if known.
    pub usable_bytes: Option<u64>,
}

/// Whether `path` exists as a file.
pub fn exists<S: Storage + ?Sized>(storage: &mut S, path: &str) -> Result<bool, StorageError> {
    match storage.len(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind == StorageErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Writes a whole small file so that a crash leaves either the old or the new content:
/// write `path.tmp`, sync it, rename over `path`.
pub fn write_file_atomic<S: Storage + ?Sized>(
    storage: &mut S,
    path: &str,
    content: &[u8],
) -> Result<(), StorageError> {
    let temporary = format!("{path}.tmp");
    if exists(storage, &temporary)? {
        storage.remove(&temporary)?;
    }
    storage.append(&temporary, content)?;
    storage.sync(&temporary)?;
    storage.rename(&temporary, path)
}

/// Reads a whole small file, refusing one longer than `bytes_max`. `None` if it does not exist.
pub fn read_small_file<S: Storage + ?Sized>(
    storage: &mut S,
    path: &str,
    bytes_max: usize,
) -> Result<Option<Bytes>, StorageError> {
    let len = match storage.len(path) {
        Ok(len) => len,
        Err(error) if error.kind == StorageErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    if len > bytes_max as u64 {
        let detail = format!("file is {len} bytes, more than the {bytes_max} allowed");
        return Err(StorageError::new(StorageErrorKind::Io, path, detail));
    }
    storage.read_at(path, 0, len as usize).map(Some)
}
