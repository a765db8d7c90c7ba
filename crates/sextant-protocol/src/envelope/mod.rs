//! Envelope parsing (§6): a JSON header line followed by items, each a JSON header line
//! and a payload framed by `length` or by the next LF.

mod item_type;

pub use item_type::ItemType;

use serde_json::{Map, Value};

use crate::event_id::normalize_event_id;
use crate::timestamp::parse_timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub headers: EnvelopeHeaders,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvelopeHeaders {
    /// 32 lowercase hex (dashed input accepted).
    pub event_id: Option<String>,
    pub dsn: Option<String>,
    /// Unix seconds.
    pub sent_at: Option<f64>,
    /// The header object as sent, including the fields above.
    pub raw: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub headers: ItemHeaders,
    pub payload: Vec<u8>,
}

/// An item located in the body it was parsed from, without a copy of its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSpan {
    pub headers: ItemHeaders,
    /// Byte range of the payload within the envelope body.
    pub payload: std::ops::Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemHeaders {
    pub item_type: ItemType,
    pub length: Option<u64>,
    pub content_type: Option<String>,
    pub filename: Option<String>,
    pub attachment_type: Option<String>,
    pub item_count: Option<u64>,
    /// The item header object as sent.
    pub raw: Map<String, Value>,
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("empty envelope: missing envelope header")]
    Empty,
    #[error("missing newline after header or payload at byte {offset}")]
    MissingNewline { offset: usize },
    #[error("unexpected end of envelope: item payload is shorter than its declared length")]
    UnexpectedEof,
    #[error("invalid envelope header: {0}")]
    InvalidHeader(String),
    #[error("invalid header of item {index}: {reason}")]
    InvalidItemHeader { index: usize, reason: String },
    #[error("invalid event_id {0:?} in envelope header")]
    InvalidEventId(String),
}

impl Envelope {
    pub fn event_id(&self) -> Option<&str> {
        self.headers.event_id.as_deref()
    }

    pub fn items_of<'a>(&'a self, ty: &'a ItemType) -> impl Iterator<Item = &'a Item> + 'a {
        self.items
            .iter()
            .filter(move |i| &i.headers.item_type == ty)
    }

    /// Serializes back to the wire format, always writing `length` so binary payloads
    /// survive (useful for forwarding and tests).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.headers.raw).unwrap_or_default();
        for item in &self.items {
            let mut raw = item.headers.raw.clone();
            raw.insert("type".into(), item.headers.item_type.as_str().into());
            raw.insert("length".into(), item.payload.len().into());
            out.push(b'\n');
            out.extend(serde_json::to_vec(&raw).unwrap_or_default());
            out.push(b'\n');
            out.extend_from_slice(&item.payload);
        }
        out.push(b'\n');
        out
    }
}

fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Parses one JSON value starting at `pos`; returns it and the offset right after it.
/// `Ok(None)` when only whitespace is left.
fn json_at(body: &[u8], pos: usize) -> Result<Option<(Value, usize)>, String> {
    let rest = &body[pos..];
    if rest.iter().all(|&b| is_json_ws(b)) {
        return Ok(None);
    }
    let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
    match stream.next() {
        None => Ok(None),
        Some(Ok(value)) => Ok(Some((value, pos + stream.byte_offset()))),
        Some(Err(e)) => Err(format!("at byte {}: {e}", pos)),
    }
}

fn require_newline(body: &[u8], offset: usize) -> Result<(), EnvelopeError> {
    match body.get(offset) {
        None | Some(b'\n') => Ok(()),
        Some(_) => Err(EnvelopeError::MissingNewline { offset }),
    }
}

/// Parses an envelope body exactly as Relay does (§6.2), except that trailing whitespace
/// after the last item is tolerated. Unknown item types are kept as [`ItemType::Unknown`].
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let (headers, spans) = parse_envelope_spans(body)?;
    let items = spans
        .into_iter()
        .map(|span| Item {
            payload: body[span.payload].to_vec(),
            headers: span.headers,
        })
        .collect();
    Ok(Envelope { headers, items })
}

/// The envelope header alone, from its line (with or without the LF that ends it), as
/// [`parse_envelope_spans`] reads it: enough to authenticate a request before the rest
/// of its body is decoded.
pub fn parse_envelope_header(line: &[u8]) -> Result<EnvelopeHeaders, EnvelopeError> {
    header_at(line.strip_suffix(b"\n").unwrap_or(line)).map(|(headers, _)| headers)
}

/// The envelope header at the start of `body`, and where its JSON ends.
fn header_at(body: &[u8]) -> Result<(EnvelopeHeaders, usize), EnvelopeError> {
    match json_at(body, 0) {
        Ok(Some((Value::Object(raw), end))) => Ok((envelope_headers(raw)?, end)),
        Ok(Some(_)) => Err(EnvelopeError::InvalidHeader("not a JSON object".into())),
        Ok(None) => Err(EnvelopeError::Empty),
        Err(e) => Err(EnvelopeError::InvalidHeader(e)),
    }
}

