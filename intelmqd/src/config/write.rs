//! The one safe way for the daemon to change a configuration file that an
//! operator also edits by hand (`runtime.conf`, `pipeline.conf`).
//!
//! [`update_file`] reads the file, applies a text edit (usually one of
//! [`super::edit`]'s span-preserving edits), validates the result, keeps the
//! current file as `<path>.bak` and replaces the file atomically with
//! [`crate::fsutil::write_atomic`]. It never overwrites an edit that the
//! operator saved after the file was read: just before the backup and again
//! just before the write, the file's identity (device, inode), size, mtime and
//! ctime (in ns) and its content are compared with what was read; on any
//! difference the attempt is abandoned and the whole cycle starts over on a
//! fresh read, so the operator's change and the daemon's edit both end up in
//! the file. After [`MAX_ATTEMPTS`] attempts that all saw the file change, it
//! gives up without writing.
//!
//! Decisions:
//! - A missing file is created from `"{}\n"` (the edit is applied to that
//!   text), with mode 0644 and no backup, since there is nothing to back up.
//! - An edit that changes nothing writes nothing, not even the backup.
//! - The new file and the backup get the mode (and, where the daemon may
//!   change it, the owner and group) of the file that was read; the umask
//!   does not narrow them.
//! - A symbolic link is followed: the file it points to is replaced, and the
//!   backup is written beside that file, so the link stays a link.
//! - An edit or validation that fails on a file that changed meanwhile (an
//!   editor caught mid-save) is retried on a fresh read, like a write.
//!
//! Callers must not run two updates of the same file at once (the supervisor
//! owns the configuration and serialises them): the temporary file name of
//! `write_atomic` is per process.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::edit::EditError;
use crate::fsutil;

/// How many times [`update_file`] reads, edits and tries to write.
pub const MAX_ATTEMPTS: usize = 5;

/// The text that a missing file is created from.
pub const EMPTY_FILE: &str = "{}\n";

/// The mode of a file that did not exist.
const NEW_FILE_MODE: u32 = 0o644;

/// Why a file was not updated. In every case the file is as it was (or as the
/// operator last saved it).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot edit {}: {source}", path.display())]
    Edit { path: PathBuf, source: EditError },
    #[error("not writing {}: the edited file would be rejected: {message}", path.display())]
    Rejected { path: PathBuf, message: String },
    #[error("not writing {}: it changed on disk during each of {attempts} attempts", path.display())]
    Changed { path: PathBuf, attempts: usize },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Reads the file at `path`, applies `edit` to its text, checks the result
/// with `validate`, and writes it atomically (same mode as the existing file),
/// first copying the current file to `<path>.bak` (atomically too). Refuses to
/// write when the file changed on disk after it was read, and then starts over
/// on a fresh read, up to [`MAX_ATTEMPTS`] attempts; `edit` and `validate` may
/// therefore run more than once. A missing file is created from
/// [`EMPTY_FILE`]. Returns the new text.
pub fn update_file(
    path: &Path,
    edit: impl Fn(&str) -> Result<String, EditError>,
    validate: impl Fn(&str) -> Result<(), String>,
) -> Result<String, WriteError> {
    let path = resolve(path)?;
    let path = path.as_path();
    let backup = backup_path(path);
    for _ in 0..MAX_ATTEMPTS {
        let before = Snapshot::take(path)?;
        let original = before.text.as_deref().unwrap_or(EMPTY_FILE);
        let edited = match edit(original) {
            Ok(edited) => edited,
            Err(_) if !before.is_current(path) => continue,
            Err(source) => {
                return Err(WriteError::Edit {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        match validate(&edited) {
            Ok(()) => {}
            Err(_) if !before.is_current(path) => continue,
            Err(message) => {
                return Err(WriteError::Rejected {
                    path: path.to_owned(),
                    message,
                })
            }
        }
        if before.text.as_deref() == Some(edited.as_str()) {
            if !before.is_current(path) {
                continue;
            }
            return Ok(edited);
        }
        if !before.is_current(path) {
            continue;
        }
        if let (Some(text), Some(meta)) = (&before.text, &before.meta) {
            write_like(&backup, text, meta)?;
            if !before.is_current(path) {
                continue;
            }
        }
        match &before.meta {
            Some(meta) => write_like(path, &edited, meta)?,
            None => fsutil::write_atomic(path, edited.as_bytes(), NEW_FILE_MODE)
                .map_err(|source| write_error(path, source))?,
        }
        return Ok(edited);
    }
    Err(WriteError::Changed {
        path: path.to_owned(),
        attempts: MAX_ATTEMPTS,
    })
}

/// `<path>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".bak");
    PathBuf::from(name)
}

fn read_error(path: &Path, source: io::Error) -> WriteError {
    WriteError::Read {
        path: path.to_owned(),
        source,
    }
}

fn write_error(path: &Path, source: io::Error) -> WriteError {
    WriteError::Write {
        path: path.to_owned(),
        source,
    }
}

/// The file a symbolic link points to; any other path as it is.
fn resolve(path: &Path) -> Result<PathBuf, WriteError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(target) => Ok(target),
            // A dangling link: writing would replace the link; refuse.
            Err(source) => Err(read_error(path, source)),
        },
        _ => Ok(path.to_owned()),
    }
}

