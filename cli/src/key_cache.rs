//! The key cache: `<cache>/keys/<id>/` holds the keys one-shot proving made for one (program,
//! circuit, visibility, SRS) combination, `pk.bin` and `vk.bin` (Groth16: `pk.bin` alone).
//!
//! Proving keys are large (3 GB for a gas-shaped circuit of 2^20 rows) and a model proven as
//! many segments makes one per segment, so the cache is bounded two ways before a proving key
//! is written:
//!
//! - its proving keys together stay within a limit, `$ZKML_KEY_CACHE_GB` gigabytes
//!   ([`DEFAULT_LIMIT_GB`] when unset; 0 keeps no proving key);
//! - the disk keeps [`FREE_SPACE_RESERVE`] bytes free once the key is written.
//!
//! Room is made by removing the proving keys used least recently (a load marks a key used).
//! Their verifying keys stay: they are small, and a run that goes on from saved proofs needs
//! only them. Where no room can be made the key is not cached and the run goes on without it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};

/// The environment variable that sets the limit, in gigabytes (10^9 bytes).
pub const LIMIT_VARIABLE: &str = "ZKML_KEY_CACHE_GB";
/// The limit on the cache's proving keys when [`LIMIT_VARIABLE`] is unset, in gigabytes.
pub const DEFAULT_LIMIT_GB: f64 = 32.0;
/// Bytes the disk keeps free once a proving key is written.
pub const FREE_SPACE_RESERVE: u64 = 4_000_000_000;
/// A partly written key older than this was left by a run that stopped; it is removed.
const STALE_PARTIAL: Duration = Duration::from_secs(24 * 3600);

/// The key cache under `root` (`<cache>/keys`).
#[derive(Clone, Debug)]
pub struct KeyCache {
    root: PathBuf,
    /// Bytes the cache's proving keys may take together.
    limit: u64,
}

/// A cached proving key.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its `pk.bin`.
    pub path: PathBuf,
    pub bytes: u64,
    /// When it was last written or loaded.
    pub used: SystemTime,
}

/// What [`KeyCache::make_room`] removed.
#[derive(Debug, Default)]
pub struct Room {
    pub removed: Vec<Entry>,
}

impl Room {
    /// A line for the user, where anything was removed.
    pub fn describe(&self) -> Option<String> {
        if self.removed.is_empty() {
            return None;
        }
        let bytes: u64 = self.removed.iter().map(|e| e.bytes).sum();
        let n = self.removed.len();
        Some(format!(
            "key cache: removed {n} proving key{} used least recently ({}) to make room; \
             their verifying keys stay",
            if n == 1 { "" } else { "s" },
            gigabytes(bytes)
        ))
    }
}

impl KeyCache {
    /// The cache under the default cache directory, with the limit from the environment.
    pub fn open() -> Result<Self> {
        let root = zkml_prover::srs::SrsCache::default_dir().join("keys");
        Ok(Self::new(
            root,
            limit_from(std::env::var(LIMIT_VARIABLE).ok())?,
        ))
    }

    pub fn new(root: PathBuf, limit: u64) -> Self {
        Self { root, limit }
    }

