//! The join rules table: client event → room template → permission → ack shape
//! (README "The three protocols", "Identity and security").
//!
//! The three shipped client protocols (ERP, service queue, study-space booking) are
//! data in `presets.toml`, all on by default; a config file can switch presets off
//! and add `[[rules.custom]]` rules of the same shape, so a fourth app's protocol is
//! a config change. [`Rules::from_config`] checks the table once at startup:
//! templates and permissions parse, event names are unique, and two join rules that
//! can produce the same room name require the same permission.
//!
//! At run time the gateway looks up the event ([`Rules::get`]) and calls
//! [`Rule::authorize`], which fills the room from the payload (or the caller's
//! identity for `{sub}`) and runs [`check`]. The HTTP API calls [`check`] directly.
//! Everything here is pure: no sockets, no I/O.

mod permission;
mod template;

pub use permission::{check, Identity, Permission, PermissionError, PermissionParseError};
pub use template::{Placeholder, RoomTemplate};

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest accepted room id (the value filling `{id}`), in characters.
pub const MAX_ID_LEN: usize = 128;

/// Event names the Socket.IO client reserves for itself: no rule may claim them and
/// the HTTP API refuses to publish them.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Client events the gateway handles itself (the non-room events of README "The three protocols"); no rule
/// may claim them, nor any of [`RESERVED_EVENTS`].
pub const BUILTIN_EVENTS: &[&str] = &[
    "ping",
    "clientError",
    "clientInfo",
    "notification:mark-read",
    "presence:get",
];

/// The shipped presets, as `[[preset.NAME]]` tables.
pub const PRESETS_TOML: &str = include_str!("presets.toml");

/// Presets enabled when the config does not say: all of them.
pub const DEFAULT_PRESETS: [&str; 3] = ["erp", "queue", "booking"];

/// Name under which `[[rules.custom]]` rules are reported.
pub const CUSTOM: &str = "custom";

/// What a rule does with the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Join the room.
    Join,
    /// Leave the room.
    Leave,
}

/// How a rule answers a client that passed an ack callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckShape {
    /// `{ success: true, room }` or `{ success: false, error }`. The default.
    #[default]
    Room,
    /// No answer on success; errors are still answered `{ success: false, error }`.
    None,
}

/// What happens after a join, besides the ack: a feature answers the joiner or tells the
/// room. Unknown names are refused when the rules table is read, at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnJoin {
    /// The module's current KPIs (`kpi:update:{id}`) to the joiner.
    KpiSnapshot,
    /// The dashboard summary (`dashboard:update`) to the joiner.
    DashboardSnapshot,
    /// The caller's unread notifications (`notification:new`, oldest first).
    NotificationReplay,
    /// `staffConnectionUpdate` to the room, now and when the socket leaves.
    StaffUpdate,
    /// `queueUserJoined { serviceType: id }` to the room.
    QueueUserJoined,
}

impl OnJoin {
    /// The feature tells the room (and so runs before the joiner's ack) rather than
    /// answering the joiner (after the ack).
    pub fn tells_room(self) -> bool {
        matches!(self, OnJoin::StaffUpdate | OnJoin::QueueUserJoined)
    }
}

/// One rule as written in `presets.toml` or a config file's `[[rules.custom]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDef {
    /// Client event name, e.g. `module:subscribe`.
    pub event: String,
    /// `join` or `leave`.
    pub action: Action,
    /// Room template: `module:{id}`, `user:{sub}` or a static name.
    pub room: String,
    /// Payload object field holding the id. `None`: the payload itself is the id
    /// (a plain string or number). Must be `None` for static and `{sub}` rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Permission string, e.g. `public`, `role:staff,admin`, `authenticated+tenant`.
    pub permission: String,
    /// Ack shape. Defaults to `room`.
    #[serde(default)]
    pub ack: AckShape,
    /// What a feature does after a successful join. Defaults to nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_join: Option<OnJoin>,
    /// Track who is in the rooms this rule joins (README "Presence"). Defaults to off;
    /// only for join rules.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub presence: bool,
}

/// The `[rules]` section of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RulesConfig {
    /// Enabled presets. Defaults to `["erp", "queue", "booking"]`.
    pub presets: Vec<String>,
    /// Extra rules (`[[rules.custom]]`). Defaults to none.
    pub custom: Vec<RuleDef>,
    /// The join events whose rooms have presence, replacing what the rules say
    /// (`presence = true`). Unset (the default): the rules decide; `[]`: presence off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<Vec<String>>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            presets: DEFAULT_PRESETS.iter().map(|p| p.to_string()).collect(),
            custom: Vec::new(),
            presence: None,
        }
    }
}

/// The shipped presets by name, parsed once from [`PRESETS_TOML`].
pub fn presets() -> &'static BTreeMap<String, Vec<RuleDef>> {
    #[derive(Deserialize)]
    struct PresetsFile {
        preset: BTreeMap<String, Vec<RuleDef>>,
    }
    static PRESETS: OnceLock<BTreeMap<String, Vec<RuleDef>>> = OnceLock::new();
    PRESETS.get_or_init(|| {
        // Shipped with the binary and covered by unit tests, so this cannot fail at run time.
        toml::from_str::<PresetsFile>(PRESETS_TOML)
            .expect("rules/presets.toml is valid")
            .preset
    })
}

