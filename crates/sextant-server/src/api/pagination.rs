//! Query-string parameters, keyset cursors and Sentry-style `Link` headers.
//!
//! Cursors keep Sentry's outward format `value:offset:is_prev` so existing clients can
//! pass them back untouched, but we read the fields as `sort_value:id:is_prev`: the
//! keyset position of the last row already returned.

use sextant_storage::Cursor;

use super::error::ApiError;

/// Decoded query-string pairs, in order; repeated keys (`?id=1&id=2`) are kept.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Params { pairs }
    }

    /// First value of `key`; `Some("")` when present but empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `true` for `1`, `true`, `yes` (any case).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    }

    /// `limit` (or Sentry's older `per_page`), defaulting and capped.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.get("limit").or_else(|| self.get("per_page")) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<u32>().map(|n| n.clamp(1, max)).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid limit \"{v}\": expected a positive integer"
                ))
            }),
        }
    }

    /// The `cursor` parameter, parsed; `None` for the first page.
    pub fn cursor(&self) -> Result<Option<Cursor>, ApiError> {
        match self.get("cursor") {
            None | Some("") => Ok(None),
            Some(raw) => parse_cursor(raw).map_err(ApiError::BadRequest),
        }
    }
}

/// Parses `sort_value:id:is_prev`. A "previous" cursor or id 0 means the first page:
/// we only paginate forwards, and Sentry clients start from `0:0:0`.
pub fn parse_cursor(raw: &str) -> Result<Option<Cursor>, String> {
    let bad = || format!("invalid cursor \"{raw}\": expected \"value:id:0\"");
    let mut parts = raw.split(':');
    let (Some(value), Some(id), Some(prev), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let sort_value: i64 = value.parse().map_err(|_| bad())?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    let is_prev = match prev {
        "0" => false,
        "1" => true,
        _ => return Err(bad()),
    };
    if is_prev || id == 0 {
        return Ok(None);
    }
    Ok(Some(Cursor { sort_value, id }))
}

pub fn format_cursor(c: Cursor) -> String {
    format!("{}:{}:0", c.sort_value, c.id)
}

/// The cursor that can never match a row, used as the "previous" link target.
const PREVIOUS_CURSOR: &str = "0:0:1";

/// Builds Sentry's two-part `Link` header. `url` is the request URL without query;
/// `raw_query` is the original query string, whose `cursor` is replaced. When `next` is
/// `None`, `exhausted` (the position after the last row) is still given as the next
/// cursor, with `results="false"`, because Sentry clients expect both links.
pub fn link_header(
    url: &str,
    raw_query: Option<&str>,
    next: Option<Cursor>,
    exhausted: Cursor,
) -> String {
    let kept: Vec<&str> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("cursor"))
        .collect();
    let prefix = if kept.is_empty() {
        format!("{url}?")
    } else {
        format!("{url}?{}&", kept.join("&"))
    };
    let (next_cursor, has_next) = match next {
        Some(c) => (format_cursor(c), true),
        None => (format_cursor(exhausted), false),
    };
    format!(
        "<{prefix}cursor={PREVIOUS_CURSOR}>; rel=\"previous\"; results=\"false\"; cursor=\"{PREVIOUS_CURSOR}\", \
         <{prefix}cursor={next_cursor}>; rel=\"next\"; results=\"{has_next}\"; cursor=\"{next_cursor}\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let c = Cursor {
            sort_value: 1_767_225_600_000,
            id: 42,
        };
        assert_eq!(format_cursor(c), "1767225600000:42:0");
        assert_eq!(parse_cursor("1767225600000:42:0"), Ok(Some(c)));
        assert_eq!(
            parse_cursor("-5:7:0"),
            Ok(Some(Cursor {
                sort_value: -5,
                id: 7
            }))
        );
    }

    #[test]
    fn first_page_cursors() {
        assert_eq!(parse_cursor("0:0:0"), Ok(None));
        assert_eq!(parse_cursor("0:0:1"), Ok(None));
        assert_eq!(parse_cursor("123:9:1"), Ok(None));
    }

    #[test]
    fn malformed_cursors() {
        for raw in [
            "", "abc", "1:2", "1:2:3", "1:2:0:0", "x:2:0", "1:y:0", "1.5:2:0", "1:2:",
        ] {
            let err = parse_cursor(raw).expect_err(raw);
            assert!(err.contains("invalid cursor"), "{err}");
        }
    }

    #[test]
    fn params_cursor_errors_are_bad_requests() {
        let p = Params::parse(Some("cursor=nope"));
        assert!(matches!(p.cursor(), Err(ApiError::BadRequest(_))));
        assert_eq!(Params::parse(Some("cursor=")).cursor().unwrap(), None);
    }

    #[test]
    fn params_repeated_and_decoded() {
        let p = Params::parse(Some(
            "id=1&id=2&query=is%3Aresolved+level%3Aerror&full=true",
        ));
        assert_eq!(p.all("id").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(p.get("query"), Some("is:resolved level:error"));
        assert!(p.flag("full"));
        assert!(!p.flag("missing"));
        assert_eq!(Params::parse(Some("query=")).get("query"), Some(""));
        assert_eq!(Params::parse(None).get("query"), None);
    }

    #[test]
    fn limits() {
        assert_eq!(Params::parse(None).limit(25, 100).unwrap(), 25);
        assert_eq!(
            Params::parse(Some("limit=500")).limit(25, 100).unwrap(),
            100
        );
        assert_eq!(Params::parse(Some("limit=0")).limit(25, 100).unwrap(), 1);
        assert_eq!(
            Params::parse(Some("per_page=10")).limit(25, 100).unwrap(),
            10
        );
        assert!(Params::parse(Some("limit=-1")).limit(25, 100).is_err());
    }

    #[test]
    fn link_header_with_next_page() {
        let url = "http://localhost:9000/api/0/projects/acme/web/issues/";
        let next = Cursor {
            sort_value: 1700,
            id: 3,
        };
        let h = link_header(
            url,
            Some("query=is%3Aunresolved&cursor=1800:4:0&limit=2"),
            Some(next),
            next,
        );
        assert_eq!(
            h,
            "<http://localhost:9000/api/0/projects/acme/web/issues/?query=is%3Aunresolved&limit=2&cursor=0:0:1>; \
             rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", \
             <http://localhost:9000/api/0/projects/acme/web/issues/?query=is%3Aunresolved&limit=2&cursor=1700:3:0>; \
             rel=\"next\"; results=\"true\"; cursor=\"1700:3:0\""
        );
    }

    #[test]
    fn link_header_last_page_without_query() {
        let url = "http://h/api/0/issues/1/events/";
        let h = link_header(
            url,
            None,
            None,
            Cursor {
                sort_value: 5,
                id: 9,
            },
        );
        assert_eq!(
            h,
            "<http://h/api/0/issues/1/events/?cursor=0:0:1>; rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", \
             <http://h/api/0/issues/1/events/?cursor=5:9:0>; rel=\"next\"; results=\"false\"; cursor=\"5:9:0\""
        );
    }
}
