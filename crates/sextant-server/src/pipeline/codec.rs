//! Compression of stored bytes: inbox bodies (fast level, on the request path) and
//! event payloads. Compressors are kept per thread because building a zstd context costs
//! as much as compressing a small event.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

/// Inbox bodies are written once and read once: favour speed. A 23 KiB event still
/// shrinks about 6×, which is most of the write volume of the inbox.
const INBOX_LEVEL: i32 = 1;
/// Stored payloads live long: a little more effort for a smaller database.
const PAYLOAD_LEVEL: i32 = 3;
/// Bodies smaller than this are stored as they are.
const MIN_PACKED: usize = 512;
/// Above any body ingest accepts; a frame claiming more is decoded as a stream.
const MAX_UNPACKED: u64 = 1 << 30;
/// The largest block a zstd frame may hold.
const MAX_RAW_BLOCK: usize = 128 << 10;
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

/// The form an accepted body takes in the inbox: zstd, with every large item payload in
/// a frame of its own and one frame for the bytes between them. The stream still decodes
/// to the envelope, and processing keeps an item's frame as that item's stored payload
/// instead of compressing the same bytes a second time.
pub fn pack_inbox(body: &[u8]) -> Vec<u8> {
    let payloads: Vec<Range<usize>> = match sextant_protocol::parse_envelope_spans(body) {
        Ok((_, items)) => items.into_iter().map(|i| i.payload).collect(),
        Err(_) => Vec::new(),
    };
    pack_envelope(body, &payloads)
}

/// [`pack_inbox`] for an envelope already parsed: `payloads` are its items' payload
/// ranges, in order.
pub fn pack_envelope(body: &[u8], payloads: &[Range<usize>]) -> Vec<u8> {
    if body.len() < MIN_PACKED {
        return body.to_vec();
    }
    let mut cuts = vec![0];
    for payload in payloads.iter().filter(|p| p.len() >= MIN_PACKED) {
        cuts.extend([payload.start, payload.end]);
    }
    cuts.push(body.len());
    cuts.dedup();
    let mut packed = Vec::with_capacity(body.len() / 4);
    for segment in cuts.windows(2) {
        let bytes = &body[segment[0]..segment[1]];
        if bytes.len() < MIN_PACKED {
            stored_frame(bytes, &mut packed);
        } else {
            packed.extend(compress_with(&INBOX, INBOX_LEVEL, bytes));
        }
    }
    packed
}

/// Appends a zstd frame that holds `bytes` as they are, in one raw block. The headers
/// and separators between large payloads are a few hundred bytes that compress poorly,
/// and a compressor call costs microseconds whatever its input (the context is reset for
/// each frame), so these frames are written without one.
fn stored_frame(bytes: &[u8], out: &mut Vec<u8>) {
    debug_assert!(bytes.len() < MAX_RAW_BLOCK);
    out.extend_from_slice(&ZSTD_MAGIC);
    // Frame header descriptor: a 4-byte content size, a single segment (so no window
    // descriptor), no checksum, no dictionary.
    out.push(0b1010_0000);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    // Block header, 3 bytes little-endian: size << 3 | raw block (0) << 1 | last block.
    let block = (bytes.len() as u32) << 3 | 1;
    out.extend_from_slice(&block.to_le_bytes()[..3]);
    out.extend_from_slice(bytes);
}

/// An inbox body as processing sees it.
pub struct Unpacked<'a> {
    /// The envelope bytes.
    pub body: Cow<'a, [u8]>,
    /// Each frame of the stored form: the range it decodes to, and its own bytes.
    frames: Vec<(Range<usize>, &'a [u8])>,
}

impl Unpacked<'_> {
    /// The compressed frame holding exactly `range` of the body, if the body was packed
    /// that way (see [`pack_inbox`]).
    pub fn frame(&self, range: &Range<usize>) -> Option<&[u8]> {
        self.frames
            .iter()
            .find(|(decoded, _)| decoded == range)
            .map(|(_, frame)| *frame)
    }
}