/// One checked rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Client event name.
    pub event: String,
    /// Join or leave.
    pub action: Action,
    /// Room template.
    pub room: RoomTemplate,
    /// Payload field holding the id; `None` for plain-id payloads, static and `{sub}` rooms.
    pub field: Option<String>,
    /// All of these must hold (normalized: sorted, deduplicated, never empty).
    pub permission: Vec<Permission>,
    /// Ack shape.
    pub ack: AckShape,
    /// What a feature does after a successful join.
    pub on_join: Option<OnJoin>,
    /// Whether the rooms it joins track presence.
    pub presence: bool,
    /// The preset the rule comes from, or [`CUSTOM`].
    pub preset: String,
}

/// The value that fills a rule's room template.
enum Filled {
    Static,
    Value(String),
    /// `{sub}` template and the caller has no user id.
    NoIdentity,
}

impl Rule {
    /// Check one rule definition. `preset` is its source, for error messages.
    pub fn from_def(def: &RuleDef, preset: &str) -> Result<Rule, RuleConfigError> {
        let invalid = |reason: String| RuleConfigError::InvalidRule {
            preset: preset.to_owned(),
            event: def.event.clone(),
            reason,
        };
        if def.event.is_empty() {
            return Err(invalid("`event` must not be empty".into()));
        }
        if def.event.chars().any(char::is_control) {
            return Err(invalid("`event` contains a control character".into()));
        }
        if BUILTIN_EVENTS.contains(&def.event.as_str())
            || RESERVED_EVENTS.contains(&def.event.as_str())
        {
            return Err(invalid(
                "this event is handled by the gateway and cannot be a room rule".into(),
            ));
        }
        if def.on_join.is_some() && def.action == Action::Leave {
            return Err(invalid(
                "`on_join` has no effect on a leave rule; remove it".into(),
            ));
        }
        if def.presence && def.action == Action::Leave {
            return Err(invalid(
                "`presence` has no effect on a leave rule; remove it".into(),
            ));
        }
        let room = RoomTemplate::parse(&def.room).map_err(invalid)?;
        let permission = Permission::parse_all(&def.permission)
            .map_err(|e| invalid(format!("invalid permission `{}`: {e}", def.permission)))?;
        match (room.placeholder(), def.field.as_deref()) {
            (_, Some("")) => return Err(invalid("`field` must not be empty".into())),
            (None, Some(_)) => {
                return Err(invalid(format!(
                    "`field` has no effect on the static room `{room}`; remove it"
                )))
            }
            (Some(Placeholder::Sub), Some(_)) => {
                return Err(invalid(format!(
                    "`field` has no effect on `{room}`: {{sub}} comes from the caller's token"
                )))
            }
            _ => {}
        }
        for p in &permission {
            let bad = match room.placeholder() {
                None => p.uses_room_id(),
                // {sub} is a user id: comparing it with roles or tenants is a mistake.
                Some(Placeholder::Sub) => matches!(p, Permission::OwnRole | Permission::Tenant),
                Some(Placeholder::Id) => false,
            };
            if bad {
                return Err(invalid(format!(
                    "permission `{p}` compares the caller with the room id, \
                     which `{room}` does not have"
                )));
            }
        }
        Ok(Rule {
            event: def.event.clone(),
            action: def.action,
            room,
            field: def.field.clone(),
            permission,
            ack: def.ack,
            on_join: def.on_join,
            presence: def.presence,
            preset: preset.to_owned(),
        })
    }

    fn fill(&self, payload: Option<&Value>, who: &Identity) -> Result<Filled, RuleError> {
        Ok(match self.room.placeholder() {
            None => Filled::Static,
            Some(Placeholder::Sub) => match &who.sub {
                Some(sub) => Filled::Value(sub.clone()),
                None => Filled::NoIdentity,
            },
            Some(Placeholder::Id) => Filled::Value(payload_id(payload, self.field.as_deref())?),
        })
    }

    /// The room name for this payload and caller, without checking permissions.
    /// The payload is ignored for static and `{sub}` rooms.
    ///
    /// Errors: [`RuleError::MissingField`], [`RuleError::WrongType`],
    /// [`RuleError::InvalidId`], or [`RuleError::NoIdentity`] for a `{sub}` room and an
    /// anonymous caller.
    ///
    /// The server always goes through [`Rule::authorize`]; this is the oracle the property
    /// tests and the fuzz target check it against, so it is built for them only.
    #[cfg(any(test, fuzzing))]
    pub fn resolve(&self, payload: Option<&Value>, who: &Identity) -> Result<String, RuleError> {
        match self.fill(payload, who)? {
            Filled::Static => Ok(self.room.fill("")),
            Filled::Value(v) => Ok(self.room.fill(&v)),
            Filled::NoIdentity => Err(RuleError::NoIdentity),
        }
    }

