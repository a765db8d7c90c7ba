//! Compression of stored bytes: inbox bodies (fast level, on the request path) and
//! event payloads. Compressors are kept per thread because building a zstd context costs
//! as much as compressing a small event.

use std::borrow::Cow;
use std::cell::RefCell;

/// Inbox bodies are written once and read once: favour speed. A 23 KiB event still
/// shrinks about 6×, which is most of the write volume of the inbox.
const INBOX_LEVEL: i32 = 1;
/// Stored payloads live long: a little more effort for a smaller database.
const PAYLOAD_LEVEL: i32 = 3;
/// Bodies smaller than this are stored as they are.
const MIN_PACKED: usize = 512;
/// Above any body ingest accepts; a frame claiming more is decoded as a stream.
const MAX_UNPACKED: u64 = 1 << 30;
/// Every zstd frame starts with this; an envelope never does (it starts with JSON).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

thread_local! {
    static INBOX: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static PAYLOAD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static UNPACK: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn compress_with(
    slot: &'static std::thread::LocalKey<RefCell<Option<zstd::bulk::Compressor<'static>>>>,
    level: i32,
    data: &[u8],
) -> Vec<u8> {
    slot.with(|cell| {
        let mut cell = cell.borrow_mut();
        let compressor = cell.get_or_insert_with(|| {
            zstd::bulk::Compressor::new(level).expect("zstd context for a valid level")
        });
        compressor
            .compress(data)
            .expect("zstd compression into memory cannot fail")
    })
}

/// The form an accepted body takes in the inbox.
pub fn pack_inbox(body: &[u8]) -> Vec<u8> {
    if body.len() < MIN_PACKED {
        return body.to_vec();
    }
    compress_with(&INBOX, INBOX_LEVEL, body)
}

/// The envelope bytes of an inbox body, packed or not.
pub fn unpack_inbox(stored: &[u8]) -> std::io::Result<Cow<'_, [u8]>> {
    if !stored.starts_with(&ZSTD_MAGIC) {
        return Ok(Cow::Borrowed(stored));
    }
    // `pack_inbox` records the original size in the frame, so the output is allocated
    // once and the thread's decompression context reused.
    match zstd::zstd_safe::get_frame_content_size(stored) {
        Ok(Some(size)) if size <= MAX_UNPACKED => UNPACK.with(|cell| {
            let mut cell = cell.borrow_mut();
            let decompressor = match cell.as_mut() {
                Some(d) => d,
                None => cell.insert(zstd::bulk::Decompressor::new()?),
            };
            decompressor
                .decompress(stored, size as usize)
                .map(Cow::Owned)
        }),
        _ => zstd::stream::decode_all(stored).map(Cow::Owned),
    }
}

/// A stored event or item payload.
pub fn compress_payload(data: &[u8]) -> Vec<u8> {
    compress_with(&PAYLOAD, PAYLOAD_LEVEL, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_bodies_round_trip_packed_or_not() {
        let small = b"{}\n{\"type\":\"session\"}\n{}\n".to_vec();
        assert_eq!(pack_inbox(&small), small, "small bodies stay as they are");
        assert_eq!(
            unpack_inbox(&pack_inbox(&small)).unwrap().as_ref(),
            &small[..]
        );

        let big = format!("{{\"event_id\":\"{}\"}}\n", "a".repeat(32))
            .repeat(100)
            .into_bytes();
        let packed = pack_inbox(&big);
        assert!(
            packed.len() < big.len() / 4,
            "{} vs {}",
            packed.len(),
            big.len()
        );
        assert_eq!(unpack_inbox(&packed).unwrap().as_ref(), &big[..]);
    }

    #[test]
    fn payloads_decompress_with_the_standard_decoder() {
        let data = b"{\"message\":\"hello\"}".repeat(50);
        assert_eq!(
            zstd::decode_all(&compress_payload(&data)[..]).unwrap(),
            data
        );
    }
}