    /// The directory of the combination named by `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The cached proving keys, least recently used first.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|d| {
                let path = d.path().join("pk.bin");
                let meta = std::fs::metadata(&path).ok()?;
                Some(Entry {
                    bytes: meta.len(),
                    used: meta.modified().ok()?,
                    path,
                })
            })
            .collect();
        entries.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
        entries
    }

    /// Marks the proving key at `pk` used, so that it is among the last to be removed.
    pub fn touch(pk: &Path) {
        // A key that cannot be marked is only removed sooner.
        let _ = std::fs::File::options()
            .append(true)
            .open(pk)
            .and_then(|f| f.set_modified(SystemTime::now()));
    }

    /// Makes room for a proving key of `bytes` to be written into `dir`, removing the least
    /// recently used other keys as needed; an error says why the key cannot be cached.
    pub fn make_room(&self, dir: &Path, bytes: u64) -> Result<Room> {
        self.remove_stale_partials();
        let others: Vec<Entry> = self
            .entries()
            .into_iter()
            .filter(|e| e.path.parent() != Some(dir))
            .collect();
        let available = std::fs::create_dir_all(&self.root)
            .ok()
            .and_then(|()| available_bytes(&self.root));
        let chosen = plan(&others, bytes, self.limit, available)?;
        let mut room = Room::default();
        for entry in chosen.into_iter().map(|i| &others[i]) {
            match std::fs::remove_file(&entry.path) {
                Ok(()) => room.removed.push(entry.clone()),
                // Removed by another run meanwhile: the room is made all the same.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => bail!("cannot remove {}: {e}", entry.path.display()),
            }
        }
        Ok(room)
    }

    /// Removes keys a stopped run left partly written.
    fn remove_stale_partials(&self) {
        let now = SystemTime::now();
        for dir in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            for file in std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = file.file_name();
                let partial = name.to_string_lossy().ends_with(".partial");
                let old = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > STALE_PARTIAL);
                if partial && old {
                    let _ = std::fs::remove_file(file.path());
                }
            }
        }
    }
}

/// Which of `entries` (least recently used first) to remove so that a key of `bytes` fits
/// within `limit` together with the rest, and leaves [`FREE_SPACE_RESERVE`] of the `available`
/// bytes (unknown: not checked) free: the first ones, as few as do. An error where removing
/// them all is not enough.
pub fn plan(
    entries: &[Entry],
    bytes: u64,
    limit: u64,
    available: Option<u64>,
) -> Result<Vec<usize>> {
    if bytes > limit {
        bail!(
            "the proving key ({}) is larger than the key cache's limit of {} (set {LIMIT_VARIABLE} \
             to raise it)",
            gigabytes(bytes),
            gigabytes(limit)
        );
    }
    let needed = bytes + FREE_SPACE_RESERVE;
    if let Some(available) = available {
        let freeable: u64 = entries.iter().map(|e| e.bytes).sum();
        if available + freeable < needed {
            bail!(
                "the disk has {} free: writing the proving key ({}) would leave less than {}, \
                 even with every other cached proving key removed",
                gigabytes(available),
                gigabytes(bytes),
                gigabytes(FREE_SPACE_RESERVE)
            );
        }
    }
    let mut cached: u64 = entries.iter().map(|e| e.bytes).sum();
    let mut free = available;
    let mut chosen = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let over_limit = cached + bytes > limit;
        let short_of_disk = free.is_some_and(|f| f < needed);
        if !over_limit && !short_of_disk {
            break;
        }
        chosen.push(i);
        cached -= entry.bytes;
        free = free.map(|f| f + entry.bytes);
    }
    Ok(chosen)
}

/// The limit `value` (of [`LIMIT_VARIABLE`]) sets, in bytes.
pub fn limit_from(value: Option<String>) -> Result<u64> {
    let Some(value) = value else {
        return Ok((DEFAULT_LIMIT_GB * 1e9) as u64);
    };
    match value.trim().parse::<f64>() {
        Ok(gb) if gb >= 0.0 && gb.is_finite() => Ok((gb * 1e9) as u64),
        _ => bail!(
            "{LIMIT_VARIABLE}={value:?} is not a number of gigabytes (0 or more) for the key \
             cache's proving keys"
        ),
    }
}

/// Bytes free to this user on the file system holding `path`.
#[cfg(unix)]
fn available_bytes(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(not(unix))]
fn available_bytes(_: &Path) -> Option<u64> {
    None
}