    /// Resolve the room and check the rule's permission: what the gateway calls for
    /// every rule event. A `{sub}` room asked for by an anonymous caller is a
    /// [`JoinError::Denied`] (authentication required), not a payload error.
    pub fn authorize(&self, payload: Option<&Value>, who: &Identity) -> Result<String, JoinError> {
        self.authorize_id(payload, who).map(|(room, _)| room)
    }

    /// [`Rule::authorize`], also giving the value that filled the template (`None` for a
    /// static room): what an `on_join` feature is told (a module key, a service type).
    pub fn authorize_id(
        &self,
        payload: Option<&Value>,
        who: &Identity,
    ) -> Result<(String, Option<String>), JoinError> {
        match self.fill(payload, who)? {
            Filled::Static => {
                check(&self.permission, who, "")?;
                Ok((self.room.fill(""), None))
            }
            Filled::Value(id) => {
                check(&self.permission, who, &id)?;
                Ok((self.room.fill(&id), Some(id)))
            }
            Filled::NoIdentity => {
                check(&self.permission, who, "")?;
                Err(PermissionError::AuthenticationRequired.into())
            }
        }
    }

    /// "`event` (room `template`, permission `perm`)", for error messages.
    fn describe(&self) -> String {
        format!(
            "`{}` (room `{}`, permission `{}`)",
            self.event,
            self.room,
            Permission::format_all(&self.permission)
        )
    }
}

/// Read the id out of a payload: `payload[field]`, or the payload itself when the rule
/// has no field. Strings and numbers are accepted (numbers are stringified).
fn payload_id(payload: Option<&Value>, field: Option<&str>) -> Result<String, RuleError> {
    let Some(field) = field else {
        return match payload {
            Some(Value::String(s)) => valid_id("room id", s.clone()),
            Some(Value::Number(n)) => valid_id("room id", n.to_string()),
            _ => Err(RuleError::WrongType {
                field: "payload".into(),
                expected: "a string room id".into(),
            }),
        };
    };
    let object = match payload {
        None | Some(Value::Null) => return Err(RuleError::MissingField(field.into())),
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(RuleError::WrongType {
                field: "payload".into(),
                expected: format!("an object with a {field} field"),
            })
        }
    };
    match object.get(field) {
        None | Some(Value::Null) => Err(RuleError::MissingField(field.into())),
        Some(Value::String(s)) => valid_id(field, s.clone()),
        Some(Value::Number(n)) => valid_id(field, n.to_string()),
        Some(_) => Err(RuleError::WrongType {
            field: field.into(),
            expected: "a string or number".into(),
        }),
    }
}

fn valid_id(field: &str, id: String) -> Result<String, RuleError> {
    let reason = if id.is_empty() {
        "must not be empty"
    } else if id.chars().count() > MAX_ID_LEN {
        "must be at most 128 characters"
    } else if id.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(id);
    };
    Err(RuleError::InvalidId {
        field: field.into(),
        reason,
    })
}

/// A client payload that does not fit the rule. The message is safe to send back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The payload lacks the rule's field (or is empty).
    #[error("{0} is required")]
    MissingField(String),
    /// The payload or its field has the wrong JSON type.
    #[error("{field} must be {expected}")]
    WrongType {
        /// `payload` or the field name.
        field: String,
        /// What was expected, e.g. `a string room id`.
        expected: String,
    },
    /// The id is empty, longer than [`MAX_ID_LEN`], or has control characters.
    #[error("{field} {reason}")]
    InvalidId {
        /// The field name, or `room id` for plain payloads.
        field: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `{sub}` room was resolved for an anonymous caller.
    #[error("authentication required")]
    NoIdentity,
}

/// Why a rule event was refused: a bad payload or a denied permission. Callers count
/// [`JoinError::Denied`] as a denied join (README "Identity and security").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The payload does not fit the rule.
    #[error(transparent)]
    Invalid(#[from] RuleError),
    /// The caller may not use the rule for this room.
    #[error(transparent)]
    Denied(#[from] PermissionError),
}

/// A rules table that cannot be used. Every message names the rule or preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleConfigError {
    /// `rules.presets` names a preset that does not exist.
    #[error("unknown rules preset `{name}` (known presets: {known})")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The shipped presets, comma-separated.
        known: String,
    },
    /// `rules.presets` lists a preset twice.
    #[error("rules preset `{0}` is listed twice")]
    DuplicatePreset(String),
    /// `rules.presence` names an event that is not an enabled join rule.
    #[error("rules.presence names `{0}`, which is not an enabled join rule")]
    PresenceEvent(String),
    /// Two enabled rules handle the same event.
    #[error("event `{event}` has two rules, from `{first}` and `{second}`; disable one")]
    DuplicateEvent {
        /// The event.
        event: String,
        /// Source of the first rule.
        first: String,
        /// Source of the second rule.
        second: String,
    },
    /// One rule is malformed.
    #[error("rule for event `{event}` ({preset}): {reason}")]
    InvalidRule {
        /// Source of the rule.
        preset: String,
        /// The event.
        event: String,
        /// What is wrong.
        reason: String,
    },
    /// Two join rules can produce the same room name but require different
    /// permissions (README "Identity and security").
    #[error("rules {first} and {second} can join the same room but require different permissions")]
    PermissionConflict {
        /// First rule: "`event` (room `template`, permission `perm`)".
        first: String,
        /// Second rule, described the same way.
        second: String,
    },
}

