//! Database URLs as they may be shown: in logs, errors and command output. A URL's
//! password may sit in its user info (`postgres://u:pw@h/db`) or in a query parameter
//! (`?password=pw`, `sslpassword=pw`); both are replaced with `***`.

/// `url` with every password hidden; the rest kept as given, so the URL stays useful to
/// find which database was meant.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

fn redact_userinfo(base: &str) -> String {
    let Some(scheme_end) = base.find("://") else {
        return base.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let authority = &base[authority_start..authority_end];
    // The last `@` ends the user info: a password may itself hold an unescaped `@`.
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => userinfo.to_string(),
            };
            format!(
                "{}{user}{}{}",
                &base[..authority_start],
                &authority[at..],
                &base[authority_end..]
            )
        }
        None => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_every_password_and_keeps_the_rest() {
        let cases = [
            ("postgres://u:secret@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u:se@cret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?user=u&password=secret&sslmode=require",
                "postgres://h/db?user=u&password=***&sslmode=require",
            ),
            (
                "postgresql://u:a@h/db?sslpassword=k&PASSWORD=b",
                "postgresql://u:***@h/db?sslpassword=***&PASSWORD=***",
            ),
            ("sqlite://data/x.db", "sqlite://data/x.db"),
            ("sqlite://data/x.db?mode=rwc", "sqlite://data/x.db?mode=rwc"),
            ("postgress://u:pw@h/db", "postgress://u:***@h/db"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
            assert!(!redact_url(url).contains("secret"));
        }
    }
}
