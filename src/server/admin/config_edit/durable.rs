//! Writing the config file so that a crash or power loss leaves the old content or the new one,
//! never a mix or nothing, and so that the new file is the old one to everyone else: the same
//! mode and owner (a `0600` file holding secrets stays `0600`), the same place when
//! `config.json` is a symlink (the link is kept; its target is replaced).
//!
//! A replacement is written to a temporary file beside the target, flushed, renamed over it,
//! and the directory is flushed so the rename itself survives a crash.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode a config file is created with when there is none to keep: readable by its owner
/// only, as it may hold secrets.
pub const NEW_FILE_MODE: u32 = 0o600;

/// Symlinks followed before giving up (as the kernel does).
const MAX_SYMLINKS: usize = 40;

/// Who a file belongs to and who may read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileAccess {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl FileAccess {
    /// The mode and owner of the file at `path` (symlinks followed); `None` if there is none.
    pub fn of(path: &Path) -> io::Result<Option<Self>> {
        match std::fs::metadata(path) {
            Ok(metadata) => Ok(Some(Self {
                mode: metadata.permissions().mode() & 0o7777,
                uid: metadata.uid(),
                gid: metadata.gid(),
            })),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Where writing to `path` lands: `path` itself, or the file its symlinks lead to (which may not
/// exist yet).
pub fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) => parent.join(link),
                    None => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Replaces the content of the file at `path` (through its symlinks) with `content`, keeping
/// its mode and owner ([`NEW_FILE_MODE`] and the process's own for a new file).
pub fn replace(path: &Path, content: &[u8]) -> io::Result<()> {
    let target = resolve_symlinks(path)?;
    let access = FileAccess::of(&target)?;
    let name = target
        .file_name()
        .map_or_else(|| "config.json".into(), |n| n.to_string_lossy());
    let temporary = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let written = write_file(&temporary, content, access).and_then(|()| {
        std::fs::rename(&temporary, &target)?;
        sync_parent(&target)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Creates the file at `path` with `content` and the mode and owner of `like` (a version of a
/// file is as private as the file), flushed together with its directory entry.
pub fn create(path: &Path, content: &[u8], like: Option<FileAccess>) -> io::Result<()> {
    write_file(path, content, like)?;
    sync_parent(path)
}

/// Writes `content` to a new or truncated file at `path` with `access`, and flushes it.
fn write_file(path: &Path, content: &[u8], access: Option<FileAccess>) -> io::Result<()> {
    let mode = access.map_or(NEW_FILE_MODE, |access| access.mode);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    // The mode given at creation passes through the umask (and a file left over keeps its own).
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    if let Some(access) = access {
        keep_owner(&file, path, access)?;
    }
    file.write_all(content)?;
    file.sync_all()
}

/// Gives `file` the owner in `access` when it is not the process's own already. Only a
/// privileged process can give a file away: otherwise the file becomes the process's, and the
/// log says so.
fn keep_owner(file: &File, path: &Path, access: FileAccess) -> io::Result<()> {
    let metadata = file.metadata()?;
    if (metadata.uid(), metadata.gid()) == (access.uid, access.gid) {
        return Ok(());
    }
    if let Err(error) = std::os::unix::fs::fchown(file, Some(access.uid), Some(access.gid)) {
        tracing::warn!(
            path = %path.display(),
            uid = access.uid,
            gid = access.gid,
            %error,
            "cannot keep the config file's owner: the new file belongs to the gateway's user"
        );
    }
    Ok(())
}

/// Flushes the directory holding `path`, so a rename or a new entry in it survives a crash.
fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_replacement_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode_of(&path), 0o640);
    }

    #[test]
    fn a_new_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        replace(&path, b"{}").unwrap();
        assert_eq!(mode_of(&path), NEW_FILE_MODE);
    }

    #[test]
    fn a_symlinked_config_is_written_through_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("etc");
        std::fs::create_dir(&real_dir).unwrap();
        let target = real_dir.join("gatewatch.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("config.json");
        std::os::unix::fs::symlink("etc/gatewatch.json", &link).unwrap();
        replace(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "the link is still a link"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        // No temporary file left beside the target or the link.
        assert_eq!(std::fs::read_dir(&real_dir).unwrap().count(), 1);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_symlink_loop_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert!(replace(&a, b"x").is_err());
    }

    #[test]
    fn the_owner_is_kept_when_the_process_may_give_files_away() {
        if !rustix::process::geteuid().is_root() {
            // Only a privileged process can create a file owned by someone else.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "old").unwrap();
        std::os::unix::fs::chown(&path, Some(65_534), Some(65_534)).unwrap();
        replace(&path, b"new").unwrap();
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (65_534, 65_534));

        let version = dir.path().join("version.json");
        create(&version, b"old", FileAccess::of(&path).unwrap()).unwrap();
        assert_eq!(std::fs::metadata(&version).unwrap().uid(), 65_534);
    }
}