/// The checked rules table, keyed by client event.
#[derive(Debug, Clone)]
pub struct Rules {
    /// In config order: enabled presets as listed, then custom rules.
    rules: Vec<Rule>,
    by_event: HashMap<String, usize>,
}

impl Rules {
    /// Build and check the table for the enabled presets plus the custom rules.
    pub fn from_config(cfg: &RulesConfig) -> Result<Rules, RuleConfigError> {
        let catalog = presets();
        let mut rules = Vec::new();
        for (i, name) in cfg.presets.iter().enumerate() {
            if cfg.presets[..i].contains(name) {
                return Err(RuleConfigError::DuplicatePreset(name.clone()));
            }
            let defs = catalog
                .get(name)
                .ok_or_else(|| RuleConfigError::UnknownPreset {
                    name: name.clone(),
                    known: catalog.keys().cloned().collect::<Vec<_>>().join(", "),
                })?;
            for def in defs {
                rules.push(Rule::from_def(def, name)?);
            }
        }
        for def in &cfg.custom {
            rules.push(Rule::from_def(def, CUSTOM)?);
        }

        if let Some(events) = &cfg.presence {
            for event in events {
                let rule = rules.iter().find(|r| &r.event == event);
                if !rule.is_some_and(|r| r.action == Action::Join) {
                    return Err(RuleConfigError::PresenceEvent(event.clone()));
                }
            }
            for rule in &mut rules {
                rule.presence = events.contains(&rule.event);
            }
        }

        let mut by_event: HashMap<String, usize> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            if let Some(&first) = by_event.get(&rule.event) {
                return Err(RuleConfigError::DuplicateEvent {
                    event: rule.event.clone(),
                    first: rules[first].preset.clone(),
                    second: rule.preset.clone(),
                });
            }
            by_event.insert(rule.event.clone(), i);
        }

