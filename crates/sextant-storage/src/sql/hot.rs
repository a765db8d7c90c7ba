//! Connections kept aside for the PostgreSQL ingest hot path (inbox commits and batch
//! processing). sqlx's pool sends a ping on every release, a round trip per inbox commit
//! that PostgreSQL and Sextant both pay for; these connections are reused as they are
//! and dropped on any error, since a failed one may be broken.

use std::sync::Mutex;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions};

use crate::Result;

/// Idle hot-path connections kept: the inbox writer and two processors.
const MAX_IDLE: usize = 3;

pub(crate) struct HotConnections {
    options: AnyConnectOptions,
    idle: Mutex<Vec<AnyConnection>>,
}

impl HotConnections {
    pub(crate) fn new(options: AnyConnectOptions) -> HotConnections {
        HotConnections {
            options,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `work` on an idle connection (or a new one) and keeps the connection for
    /// the next caller if `work` succeeded.
    pub(crate) async fn with<T>(
        &self,
        work: impl AsyncFnOnce(&mut AnyConnection) -> Result<T>,
    ) -> Result<T> {
        let idle = self.idle.lock().expect("hot connections lock").pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.options.connect().await?,
        };
        let result = work(&mut conn).await;
        if result.is_ok() {
            let mut idle = self.idle.lock().expect("hot connections lock");
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        result
    }
}