/// Writes `text` atomically to `path` with the mode, owner and group of
/// `like`.
fn write_like(path: &Path, text: &str, like: &fs::Metadata) -> Result<(), WriteError> {
    let mode = like.mode() & 0o7777;
    fsutil::write_atomic(path, text.as_bytes(), mode)
        .map_err(|source| write_error(path, source))?;
    let written = fs::metadata(path).map_err(|source| write_error(path, source))?;
    if (written.uid(), written.gid()) != (like.uid(), like.gid()) {
        // Best effort: only root may give a file away, and a daemon that is
        // not root wrote the file as itself, which the operator can fix.
        let _ = std::os::unix::fs::chown(path, Some(like.uid()), Some(like.gid()));
    }
    if written.mode() & 0o7777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|source| write_error(path, source))?;
    }
    Ok(())
}

/// One reading of the file: what identifies that version on disk, and its
/// text. A missing file is a reading too (`meta` and `text` are `None`).
struct Snapshot {
    meta: Option<fs::Metadata>,
    text: Option<String>,
}

/// Device, inode, size, mtime and ctime in ns.
fn identity(meta: &fs::Metadata) -> (u64, u64, u64, i128, i128) {
    let ns = |secs: i64, nsecs: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsecs);
    (
        meta.dev(),
        meta.ino(),
        meta.size(),
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec()),
    )
}

