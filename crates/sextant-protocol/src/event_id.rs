//! Event ids: SDKs send 32-hex or dashed UUIDs in any case; we store 32 lowercase hex.

/// Canonical 32-lowercase-hex form, or `None` when `s` is not a UUID.
pub fn normalize_event_id(s: &str) -> Option<String> {
    let s = s.trim();
    // Only the two forms SDKs use; uuid's braced/URN forms are not event ids.
    if s.len() != 32 && s.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(s)
        .ok()
        .map(|u| u.simple().to_string())
}

/// A fresh random (v4) event id in canonical form.
pub fn new_event_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Dashed (hyphenated) form, as minidump/unreal endpoints answer.
pub fn hyphenated(id: &str) -> Option<String> {
    uuid::Uuid::try_parse(id)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_simple_and_dashed() {
        let want = "cfd39707bf024b29ae33ae796217fb7f";
        assert_eq!(
            normalize_event_id("cfd39707-bf02-4b29-ae33-ae796217fb7f").as_deref(),
            Some(want)
        );
        assert_eq!(
            normalize_event_id("CFD39707BF024B29AE33AE796217FB7F").as_deref(),
            Some(want)
        );
        assert_eq!(normalize_event_id("not-an-id"), None);
        assert_eq!(
            normalize_event_id("{cfd39707-bf02-4b29-ae33-ae796217fb7f}"),
            None
        );
        assert_eq!(new_event_id().len(), 32);
        assert_eq!(
            hyphenated(want).as_deref(),
            Some("cfd39707-bf02-4b29-ae33-ae796217fb7f")
        );
    }
}
