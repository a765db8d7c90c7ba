//! Request bodies: read under the wire limit, then undo `Content-Encoding` under the
//! decoded limit. The decoded limit is enforced while inflating, so a decompression bomb
//! is stopped after `limit` bytes instead of being expanded whole.

use std::io::Read;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::IngestError;

/// Collects the body, failing with 413 once more than `max_wire` bytes arrive. Works the
/// same for `Content-Length` and chunked bodies.
pub async fn read_wire_body(body: Body, max_wire: usize) -> Result<Bytes, IngestError> {
    match Limited::new(body, max_wire).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(IngestError::WireTooLarge { limit: max_wire })
        }
        Err(err) => Err(IngestError::BodyRead(err.to_string())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

fn parse_coding(name: &str) -> Result<Coding, IngestError> {
    match name.trim().to_ascii_lowercase().as_str() {
        // sentry-ruby sends an empty value and old Android clients send "UTF-8".
        "" | "identity" | "utf-8" | "utf8" => Ok(Coding::Identity),
        "gzip" | "x-gzip" => Ok(Coding::Gzip),
        "deflate" => Ok(Coding::Deflate),
        "br" => Ok(Coding::Brotli),
        "zstd" => Ok(Coding::Zstd),
        other => Err(IngestError::UnknownEncoding(other.to_string())),
    }
}

/// Validates a `Content-Encoding` value without decoding anything, so unknown codings are
/// refused before the body is read.
pub fn check_encoding(header: Option<&str>) -> Result<(), IngestError> {
    for name in header.unwrap_or("").split(',') {
        parse_coding(name)?;
    }
    Ok(())
}

/// Whether decoding may take long enough to belong on a blocking thread.
pub fn is_encoded(header: Option<&str>) -> bool {
    header
        .unwrap_or("")
        .split(',')
        .any(|name| !matches!(parse_coding(name), Ok(Coding::Identity)))
}

/// Undoes every listed coding, last applied first.
pub fn decode_body(
    header: Option<&str>,
    wire: Bytes,
    max_decoded: usize,
) -> Result<Bytes, IngestError> {
    let mut codings = Vec::new();
    for name in header.unwrap_or("").split(',') {
        codings.push((name.trim().to_string(), parse_coding(name)?));
    }
    let mut data = wire;
    for (name, coding) in codings.into_iter().rev() {
        data = decode_one(coding, &name, data, max_decoded)?;
    }
    if data.len() > max_decoded {
        return Err(IngestError::DecodedTooLarge { limit: max_decoded });
    }
    Ok(data)
}

fn decode_one(coding: Coding, name: &str, data: Bytes, max: usize) -> Result<Bytes, IngestError> {
    let fail = |reason: String| IngestError::Decompression {
        encoding: name.to_string(),
        reason,
    };
    let decoded = match coding {
        Coding::Identity => return Ok(data),
        Coding::Gzip => {
            read_capped(flate2::read::MultiGzDecoder::new(&data[..]), max).map_err(fail)
        }
        Coding::Deflate => {
            // RFC 9110 says zlib-wrapped, but some clients send raw deflate: a zlib
            // stream starts with a CMF byte whose low nibble is 8 and a valid checksum.
            let zlib = data.len() >= 2
                && data[0] & 0x0f == 8
                && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0;
            if zlib {
                read_capped(flate2::read::ZlibDecoder::new(&data[..]), max).map_err(fail)
            } else {
                read_capped(flate2::read::DeflateDecoder::new(&data[..]), max).map_err(fail)
            }
        }
        Coding::Brotli => {
            read_capped(brotli::Decompressor::new(&data[..], 64 * 1024), max).map_err(fail)
        }
        Coding::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::new(&data[..]).map_err(|e| fail(e.to_string()))?;
            read_capped(decoder, max).map_err(fail)
        }
    }?;
    match decoded {
        Capped::Done(bytes) => Ok(Bytes::from(bytes)),
        Capped::Over => Err(IngestError::DecodedTooLarge { limit: max }),
    }
}

enum Capped {
    Done(Vec<u8>),
    Over,
}

/// Reads at most `max + 1` bytes: one byte past the limit proves the body is too large
/// without inflating the rest.
fn read_capped(reader: impl Read, max: usize) -> Result<Capped, String> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > max {
        Ok(Capped::Over)
    } else {
        Ok(Capped::Done(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        Bytes::from(enc.finish().unwrap())
    }

    #[test]
    fn decodes_each_coding() {
        let plain = b"{\"hello\":\"world\"}".repeat(10);
        assert_eq!(
            decode_body(Some("gzip"), gzip(&plain), 1 << 20).unwrap(),
            plain
        );
        assert_eq!(
            decode_body(Some("x-gzip"), gzip(&plain), 1 << 20).unwrap(),
            plain
        );

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&plain).unwrap();
        assert_eq!(
            decode_body(Some("deflate"), Bytes::from(z.finish().unwrap()), 1 << 20).unwrap(),
            plain
        );

        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&plain).unwrap();
        assert_eq!(
            decode_body(Some("deflate"), Bytes::from(raw.finish().unwrap()), 1 << 20).unwrap(),
            plain
        );

        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        assert_eq!(
            decode_body(Some("zstd"), Bytes::from(zst), 1 << 20).unwrap(),
            plain
        );

        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 4, 22)
            .write_all(&plain)
            .unwrap();
        assert_eq!(
            decode_body(Some("br"), Bytes::from(br), 1 << 20).unwrap(),
            plain
        );

        assert_eq!(
            decode_body(Some(""), Bytes::from(plain.clone()), 1 << 20).unwrap(),
            plain
        );
        assert_eq!(
            decode_body(Some("UTF-8"), Bytes::from(plain.clone()), 1 << 20).unwrap(),
            plain
        );
    }

    #[test]
    fn stops_a_bomb_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let err = decode_body(Some("gzip"), gzip(&zeros), 1 << 20).unwrap_err();
        assert!(
            matches!(err, IngestError::DecodedTooLarge { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_unknown_and_corrupt_bodies() {
        assert!(matches!(
            check_encoding(Some("compress")),
            Err(IngestError::UnknownEncoding(_))
        ));
        let err = decode_body(
            Some("gzip"),
            Bytes::from_static(b"not gzip at all"),
            1 << 20,
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::Decompression { .. }), "{err:?}");
    }
}