/// The envelope bytes of an inbox body, packed or not, with the frames they came from.
pub fn unpack_inbox(stored: &[u8]) -> std::io::Result<Unpacked<'_>> {
    if !stored.starts_with(&ZSTD_MAGIC) {
        return Ok(Unpacked {
            body: Cow::Borrowed(stored),
            frames: Vec::new(),
        });
    }
    match frames_of(stored) {
        Some(frames) => {
            let total = frames.last().map_or(0, |(decoded, _)| decoded.end);
            let mut body = Vec::with_capacity(total);
            UNPACK.with(|cell| -> std::io::Result<()> {
                let mut cell = cell.borrow_mut();
                let decompressor = match cell.as_mut() {
                    Some(d) => d,
                    None => cell.insert(zstd::bulk::Decompressor::new()?),
                };
                for (decoded, frame) in &frames {
                    let mut out = std::io::Cursor::new(&mut body);
                    out.set_position(decoded.start as u64);
                    decompressor.decompress_to_buffer(frame, &mut out)?;
                }
                Ok(())
            })?;
            if body.len() != total {
                return Err(std::io::Error::other("inbox frame shorter than declared"));
            }
            Ok(Unpacked {
                body: Cow::Owned(body),
                frames,
            })
        }
        // A frame without a recorded size (not written by `pack_inbox`): decode as a stream.
        None => Ok(Unpacked {
            body: Cow::Owned(zstd::stream::decode_all(stored)?),
            frames: Vec::new(),
        }),
    }
}

/// The frames of a zstd stream with the body range each decodes to, when every frame
/// records its size and the total stays within [`MAX_UNPACKED`].
fn frames_of(stored: &[u8]) -> Option<Vec<(Range<usize>, &[u8])>> {
    let mut frames = Vec::new();
    let (mut pos, mut decoded) = (0usize, 0usize);
    while pos < stored.len() {
        let len = zstd::zstd_safe::find_frame_compressed_size(&stored[pos..]).ok()?;
        let frame = &stored[pos..pos + len];
        let size = zstd::zstd_safe::get_frame_content_size(frame).ok()??;
        let end = decoded.checked_add(usize::try_from(size).ok()?)?;
        if end as u64 > MAX_UNPACKED {
            return None;
        }
        frames.push((decoded..end, frame));
        (pos, decoded) = (pos + len, end);
    }
    Some(frames)
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
        assert_eq!(unpack_inbox(&pack_inbox(&small)).unwrap().body, &small[..]);

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
        assert_eq!(unpack_inbox(&packed).unwrap().body, &big[..]);
        // Not an envelope: one frame, still readable as a plain zstd stream.
        assert_eq!(zstd::decode_all(&packed[..]).unwrap(), big);
    }

    #[test]
    fn large_item_payloads_get_frames_of_their_own() {
        let event = format!("{{\"message\":\"{}\"}}", "boom ".repeat(300));
        let small = "{\"status\":\"ok\"}";
        let body = format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n\
             {{\"type\":\"session\"}}\n{small}\n",
            id = "a".repeat(32)
        )
        .into_bytes();
        let packed = pack_inbox(&body);
        assert!(packed.len() < body.len() / 4);
        assert_eq!(zstd::decode_all(&packed[..]).unwrap(), body);

        let unpacked = unpack_inbox(&packed).unwrap();
        assert_eq!(unpacked.body, &body[..]);
        let (_, items) = sextant_protocol::parse_envelope_spans(&body).unwrap();
        let frame = unpacked
            .frame(&items[0].payload)
            .expect("the event has a frame");
        assert_eq!(zstd::decode_all(frame).unwrap(), event.as_bytes());
        assert!(
            unpacked.frame(&items[1].payload).is_none(),
            "small payloads share the frame between large ones"
        );
    }

    #[test]
    fn stored_frames_decode_with_the_standard_decoder() {
        for len in [0, 1, 255, 256, MIN_PACKED - 1] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut frame = Vec::new();
            stored_frame(&bytes, &mut frame);
            assert_eq!(zstd::decode_all(&frame[..]).unwrap(), bytes, "{len} bytes");
            assert_eq!(
                zstd::zstd_safe::get_frame_content_size(&frame).ok(),
                Some(Some(len as u64))
            );
        }
    }

    #[test]
    fn corrupt_frames_are_errors() {
        let mut packed = pack_inbox(&b"x".repeat(4096));
        let last = packed.len() - 1;
        packed[last] ^= 0xff;
        packed.truncate(last - 3);
        assert!(unpack_inbox(&packed).is_err());
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
