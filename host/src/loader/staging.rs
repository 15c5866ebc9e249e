//! Private copies of plugin libraries, made only for `dlopen`.
//!
//! The host never maps a file of the plugin directory: overwriting a mapped
//! library in place would corrupt the running process, and the dynamic loader
//! hands back the library it already has for a known path. So each library is
//! copied first, and the copy is what gets checked, hashed and mapped.
//!
//! Nobody else may touch a copy between its hash and `dlopen`. Each copy goes
//! into a directory created fresh for it (`mkdtemp`: unpredictable name, mode
//! 0700, owner checked) inside a parent that no other user can rename entries
//! of (owned by this user or root; sticky if others may write it). The file is
//! created with `O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`, hashed by reading the copy
//! back, and unlinked with its directory right after `dlopen` (the mapping
//! survives unlinking), so nothing is left behind, even after hundreds of
//! reloads. Directories of crashed processes are removed at start-up.

use std::{
    ffi::{CString, OsString},
    fs::OpenOptions,
    io::{Seek, SeekFrom},
    os::unix::{
        ffi::OsStringExt,
        fs::{DirBuilderExt, MetadataExt, OpenOptionsExt},
    },
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime},
};

/// Name prefix of the per-copy directories: `gatehouse-staging-<pid>-<n>-XXXXXX`.
const PREFIX: &str = "gatehouse-staging-";

/// Where earlier releases kept their copies, shared by every process and user.
const LEGACY_DIR: &str = "gatehouse-libraries";

/// A leftover directory of a dead process is removed once it is this old (a
/// process in another PID namespace may share the parent and look dead).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Makes private copies under one parent directory.
pub(super) struct Staging {
    parent: PathBuf,
}

/// One private copy; dropping it removes the file and its directory.
pub(super) struct Staged {
    dir: PathBuf,
    path: PathBuf,
    hash: String,
}

impl Staged {
    /// The copy, to check and `dlopen`.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 (hex) of the copy's bytes, read back from the copy.
    pub(super) fn hash(&self) -> &str {
        &self.hash
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Staging {
    /// Copies go under `parent` (created 0700 if missing). Nothing is checked
    /// here: every copy checks the parent again.
    pub(super) fn new(parent: PathBuf) -> Self {
        Self { parent }
    }

    /// The parent directory.
    #[cfg(test)]
    fn parent(&self) -> &Path {
        &self.parent
    }

    /// Removes what crashed processes of this user left under the parent: their
    /// per-copy directories, and the shared directory of earlier releases.
    pub(super) fn remove_stale(&self) {
        let Ok(entries) = std::fs::read_dir(&self.parent) else {
            return;
        };
        let me = euid();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            // Only real directories of this user (remove_dir_all does not follow symlinks).
            if !meta.is_dir() || meta.uid() != me {
                continue;
            }
            let stale = if name == LEGACY_DIR {
                true
            } else if let Some(pid) = name.strip_prefix(PREFIX).and_then(owner_pid) {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_some_and(|age| age >= STALE_AFTER);
                pid != std::process::id() && !alive(pid) && old
            } else {
                false
            };
            if stale {
                match std::fs::remove_dir_all(entry.path()) {
                    Ok(()) => {
                        tracing::info!(dir = %entry.path().display(), "removed stale plugin library copies")
                    }
                    Err(e) => {
                        tracing::warn!(dir = %entry.path().display(), error = %e, "cannot remove stale plugin library copies")
                    }
                }
            }
        }
    }

    /// Copies `source` into a fresh private directory. `Err` says what is wrong
    /// (with the parent, or with the copy).
    pub(super) fn stage(&self, source: &Path) -> Result<Staged, String> {
        self.check_parent()?;
        let dir = self.fresh_dir()?;
        let name = source.file_name().unwrap_or_else(|| "library.so".as_ref());
        let mut staged = Staged {
            path: dir.join(name),
            dir,
            hash: String::new(),
        };
        let mut from = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(source)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        let mut copy = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true) // O_CREAT | O_EXCL
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&staged.path)
            .map_err(|e| format!("cannot create {}: {e}", staged.path.display()))?;
        let written = |e: std::io::Error| format!("cannot copy to {}: {e}", staged.path.display());
        std::io::copy(&mut from, &mut copy).map_err(written)?;
        // Hash what will be mapped: the copy's own bytes, through its descriptor.
        copy.seek(SeekFrom::Start(0)).map_err(written)?;
        staged.hash = super::hash_reader(&mut copy).map_err(written)?;
        Ok(staged)
    }

    /// Refuses a parent in which another user could rename or replace our
    /// directories: owned by someone other than this user or root, writable by
    /// others without the sticky bit, or a symlink another user owns.
    fn check_parent(&self) -> Result<(), String> {
        let parent = &self.parent;
        let shown = parent.display();
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| format!("cannot create the staging directory {shown}: {e}"))?;
        }
        let me = euid();
        let link = parent
            .symlink_metadata()
            .map_err(|e| format!("staging directory {shown} is not usable: {e}"))?;
        if link.file_type().is_symlink() && link.uid() != me && link.uid() != 0 {
            return Err(format!(
                "staging directory {shown} is a symlink owned by another user (uid {}); \
                 point --library-staging-dir or TMPDIR at a directory only this user can change",
                link.uid()
            ));
        }
        let meta = std::fs::metadata(parent)
            .map_err(|e| format!("staging directory {shown} is not usable: {e}"))?;
        if !meta.is_dir() {
            return Err(format!("staging directory {shown} is not a directory"));
        }
        let mode = meta.mode();
        let why = if meta.uid() != me && meta.uid() != 0 {
            Some(format!("is owned by another user (uid {})", meta.uid()))
        } else if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            Some(format!(
                "is writable by other users (mode {:o}) and not sticky",
                mode & 0o7777
            ))
        } else {
            None
        };
        match why {
            Some(why) => Err(format!(
                "staging directory {shown} {why}: another user could swap a library copy \
                 before it is loaded; point --library-staging-dir or TMPDIR at a directory \
                 only this user can change (or a sticky one such as /tmp)"
            )),
            None => Ok(()),
        }
    }

    /// A new directory only this process writes: `mkdtemp` (mode 0700, random
    /// suffix, fails rather than reuse an existing name), then checked.
    fn fresh_dir(&self) -> Result<PathBuf, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let template = self
            .parent
            .join(format!("{PREFIX}{}-{n}-XXXXXX", std::process::id()));
        let template = CString::new(template.into_os_string().into_vec())
            .map_err(|_| format!("staging directory {} contains NUL", self.parent.display()))?;
        let raw = template.into_raw();
        // SAFETY: `raw` is a NUL-terminated, writable buffer ending in "XXXXXX";
        // mkdtemp rewrites those six bytes in place, and we take the buffer back.
        let made = unsafe { libc::mkdtemp(raw) };
        let made_ok = !made.is_null();
        let error = std::io::Error::last_os_error();
        // SAFETY: `raw` came from `CString::into_raw` above and is still ours.
        let path = unsafe { CString::from_raw(raw) };
        let dir = PathBuf::from(OsString::from_vec(path.into_bytes()));
        if !made_ok {
            return Err(format!(
                "cannot create a private directory in {}: {error}",
                self.parent.display()
            ));
        }
        let meta = dir.symlink_metadata().map_err(|e| e.to_string())?;
        if !meta.is_dir() || meta.uid() != euid() || meta.mode() & 0o077 != 0 {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!(
                "private directory {} is not ours alone after creating it",
                dir.display()
            ));
        }
        Ok(dir)
    }
}

