//! [`Storage`] on real files: positional reads, appends, `fdatasync` for sync.
//!
//! Open handles are cached (at most [`OPEN_FILES_MAX`], least recently used closed first).
//! Directory entries are made durable by syncing the parent directory after every create,
//! rename and remove, so the core's durability contract holds after a power loss.

use bytes::{Bytes, BytesMut};
use sluice_core::limits::OPEN_FILES_MAX;
use sluice_core::storage::{Storage, StorageError, StorageErrorKind, Volume};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Files under one root directory (the log directory).
#[derive(Debug)]
pub struct FileStorage {
    root: PathBuf,
    handles: BTreeMap<String, (File, u64)>,
    /// Most handles kept open: [`OPEN_FILES_MAX`], or fewer under a low open-file limit.
    handles_max: usize,
    uses: u64,
    /// Reads land here and are split off; once every earlier read is dropped the buffer is
    /// reused, so a fetch does not map, fault in and zero fresh pages for each read.
    reads: BytesMut,
}

impl FileStorage {
    /// Storage rooted at `root`, which is created if missing.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        Self::with_handles_max(root, OPEN_FILES_MAX)
    }

    /// [`FileStorage::new`] keeping at most `handles_max` (at least one) files open.
    pub fn with_handles_max(root: impl Into<PathBuf>, handles_max: usize) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        // Absolute, so that DescribeLogDirs names the directory as Kafka does.
        let root = std::path::absolute(&root)?;
        let handles_max = handles_max.clamp(1, OPEN_FILES_MAX);
        Ok(Self { root, handles: BTreeMap::new(), handles_max, uses: 0, reads: BytesMut::new() })
    }

    /// Closes the least recently used half of the open handles.
    fn shed_handles(&mut self) {
        let mut by_use: Vec<(u64, String)> =
            self.handles.iter().map(|(name, (_, used))| (*used, name.clone())).collect();
        by_use.sort_unstable();
        for (_, name) in by_use.into_iter().take(self.handles.len().div_ceil(2)) {
            self.handles.remove(&name);
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> PathBuf {
        assert!(!path.starts_with('/') && !path.split('/').any(|part| part == ".."));
        if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        }
    }

    fn handle(&mut self, path: &str, create: bool) -> Result<&mut File, StorageError> {
        self.uses += 1;
        let uses = self.uses;
        if !self.handles.contains_key(path) {
            if self.handles.len() >= self.handles_max {
                let oldest = self
                    .handles
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(name, _)| name.clone());
                if let Some(oldest) = oldest {
                    self.handles.remove(&oldest);
                }
            }
            let full = self.full(path);
            let existed = full.exists();
            let open = || OpenOptions::new().read(true).append(true).create(create).open(&full);
            let file = match open() {
                // Out of descriptors (sockets took them): close half of the cached files and
                // try once more, rather than take the log offline for a passing shortage.
                Err(error) if is_out_of_descriptors(&error) && !self.handles.is_empty() => {
                    self.shed_handles();
                    open()
                }
                other => other,
            }
            .map_err(|error| to_storage_error(path, error))?;
            if !existed {
                sync_parent(&full).map_err(|error| to_storage_error(path, error))?;
            }
            self.handles.insert(path.to_string(), (file, uses));
        }
        let entry = self.handles.get_mut(path).expect("inserted above");
        entry.1 = uses;
        Ok(&mut entry.0)
    }
}

/// EMFILE or ENFILE: the process or the system has no file descriptor left.
pub(crate) fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(23 | 24))
}

fn to_storage_error(path: &str, error: io::Error) -> StorageError {
    let kind = match error.kind() {
        io::ErrorKind::NotFound => StorageErrorKind::NotFound,
        io::ErrorKind::StorageFull => StorageErrorKind::NoSpace,
        _ if error.raw_os_error() == Some(28) => StorageErrorKind::NoSpace,
        _ => StorageErrorKind::Io,
    };
    StorageError::new(kind, path, error.to_string())
}

