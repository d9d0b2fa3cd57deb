//! Secrets out of what people read: a URL with its password masked, for logs, error
//! messages and `check-config` output. (The one redactor: the config, the store and the
//! start-up errors all call it.)

/// Mask the password of `scheme://user:password@host…` and `password=` query values.
pub fn url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = url.find("://") {
        let start = scheme_end + 3;
        let rest = &url[start..];
        let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                out = format!(
                    "{}[redacted]{}",
                    &url[..start + colon + 1],
                    &url[start + at..]
                );
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let query = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        out = format!("{base}{query}");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_passwords() {
        assert_eq!(
            super::url("sqlite://switchboard.db"),
            "sqlite://switchboard.db"
        );
        assert_eq!(super::url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            super::url("postgres://u:p@h/db"),
            "postgres://u:[redacted]@h/db"
        );
        assert_eq!(
            super::url("postgres://u:p@ss@h"),
            "postgres://u:[redacted]@h"
        );
        assert_eq!(
            super::url("postgres://h/db?user=u&password=p&x=1"),
            "postgres://h/db?user=u&password=[redacted]&x=1"
        );
    }
}