/// The pid in a per-copy directory name (`<pid>-<n>-XXXXXX`).
fn owner_pid(rest: &str) -> Option<u32> {
    rest.split('-').next()?.parse().ok()
}

/// Whether process `pid` exists (EPERM: it exists, as another user's).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use std::{fs::File, os::unix::fs::PermissionsExt};

    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gatehouse-stage-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        dir
    }

    #[test]
    fn a_copy_is_private_hashed_and_gone_when_dropped() {
        let root = scratch("copy");
        let source = root.join("lib.so");
        std::fs::write(&source, b"library bytes").expect("write");
        let staging = Staging::new(root.join("parent"));
        let staged = staging.stage(&source).expect("stage");
        assert_eq!(
            std::fs::read(staged.path()).expect("read"),
            b"library bytes"
        );
        assert_eq!(
            staged.hash(),
            super::super::hash_reader(&mut File::open(&source).expect("open")).expect("hash")
        );
        let dir = staged.path().parent().expect("dir").to_path_buf();
        let meta = dir.symlink_metadata().expect("dir");
        assert_eq!(meta.mode() & 0o777, 0o700);
        assert!(dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX) && !n.ends_with("XXXXXX")));
        drop(staged);
        assert!(!dir.exists(), "copy and directory must be removed");
        assert_eq!(std::fs::read_dir(staging.parent()).expect("ls").count(), 0);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_parent_others_can_write_is_refused() {
        let root = scratch("open");
        let parent = root.join("shared");
        std::fs::create_dir(&parent).expect("mkdir");
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        std::fs::write(root.join("lib.so"), b"x").expect("write");
        let err = Staging::new(parent.clone())
            .stage(&root.join("lib.so"))
            .err()
            .expect("refused");
        assert!(
            err.contains("writable by other users (mode 777) and not sticky"),
            "{err}"
        );
        // Sticky (as /tmp): others cannot rename our entries, so it is fine.
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        assert!(Staging::new(parent).stage(&root.join("lib.so")).is_ok());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_symlinked_source_is_not_followed() {
        let root = scratch("link");
        std::fs::write(root.join("real.so"), b"x").expect("write");
        std::os::unix::fs::symlink(root.join("real.so"), root.join("link.so")).expect("link");
        let err = Staging::new(root.join("parent"))
            .stage(&root.join("link.so"))
            .err()
            .expect("refused");
        assert!(err.contains("cannot read"), "{err}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn stale_directories_of_dead_processes_and_the_legacy_dir_are_removed() {
        let root = scratch("stale");
        let dead = root.join(format!("{PREFIX}999999999-0-abcdef"));
        let mine = root.join(format!("{PREFIX}{}-0-abcdef", std::process::id()));
        let legacy = root.join(LEGACY_DIR);
        let other = root.join("unrelated");
        for dir in [&dead, &mine, &legacy, &other] {
            std::fs::create_dir(dir).expect("mkdir");
            std::fs::write(dir.join("lib.so"), b"x").expect("write");
        }
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::open(&dead)
            .and_then(|f| f.set_modified(old))
            .expect("age");
        Staging::new(root.clone()).remove_stale();
        assert!(!dead.exists() && !legacy.exists());
        assert!(mine.exists() && other.exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