/// [`parse_envelope`] that locates the payloads in `body` instead of copying them.
pub fn parse_envelope_spans(
    body: &[u8],
) -> Result<(EnvelopeHeaders, Vec<ItemSpan>), EnvelopeError> {
    let (headers, end) = header_at(body)?;
    require_newline(body, end)?;

    let mut items = Vec::new();
    let mut pos = end + 1;
    while pos < body.len() {
        let index = items.len();
        let (value, hend) = match json_at(body, pos) {
            Ok(Some(found)) => found,
            // Lenient: trailing blank lines / whitespace end the envelope.
            Ok(None) => break,
            Err(reason) => return Err(EnvelopeError::InvalidItemHeader { index, reason }),
        };
        require_newline(body, hend)?;
        let item_headers = item_headers(value, index)?;
        let pstart = (hend + 1).min(body.len());
        let pend = match item_headers.length {
            Some(length) => {
                let pend = usize::try_from(length)
                    .ok()
                    .and_then(|l| pstart.checked_add(l))
                    .filter(|&e| e <= body.len())
                    .ok_or(EnvelopeError::UnexpectedEof)?;
                require_newline(body, pend)?;
                pend
            }
            None => body[pstart..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |i| pstart + i),
        };
        items.push(ItemSpan {
            headers: item_headers,
            payload: pstart..pend,
        });
        pos = pend + 1;
    }
    Ok((headers, items))
}

fn envelope_headers(raw: Map<String, Value>) -> Result<EnvelopeHeaders, EnvelopeError> {
    let event_id = match raw.get("event_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(normalize_event_id(s).ok_or_else(|| EnvelopeError::InvalidEventId(s.clone()))?)
        }
        Some(other) => return Err(EnvelopeError::InvalidEventId(other.to_string())),
    };
    let dsn = raw.get("dsn").and_then(Value::as_str).map(str::to_owned);
    // Relay would reject a malformed sent_at; ignoring it only loses drift correction.
    let sent_at = raw.get("sent_at").and_then(parse_timestamp);
    Ok(EnvelopeHeaders {
        event_id,
        dsn,
        sent_at,
        raw,
    })
}

fn item_headers(value: Value, index: usize) -> Result<ItemHeaders, EnvelopeError> {
    let invalid = |reason: &str| EnvelopeError::InvalidItemHeader {
        index,
        reason: reason.to_owned(),
    };
    let Value::Object(raw) = value else {
        return Err(invalid("not a JSON object"));
    };
    let item_type = match raw.get("type") {
        Some(Value::String(t)) => ItemType::parse(t),
        Some(_) => return Err(invalid("\"type\" is not a string")),
        None => return Err(invalid("missing \"type\"")),
    };
    let length = match raw.get("length") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| invalid("\"length\" is not a non-negative integer"))?,
        ),
    };
    let string = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(ItemHeaders {
        item_type,
        length,
        content_type: string("content_type"),
        filename: string("filename"),
        attachment_type: string("attachment_type"),
        item_count: raw.get("item_count").and_then(Value::as_u64),
        raw,
    })
}

#[cfg(test)]
mod tests {
    //! Edge cases of the §6.2 framing rules.

    use super::*;

    fn payloads(env: &Envelope) -> Vec<&[u8]> {
        env.items.iter().map(|i| i.payload.as_slice()).collect()
    }