fn gigabytes(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1_000_000_000;

    fn entry(name: &str, gb: u64, age_s: u64) -> Entry {
        Entry {
            path: PathBuf::from(name).join("pk.bin"),
            bytes: gb * GB,
            used: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_s),
        }
    }

    #[test]
    fn the_least_recently_used_keys_go_first_and_no_more_than_needed() {
        let entries = [entry("a", 3, 300), entry("b", 3, 200), entry("c", 3, 100)];
        // 9 GB cached and 3 more: under a 10 GB limit the oldest goes (6 + 3), under 6 GB the
        // two oldest (3 + 3), under 12 GB none.
        assert_eq!(plan(&entries, 3 * GB, 10 * GB, None).unwrap(), vec![0]);
        assert_eq!(plan(&entries, 3 * GB, 6 * GB, None).unwrap(), vec![0, 1]);
        assert_eq!(
            plan(&entries, 3 * GB, 12 * GB, None).unwrap(),
            Vec::<usize>::new()
        );
        // The disk: 5 GB free, 3 to write and 4 to keep: one key of 3 freed is enough.
        assert_eq!(
            plan(&entries, 3 * GB, 100 * GB, Some(5 * GB)).unwrap(),
            vec![0]
        );
        assert_eq!(
            plan(&entries, 3 * GB, 100 * GB, Some(7 * GB)).unwrap(),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn a_key_that_cannot_fit_is_refused_with_the_reason() {
        let entries = [entry("a", 3, 300)];
        let err = plan(&entries, 5 * GB, 4 * GB, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("larger than the key cache's limit of 4.00 GB"),
            "{err}"
        );
        assert!(err.contains(LIMIT_VARIABLE), "{err}");
        let err = plan(&entries, 3 * GB, 100 * GB, Some(GB))
            .unwrap_err()
            .to_string();
        assert!(err.contains("the disk has 1.00 GB free"), "{err}");
        let err = plan(&[], GB, 0, None).unwrap_err().to_string();
        assert!(err.contains("limit of 0.00 GB"), "{err}");
    }

    #[test]
    fn the_limit_is_read_from_the_environment_value() {
        assert_eq!(limit_from(None).unwrap(), 32 * GB);
        assert_eq!(limit_from(Some("0".into())).unwrap(), 0);
        assert_eq!(limit_from(Some(" 1.5 ".into())).unwrap(), 1_500_000_000);
        for bad in ["-1", "lots", "inf", "NaN", ""] {
            let err = limit_from(Some(bad.into())).unwrap_err().to_string();
            assert!(err.contains(LIMIT_VARIABLE), "{bad}: {err}");
        }
    }

    #[test]
    fn room_is_made_on_disk_by_removing_proving_keys_alone() {
        let root = tempfile::tempdir().unwrap();
        let cache = KeyCache::new(root.path().to_path_buf(), 25);
        for (i, name) in ["old", "mid", "new"].iter().enumerate() {
            let dir = cache.dir(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("pk.bin"), vec![0u8; 10]).unwrap();
            std::fs::write(dir.join("vk.bin"), b"vk").unwrap();
            let f = std::fs::File::options()
                .append(true)
                .open(dir.join("pk.bin"))
                .unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1000 + i as u64))
                .unwrap();
        }
        // "old" is loaded again: "mid" is now the least recently used.
        KeyCache::touch(&cache.dir("old").join("pk.bin"));
        let target = cache.dir("target");
        let room = cache.make_room(&target, 10).unwrap();
        assert_eq!(room.removed.len(), 2, "{room:?}");
        assert!(!cache.dir("mid").join("pk.bin").exists());
        assert!(!cache.dir("new").join("pk.bin").exists());
        assert!(cache.dir("old").join("pk.bin").exists());
        for name in ["old", "mid", "new"] {
            assert!(cache.dir(name).join("vk.bin").exists(), "{name}");
        }
        assert!(room.describe().unwrap().contains("removed 2 proving keys"));
        // The key being replaced is not counted against itself.
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("pk.bin"), vec![0u8; 10]).unwrap();
        let room = cache.make_room(&target, 10).unwrap();
        assert!(room.removed.is_empty(), "{room:?}");
    }
}
