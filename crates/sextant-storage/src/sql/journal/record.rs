//! The byte layout of one journal record: an accepted request with its sequence number,
//! checksummed so that recovery can tell a complete record from a torn tail.
//!
//! ```text
//! len   u32 LE   bytes after the checksum
//! crc   u32 LE   CRC-32 of those bytes
//! seq   u64 LE
//! project_id i64 LE, received_at i64 LE, kind u8,
//! ip_len u16 LE, ua_len u16 LE   (u16::MAX: absent)
//! ip bytes, user-agent bytes, body bytes
//! ```

use crate::model::{InboxEntry, InboxKind, InboxRow};

/// `len` and `crc`.
pub(super) const FRAME: usize = 8;
/// The fixed part after the frame: seq, project, received, kind, two lengths.
const FIXED: usize = 8 + 8 + 8 + 1 + 2 + 2;
const ABSENT: u16 = u16::MAX;

/// Why bytes at some offset are not a record.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Bad {
    /// A zero frame: the space the writer filled with zeros ahead of its records, that is,
    /// the end of the records.
    End,
    /// Fewer bytes than the record claims: a torn write at the tail, or a read that
    /// stopped short.
    Short { needed: usize },
    /// The bytes are all there but do not check out.
    Corrupt(&'static str),
}

