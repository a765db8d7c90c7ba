//! Request bodies: read under the wire limit, then undo `Content-Encoding` under the
//! decoded limit. The decoded limit is enforced while inflating, so a decompression bomb
//! is stopped after `limit` bytes instead of being expanded whole.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::IngestError;
use crate::memory_budget::{MemoryBudget, Reservation};

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

/// Undoes every listed coding, last applied first, as one stream.
///
/// A body that inflates past [`SMALL_BODY`] is not grown in place: the rest of the stream
/// is only counted, and then decoded a second time into a mapping of its exact size,
/// which holds its bytes of `budget`, shared by every request, until it is dropped. So a
/// compression bomb costs CPU up to `max_decoded` but never memory, growing buffers never
/// hold two copies at once, and a request that would take the budget past its bound is
/// refused (`Overloaded`) instead of waiting or allocating more.
pub fn decode_body(
    header: Option<&str>,
    wire: Bytes,
    max_decoded: usize,
    budget: &Arc<MemoryBudget>,
) -> Result<Bytes, IngestError> {
    let codings = codings(header)?;
    if codings.is_empty() {
        if wire.len() > max_decoded {
            return Err(IngestError::DecodedTooLarge { limit: max_decoded });
        }
        return Ok(wire);
    }
    let fail = |e| decompression(&codings, e);
    let mut reader = decoder(&codings, &wire)?;
    let small = max_decoded.min(SMALL_BODY);
    let mut head = Vec::new();
    (&mut reader)
        .take(small as u64 + 1)
        .read_to_end(&mut head)
        .map_err(fail)?;
    if head.len() <= small {
        return Ok(Bytes::from(head));
    }
    if head.len() > max_decoded {
        return Err(IngestError::DecodedTooLarge { limit: max_decoded });
    }
    let rest = std::io::copy(
        &mut reader.take((max_decoded - head.len()) as u64 + 1),
        &mut std::io::sink(),
    )
    .map_err(fail)?;
    let total = head.len() + rest as usize;
    drop(head);
    if total > max_decoded {
        return Err(IngestError::DecodedTooLarge { limit: max_decoded });
    }
    let reservation = budget.reserve(total).ok_or(IngestError::Overloaded {
        retry_after: BUSY_RETRY_SECS,
    })?;
    // Its own mapping rather than the allocator's heap: unmapped when the last reference
    // drops, so a burst of large bodies leaves no resident memory behind.
    let mut body = memmap2::MmapMut::map_anon(total).map_err(fail)?;
    decoder(&codings, &wire)?
        .read_exact(&mut body)
        .map_err(fail)?;
    Ok(Bytes::from_owner(Decoded {
        body: body.make_read_only().map_err(fail)?,
        _reservation: reservation,
    }))
}

/// A large decoded body, which holds its bytes of the decoding budget for as long as the
/// request keeps it.
struct Decoded {
    body: memmap2::Mmap,
    _reservation: Reservation,
}

impl AsRef<[u8]> for Decoded {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

/// Decoded bodies up to this size are read in one pass into the heap; typical events are
/// smaller. Larger ones go to their own mapping, so a burst of them leaves the
/// allocator's heaps as they were.
const SMALL_BODY: usize = 64 * 1024;

/// The largest zstd window accepted: 8 MiB, what every level up to 19 uses (the levels
/// past it need `--ultra`, which no SDK sends).
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// The decoded body up to and including its first LF, or all of it when it has none,
/// inflating no more than `max` bytes: enough to read an envelope's header before the
/// request is authenticated.
pub fn decode_first_line(
    header: Option<&str>,
    wire: &[u8],
    max: usize,
) -> Result<Vec<u8>, IngestError> {
    let codings = codings(header)?;
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut line = Vec::new();
    let mut reader = BufReader::new(decoder(&codings, wire)?.take(limit));
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| decompression(&codings, e))?;
    if line.len() > max {
        return Err(IngestError::InvalidEnvelope(format!(
            "the envelope header is longer than {max} bytes"
        )));
    }
    Ok(line)
}

/// Seconds a client is asked to wait when every byte of the decoding budget is taken.
const BUSY_RETRY_SECS: u64 = 1;

/// The codings to undo, first applied first; identity codings left out.
fn codings(header: Option<&str>) -> Result<Vec<(String, Coding)>, IngestError> {
    let mut codings = Vec::new();
    for name in header.unwrap_or("").split(',') {
        let coding = parse_coding(name)?;
        if coding != Coding::Identity {
            codings.push((name.trim().to_string(), coding));
        }
    }
    Ok(codings)
}

fn decompression(codings: &[(String, Coding)], e: std::io::Error) -> IngestError {
    let names: Vec<&str> = codings.iter().map(|(name, _)| name.as_str()).collect();
    IngestError::Decompression {
        encoding: names.join(", "),
        reason: e.to_string(),
    }
}

