//! A calling identity on one mount: syscalls performed as its uid.

use crate::run_as::run_as;
use crate::sys::{self, Stat, R};
use crate::wire::Wire;
use std::path::PathBuf;

/// A calling identity on one mount: every method performs the syscall as `uid` on
/// `<mount>/<rel>` and returns what the app would see.
#[derive(Clone, Debug)]
pub struct User {
    pub uid: u32,
    pub mnt: PathBuf,
}

impl User {
    pub fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.mnt.clone()
        } else {
            self.mnt.join(rel)
        }
    }

    /// Runs `f` as this uid.
    pub fn run<R: Wire, F: FnOnce() -> R>(&self, f: F) -> R {
        run_as(self.uid, f)
    }

    pub fn read(&self, rel: &str) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| sys::read_file(&p))
    }
    /// pread of `len` bytes at `off` through one O_RDONLY open.
    pub fn read_at(&self, rel: &str, off: u64, len: usize) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| sys::open(&p, libc::O_RDONLY, 0)?.pread(off, len))
    }
    /// Reads the whole file in `chunk`-byte preads.
    pub fn read_chunked(&self, rel: &str, chunk: usize) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| {
            let fd = sys::open(&p, libc::O_RDONLY, 0)?;
            let mut out = Vec::new();
            loop {
                let b = fd.pread(out.len() as u64, chunk)?;
                if b.is_empty() {
                    return Ok(out);
                }
                out.extend_from_slice(&b);
            }
        })
    }
    /// `O_CREAT|O_EXCL|O_WRONLY`, write, close.
    pub fn create(&self, rel: &str, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::create(&p, &d))
    }
    pub fn create_flags(&self, rel: &str, flags: i32, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::create_flags(&p, flags, &d))
    }
    /// open(flags) + close.
    pub fn open(&self, rel: &str, flags: i32) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::open_close(&p, flags))
    }
    /// `O_WRONLY|O_TRUNC` + write.
    pub fn overwrite(&self, rel: &str, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::overwrite(&p, &d))
    }
    pub fn write_at(&self, rel: &str, off: u64, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::write_at(&p, off, &d))
    }
    pub fn append(&self, rel: &str, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::append(&p, &d))
    }
    pub fn stat(&self, rel: &str) -> R<Stat> {
        let p = self.path(rel);
        self.run(|| sys::stat(&p))
    }
    pub fn exists(&self, rel: &str) -> bool {
        self.stat(rel).is_ok()
    }
    pub fn access(&self, rel: &str, mode: i32) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::access(&p, mode))
    }
    pub fn mkdir(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::mkdir(&p))
    }
    pub fn rmdir(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::rmdir(&p))
    }
    pub fn unlink(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::unlink(&p))
    }
    pub fn rename(&self, a: &str, b: &str) -> R<()> {
        let (pa, pb) = (self.path(a), self.path(b));
        self.run(|| sys::rename(&pa, &pb))
    }
    pub fn rename2(&self, a: &str, b: &str, flags: u32) -> R<()> {
        let (pa, pb) = (self.path(a), self.path(b));
        self.run(|| sys::rename2(&pa, &pb, flags))
    }
    /// Sorted names in a directory.
    pub fn ls(&self, rel: &str) -> R<Vec<String>> {
        let p = self.path(rel);
        self.run(|| sys::readdir(&p))
    }
    /// True if `name` shows up in the listing of `dir` (panics if the listing fails).
    pub fn lists(&self, dir: &str, name: &str) -> bool {
        match self.ls(dir) {
            Ok(v) => v.iter().any(|n| n == name),
            Err(e) => panic!("uid {}: readdir {dir}: {e}", self.uid),
        }
    }
    pub fn truncate(&self, rel: &str, len: u64) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::truncate(&p, len))
    }
    pub fn utimes(&self, rel: &str, secs: i64) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::utimes(&p, secs))
    }
    pub fn chmod(&self, rel: &str, mode: u32) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::chmod(&p, mode))
    }
    pub fn mmap(&self, rel: &str, shared: bool) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| sys::mmap_read(&p, shared))
    }
    pub fn exec(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::exec(&p))
    }
}