impl Snapshot {
    fn take(path: &Path) -> Result<Snapshot, WriteError> {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(Snapshot {
                    meta: None,
                    text: None,
                })
            }
            Err(source) => return Err(read_error(path, source)),
        };
        if !meta.is_file() {
            return Err(read_error(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            // Replaced between the two calls: the next look sees the change.
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(read_error(path, source)),
        };
        Ok(Snapshot {
            meta: Some(meta),
            text: Some(text),
        })
    }

    /// Whether the file on disk is still the version that was read.
    fn is_current(&self, path: &Path) -> bool {
        match Snapshot::take(path) {
            Ok(now) => {
                self.meta.as_ref().map(identity) == now.meta.as_ref().map(identity)
                    && self.text == now.text
            }
            // The file became unreadable (e.g. a directory): it did change.
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::edit::{remove_member, set_member};
    use serde_json::json;
    use std::cell::Cell;

    const RUNTIME: &str = "{\n    \"a-bot\": {\n        \"module\": \"m\"\n    },\n    \"b-bot\": {\n        \"module\": \"n\"\n    }\n}\n";

    fn accept(_: &str) -> Result<(), String> {
        Ok(())
    }

    fn set_botnet(text: &str) -> Result<String, EditError> {
        set_member(text, &["a-bot", "botnet"], &json!(true))
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn an_update_writes_the_edit_and_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        let new = update_file(&path, set_botnet, accept).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), new);
        assert_eq!(
            new,
            RUNTIME.replacen(
                "\"module\": \"m\"\n",
                "\"module\": \"m\",\n        \"botnet\": true\n",
                1
            )
        );
        assert_eq!(fs::read_to_string(backup_path(&path)).unwrap(), RUNTIME);
        // No temporary file is left behind.
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["runtime.conf", "runtime.conf.bak"]);
    }

    #[test]
    fn an_operators_save_between_read_and_write_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        let operator_text = RUNTIME.replacen("\"n\"", "\"operator-module\"", 1);
        let calls = Cell::new(0);
        let new = update_file(
            &path,
            |text| {
                calls.set(calls.get() + 1);
                if calls.get() == 1 {
                    // The operator saves in place while the daemon works.
                    fs::write(&path, &operator_text).unwrap();
                }
                set_botnet(text)
            },
            accept,
        )
        .unwrap();
        assert_eq!(calls.get(), 2);
        let on_disk = fs::read_to_string(&path).unwrap();
        assert_eq!(on_disk, new);
        assert!(on_disk.contains("\"operator-module\""), "{on_disk}");
        assert!(on_disk.contains("\"botnet\": true"), "{on_disk}");
        // The backup is the operator's version, the one that was replaced.
        assert_eq!(
            fs::read_to_string(backup_path(&path)).unwrap(),
            operator_text
        );
    }

    #[test]
    fn a_rename_over_by_an_editor_is_noticed_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        let calls = Cell::new(0);
        let new = update_file(
            &path,
            |text| {
                calls.set(calls.get() + 1);
                if calls.get() == 1 {
                    // Same content, new inode: still a change.
                    let swap = dir.path().join("runtime.conf~");
                    fs::write(&swap, RUNTIME).unwrap();
                    fs::rename(&swap, &path).unwrap();
                }
                set_botnet(text)
            },
            accept,
        )
        .unwrap();
        assert_eq!(calls.get(), 2);
        assert!(new.contains("\"botnet\": true"));
    }

    #[test]
    fn a_file_that_keeps_changing_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        let calls = Cell::new(0);
        let error = update_file(
            &path,
            |text| {
                calls.set(calls.get() + 1);
                let operator = RUNTIME.replacen("\"n\"", &format!("\"n{}\"", calls.get()), 1);
                fs::write(&path, operator).unwrap();
                set_botnet(text)
            },
            accept,
        )
        .unwrap_err();
        assert_eq!(calls.get(), MAX_ATTEMPTS);
        assert!(matches!(
            error,
            WriteError::Changed {
                attempts: MAX_ATTEMPTS,
                ..
            }
        ));
        assert!(error.to_string().contains("runtime.conf"), "{error}");
        let on_disk = fs::read_to_string(&path).unwrap();
        assert!(on_disk.contains("\"n5\"") && !on_disk.contains("botnet"));
        assert!(!backup_path(&path).exists());
    }

    #[test]
    fn a_rejected_result_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        fs::write(backup_path(&path), "old backup").unwrap();
        let error =
            update_file(&path, set_botnet, |_| Err("bot a-bot: bad".to_owned())).unwrap_err();
        assert!(matches!(error, WriteError::Rejected { .. }));
        assert!(error.to_string().contains("bot a-bot: bad"), "{error}");
        assert_eq!(fs::read_to_string(&path).unwrap(), RUNTIME);
        assert_eq!(
            fs::read_to_string(backup_path(&path)).unwrap(),
            "old backup"
        );
    }

    #[test]
    fn a_failed_edit_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        let error =
            update_file(&path, |text| remove_member(text, &["no-bot"]), accept).unwrap_err();
        assert!(
            matches!(
                &error,
                WriteError::Edit {
                    source: EditError::NotFound { .. },
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), RUNTIME);
        assert!(!backup_path(&path).exists());
    }

    #[test]
    fn a_path_under_a_regular_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("plain");
        fs::write(&not_a_dir, "x").unwrap();
        let path = not_a_dir.join("runtime.conf");
        let error = update_file(&path, set_botnet, accept).unwrap_err();
        assert!(matches!(error, WriteError::Read { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
        assert_eq!(fs::read_to_string(&not_a_dir).unwrap(), "x");
    }

    #[test]
    fn a_failed_write_names_the_path_and_leaves_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        // A directory where the backup goes: renaming a file over it fails,
        // even for root.
        let backup = backup_path(&path);
        fs::create_dir(&backup).unwrap();
        fs::write(backup.join("keep"), "x").unwrap();
        let error = update_file(&path, set_botnet, accept).unwrap_err();
        assert!(matches!(error, WriteError::Write { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&backup.display().to_string()),
            "{error}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), RUNTIME);
    }

    #[test]
    fn the_files_mode_is_kept_for_it_and_its_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        for mode in [0o600, 0o664] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            update_file(&path, set_botnet, accept).unwrap();
            assert_eq!(mode_of(&path), mode);
            assert_eq!(mode_of(&backup_path(&path)), mode);
            update_file(
                &path,
                |text| remove_member(text, &["a-bot", "botnet"]),
                accept,
            )
            .unwrap();
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), RUNTIME);
    }

    #[test]
    fn a_missing_file_is_created_from_an_empty_object() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.conf");
        let seen = std::cell::RefCell::new(String::new());
        let new = update_file(
            &path,
            |text| {
                seen.replace(text.to_owned());
                set_member(text, &["a-bot"], &json!({"source-queue": "a-bot-queue"}))
            },
            accept,
        )
        .unwrap();
        assert_eq!(seen.borrow().as_str(), EMPTY_FILE);
        assert_eq!(
            new,
            "{\n    \"a-bot\": {\n        \"source-queue\": \"a-bot-queue\"\n    }\n}\n"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), new);
        assert_eq!(mode_of(&path), NEW_FILE_MODE);
        assert!(!backup_path(&path).exists());
    }

    #[test]
    fn an_edit_that_changes_nothing_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.conf");
        fs::write(&path, RUNTIME).unwrap();
        let inode = fs::metadata(&path).unwrap().ino();
        let new = update_file(&path, |text| Ok(text.to_owned()), accept).unwrap();
        assert_eq!(new, RUNTIME);
        assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
        assert!(!backup_path(&path).exists());
    }

    #[test]
    fn a_symlink_stays_a_link_to_the_updated_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.conf");
        fs::write(&real, RUNTIME).unwrap();
        let link = dir.path().join("runtime.conf");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        update_file(&link, set_botnet, accept).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::read_to_string(&real).unwrap().contains("botnet"));
        assert_eq!(fs::read_to_string(backup_path(&real)).unwrap(), RUNTIME);
    }
}