fn sync_parent(full: &Path) -> io::Result<()> {
    match full.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

impl Storage for FileStorage {
    fn create_dir_all(&mut self, dir: &str) -> Result<(), StorageError> {
        let full = self.full(dir);
        if full.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(&full).map_err(|error| to_storage_error(dir, error))?;
        sync_parent(&full).map_err(|error| to_storage_error(dir, error))
    }

    fn remove_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        let full = self.full(dir);
        fs::remove_dir(&full).map_err(|error| to_storage_error(dir, error))?;
        sync_parent(&full).map_err(|error| to_storage_error(dir, error))
    }

    fn list(&mut self, dir: &str) -> Result<Vec<String>, StorageError> {
        let entries = fs::read_dir(self.full(dir)).map_err(|error| to_storage_error(dir, error))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| to_storage_error(dir, error))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    fn len(&mut self, path: &str) -> Result<u64, StorageError> {
        fs::metadata(self.full(path))
            .map(|metadata| metadata.len())
            .map_err(|error| to_storage_error(path, error))
    }

    fn append(&mut self, path: &str, data: &[u8]) -> Result<(), StorageError> {
        let file = self.handle(path, true)?;
        file.write_all(data).map_err(|error| to_storage_error(path, error))
    }

    fn append_parts(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        let file = self.handle(path, true)?;
        let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part)).collect();
        let mut remaining = &mut slices[..];
        while !remaining.is_empty() {
            match file.write_vectored(remaining) {
                Ok(0) => {
                    let error = io::Error::new(io::ErrorKind::WriteZero, "write returned 0");
                    return Err(to_storage_error(path, error));
                }
                Ok(written) => IoSlice::advance_slices(&mut remaining, written),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(to_storage_error(path, error)),
            }
        }
        Ok(())
    }

    fn read_at(&mut self, path: &str, position: u64, len: usize) -> Result<Bytes, StorageError> {
        let mut buffer = std::mem::take(&mut self.reads);
        buffer.clear();
        buffer.resize(len, 0);
        let file = match self.handle(path, false) {
            Ok(file) => file,
            Err(error) => {
                self.reads = buffer;
                return Err(error);
            }
        };
        let mut filled = 0;
        let mut failed = None;
        while filled < len {
            match file.read_at(&mut buffer[filled..], position + filled as u64) {
                Ok(0) => break,
                Ok(count) => filled += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        buffer.truncate(filled);
        let read = buffer.split().freeze();
        self.reads = buffer;
        match failed {
            Some(error) => Err(to_storage_error(path, error)),
            None => Ok(read),
        }
    }

    fn sync(&mut self, path: &str) -> Result<(), StorageError> {
        let file = self.handle(path, false)?;
        file.sync_data().map_err(|error| to_storage_error(path, error))
    }

    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError> {
        let file = self.handle(path, false)?;
        file.set_len(len).map_err(|error| to_storage_error(path, error))
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        self.handles.remove(path);
        let full = self.full(path);
        fs::remove_file(&full).map_err(|error| to_storage_error(path, error))?;
        sync_parent(&full).map_err(|error| to_storage_error(path, error))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.handles.remove(from);
        self.handles.remove(to);
        let target = self.full(to);
        fs::rename(self.full(from), &target).map_err(|error| to_storage_error(from, error))?;
        sync_parent(&target).map_err(|error| to_storage_error(to, error))
    }

    /// The root's path and its file system's size and room (statvfs), as Java's
    /// `FileStore.getTotalSpace` and `getUsableSpace` give them to Kafka.
    fn volume(&mut self) -> Volume {
        let space = rustix::fs::statvfs(&self.root).ok();
        let bytes =
            |blocks: u64, space: &rustix::fs::StatVfs| blocks.saturating_mul(space.f_frsize);
        Volume {
            path: self.root.display().to_string(),
            total_bytes: space.as_ref().map(|space| bytes(space.f_blocks, space)),
            usable_bytes: space.as_ref().map(|space| bytes(space.f_bavail, space)),
        }
    }
}
