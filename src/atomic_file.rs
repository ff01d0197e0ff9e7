//! Writing a user's file: the one writer behind every command that writes one — `ibench
//! baseline save` and `restore`, `ibench instructions save`, `ibench load --out json=`,
//! `ibench report -o` and the other `--report` flags.
//!
//! The bytes go to a temporary file in the target's own directory (so the rename cannot cross a
//! file system), are flushed and synced to disk, and the temporary file is then renamed over the
//! target — or, without `replace`, put in place only if nothing is there, so a file that
//! appears while writing is not replaced either. The directory is synced last, so the rename
//! itself survives a crash. A reader never sees half a file, a crash leaves the old file or the
//! new one, and the temporary file is removed on any failure. Built on tempfile's
//! `persist` / `persist_noclobber`; the directory must exist (each command decides whether to
//! create it).
//!
//! ```
//! use interceptor_bench::atomic_file::{WriteError, write_atomically};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("report.html");
//! write_atomically(&file, b"<p>one</p>", false).unwrap();
//! let refused = write_atomically(&file, b"<p>two</p>", false);
//! assert!(matches!(refused, Err(WriteError::Exists(_))));
//! write_atomically(&file, b"<p>two</p>", true).unwrap();
//! assert_eq!(std::fs::read(&file).unwrap(), b"<p>two</p>");
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a file was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// It exists and replacing it was not asked for.
    #[error("{} already exists; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    /// Anything else: the directory is missing or not writable, the disk is full…
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file (or its directory).
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl WriteError {
    /// An I/O error about `path`.
    pub fn io(path: &Path, source: std::io::Error) -> WriteError {
        WriteError::Io { path: path.to_owned(), source }
    }
}

/// Writes `contents` to `path` atomically (see the module docs); an existing file is replaced
/// only when `replace`, otherwise it is [`WriteError::Exists`].
pub fn write_atomically(path: &Path, contents: &[u8], replace: bool) -> Result<(), WriteError> {
    if path.file_name().is_none() {
        return Err(WriteError::io(path, std::io::Error::other("not a file name")));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ibench-").suffix(".tmp");
    // A temporary file is private (0600); the user's file is an ordinary one (0666 less umask).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(dir).map_err(|e| WriteError::io(path, e))?;
    file.write_all(contents).and_then(|()| file.as_file().sync_all()).map_err(|e| WriteError::io(path, e))?;
    let placed = if replace { file.persist(path) } else { file.persist_noclobber(path) };
    placed.map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => WriteError::Exists(path.to_owned()),
        _ => WriteError::io(path, e.error),
    })?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| WriteError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names in `dir` other than `keep`: what a write left behind.
    fn leftovers(dir: &Path, keep: &str) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != keep)
            .collect()
    }

    #[test]
    fn an_existing_file_is_kept_unless_replacing_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        write_atomically(&path, b"one", false).unwrap();
        let refused = write_atomically(&path, b"two", false).unwrap_err();
        assert!(matches!(&refused, WriteError::Exists(p) if p == &path), "{refused:?}");
        assert!(refused.to_string().ends_with("already exists; pass --force to replace it"));
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomically(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(leftovers(dir.path(), "baseline.json"), Vec::<String>::new());
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("run.json");
        let error = write_atomically(&path, b"{}", true).unwrap_err();
        assert!(matches!(&error, WriteError::Io { path: p, .. } if p == &path), "{error:?}");
        assert!(error.to_string().starts_with(&format!("cannot write {}", path.display())));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_readable_by_others_as_an_ordinary_file_is() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        write_atomically(&path, b"<p>", false).unwrap();
        let ordinary = dir.path().join("ordinary");
        std::fs::write(&ordinary, b"").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&ordinary));
    }
}
