//! The JetStream settings a server runs with: the configured ones with
//! Go's defaults filled in (75% of RAM, 75% of the store's free disk, the
//! store under `<store_dir>/jetstream`), and the start-up banner.

use crate::options::jetstream::SyncPolicy;
use crate::options::Options;
use std::path::{Path, PathBuf};

/// The directory JetStream keeps under the configured store directory.
pub const STORE_SUBDIR: &str = "jetstream";
/// Go's fallbacks when the machine's memory or disk cannot be read.
const MAX_MEMORY_FALLBACK: i64 = 256 * 1024 * 1024;
const MAX_STORE_FALLBACK: i64 = 1024 * 1024 * 1024 * 1024;

/// What JetStream runs with (`/varz` jetstream.config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsConfig {
    pub max_memory: i64,
    pub max_store: i64,
    pub store_dir: PathBuf,
    pub domain: String,
    /// How file stores sync to disk.
    pub sync: SyncPolicy,
    /// Encryption at rest (`jetstream { key, cipher }`).
    pub encryption: Option<StoreEncryption>,
}

/// The server key and cipher file stores are encrypted with.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreEncryption {
    pub cipher: natsd_store::file::Cipher,
    key: String,
}

impl StoreEncryption {
    /// The encryption of `account`'s stores (Go derives each account's
    /// keys from the server key and the account's name).
    pub fn for_account(&self, account: &str) -> natsd_store::file::Encryption {
        natsd_store::file::Encryption::new(self.cipher, self.key.as_bytes(), account)
    }
}

impl std::fmt::Debug for StoreEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreEncryption")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl JsConfig {
    /// The settings `o` gives, with the machine's defaults where it gives
    /// none (a negative or zero size is not set, as in Go).
    pub fn resolve(o: &Options) -> JsConfig {
        let js = &o.jetstream_config;
        let base = if o.store_dir.is_empty() {
            std::env::temp_dir().join("nats")
        } else {
            PathBuf::from(&o.store_dir)
        };
        let store_dir = base.join(STORE_SUBDIR);
        let max_store = match js.max_store {
            Some(n) if n >= 0 => n,
            _ => disk_available(&store_dir),
        };
        let max_memory = match js.max_memory {
            Some(n) if n >= 0 => n,
            _ => match total_memory() {
                Some(m) if m > 0 => m / 4 * 3,
                _ => MAX_MEMORY_FALLBACK,
            },
        };
        JsConfig {
            max_memory,
            max_store,
            store_dir,
            domain: js.domain.clone(),
            sync: js.sync,
            encryption: (!js.key.is_empty()).then(|| StoreEncryption {
                cipher: match js.cipher {
                    crate::options::jetstream::Cipher::ChaCha => natsd_store::file::Cipher::ChaCha,
                    crate::options::jetstream::Cipher::Aes => natsd_store::file::Cipher::Aes,
                },
                key: js.key.clone(),
            }),
        }
    }
}

/// The machine's memory in bytes.
fn total_memory() -> Option<i64> {
    // SAFETY: sysinfo only writes into the struct it is given.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return None;
    }
    Some(info.totalram as i64 * i64::from(info.mem_unit))
}

/// 75% of the free disk under `dir` (created first, as Go does).
fn disk_available(dir: &Path) -> i64 {
    let _ = std::fs::create_dir_all(dir);
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return MAX_STORE_FALLBACK;
    };
    // SAFETY: statvfs only writes into the struct it is given.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return MAX_STORE_FALLBACK;
    }
    (st.f_bavail as u64 * st.f_bsize as u64 / 4 * 3) as i64
}

/// Go's human-readable sizes: "512 B", "1.50 KB", "10.00 MB".
pub fn friendly_bytes(bytes: i64) -> String {
    let f = bytes as f64;
    if f < 1024.0 {
        return format!("{bytes} B");
    }
    let exp = (f.ln() / 1024f64.ln()) as i32;
    let pre = ["K", "M", "G", "T", "P", "E"][(exp - 1) as usize];
    format!("{:.2} {pre}B", f / 1024f64.powi(exp))
}

/// Go's JetStream banner, logged when JetStream starts.
pub fn banner(cfg: &JsConfig, cipher: Option<&str>) -> Vec<String> {
    let mut lines: Vec<String> = [
        "    _ ___ _____ ___ _____ ___ ___   _   __  __",
        " _ | | __|_   _/ __|_   _| _ \\ __| /_\\ |  \\/  |",
        "| || | _|  | | \\__ \\ | | |   / _| / _ \\| |\\/| |",
        " \\__/|___| |_| |___/ |_| |_|_\\___/_/ \\_\\_|  |_|",
        "",
        "         https://docs.nats.io/jetstream",
        "",
        "---------------- JETSTREAM ----------------",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    lines.push(format!(
        "  Max Memory:      {}",
        friendly_bytes(cfg.max_memory)
    ));
    lines.push(format!(
        "  Max Storage:     {}",
        friendly_bytes(cfg.max_store)
    ));
    lines.push(format!(
        "  Store Directory: \"{}\"",
        cfg.store_dir.display()
    ));
    if !cfg.domain.is_empty() {
        lines.push(format!("  Domain:          {}", cfg.domain));
    }
    if let Some(c) = cipher {
        lines.push(format!("  Encryption:      {c}"));
    }
    lines.push("-------------------------------------------".into());
    lines
}

/// Prepares the store directory: a store of before 2.2.3 (accounts right
/// under the configured directory) moves under `jetstream/`; the
/// directory is created, or must be a writable directory.
pub fn prepare_store_dir(cfg: &JsConfig, is_account: impl Fn(&str) -> bool) -> Result<(), String> {
    relocate_old_layout(&cfg.store_dir, is_account)?;
    match std::fs::metadata(&cfg.store_dir) {
        Err(_) => std::fs::create_dir_all(&cfg.store_dir)
            .map_err(|e| format!("could not create storage directory - {e}")),
        Ok(m) if !m.is_dir() => Err("storage directory is not a directory".into()),
        Ok(_) => {
            let probe = cfg.store_dir.join(format!("_test_{}", std::process::id()));
            std::fs::write(&probe, b"")
                .map_err(|_| "storage directory is not writable".to_string())?;
            let _ = std::fs::remove_file(probe);
            Ok(())
        }
    }
}

fn relocate_old_layout(store_dir: &Path, is_account: impl Fn(&str) -> bool) -> Result<(), String> {
    let has_entries = std::fs::read_dir(store_dir).is_ok_and(|mut d| d.next().is_some());
    let Some(parent) = store_dir.parent() else {
        return Ok(());
    };
    if has_entries {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.len() == 1 {
        return Ok(());
    }
    for name in names.iter().filter(|n| *n != STORE_SUBDIR && is_account(n)) {
        std::fs::create_dir_all(store_dir).map_err(|e| e.to_string())?;
        let (old, new) = (parent.join(name), store_dir.join(name));
        crate::notice!(
            "JetStream relocated account \"{}\" to \"{}\"",
            old.display(),
            new.display()
        );
        std::fs::rename(&old, &new).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_go_prints_them() {
        assert_eq!(friendly_bytes(512), "512 B");
        assert_eq!(friendly_bytes(10 * 1024 * 1024), "10.00 MB");
        assert_eq!(friendly_bytes(1536), "1.50 KB");
    }
}
