//! Choosing the next operation of one app from the model: mostly in its own partition
//! (creates, rewrites, renames, deletes, directories, `.nomedia`), reads of anybody's files,
//! and attempts on other apps' files and on places the policy closes.

use super::apps::AppSpec;
use super::content::{synthetic, Content, Palette};
use super::model::{key, FileState, Model};
use super::ops::{AccessMode, Plan, ReadHow};
use super::rng::Rng;
use mediaprovider_policy::VolPath;
use std::sync::Arc;

/// File extensions apps create, with weights (media the corpus has, and documents/others).
const EXTS: &[(&str, u32)] = &[
    ("jpg", 30),
    ("png", 6),
    ("mp4", 10),
    ("heic", 3),
    ("webp", 3),
    ("mp3", 6),
    ("srt", 2),
    ("m3u", 2),
    ("pdf", 5),
    ("txt", 5),
    ("bin", 4),
];

/// Per-app planning state.
pub struct Planner {
    pub rng: Rng,
    pub counter: u64,
    pub eio_names: bool,
    pub max_own_files: usize,
}

fn vp(s: &str) -> Option<VolPath> {
    VolPath::parse(s).ok()
}

/// `path` with its name in upper case (the volume is case-insensitive).
fn shout(p: &VolPath) -> VolPath {
    let parent = p.parent().unwrap_or_default();
    parent
        .join(&p.file_name().to_ascii_uppercase())
        .unwrap_or_else(|_| p.clone())
}

impl Planner {
    fn fresh_name(&mut self, ext: &str) -> String {
        self.counter += 1;
        let n = self.counter;
        match self.rng.below(100) {
            0..=2 => format!(".h{n}.{ext}"),
            3 => format!("bad:{n}.{ext}"),
            4..=6 if self.eio_names => format!("f{n}-eiofault.{ext}"),
            _ => format!("f{n}.{ext}"),
        }
    }