    #[test]
    fn minimal_event_envelope() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2024-01-01T00:00:00Z\"}\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n";
        let env = parse_envelope(body).unwrap();
        assert_eq!(env.event_id(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
        assert_eq!(env.headers.sent_at, Some(1_704_067_200.0));
        assert_eq!(env.items.len(), 1);
        assert_eq!(env.items[0].headers.item_type, ItemType::Event);
        assert_eq!(payloads(&env), vec![b"{\"message\":\"hi\"}".as_slice()]);
    }

    #[test]
    fn no_trailing_newline() {
        let env = parse_envelope(b"{}\n{\"type\":\"event\"}\n{\"a\":1}").unwrap();
        assert_eq!(payloads(&env), vec![b"{\"a\":1}".as_slice()]);
        let env = parse_envelope(b"{}").unwrap();
        assert!(env.items.is_empty());
        let env = parse_envelope(b"{}\n").unwrap();
        assert!(env.items.is_empty());
    }

    #[test]
    fn zero_length_and_header_at_eof() {
        let env = parse_envelope(
            b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"event\"}\n{}\n",
        )
        .unwrap();
        assert_eq!(payloads(&env), vec![b"".as_slice(), b"{}".as_slice()]);
        let env = parse_envelope(b"{}\n{\"type\":\"attachment\",\"length\":0}").unwrap();
        assert_eq!(payloads(&env), vec![b"".as_slice()]);
        let env = parse_envelope(b"{}\n{\"type\":\"session\"}").unwrap();
        assert_eq!(payloads(&env), vec![b"".as_slice()]);
    }

    #[test]
    fn binary_payload_with_crlf() {
        let mut body = b"{}\n{\"type\":\"attachment\",\"length\":8,\"filename\":\"s.png\",\"content_type\":\"image/png\"}\n".to_vec();
        body.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        let env = parse_envelope(&body).unwrap();
        assert_eq!(env.items[0].payload, b"\x89PNG\r\n\x1a\n");
        assert_eq!(env.items[0].headers.filename.as_deref(), Some("s.png"));
        assert_eq!(
            env.items[0].headers.content_type.as_deref(),
            Some("image/png")
        );
    }

    #[test]
    fn cr_is_an_ordinary_byte() {
        let env = parse_envelope(b"{}\n{\"type\":\"event\"}\n{\"a\":1}\r\n").unwrap();
        assert_eq!(payloads(&env), vec![b"{\"a\":1}\r".as_slice()]);
    }

    #[test]
    fn blank_trailing_lines_are_tolerated() {
        let env = parse_envelope(b"{}\n{\"type\":\"event\"}\n{}\n\n\n  \r\n").unwrap();
        assert_eq!(env.items.len(), 1);
    }

    #[test]
    fn missing_newline_errors() {
        let err = parse_envelope(b"{} x\n").unwrap_err();
        assert_eq!(err, EnvelopeError::MissingNewline { offset: 2 });
        let err = parse_envelope(b"{}\n{\"type\":\"a\",\"length\":2}\nabc\n").unwrap_err();
        assert_eq!(err, EnvelopeError::MissingNewline { offset: 29 });
        assert!(err.to_string().contains("byte 29"));
    }

    #[test]
    fn truncated_length_is_eof() {
        let err = parse_envelope(b"{}\n{\"type\":\"attachment\",\"length\":10}\nabc").unwrap_err();
        assert_eq!(err, EnvelopeError::UnexpectedEof);
    }

    #[test]
    fn invalid_headers() {
        assert_eq!(parse_envelope(b""), Err(EnvelopeError::Empty));
        assert_eq!(parse_envelope(b"  \n "), Err(EnvelopeError::Empty));
        assert!(matches!(
            parse_envelope(b"{nope\n"),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        assert!(matches!(
            parse_envelope(b"[1]\n"),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        let err = parse_envelope(b"{}\n{\"type\":\"event\"}\n{}\n{bad}\n").unwrap_err();
        assert!(
            matches!(err, EnvelopeError::InvalidItemHeader { index: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("item 1"));
        let err = parse_envelope(b"{}\n{\"length\":1}\na\n").unwrap_err();
        assert!(matches!(
            err,
            EnvelopeError::InvalidItemHeader { index: 0, .. }
        ));
    }

    #[test]
    fn event_ids() {
        let env =
            parse_envelope(b"{\"event_id\":\"cfd39707-bf02-4b29-ae33-ae796217fb7f\"}\n").unwrap();
        assert_eq!(env.event_id(), Some("cfd39707bf024b29ae33ae796217fb7f"));
        assert_eq!(
            parse_envelope(b"{\"event_id\":\"xyz\"}\n"),
            Err(EnvelopeError::InvalidEventId("xyz".into()))
        );
        let env = parse_envelope(b"{\"event_id\":null,\"dsn\":\"http://k@h/1\"}\n").unwrap();
        assert_eq!(env.event_id(), None);
        assert_eq!(env.headers.dsn.as_deref(), Some("http://k@h/1"));
    }

    #[test]
    fn unknown_items_are_kept() {
        let env = parse_envelope(
            b"{}\n{\"type\":\"brand_new\",\"x\":1}\npayload\n{\"type\":\"client_report\"}\n{}\n",
        )
        .unwrap();
        assert_eq!(
            env.items[0].headers.item_type,
            ItemType::Unknown("brand_new".into())
        );
        assert_eq!(env.items[0].headers.raw.get("x"), Some(&Value::from(1)));
        assert_eq!(env.items[1].headers.item_type, ItemType::ClientReport);
    }

    #[test]
    fn serializes_back() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"attachment\",\"length\":3}\na\nb\n{\"type\":\"event\"}\n{}\n";
        let env = parse_envelope(body).unwrap();
        let again = parse_envelope(&env.to_bytes()).unwrap();
        assert_eq!(again.headers, env.headers);
        assert_eq!(payloads(&again), payloads(&env));
        assert_eq!(again.items[1].headers.item_type, ItemType::Event);
    }

    #[test]
    fn header_line_alone() {
        let h = parse_envelope_header(b"{\"dsn\":\"http://k@h/1\",\"event_id\":null}\n").unwrap();
        assert_eq!(h.dsn.as_deref(), Some("http://k@h/1"));
        let same = parse_envelope_header(b"{\"dsn\":\"http://k@h/1\"}").unwrap();
        assert_eq!(same.dsn, h.dsn);
        assert_eq!(parse_envelope_header(b"\n"), Err(EnvelopeError::Empty));
        assert!(matches!(
            parse_envelope_header(b"[1]\n"),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        assert!(matches!(
            parse_envelope_header(b"{\"dsn\":\n"),
            Err(EnvelopeError::InvalidHeader(_))
        ));
    }
}
