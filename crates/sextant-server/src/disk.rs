//! Disk-space guard: ingest refuses new data when the database's disk runs low, rather
//! than let SQLite fail half-way through a write.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a free-space reading is reused; `statvfs` is cheap but not free.
const REFRESH: Duration = Duration::from_millis(250);

pub struct DiskGuard {
    /// A directory on the database's file system; `None` when storage is remote.
    path: Option<PathBuf>,
    floor: u64,
    last: Mutex<Option<(Instant, u64)>>,
}

impl DiskGuard {
    pub fn new(path: Option<PathBuf>, floor: u64) -> DiskGuard {
        DiskGuard {
            path,
            floor,
            last: Mutex::new(None),
        }
    }

    /// `Err((free, floor))` when free space is below the floor.
    pub fn check(&self) -> Result<(), (u64, u64)> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.floor == 0 {
            return Ok(());
        }
        let mut last = self.last.lock().expect("disk guard lock");
        let free = match *last {
            Some((at, free)) if at.elapsed() < REFRESH => free,
            _ => {
                // An unreadable file system is not a reason to refuse data.
                let free = fs4::available_space(path).unwrap_or(u64::MAX);
                *last = Some((Instant::now(), free));
                free
            }
        };
        if free < self.floor {
            Err((free, self.floor))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_floor_and_passes_above_it() {
        let dir = std::env::temp_dir();
        assert!(DiskGuard::new(Some(dir.clone()), 1).check().is_ok());
        let err = DiskGuard::new(Some(dir), u64::MAX).check().unwrap_err();
        assert_eq!(err.1, u64::MAX);
        assert!(DiskGuard::new(None, u64::MAX).check().is_ok());
    }
}
