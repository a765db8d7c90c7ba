//! API tokens: made from the OS RNG and stored only as their SHA-256, which is also how
//! session and invite secrets are kept.

use sha2::{Digest, Sha256};

/// What every API token starts with, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "sxt_";

/// SHA-256 of the token, lowercase hex: the form stored and looked up.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token: `sxt_` followed by 64 hex characters (32 bytes) from the OS RNG.
pub fn generate_token() -> String {
    format!("{TOKEN_PREFIX}{}", super::new_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_tokens_are_prefixed_hex_and_distinct() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        let hex_part = a.strip_prefix("sxt_").expect("prefix");
        assert_eq!(hex_part.len(), 64);
        assert!(
            hex_part
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
