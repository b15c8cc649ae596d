//! The data dir on disk: created 0700, every file in it 0600 (key, API token, database and its
//! WAL, config, listen file), since it holds the node's secret key and its books.
use std::path::Path;

use anyhow::Context;

/// Mode of the data dir: owner only.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the node keeps in the data dir: owner read/write only.
pub const FILE_MODE: u32 = 0o600;

/// Create `dir` (and its parents) if missing, with [`DIR_MODE`]; tighten an existing dir to
/// [`DIR_MODE`] and every regular file directly inside it to [`FILE_MODE`] (files an older
/// version or the operator left group- or world-readable), and create the database file
/// `db_file` empty with [`FILE_MODE`] if missing, so SQLite's `-wal` and `-shm` files, which
/// take the database file's mode, are private too.
///
/// Errors: the dir cannot be created or read, or a mode cannot be set.
pub fn prepare(dir: &Path, db_file: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("creating data dir {}", dir.display()))?;
    tighten(dir, DIR_MODE)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(dir.join(db_file))
        .with_context(|| format!("creating {}", dir.join(db_file).display()))?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            tighten(&entry.path(), FILE_MODE)?;
        }
    }
    Ok(())
}

/// Set `path`'s permission bits to `mode` if any group or other bit is set.
fn tighten(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting mode {mode:o} on {}", path.display()))?;
        tracing::info!(path = %path.display(), was = format!("{current:o}"), now = format!("{mode:o}"), "tightened permissions");
    }
    Ok(())
}

/// Write `contents` to `path` atomically (a temporary file renamed over it), readable only by
/// the owner ([`FILE_MODE`]).
///
/// Errors: the file cannot be written, synced or renamed.
pub fn write_private_replace(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    crate::keys::write_private(&tmp, contents)?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_data_dir_is_private_and_an_old_one_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("a/b");
        prepare(&fresh, "btpnips.db").unwrap();
        assert_eq!(mode(&fresh), DIR_MODE);
        assert_eq!(mode(&fresh.join("btpnips.db")), FILE_MODE);

        let old = root.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(old.join("btpnips.toml"), "x = 1").unwrap();
        std::fs::set_permissions(old.join("btpnips.toml"), std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare(&old, "btpnips.db").unwrap();
        assert_eq!(mode(&old), DIR_MODE);
        assert_eq!(mode(&old.join("btpnips.toml")), FILE_MODE);

        write_private_replace(&old.join("listen.json"), "{}").unwrap();
        write_private_replace(&old.join("listen.json"), "{\"a\":1}").unwrap();
        assert_eq!(mode(&old.join("listen.json")), FILE_MODE);
        assert_eq!(std::fs::read_to_string(old.join("listen.json")).unwrap(), "{\"a\":1}");
    }
}
