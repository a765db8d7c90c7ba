//! Session deltas of a batch: rollup counters, distinct errored sessions and users per
//! bucket, and the releases they name.

use std::collections::HashSet;

use super::super::exec::{Exec, Val};
use crate::Result;
use crate::releases::SessionDelta;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// Applies the deltas of one batch. Called by the batch writer inside its transaction.
pub(super) async fn write(
    conn: &mut impl Exec,
    deltas: &[SessionDelta],
    live: &HashSet<i64>,
) -> Result<()> {
    let mut releases_noted: HashSet<(i64, &str)> = HashSet::new();
    for d in deltas.iter().filter(|d| live.contains(&d.project_id)) {
        let hour = d.started - d.started.rem_euclid(HOUR_MS);
        let mut errored = d.errored;
        if let Some(sid) = d.errored_sid {
            // A session is errored once, however many of its updates say so.
            let inserted = conn
                .execute(
                    "INSERT INTO session_members (project_id, release, environment, bucket, kind, \
                     member, bits) VALUES ($1, $2, $3, $4, 's', $5, 0) ON CONFLICT DO NOTHING",
                    &[
                        Val::Int(d.project_id),
                        Val::Text(&d.release),
                        Val::Text(&d.environment),
                        Val::Int(hour),
                        Val::Int(sid),
                    ],
                )
                .await?;
            errored += i64::try_from(inserted).unwrap_or(0);
        }
        if d.total != 0 || errored != 0 || d.crashed != 0 || d.abnormal != 0 || d.unhandled != 0 {
            conn.execute(
                "INSERT INTO session_rollups (project_id, release, environment, bucket, total, \
                 errored, crashed, abnormal, unhandled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (project_id, release, environment, bucket) DO UPDATE SET \
                 total = session_rollups.total + excluded.total, \
                 errored = session_rollups.errored + excluded.errored, \
                 crashed = session_rollups.crashed + excluded.crashed, \
                 abnormal = session_rollups.abnormal + excluded.abnormal, \
                 unhandled = session_rollups.unhandled + excluded.unhandled",
                &[
                    Val::Int(d.project_id),
                    Val::Text(&d.release),
                    Val::Text(&d.environment),
                    Val::Int(d.started - d.started.rem_euclid(MINUTE_MS)),
                    Val::Int(d.total),
                    Val::Int(errored),
                    Val::Int(d.crashed),
                    Val::Int(d.abnormal),
                    Val::Int(d.unhandled),
                ],
            )
            .await?;
        }
        if let Some((member, bits)) = d.user {
            conn.execute(
                "INSERT INTO session_members (project_id, release, environment, bucket, kind, \
                 member, bits) VALUES ($1, $2, $3, $4, 'u', $5, $6) \
                 ON CONFLICT (project_id, release, environment, bucket, kind, member) \
                 DO UPDATE SET bits = session_members.bits | excluded.bits",
                &[
                    Val::Int(d.project_id),
                    Val::Text(&d.release),
                    Val::Text(&d.environment),
                    Val::Int(hour),
                    Val::Int(member),
                    Val::Int(bits),
                ],
            )
            .await?;
        }
        // Sessions create their release implicitly, as events do.
        if releases_noted.insert((d.project_id, d.release.as_str())) {
            conn.execute(
                "INSERT INTO releases (project_id, version, first_seen) VALUES ($1, $2, $3) \
                 ON CONFLICT (project_id, version) DO NOTHING",
                &[
                    Val::Int(d.project_id),
                    Val::Text(&d.release),
                    Val::Int(d.started),
                ],
            )
            .await?;
        }
    }
    Ok(())
}