    fn pick_ext(&mut self) -> &'static str {
        let w: Vec<u32> = EXTS.iter().map(|e| e.1).collect();
        EXTS[self.rng.weighted(&w)].0
    }

    fn content(&mut self, palette: &Palette, ext: &str) -> Arc<Content> {
        if ext == "bin" && self.rng.chance(60) {
            // Big blobs fill a small lower tree (ENOSPC).
            let len = (1 << 20) + self.rng.below(4 << 20);
            return synthetic(&mut self.rng, len);
        }
        palette.pick(&mut self.rng, ext, 48 * 1024)
    }

    /// The next operation for `app`.
    pub fn next(
        &mut self,
        app: &AppSpec,
        all: &[AppSpec],
        m: &Model,
        palette: &Palette,
    ) -> Option<Plan> {
        let own_files: Vec<FileState> = app
            .partition
            .iter()
            .flat_map(|d| m.files_under(&key(d)))
            .filter(|f| !m.busy(&key(&f.path)))
            .collect();
        let own_dirs: Vec<VolPath> = app
            .partition
            .iter()
            .filter(|d| m.dir_exists(&key(d)))
            .flat_map(|d| {
                let mut v = vec![d.clone()];
                v.extend(m.dirs_under(&key(d)));
                v
            })
            .collect();
        let probe_android = self.rng.chance(5);
        let rng = &mut self.rng;
        let full = own_files.len() >= self.max_own_files;
        let weights: [u32; 16] = [
            if full { 2 } else { 16 }, // 0 create
            8,                         // 1 rewrite
            3,                         // 2 write-at
            2,                         // 3 truncate
            if full { 14 } else { 5 }, // 4 unlink
            6,                         // 5 rename file
            3,                         // 6 mkdir
            2,                         // 7 rmdir
            2,                         // 8 .nomedia toggle
            22,                        // 9 read / mmap
            8,                         // 10 stat / access
            7,                         // 11 readdir
            8,                         // 12 attempts on others' files and closed places
            1,                         // 13 rename dir
            2,                         // 14 fstat after unlink
            2,                         // 15 case recreate
        ];
        let choice = rng.weighted(&weights);
        let own_file = |rng: &mut Rng| rng.pick(&own_files).cloned();
        let own_dir = |rng: &mut Rng| rng.pick(&own_dirs).cloned();
        match choice {
            0 => {
                let ext = self.pick_ext();
                let name = self.fresh_name(ext);
                let dir = if self.rng.chance(80) {
                    own_dir(&mut self.rng)?
                } else {
                    self.probe_dir(app, all)?
                };
                let content = self.content(palette, ext);
                let rdonly = self.rng.chance(4);
                Some(Plan::Create {
                    path: dir.join(&name).ok()?,
                    content,
                    rdonly,
                })
            }
            1 => {
                let f = own_file(rng)?;
                let ext = f
                    .path
                    .file_name()
                    .rsplit('.')
                    .next()
                    .unwrap_or("")
                    .to_string();
                // Swap located and plain versions of the same type: the rewrite race.
                let content = match palette.located(rng, &ext) {
                    Some(c) if rng.chance(50) => c,
                    _ => self.content(palette, &ext),
                };
                Some(Plan::Rewrite {
                    path: f.path,
                    content,
                })
            }
            2 => {
                let f = own_file(rng)?;
                let len = f.content.bytes.len() as u64;
                let off = rng.below(len as usize + 1) as u64;
                let data = mediaproviderd_tests::pattern(rng.below(4096) + 1, rng.next_u64());
                Some(Plan::WriteAt {
                    path: f.path,
                    off,
                    data,
                })
            }
            3 => {
                let f = own_file(rng)?;
                let len = rng.below(f.content.bytes.len() + 1) as u64;
                Some(Plan::Truncate { path: f.path, len })
            }
            4 => {
                let f = own_file(rng)?;
                let path = if rng.chance(25) {
                    shout(&f.path)
                } else {
                    f.path
                };
                Some(Plan::Unlink { path })
            }
            5 => {
                let f = own_file(rng)?;
                let noreplace = rng.chance(30);
                let to = if rng.chance(20) {
                    own_file(rng)?.path // onto an existing file of ours
                } else {
                    let ext = if rng.chance(70) {
                        f.path
                            .file_name()
                            .rsplit('.')
                            .next()
                            .unwrap_or("bin")
                            .to_string()
                    } else {
                        self.pick_ext().to_string()
                    };
                    let name = self.fresh_name(&ext);
                    own_dir(&mut self.rng)?.join(&name).ok()?
                };
                if key(&to) == key(&f.path) {
                    return None;
                }
                Some(Plan::Rename {
                    from: f.path,
                    to,
                    noreplace,
                })
            }
            6 => {
                self.counter += 1;
                let n = self.counter;
                let dir = own_dir(&mut self.rng)?;
                if dir.depth() > 4 {
                    return None;
                }
                Some(Plan::Mkdir {
                    path: dir.join(&format!("d{n}")).ok()?,
                })
            }
            7 => {
                let d = own_dir(rng)?;
                if app.partition.iter().any(|p| key(p) == key(&d)) {
                    return None; // partition roots stay
                }
                Some(Plan::Rmdir { path: d })
            }
            8 => {
                // `.nomedia` may only be created where any file may: Download/Documents.
                let dirs: Vec<&VolPath> = own_dirs
                    .iter()
                    .filter(|d| {
                        d.depth() >= 3
                            && (d.as_str().starts_with("Download/")
                                || d.as_str().starts_with("Documents/"))
                    })
                    .collect();
                let d = (*rng.pick(&dirs)?).clone();
                let path = d.join(".nomedia").ok()?;
                Some(if m.file(&key(&path)).is_some() {
                    Plan::Unlink { path }
                } else {
                    Plan::Create {
                        path,
                        content: Content::new("nomedia".into(), Vec::new()),
                        rdonly: false,
                    }
                })
            }
            9 => {
                let f = self.any_file(m)?;
                let how = match self.rng.below(10) {
                    0 => ReadHow::MmapShared,
                    1 => ReadHow::MmapPrivate,
                    2..=4 => ReadHow::Held,
                    _ => ReadHow::Read,
                };
                let path = if self.rng.chance(10) { shout(&f) } else { f };
                Some(Plan::Read { path, how })
            }
            10 => {
                let path = if self.rng.chance(70) {
                    self.any_file(m)?
                } else {
                    self.any_dir(m)?
                };
                Some(match self.rng.below(4) {
                    0 => Plan::Stat { path },
                    1 => Plan::Access {
                        path,
                        mode: AccessMode::Exists,
                    },
                    2 => Plan::Access {
                        path,
                        mode: AccessMode::Read,
                    },
                    _ => Plan::Access {
                        path,
                        mode: AccessMode::Write,
                    },
                })
            }
            11 => {
                // Half the listings are of directories where files are being created right now.
                let hot_dir = self
                    .rng
                    .chance(50)
                    .then(|| self.any_file(m).and_then(|f| f.parent()))
                    .flatten();
                Some(Plan::Readdir {
                    path: match hot_dir {
                        Some(d) => d,
                        None => self.any_dir(m)?,
                    },
                })
            }
            12 if probe_android => {
                // Renaming Android or its data/obb dirs away: EACCES for every caller.
                let from =
                    *self
                        .rng
                        .pick(&["Android/data", "android/DATA", "Android/obb", "Android"])?;
                self.counter += 1;
                let n = self.counter;
                let from = vp(from)?;
                let to = own_dir(&mut self.rng)?.join(&format!("stolen{n}")).ok()?;
                // Into itself would be the kernel's EINVAL, not a policy question.
                if key(&to).starts_with(&key(&from)) {
                    return None;
                }
                Some(Plan::Rename {
                    from,
                    to,
                    noreplace: false,
                })
            }
            12 => {
                let f = self.any_file(m)?;
                if app.owns(&f) {
                    return None;
                }
                Some(match self.rng.below(5) {
                    0 => Plan::Unlink { path: f },
                    1 => Plan::OpenWrite { path: f },
                    2 => Plan::Truncate { path: f, len: 0 },
                    3 => Plan::Rewrite {
                        path: f,
                        content: synthetic(&mut self.rng, 64),
                    },
                    _ => {
                        let ext = f
                            .file_name()
                            .rsplit('.')
                            .next()
                            .unwrap_or("bin")
                            .to_string();
                        let name = self.fresh_name(&ext);
                        Plan::Rename {
                            from: f,
                            to: own_dir(&mut self.rng)?.join(&name).ok()?,
                            noreplace: false,
                        }
                    }
                })
            }
            13 => {
                let d = own_dir(rng)?;
                // Partition roots (including Android/{data,media}/<pkg>) stay where they are.
                if d.depth() < 3 || app.partition.iter().any(|p| key(p) == key(&d)) {
                    return None;
                }
                self.counter += 1;
                let n = self.counter;
                let parent = own_dir(&mut self.rng)?;
                if parent.starts_with(&d) {
                    return None;
                }
                Some(Plan::Rename {
                    from: d,
                    to: parent.join(&format!("r{n}")).ok()?,
                    noreplace: self.rng.chance(50),
                })
            }
            14 => Some(Plan::FstatUnlinked {
                path: own_file(rng)?.path,
            }),
            _ => {
                self.counter += 1;
                let n = self.counter;
                let dir = own_dir(&mut self.rng)?;
                let content = self.content(palette, "jpg");
                Some(Plan::CaseRecreate {
                    path: dir.join(&format!("case{n}.jpg")).ok()?,
                    content,
                })
            }
        }
    }

    fn any_file(&mut self, m: &Model) -> Option<VolPath> {
        if self.rng.chance(40) {
            let hot: Vec<&String> = m.hot.iter().collect();
            if let Some(f) = self.rng.pick(&hot).and_then(|k| m.file(k)) {
                return Some(f.path.clone());
            }
        }
        // Sampling a HashMap by skipping: fine for the few thousand files of a run.
        let n = m.files.len();
        if n == 0 {
            return None;
        }
        let skip = self.rng.below(n);
        m.files
            .values()
            .cycle()
            .skip(skip)
            .take(n)
            .find_map(|h| h.current.as_ref().map(|f| f.path.clone()))
    }

    fn any_dir(&mut self, m: &Model) -> Option<VolPath> {
        let n = m.dirs.len();
        if n == 0 {
            return None;
        }
        let skip = self.rng.below(n);
        m.dirs
            .values()
            .cycle()
            .skip(skip)
            .take(n)
            .find_map(|h| h.current.clone())
    }

    /// A directory outside the app's partition where the policy should refuse a create.
    fn probe_dir(&mut self, app: &AppSpec, all: &[AppSpec]) -> Option<VolPath> {
        let other = self.rng.pick(all)?;
        let choices: Vec<Option<VolPath>> = vec![
            Some(VolPath::root()),
            vp("Notifications"),
            vp("Torture"),
            vp("Android/media"),
            other
                .pkg
                .as_ref()
                .and_then(|p| vp(&format!("Android/media/{p}"))),
            other
                .pkg
                .as_ref()
                .and_then(|p| vp(&format!("Android/data/{p}"))),
            self.rng.pick(&other.partition).cloned(),
        ];
        let d = self.rng.pick(&choices)?.clone()?;
        (!app.owns(&d)).then_some(d)
    }
}
