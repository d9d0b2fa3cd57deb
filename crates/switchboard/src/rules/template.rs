//! Room templates: `module:{id}`, `user:{sub}`, `kpi-dashboard`.

use std::fmt;

/// What fills a template's placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{id}`: a value from the client's payload.
    Id,
    /// `{sub}`: the caller's user id from the verified token, never from the payload.
    Sub,
}

/// A room name with at most one placeholder: `prefix{id}suffix`, `prefix{sub}suffix`,
/// or a static name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTemplate {
    raw: String,
    prefix: String,
    placeholder: Option<Placeholder>,
    suffix: String,
}

impl RoomTemplate {
    /// Parse a template. Errors name the problem (unknown placeholder, two
    /// placeholders, stray brace, empty).
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("room template is empty".into());
        }
        if raw.chars().any(char::is_control) {
            return Err("room template contains a control character".into());
        }
        let Some(open) = raw.find('{') else {
            if raw.contains('}') {
                return Err(format!("stray `}}` in room template `{raw}`"));
            }
            return Ok(Self {
                raw: raw.to_owned(),
                prefix: raw.to_owned(),
                placeholder: None,
                suffix: String::new(),
            });
        };
        let (prefix, rest) = raw.split_at(open);
        let close = rest
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in room template `{raw}`"))?;
        let placeholder = match &rest[1..close] {
            "id" => Placeholder::Id,
            "sub" => Placeholder::Sub,
            other => {
                return Err(format!(
                    "unknown placeholder `{{{other}}}` in room template `{raw}` \
                     (use {{id}} for the payload or {{sub}} for the caller's user id)"
                ))
            }
        };
        let suffix = &rest[close + 1..];
        if prefix.contains('}') {
            return Err(format!("stray `}}` in room template `{raw}`"));
        }
        if suffix.contains(['{', '}']) {
            return Err(format!(
                "room template `{raw}` may contain only one placeholder"
            ));
        }
        Ok(Self {
            raw: raw.to_owned(),
            prefix: prefix.to_owned(),
            placeholder: Some(placeholder),
            suffix: suffix.to_owned(),
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The placeholder, or `None` for a static room.
    pub fn placeholder(&self) -> Option<Placeholder> {
        self.placeholder
    }

    /// True for a template without a placeholder (`kpi-dashboard`).
    pub fn is_static(&self) -> bool {
        self.placeholder.is_none()
    }

    /// The room name for `value` (ignored for static rooms).
    pub fn fill(&self, value: &str) -> String {
        match self.placeholder {
            None => self.raw.clone(),
            Some(_) => format!("{}{value}{}", self.prefix, self.suffix),
        }
    }

    /// The inverse of [`RoomTemplate::fill`]: the value that produces `room`, if any
    /// (`Some("")` when a static template equals `room`). Placeholders never match an
    /// empty value.
    pub fn extract<'r>(&self, room: &'r str) -> Option<&'r str> {
        match self.placeholder {
            None => (room == self.raw).then_some(""),
            Some(_) => room
                .strip_prefix(self.prefix.as_str())?
                .strip_suffix(self.suffix.as_str())
                .filter(|v| !v.is_empty()),
        }
    }

    /// Whether some room name can be produced by both templates. Values are arbitrary
    /// non-empty strings, so two placeholder templates overlap exactly when one prefix
    /// starts the other and one suffix ends the other.
    pub fn overlaps(&self, other: &RoomTemplate) -> bool {
        match (self.placeholder, other.placeholder) {
            (None, None) => self.raw == other.raw,
            (None, Some(_)) => other.extract(&self.raw).is_some(),
            (Some(_), None) => self.extract(&other.raw).is_some(),
            (Some(_), Some(_)) => {
                let prefixes = self.prefix.starts_with(&other.prefix)
                    || other.prefix.starts_with(&self.prefix);
                let suffixes =
                    self.suffix.ends_with(&other.suffix) || other.suffix.ends_with(&self.suffix);
                prefixes && suffixes
            }
        }
    }
}

impl fmt::Display for RoomTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> RoomTemplate {
        RoomTemplate::parse(s).unwrap()
    }

    #[test]
    fn parses_and_fills() {
        assert_eq!(t("module:{id}").fill("crm"), "module:crm");
        assert_eq!(t("module:{id}").placeholder(), Some(Placeholder::Id));
        assert_eq!(t("user:{sub}").placeholder(), Some(Placeholder::Sub));
        assert_eq!(t("{id}").fill("anything"), "anything");
        assert_eq!(t("a-{id}-b").fill("x"), "a-x-b");
        assert!(t("kpi-dashboard").is_static());
        assert_eq!(t("kpi-dashboard").fill("ignored"), "kpi-dashboard");
    }

    #[test]
    fn rejects_bad_templates() {
        for (raw, msg) in [
            ("", "empty"),
            ("user:{name}", "unknown placeholder `{name}`"),
            ("a:{id}:{id}", "only one placeholder"),
            ("a:{id", "unclosed"),
            ("a:}", "stray"),
            ("a}{id}", "stray"),
        ] {
            let err = RoomTemplate::parse(raw).unwrap_err();
            assert!(err.contains(msg), "{raw}: {err}");
        }
    }

    #[test]
    fn extracts_the_value() {
        assert_eq!(t("module:{id}").extract("module:crm"), Some("crm"));
        assert_eq!(t("module:{id}").extract("module:"), None);
        assert_eq!(t("module:{id}").extract("user:1"), None);
        assert_eq!(t("a-{id}-b").extract("a-x-b"), Some("x"));
        assert_eq!(t("dashboard").extract("dashboard"), Some(""));
        assert_eq!(t("dashboard").extract("kpi-dashboard"), None);
    }

    #[test]
    fn detects_overlapping_room_names() {
        assert!(t("user:{sub}").overlaps(&t("user:{id}")));
        assert!(!t("user:{id}").overlaps(&t("user-{id}")));
        assert!(t("{id}").overlaps(&t("role:{id}")));
        assert!(t("user:{id}").overlaps(&t("user:x:{id}")));
        assert!(!t("a:{id}:x").overlaps(&t("a:{id}:y")));
        assert!(t("dashboard").overlaps(&t("dashboard")));
        assert!(!t("dashboard").overlaps(&t("kpi-dashboard")));
        assert!(t("module:{id}").overlaps(&t("module:secret")));
        assert!(t("module:secret").overlaps(&t("module:{id}")));
        assert!(!t("module:{id}").overlaps(&t("module:")));
    }
}
