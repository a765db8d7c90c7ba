//! Accounts on the server side: password hashing, browser sessions with CSRF tokens,
//! login throttling, and `Access`, the one answer to "what may this caller see".

pub mod access;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;

pub use access::Access;

use rand::{RngCore, TryRngCore};

/// A fresh secret: 32 bytes from the OS RNG as 64 hex characters.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    // An OS RNG failure means no secret can be made at all; rand's `unwrap_err` panics.
    rand::rngs::OsRng.unwrap_err().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Emails are matched case-insensitively by storing them lower-cased and trimmed.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}