/// A reader of `wire` with every coding undone, last applied first.
fn decoder<'a>(
    codings: &[(String, Coding)],
    wire: &'a [u8],
) -> Result<Box<dyn Read + 'a>, IngestError> {
    let mut reader: Box<dyn Read + 'a> = Box::new(wire);
    for (_, coding) in codings.iter().rev() {
        reader = match coding {
            Coding::Identity => reader,
            Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            Coding::Deflate => {
                // RFC 9110 says zlib-wrapped, but some clients send raw deflate: a zlib
                // stream starts with a CMF byte whose low nibble is 8 and a valid checksum.
                let mut buffered = BufReader::new(reader);
                let head = buffered.fill_buf().map_err(|e| decompression(codings, e))?;
                let zlib = head.len() >= 2
                    && head[0] & 0x0f == 8
                    && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
                if zlib {
                    Box::new(flate2::read::ZlibDecoder::new(buffered))
                } else {
                    Box::new(flate2::read::DeflateDecoder::new(buffered))
                }
            }
            Coding::Brotli => Box::new(brotli::Decompressor::new(reader, 64 * 1024)),
            Coding::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::new(reader)
                    .map_err(|e| decompression(codings, e))?;
                // The sender's frame header says how large a window to allocate; without a
                // bound one request could make the decoder take 128 MiB.
                decoder
                    .window_log_max(ZSTD_WINDOW_LOG_MAX)
                    .map_err(|e| decompression(codings, e))?;
                Box::new(decoder)
            }
        };
    }
    Ok(reader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decode(header: Option<&str>, wire: Bytes, max: usize) -> Result<Bytes, IngestError> {
        decode_body(header, wire, max, &MemoryBudget::new(usize::MAX))
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        Bytes::from(enc.finish().unwrap())
    }

    #[test]
    fn decodes_each_coding() {
        let plain = b"{\"hello\":\"world\"}".repeat(10);
        assert_eq!(decode(Some("gzip"), gzip(&plain), 1 << 20).unwrap(), plain);
        assert_eq!(
            decode(Some("x-gzip"), gzip(&plain), 1 << 20).unwrap(),
            plain
        );

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&plain).unwrap();
        assert_eq!(
            decode(Some("deflate"), Bytes::from(z.finish().unwrap()), 1 << 20).unwrap(),
            plain
        );

        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&plain).unwrap();
        assert_eq!(
            decode(Some("deflate"), Bytes::from(raw.finish().unwrap()), 1 << 20).unwrap(),
            plain
        );

        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        assert_eq!(
            decode(Some("zstd"), Bytes::from(zst), 1 << 20).unwrap(),
            plain
        );

        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 4, 22)
            .write_all(&plain)
            .unwrap();
        assert_eq!(decode(Some("br"), Bytes::from(br), 1 << 20).unwrap(), plain);

        assert_eq!(
            decode(Some(""), Bytes::from(plain.clone()), 1 << 20).unwrap(),
            plain
        );
        assert_eq!(
            decode(Some("UTF-8"), Bytes::from(plain.clone()), 1 << 20).unwrap(),
            plain
        );
    }

    #[test]
    fn stops_a_bomb_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let err = decode(Some("gzip"), gzip(&zeros), 1 << 20).unwrap_err();
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
        let err = decode(
            Some("gzip"),
            Bytes::from_static(b"not gzip at all"),
            1 << 20,
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::Decompression { .. }), "{err:?}");
    }

    #[test]
    fn undoes_stacked_codings_in_one_stream() {
        let plain = b"{\"stacked\":true}".repeat(50);
        let zst = zstd::encode_all(&gzip(&plain)[..], 3).unwrap();
        assert_eq!(
            decode(Some("gzip, zstd"), Bytes::from(zst), 1 << 20).unwrap(),
            plain
        );
    }

    #[test]
    fn a_full_budget_refuses_instead_of_inflating() {
        let plain = vec![b'x'; 4 << 20];
        let budget = MemoryBudget::new(3 << 20);
        let err = decode_body(Some("gzip"), gzip(&plain), 8 << 20, &budget).unwrap_err();
        assert!(matches!(err, IngestError::Overloaded { .. }), "{err:?}");
        assert_eq!(budget.used(), 0, "a refused decode gives its bytes back");

        let small = b"{}".repeat(100);
        let done = decode_body(Some("gzip"), gzip(&small), 8 << 20, &budget).unwrap();
        assert_eq!(done, small);
        assert_eq!(budget.used(), 0, "a finished decode gives its bytes back");

        // A large body holds its bytes for as long as it is kept.
        let large = vec![b'y'; 2 << 20];
        let kept = decode_body(Some("gzip"), gzip(&large), 8 << 20, &budget).unwrap();
        assert_eq!((kept.len(), budget.used()), (2 << 20, 2 << 20));
        drop(kept);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn reads_the_first_line_of_a_bomb_only() {
        let mut body = b"{\"dsn\":\"http://k@h/1\"}\n".to_vec();
        body.extend(vec![0u8; 64 << 20]);
        let zst = zstd::encode_all(&body[..], 3).unwrap();
        let line = decode_first_line(Some("zstd"), &zst, 64 * 1024).unwrap();
        assert_eq!(line, b"{\"dsn\":\"http://k@h/1\"}\n");

        let no_newline = zstd::encode_all(&vec![b'{'; 1 << 20][..], 3).unwrap();
        let err = decode_first_line(Some("zstd"), &no_newline, 64 * 1024).unwrap_err();
        assert!(matches!(err, IngestError::InvalidEnvelope(_)), "{err:?}");

        let plain = decode_first_line(None, b"{}", 64 * 1024).unwrap();
        assert_eq!(plain, b"{}");
    }

    #[test]
    fn a_zstd_frame_asking_for_a_huge_window_is_refused() {
        let frame = |window_log: u32| {
            let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
            encoder.window_log(window_log).unwrap();
            encoder.write_all(&b"{}".repeat(512)).unwrap();
            Bytes::from(encoder.finish().unwrap())
        };
        assert!(decode(Some("zstd"), frame(ZSTD_WINDOW_LOG_MAX), 1 << 20).is_ok());
        let err = decode(Some("zstd"), frame(27), 1 << 20).unwrap_err();
        assert!(matches!(err, IngestError::Decompression { .. }), "{err:?}");
    }
}
