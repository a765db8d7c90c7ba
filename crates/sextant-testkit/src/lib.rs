//! Sextant's test harness, shared by every test crate (a dev-dependency only).
//!
//! - [`TestDb`]: a fresh database per test, dropped afterwards.
//! - [`wait_until`]: waits on a condition with a timeout, never a fixed delay.
//! - [`store_test`]: registers a storage conformance case on both backends where it is
//!   defined.
//!
//! One PostgreSQL policy for the whole workspace: when `SEXTANT_TEST_PG_URL` names a
//! PostgreSQL server, tests that have a PostgreSQL mode run on a database of their own
//! there; when it is unset they run on SQLite, and tests that exist only for PostgreSQL
//! pass without running after a note on stderr. `scripts/test.sh` runs the suite both
//! ways.

mod db;
mod wait;

pub use db::{PG_URL_VAR, TestDb, pg_url};
pub use sextant_testkit_macros::store_test;
pub use wait::{Ready, wait_until};
