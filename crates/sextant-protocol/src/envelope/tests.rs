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
    let env =
        parse_envelope(b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"event\"}\n{}\n")
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
    let env = parse_envelope(b"{\"event_id\":\"cfd39707-bf02-4b29-ae33-ae796217fb7f\"}\n").unwrap();
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
