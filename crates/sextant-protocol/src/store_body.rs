//! `/store/` body decoding (§3.1): JSON, base64(JSON) or base64(zlib(JSON)), plus the
//! non-JSON `NaN`/`Infinity` tokens that Python clients emit.

use std::io::Read;

use base64::Engine;

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum StoreBodyError {
    #[error("empty store body")]
    Empty,
    #[error("store body is neither JSON nor base64: {0}")]
    InvalidBase64(String),
    #[error("store body could not be inflated (zlib): {0}")]
    Decompress(String),
    #[error("store body exceeds {limit} bytes after decoding")]
    TooLarge { limit: usize },
}

/// Decodes a store body (after `Content-Encoding` was undone) to JSON bytes.
pub fn decode_store_body(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, StoreBodyError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(StoreBodyError::Empty);
    }
    if trimmed.len() > max_bytes {
        return Err(StoreBodyError::TooLarge { limit: max_bytes });
    }
    // Base64 has neither `{` nor `[`: either opens JSON, which the caller checks is an
    // event object.
    if matches!(trimmed[0], b'{' | b'[') {
        return Ok(replace_non_finite(trimmed));
    }
    let decoded = decode_base64(trimmed)?;
    let decoded_trimmed = decoded.trim_ascii_start();
    if decoded_trimmed.first() == Some(&b'{') {
        return Ok(replace_non_finite(decoded_trimmed));
    }
    let inflated = inflate_capped(&decoded, max_bytes)?;
    Ok(replace_non_finite(&inflated))
}

fn decode_base64(data: &[u8]) -> Result<Vec<u8>, StoreBodyError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    // Old clients wrapped lines; whitespace is not part of the encoding.
    let compact: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut last_err = None;
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        match engine.decode(&compact) {
            Ok(bytes) => return Ok(bytes),
            Err(e) => last_err = Some(e),
        }
    }
    Err(StoreBodyError::InvalidBase64(
        last_err.map(|e| e.to_string()).unwrap_or_default(),
    ))
}

fn inflate_capped(data: &[u8], max_bytes: usize) -> Result<Vec<u8>, StoreBodyError> {
    let mut out = Vec::new();
    // Reading one byte past the cap tells "exactly at the limit" from "over it".
    let cap = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    flate2::read::ZlibDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| StoreBodyError::Decompress(e.to_string()))?;
    if out.len() > max_bytes {
        return Err(StoreBodyError::TooLarge { limit: max_bytes });
    }
    Ok(out)
}

/// Replaces bare `NaN`, `Infinity` and `-Infinity` tokens outside JSON strings by `null`.
pub fn replace_non_finite(json: &[u8]) -> Vec<u8> {
    const TOKENS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];
    let mut out = Vec::with_capacity(json.len());
    let mut in_string = false;
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        if in_string {
            out.push(b);
            match b {
                b'\\' => {
                    if let Some(&next) = json.get(i + 1) {
                        out.push(next);
                        i += 1;
                    }
                }
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
        } else if matches!(b, b'N' | b'I' | b'-') {
            let token = TOKENS.iter().find(|t| json[i..].starts_with(t));
            if let Some(token) = token {
                let end = i + token.len();
                let bounded = json
                    .get(end)
                    .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_');
                if bounded {
                    out.extend_from_slice(b"null");
                    i = end;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn b64(data: &[u8]) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .encode(data)
            .into_bytes()
    }

    #[test]
    fn plain_json() {
        assert_eq!(
            decode_store_body(b" {\"a\":1}\n", 1024).unwrap(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn an_array_is_read_as_json_for_the_object_check_to_name() {
        assert_eq!(decode_store_body(b" [1, 2]", 1024).unwrap(), b"[1, 2]");
        let err = crate::check_event_object(b"[1, 2]").unwrap_err();
        assert!(err.to_string().contains("not an array"), "{err}");
    }

    #[test]
    fn base64_json_and_base64_zlib() {
        let json = br#"{"message":"hi"}"#;
        assert_eq!(decode_store_body(&b64(json), 1024).unwrap(), json);
        assert_eq!(decode_store_body(&b64(&zlib(json)), 1024).unwrap(), json);
    }

    #[test]
    fn inflate_is_capped() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(10_000));
        let err = decode_store_body(&b64(&zlib(big.as_bytes())), 1000).unwrap_err();
        assert_eq!(err, StoreBodyError::TooLarge { limit: 1000 });
        assert!(decode_store_body(&b64(&zlib(big.as_bytes())), big.len()).is_ok());
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(matches!(
            decode_store_body(b"!!!", 1024),
            Err(StoreBodyError::InvalidBase64(_))
        ));
        assert!(matches!(
            decode_store_body(&b64(b"not zlib"), 1024),
            Err(StoreBodyError::Decompress(_))
        ));
        assert_eq!(decode_store_body(b"  ", 1024), Err(StoreBodyError::Empty));
    }

    #[test]
    fn non_finite_tokens_become_null() {
        let body = br#"{"a":NaN,"b":[Infinity,-Infinity],"s":"NaN Infinity","e":"\"NaN","NaNa":1}"#;
        let out = decode_store_body(body, 1024).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"a":null,"b":[null,null],"s":"NaN Infinity","e":"\"NaN","NaNa":1}"#
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(v["a"].is_null());
    }
}
