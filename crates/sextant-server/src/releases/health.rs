//! Release health as a domain: the crash-free and adoption maths of the protocol's §10.3,
//! crash-free figures per time slot, a release's predecessor, and the health summary of
//! one release. The API, the console, the deploy gate and alerts all read these; none of
//! them computes a rate of its own. Nothing here knows HTTP or the server's state.

use sextant_storage::{HealthScope, SessionBucket, SessionTotals, Store, StoreError};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// Health totals cover what the rollups keep by default.
pub const HEALTH_WINDOW_MS: i64 = 90 * DAY_MS;
/// Adoption is a "right now" figure: the share of the last day's sessions.
pub const ADOPTION_WINDOW_MS: i64 = DAY_MS;
/// Sessions may carry a timestamp a little ahead of the server's clock: windows that end
/// "now" end this much later.
pub const CLOCK_SLACK_MS: i64 = 60_000;

/// Crash-free share in percent: 1 − crashed / total; `None` without sessions.
pub fn crash_free(crashed: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| 100.0 * (1.0 - crashed as f64 / total as f64))
}

/// `part` as a percentage of `whole` (adoption); `None` when `whole` is empty.
pub fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

/// Sessions of `release` (every release when `None`) in one environment (every
/// environment when `None`) between `from` and `to`.
pub fn scope(
    project_id: i64,
    release: Option<&str>,
    environment: Option<&str>,
    from: i64,
    to: i64,
) -> HealthScope {
    HealthScope {
        project_id,
        release: release.map(str::to_string),
        environment: environment.map(str::to_string),
        from,
        to,
    }
}

/// Session counts of one time slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot {
    pub start: i64,
    pub total: i64,
    pub crashed: i64,
    pub errored: i64,
}

impl Slot {
    pub fn crash_free(&self) -> Option<f64> {
        crash_free(self.crashed, self.total)
    }
}

/// Rollup buckets summed into `interval`-long slots aligned to `interval`, every slot
/// from the one holding `from` up to `to` present, empty ones included. Buckets outside
/// that range are left out.
pub fn slots(buckets: &[SessionBucket], from: i64, to: i64, interval: i64) -> Vec<Slot> {
    let first = from - from.rem_euclid(interval);
    let count = usize::try_from((to - first + interval - 1).div_euclid(interval)).unwrap_or(0);
    let mut slots: Vec<Slot> = (0..count)
        .map(|i| Slot {
            start: first + i as i64 * interval,
            ..Slot::default()
        })
        .collect();
    for b in buckets {
        let i = (b.bucket - first).div_euclid(interval);
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| slots.get_mut(i)) {
            slot.total += b.total;
            slot.crashed += b.crashed;
            slot.errored += b.errored;
        }
    }
    slots
}

/// The release before `version`: the one deployed before it to `env`, else the one
/// created before it.
pub async fn previous_release(
    store: &dyn Store,
    project_id: i64,
    version: &str,
    env: Option<&str>,
) -> Result<Option<String>, StoreError> {
    if let Some(env) = env {
        let deploys = store.list_deploys(project_id, None, Some(env)).await?;
        if let Some(pos) = deploys.iter().position(|d| d.version == version)
            && let Some(d) = deploys[..pos].iter().rev().find(|d| d.version != version)
        {
            return Ok(Some(d.version.clone()));
        }
    }
    let releases = store.list_releases(project_id).await?;
    Ok(releases
        .iter()
        .position(|r| r.version == version)
        .and_then(|i| releases.get(i + 1))
        .map(|r| r.version.clone()))
}

/// One release's health at `now`: its totals over [`HEALTH_WINDOW_MS`] and its adoption
/// over [`ADOPTION_WINDOW_MS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub totals: SessionTotals,
    /// Share of all the project's sessions of the last day, in percent.
    pub adoption: Option<f64>,
}

impl Summary {
    pub fn crash_free_sessions(&self) -> Option<f64> {
        crash_free(self.totals.crashed, self.totals.total)
    }

    pub fn crash_free_users(&self) -> Option<f64> {
        crash_free(self.totals.crashed_users, self.totals.users)
    }
}

/// The project's sessions of the last day, every release together: the whole that
/// adoption is a share of. Read once for a list of releases.
pub async fn recent_sessions(
    store: &dyn Store,
    project_id: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let all = store
        .session_totals(&scope(
            project_id,
            None,
            None,
            now - ADOPTION_WINDOW_MS,
            now + CLOCK_SLACK_MS,
        ))
        .await?;
    Ok(all.total)
}

/// The session totals of `version` over [`HEALTH_WINDOW_MS`].
pub async fn totals(
    store: &dyn Store,
    project_id: i64,
    version: &str,
    now: i64,
) -> Result<SessionTotals, StoreError> {
    store
        .session_totals(&scope(
            project_id,
            Some(version),
            None,
            now - HEALTH_WINDOW_MS,
            now + CLOCK_SLACK_MS,
        ))
        .await
}

/// The [`Summary`] of `version`, given the project's [`recent_sessions`].
pub async fn summary(
    store: &dyn Store,
    project_id: i64,
    version: &str,
    recent_all: i64,
    now: i64,
) -> Result<Summary, StoreError> {
    let totals = totals(store, project_id, version, now).await?;
    let recent = store
        .session_totals(&scope(
            project_id,
            Some(version),
            None,
            now - ADOPTION_WINDOW_MS,
            now + CLOCK_SLACK_MS,
        ))
        .await?;
    Ok(Summary {
        totals,
        adoption: share(recent.total, recent_all),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(crash_free(1, 10), Some(90.0));
        assert_eq!(crash_free(0, 0), None);
        assert_eq!(share(1, 4), Some(25.0));
        assert_eq!(share(1, 0), None);
    }

    #[test]
    fn slots_cover_the_range_and_sum_buckets() {
        let b = |bucket, total, crashed| SessionBucket {
            release: "1.0".into(),
            environment: "production".into(),
            bucket,
            total,
            errored: crashed,
            crashed,
            abnormal: 0,
            unhandled: 0,
        };
        let buckets = [b(0, 10, 1), b(HOUR_MS / 2, 10, 1), b(2 * HOUR_MS, 4, 0)];
        let s = slots(&buckets, 0, 3 * HOUR_MS, HOUR_MS);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].total, s[0].crashed), (20, 2));
        assert_eq!(s[0].crash_free(), Some(90.0));
        assert_eq!(s[1].crash_free(), None);
        assert_eq!((s[2].start, s[2].total), (2 * HOUR_MS, 4));
        // A start inside a slot aligns down; a bucket before it is left out.
        let s = slots(&buckets, HOUR_MS / 4, HOUR_MS, HOUR_MS);
        assert_eq!((s.len(), s[0].start, s[0].total), (1, 0, 20));
        assert!(slots(&buckets, 3 * HOUR_MS, 3 * HOUR_MS, HOUR_MS).is_empty());
    }
}