/// Appends the encoded record for `entry` to `out`. Text fields are cut to under 64 KiB
/// (at a character boundary): a client's oversized `User-Agent` must not fail the
/// append it shares with other requests. Fails only for a body too large for the length
/// field, which ingest's limits rule out.
pub(super) fn encode(seq: u64, entry: &InboxEntry, out: &mut Vec<u8>) -> Result<(), String> {
    let ip = entry.client_ip.as_deref().map(|t| fit(t).as_bytes());
    let ua = entry.user_agent.as_deref().map(|t| fit(t).as_bytes());
    let text_len = |t: Option<&[u8]>| t.map_or(ABSENT, |t| t.len() as u16);
    let (ip_len, ua_len) = (text_len(ip), text_len(ua));
    let len = FIXED + ip.map_or(0, <[u8]>::len) + ua.map_or(0, <[u8]>::len) + entry.body.len();
    let len32 = u32::try_from(len).map_err(|_| format!("a request of {len} bytes"))?;
    let start = out.len();
    out.reserve(FRAME + len);
    out.extend_from_slice(&len32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&entry.project_id.to_le_bytes());
    out.extend_from_slice(&entry.received_at.to_le_bytes());
    out.push(match entry.kind {
        InboxKind::Envelope => 0,
        InboxKind::Store => 1,
    });
    out.extend_from_slice(&ip_len.to_le_bytes());
    out.extend_from_slice(&ua_len.to_le_bytes());
    out.extend_from_slice(ip.unwrap_or_default());
    out.extend_from_slice(ua.unwrap_or_default());
    out.extend_from_slice(&entry.body);
    let crc = crc32fast::hash(&out[start + FRAME..]);
    out[start + 4..start + FRAME].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// `text`, cut at a character boundary to fewer bytes than `ABSENT`.
fn fit(text: &str) -> &str {
    let mut end = text.len().min(usize::from(ABSENT) - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The total size of the record starting at `bytes`, from its frame alone.
pub(super) fn size(bytes: &[u8]) -> Result<usize, Bad> {
    let frame: [u8; FRAME] = bytes
        .get(..FRAME)
        .and_then(|b| b.try_into().ok())
        .ok_or(Bad::Short { needed: FRAME })?;
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    if frame == [0; FRAME] {
        return Err(Bad::End);
    }
    if len < FIXED {
        return Err(Bad::Corrupt("length below the fixed fields"));
    }
    Ok(FRAME + len)
}

/// Decodes the record at the start of `bytes`; returns it with its total size.
pub(super) fn decode(bytes: &[u8]) -> Result<(InboxRow, usize), Bad> {
    let total = size(bytes)?;
    let Some(record) = bytes.get(..total) else {
        return Err(Bad::Short { needed: total });
    };
    let crc = u32::from_le_bytes(record[4..FRAME].try_into().expect("four bytes"));
    let rest = &record[FRAME..];
    if crc32fast::hash(rest) != crc {
        return Err(Bad::Corrupt("checksum mismatch"));
    }
    let u64_at = |at: usize| u64::from_le_bytes(rest[at..at + 8].try_into().expect("8 bytes"));
    let u16_at = |at: usize| u16::from_le_bytes(rest[at..at + 2].try_into().expect("2 bytes"));
    let seq = u64_at(0);
    let kind = match rest[24] {
        0 => InboxKind::Envelope,
        1 => InboxKind::Store,
        _ => return Err(Bad::Corrupt("unknown request kind")),
    };
    let (ip_len, ua_len) = (u16_at(25), u16_at(27));
    let mut at = FIXED;
    let mut text = |len: u16| -> Result<Option<String>, Bad> {
        if len == ABSENT {
            return Ok(None);
        }
        let end = at + usize::from(len);
        let bytes = rest
            .get(at..end)
            .ok_or(Bad::Corrupt("text past the record"))?;
        at = end;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Bad::Corrupt("text is not UTF-8"))
    };
    let client_ip = text(ip_len)?;
    let user_agent = text(ua_len)?;
    let id = i64::try_from(seq).map_err(|_| Bad::Corrupt("sequence number out of range"))?;
    let row = InboxRow {
        id,
        entry: InboxEntry {
            project_id: u64_at(8) as i64,
            kind,
            received_at: u64_at(16) as i64,
            client_ip,
            user_agent,
            body: rest[at..].to_vec(),
        },
    };
    Ok((row, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &[u8]) -> InboxEntry {
        InboxEntry {
            project_id: 7,
            kind: InboxKind::Store,
            received_at: 1_700_000_000_123,
            client_ip: Some("10.0.0.1".into()),
            user_agent: None,
            body: body.to_vec(),
        }
    }

    #[test]
    fn round_trips_every_field() {
        let mut out = Vec::new();
        encode(41, &entry(b"first"), &mut out).unwrap();
        let mut second = entry(b"");
        second.kind = InboxKind::Envelope;
        second.client_ip = None;
        second.user_agent = Some("sentry.python/2.0".into());
        encode(42, &second, &mut out).unwrap();

        let (row, used) = decode(&out).unwrap();
        assert_eq!((row.id, row.entry), (41, entry(b"first")));
        let (row, rest) = decode(&out[used..]).unwrap();
        assert_eq!((row.id, row.entry), (42, second));
        assert_eq!(used + rest, out.len());
    }

    #[test]
    fn an_oversized_user_agent_is_cut_not_refused() {
        let mut long = entry(b"body");
        // Multi-byte characters across the cut: it lands on a character boundary.
        long.user_agent = Some("é".repeat(40_000));
        let mut out = Vec::new();
        encode(1, &long, &mut out).unwrap();
        let (row, _) = decode(&out).unwrap();
        let ua = row.entry.user_agent.unwrap();
        assert!(
            ua.len() < usize::from(ABSENT) && ua.len() > 60_000,
            "{}",
            ua.len()
        );
        assert!(ua.chars().all(|c| c == 'é'));
        assert_eq!(row.entry.body, b"body");
    }

    #[test]
    fn a_torn_tail_is_short_and_a_flipped_byte_is_corrupt() {
        let mut out = Vec::new();
        encode(1, &entry(b"payload"), &mut out).unwrap();
        for cut in [0, 3, FRAME, out.len() - 1] {
            assert!(
                matches!(decode(&out[..cut]), Err(Bad::Short { .. })),
                "cut at {cut}"
            );
        }
        let last = out.len() - 1;
        out[last] ^= 1;
        assert_eq!(decode(&out), Err(Bad::Corrupt("checksum mismatch")));
        assert_eq!(decode(&[0; 16]), Err(Bad::End), "zeros end the records");
        assert_eq!(
            decode(&[1, 0, 0, 0, 0, 0, 0, 0]),
            Err(Bad::Corrupt("length below the fixed fields"))
        );
    }
}