        // README "Identity and security": a room two rules can join is guarded by one permission. Leave rules
        // grant nothing, so they may be broader (`leaveRoom` leaves any room).
        let joins: Vec<&Rule> = rules.iter().filter(|r| r.action == Action::Join).collect();
        for (i, a) in joins.iter().enumerate() {
            for b in &joins[i + 1..] {
                if a.room.overlaps(&b.room) && a.permission != b.permission {
                    return Err(RuleConfigError::PermissionConflict {
                        first: a.describe(),
                        second: b.describe(),
                    });
                }
            }
        }
        Ok(Rules { rules, by_event })
    }

    /// The rule for a client event.
    pub fn get(&self, event: &str) -> Option<&Rule> {
        self.by_event.get(event).map(|&i| &self.rules[i])
    }

    /// Every event with a rule, in config order.
    pub fn events(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.event.as_str())
    }

    /// Every rule, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// Whether `room` is one a presence rule joins (README "Presence"), however the
    /// socket got there (a rule, a recovered session).
    pub fn has_presence(&self, room: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.presence && r.room.extract(room).is_some())
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is enabled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl Default for Rules {
    /// All shipped presets.
    fn default() -> Self {
        Rules::from_config(&RulesConfig::default()).expect("shipped presets are consistent")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> Rules {
        Rules::default()
    }

    fn who(sub: Option<&str>, roles: &[&str], tenant: Option<&str>) -> Identity {
        Identity {
            sub: sub.map(Into::into),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            tenant: tenant.map(Into::into),
        }
    }

    /// Resolve and authorize `event` with `payload` as `caller`.
    fn join(event: &str, payload: Value, caller: &Identity) -> Result<String, JoinError> {
        rules()
            .get(event)
            .unwrap_or_else(|| panic!("no rule for {event}"))
            .authorize(Some(&payload), caller)
    }

    fn denied(e: Result<String, JoinError>) -> String {
        match e {
            Err(JoinError::Denied(p)) => p.to_string(),
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    fn invalid(e: Result<String, JoinError>) -> String {
        match e {
            Err(JoinError::Invalid(r)) => r.to_string(),
            other => panic!("expected an invalid payload, got {other:?}"),
        }
    }

    fn custom(event: &str, action: &str, room: &str, field: Option<&str>, perm: &str) -> RuleDef {
        RuleDef {
            event: event.into(),
            action: if action == "join" {
                Action::Join
            } else {
                Action::Leave
            },
            room: room.into(),
            field: field.map(Into::into),
            permission: perm.into(),
            ack: AckShape::Room,
            on_join: None,
            presence: false,
        }
    }

    fn with_custom(defs: Vec<RuleDef>) -> Result<Rules, RuleConfigError> {
        Rules::from_config(&RulesConfig {
            custom: defs,
            ..RulesConfig::default()
        })
    }

    #[test]
    fn presets_parse_and_are_all_on_by_default() {
        let names: Vec<&str> = presets().keys().map(String::as_str).collect();
        assert_eq!(names, ["booking", "erp", "queue"]);
        let r = rules();
        assert_eq!(r.len(), 4 + 5 + 4);
        let events: Vec<&str> = r.events().collect();
        assert_eq!(
            events,
            [
                "module:subscribe",
                "module:unsubscribe",
                "dashboard:subscribe",
                "notification:subscribe",
                "joinDashboard",
                "joinServiceQueue",
                "joinCounter",
                "joinUserRoom",
                "leaveRoom",
                "join:role",
                "join:library",
                "join:tenant",
                "join:user",
            ]
        );
        assert!(r.iter().all(|rule| rule.ack == AckShape::Room));
        assert!(r.get("ping").is_none());
        assert!(r.get("notification:mark-read").is_none());
    }

    #[test]
    fn presets_can_be_chosen() {
        let r = Rules::from_config(&RulesConfig {
            presets: vec!["booking".into()],
            custom: vec![],
            presence: None,
        })
        .unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r.get("join:role").unwrap().preset, "booking");
        assert!(r.get("module:subscribe").is_none());
        let none = Rules::from_config(&RulesConfig {
            presets: vec![],
            custom: vec![],
            presence: None,
        })
        .unwrap();
        assert!(none.is_empty());
    }

    // --- erp ------------------------------------------------------------------------

    #[test]
    fn erp_module_subscribe() {
        let anon = Identity::anonymous();
        assert_eq!(
            join("module:subscribe", json!({"moduleKey": "crm"}), &anon).unwrap(),
            "module:crm"
        );
        assert_eq!(
            invalid(join("module:subscribe", json!({}), &anon)),
            "moduleKey is required"
        );
        assert_eq!(
            invalid(join("module:subscribe", json!({"moduleKey": null}), &anon)),
            "moduleKey is required"
        );
        assert_eq!(
            invalid(join(
                "module:subscribe",
                json!({"moduleKey": {"a": 1}}),
                &anon
            )),
            "moduleKey must be a string or number"
        );
        assert_eq!(
            invalid(join("module:subscribe", json!("crm"), &anon)),
            "payload must be an object with a moduleKey field"
        );
        assert_eq!(
            invalid(join("module:subscribe", json!({"moduleKey": ""}), &anon)),
            "moduleKey must not be empty"
        );
        let rule = rules().get("module:subscribe").unwrap().clone();
        assert_eq!(rule.action, Action::Join);
        assert_eq!(
            rule.authorize(None, &anon),
            Err(JoinError::Invalid(RuleError::MissingField(
                "moduleKey".into()
            )))
        );
    }

    #[test]
    fn erp_module_unsubscribe() {
        let rule = rules().get("module:unsubscribe").unwrap().clone();
        assert_eq!(rule.action, Action::Leave);
        let anon = Identity::anonymous();
        assert_eq!(
            rule.authorize(Some(&json!({"moduleKey": "finance"})), &anon)
                .unwrap(),
            "module:finance"
        );
        assert_eq!(
            invalid(join("module:unsubscribe", json!({"key": "finance"}), &anon)),
            "moduleKey is required"
        );
    }

    #[test]
    fn erp_dashboard_subscribe_is_static_and_public() {
        let anon = Identity::anonymous();
        assert_eq!(
            join("dashboard:subscribe", json!({}), &anon).unwrap(),
            "kpi-dashboard"
        );
        // The payload is ignored entirely.
        assert_eq!(
            join("dashboard:subscribe", json!(42), &anon).unwrap(),
            "kpi-dashboard"
        );
        let rule = rules().get("dashboard:subscribe").unwrap().clone();
        assert_eq!(rule.authorize(None, &anon).unwrap(), "kpi-dashboard");
    }

    #[test]
    fn erp_notification_subscribe_uses_the_token_user() {
        let alice = Identity::user("alice");
        // A client-declared userId is ignored: the room is the token's user.
        assert_eq!(
            join("notification:subscribe", json!({"userId": "bob"}), &alice).unwrap(),
            "user:alice"
        );
        assert_eq!(
            denied(join(
                "notification:subscribe",
                json!({}),
                &Identity::anonymous()
            )),
            "authentication required"
        );
        let rule = rules().get("notification:subscribe").unwrap().clone();
        assert_eq!(rule.resolve(None, &alice).unwrap(), "user:alice");
        assert_eq!(
            rule.resolve(None, &Identity::anonymous()),
            Err(RuleError::NoIdentity)
        );
    }

    // --- queue ----------------------------------------------------------------------

    #[test]
    fn queue_join_dashboard_is_staff_only() {
        let payload = json!({"userRole": "admin", "userId": "u1"});
        assert_eq!(
            join(
                "joinDashboard",
                payload.clone(),
                &who(Some("s"), &["staff"], None)
            )
            .unwrap(),
            "dashboard"
        );
        assert_eq!(
            join(
                "joinDashboard",
                payload.clone(),
                &who(Some("a"), &["admin"], None)
            )
            .unwrap(),
            "dashboard"
        );
        // The declared userRole is never trusted.
        assert_eq!(
            denied(join(
                "joinDashboard",
                payload.clone(),
                &Identity::user("u1")
            )),
            "role admin or staff required"
        );
        assert_eq!(
            denied(join("joinDashboard", payload, &Identity::anonymous())),
            "authentication required"
        );
    }

    #[test]
    fn queue_join_service_queue() {
        let anon = Identity::anonymous();
        assert_eq!(
            join(
                "joinServiceQueue",
                json!({"serviceType": "passport"}),
                &anon
            )
            .unwrap(),
            "service-passport"
        );
        assert_eq!(
            join("joinServiceQueue", json!({"serviceType": 7}), &anon).unwrap(),
            "service-7"
        );
        assert_eq!(
            invalid(join("joinServiceQueue", json!({}), &anon)),
            "serviceType is required"
        );
        assert_eq!(
            invalid(join(
                "joinServiceQueue",
                json!({"serviceType": true}),
                &anon
            )),
            "serviceType must be a string or number"
        );
    }

    #[test]
    fn queue_join_counter_is_staff_only() {
        let staff = who(Some("s1"), &["staff"], None);
        assert_eq!(
            join("joinCounter", json!({"counterId": 3}), &staff).unwrap(),
            "counter-3"
        );
        assert_eq!(
            denied(join(
                "joinCounter",
                json!({"counterId": 3}),
                &who(Some("a"), &["admin"], None)
            )),
            "role staff required"
        );
        assert_eq!(
            denied(join(
                "joinCounter",
                json!({"counterId": 3}),
                &Identity::anonymous()
            )),
            "authentication required"
        );
        assert_eq!(
            invalid(join("joinCounter", json!({}), &staff)),
            "counterId is required"
        );
    }

    #[test]
    fn queue_join_user_room_is_self_only() {
        let u1 = Identity::user("u1");
        assert_eq!(
            join("joinUserRoom", json!({"userId": "u1"}), &u1).unwrap(),
            "user-u1"
        );
        assert_eq!(
            denied(join("joinUserRoom", json!({"userId": "u2"}), &u1)),
            "not your user room"
        );
        assert_eq!(
            denied(join(
                "joinUserRoom",
                json!({"userId": "u1"}),
                &Identity::anonymous()
            )),
            "authentication required"
        );
        assert_eq!(
            invalid(join("joinUserRoom", json!({"userId": ["u1"]}), &u1)),
            "userId must be a string or number"
        );
    }

    #[test]
    fn queue_leave_room_leaves_the_named_room() {
        let rule = rules().get("leaveRoom").unwrap().clone();
        assert_eq!(rule.action, Action::Leave);
        let anon = Identity::anonymous();
        assert_eq!(
            rule.authorize(Some(&json!({"room": "service-passport"})), &anon)
                .unwrap(),
            "service-passport"
        );
        assert_eq!(
            invalid(join("leaveRoom", json!({}), &anon)),
            "room is required"
        );
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert_eq!(
            invalid(join("leaveRoom", json!({ "room": long }), &anon)),
            "room must be at most 128 characters"
        );
    }

    // --- booking --------------------------------------------------------------------

    #[test]
    fn booking_join_role_needs_that_role() {
        let student = who(Some("s1"), &["student"], Some("acme"));
        assert_eq!(
            join("join:role", json!("student"), &student).unwrap(),
            "role:student"
        );
        assert_eq!(
            denied(join("join:role", json!("staff"), &student)),
            "you do not have role staff"
        );
        assert_eq!(
            denied(join("join:role", json!("staff"), &Identity::anonymous())),
            "authentication required"
        );
        assert_eq!(
            invalid(join("join:role", json!({"role": "student"}), &student)),
            "payload must be a string room id"
        );
        let rule = rules().get("join:role").unwrap().clone();
        assert_eq!(
            rule.authorize(None, &student),
            Err(JoinError::Invalid(RuleError::WrongType {
                field: "payload".into(),
                expected: "a string room id".into()
            }))
        );
    }

    #[test]
    fn booking_join_library_needs_a_user() {
        let u = Identity::user("u1");
        assert_eq!(
            join("join:library", json!("lib-1"), &u).unwrap(),
            "library:lib-1"
        );
        assert_eq!(join("join:library", json!(12), &u).unwrap(), "library:12");
        assert_eq!(
            denied(join("join:library", json!("lib-1"), &Identity::anonymous())),
            "authentication required"
        );
        assert_eq!(
            invalid(join("join:library", json!(""), &u)),
            "room id must not be empty"
        );
        assert_eq!(
            invalid(join("join:library", json!("a\nb"), &u)),
            "room id must not contain control characters"
        );
        assert_eq!(
            invalid(join("join:library", json!(null), &u)),
            "payload must be a string room id"
        );
    }

    #[test]
    fn booking_join_tenant_needs_that_tenant() {
        let alice = who(Some("alice"), &[], Some("acme"));
        assert_eq!(
            join("join:tenant", json!("acme"), &alice).unwrap(),
            "tenant:acme"
        );
        assert_eq!(
            denied(join("join:tenant", json!("globex"), &alice)),
            "not your tenant"
        );
        assert_eq!(
            denied(join("join:tenant", json!("acme"), &Identity::anonymous())),
            "authentication required"
        );
        assert_eq!(
            invalid(join("join:tenant", json!(true), &alice)),
            "payload must be a string room id"
        );
    }

    #[test]
    fn booking_join_user_is_self_only() {
        let alice = Identity::user("alice");
        assert_eq!(
            join("join:user", json!("alice"), &alice).unwrap(),
            "user:alice"
        );
        assert_eq!(
            denied(join("join:user", json!("bob"), &alice)),
            "not your user room"
        );
        assert_eq!(
            denied(join("join:user", json!("alice"), &Identity::anonymous())),
            "authentication required"
        );
        assert_eq!(
            invalid(join("join:user", json!([]), &alice)),
            "payload must be a string room id"
        );
    }

    #[test]
    fn presets_name_what_happens_on_join() {
        let r = rules();
        let on = |e: &str| r.get(e).unwrap().on_join;
        assert_eq!(on("module:subscribe"), Some(OnJoin::KpiSnapshot));
        assert_eq!(on("dashboard:subscribe"), Some(OnJoin::DashboardSnapshot));
        assert_eq!(
            on("notification:subscribe"),
            Some(OnJoin::NotificationReplay)
        );
        assert_eq!(on("joinDashboard"), Some(OnJoin::StaffUpdate));
        assert_eq!(on("joinServiceQueue"), Some(OnJoin::QueueUserJoined));
        assert_eq!(on("join:user"), None);
        let (room, id) = r
            .get("joinServiceQueue")
            .unwrap()
            .authorize_id(Some(&json!({ "serviceType": "a" })), &Identity::anonymous())
            .unwrap();
        assert_eq!((room.as_str(), id.as_deref()), ("service-a", Some("a")));
    }

    #[test]
    fn on_join_is_checked_when_the_table_is_read() {
        let unknown = toml::from_str::<RuleDef>(
            "event = \"x\"\naction = \"join\"\nroom = \"r\"\npermission = \"public\"\non_join = \"fireworks\"",
        );
        assert!(unknown.unwrap_err().to_string().contains("fireworks"));
        let mut leave = custom("leave:x", "leave", "x:{id}", None, "public");
        leave.on_join = Some(OnJoin::KpiSnapshot);
        let e = Rule::from_def(&leave, CUSTOM).unwrap_err().to_string();
        assert!(e.contains("`on_join` has no effect on a leave rule"), "{e}");
    }

    // --- table checks ---------------------------------------------------------------

    #[test]
    fn custom_rules_extend_the_table() {
        let r = with_custom(vec![custom(
            "join:project",
            "join",
            "project:{id}",
            Some("projectId"),
            "authenticated+tenant",
        )])
        .unwrap();
        let rule = r.get("join:project").unwrap();
        assert_eq!(rule.preset, CUSTOM);
        assert_eq!(
            rule.permission,
            vec![Permission::Authenticated, Permission::Tenant]
        );
        let alice = who(Some("alice"), &[], Some("p1"));
        assert_eq!(
            rule.authorize(Some(&json!({"projectId": "p1"})), &alice)
                .unwrap(),
            "project:p1"
        );
    }

    #[test]
    fn custom_rules_deserialize_from_toml() {
        let cfg: RulesConfig = toml::from_str(
            r#"
            presets = ["erp"]
            [[custom]]
            event = "join:team"
            action = "join"
            room = "team:{id}"
            permission = "role:lead"
            ack = "none"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.presets, ["erp"]);
        assert_eq!(cfg.custom[0].ack, AckShape::None);
        assert_eq!(cfg.custom[0].field, None);
        let r = Rules::from_config(&cfg).unwrap();
        assert_eq!(r.len(), 5);
        // `ack` defaults to `room`.
        let def: RuleDef = toml::from_str(
            "event = \"e\"\naction = \"leave\"\nroom = \"r\"\npermission = \"public\"",
        )
        .unwrap();
        assert_eq!(def.ack, AckShape::Room);
    }

    #[test]
    fn rejects_unknown_and_repeated_presets() {
        let err = Rules::from_config(&RulesConfig {
            presets: vec!["erp".into(), "crm".into()],
            custom: vec![],
            presence: None,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown rules preset `crm` (known presets: booking, erp, queue)"
        );
        let err = Rules::from_config(&RulesConfig {
            presets: vec!["erp".into(), "erp".into()],
            custom: vec![],
            presence: None,
        })
        .unwrap_err();
        assert_eq!(err, RuleConfigError::DuplicatePreset("erp".into()));
    }

    #[test]
    fn rejects_duplicate_events() {
        let err = with_custom(vec![custom(
            "join:user",
            "join",
            "member:{id}",
            None,
            "self",
        )])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "event `join:user` has two rules, from `booking` and `custom`; disable one"
        );
    }

    #[test]
    fn rejects_shared_rooms_with_different_permissions() {
        // Another way into `user:{id}` rooms must also be `self`.
        let err = with_custom(vec![custom(
            "join:member",
            "join",
            "user:{id}",
            None,
            "authenticated",
        )])
        .unwrap_err();
        assert!(
            matches!(err, RuleConfigError::PermissionConflict { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("`notification:subscribe` (room `user:{sub}`, permission `self`)"),
            "{msg}"
        );
        assert!(
            msg.contains("`join:member` (room `user:{id}`, permission `authenticated`)"),
            "{msg}"
        );

        // A public catch-all join would reach every guarded room.
        let err = with_custom(vec![custom(
            "joinAny",
            "join",
            "{id}",
            Some("room"),
            "public",
        )])
        .unwrap_err();
        assert!(
            matches!(err, RuleConfigError::PermissionConflict { .. }),
            "{err}"
        );

        // The staff `dashboard` room is not the public `kpi-dashboard`.
        let err =
            with_custom(vec![custom("watch", "join", "dashboard", None, "public")]).unwrap_err();
        assert!(err.to_string().contains("room `dashboard`"), "{err}");

        // Same room, same permission (spelled differently): fine.
        with_custom(vec![custom(
            "staffDash",
            "join",
            "dashboard",
            None,
            "role:admin,staff",
        )])
        .unwrap();
        // Leave rules grant nothing, so they may overlap anything.
        with_custom(vec![custom("leaveAny", "leave", "{id}", None, "public")]).unwrap();
    }

    #[test]
    fn rejects_malformed_rules() {
        let cases = [
            (
                custom("", "join", "a:{id}", None, "public"),
                "`event` must not be empty",
            ),
            (
                custom("ping", "join", "a:{id}", None, "public"),
                "handled by the gateway",
            ),
            (
                custom("e", "join", "a:{name}", None, "public"),
                "unknown placeholder `{name}`",
            ),
            (
                custom("e", "join", "a:{id}", None, "staff"),
                "invalid permission `staff`",
            ),
            (
                custom("e", "join", "lobby", Some("id"), "public"),
                "has no effect on the static room",
            ),
            (
                custom("e", "join", "me:{sub}", Some("id"), "self"),
                "{sub} comes from the caller's token",
            ),
            (
                custom("e", "join", "a:{id}", Some(""), "public"),
                "`field` must not be empty",
            ),
            (
                custom("e", "join", "lobby", None, "self"),
                "permission `self` compares",
            ),
            (
                custom("e", "join", "me:{sub}", None, "tenant"),
                "permission `tenant` compares",
            ),
        ];
        for (def, msg) in cases {
            let err = with_custom(vec![def.clone()]).unwrap_err();
            assert!(
                matches!(err, RuleConfigError::InvalidRule { .. }),
                "{def:?}: {err}"
            );
            assert!(err.to_string().contains(msg), "{def:?}: {err}");
        }
        let err = with_custom(vec![custom("e", "join", "a:{id}", None, "staff")]).unwrap_err();
        assert!(
            err.to_string().starts_with("rule for event `e` (custom): "),
            "{err}"
        );
    }

    #[test]
    fn presence_rooms_come_from_the_rules_and_the_config_overrides_them() {
        let r = rules();
        assert!(r.has_presence("library:main"));
        assert!(r.has_presence("service-loans"));
        assert!(r.has_presence("dashboard"));
        assert!(!r.has_presence("kpi-dashboard"));
        assert!(!r.has_presence("module:crm"));
        assert!(!r.has_presence("library:"));

        let only = Rules::from_config(&RulesConfig {
            presence: Some(vec!["module:subscribe".into()]),
            ..RulesConfig::default()
        })
        .unwrap();
        assert!(only.has_presence("module:crm"));
        assert!(!only.has_presence("library:main"));

        let off = Rules::from_config(&RulesConfig {
            presence: Some(vec![]),
            ..RulesConfig::default()
        })
        .unwrap();
        assert!(!off.has_presence("dashboard"));

        for event in ["module:unsubscribe", "no:such"] {
            let err = Rules::from_config(&RulesConfig {
                presence: Some(vec![event.into()]),
                ..RulesConfig::default()
            })
            .unwrap_err();
            assert_eq!(err, RuleConfigError::PresenceEvent(event.into()));
        }
        let mut leave = custom("x:leave", "leave", "x:{id}", Some("id"), "public");
        leave.presence = true;
        let err = with_custom(vec![leave]).unwrap_err().to_string();
        assert!(
            err.contains("`presence` has no effect on a leave rule"),
            "{err}"
        );
    }
}
