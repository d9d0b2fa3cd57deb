//! Who may use a rule: the caller's [`Identity`], the [`Permission`] kinds a rule can
//! require, and [`check`], the one pure permission check shared by the socket gateway
//! and the HTTP API.

use std::fmt;
use std::str::FromStr;

/// The caller as the verified token describes it. Client-declared ids or roles never
/// end up here (README "Identity and security").
///
/// `Identity::default()` is the anonymous caller: no user, no roles, no tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// User id (the JWT `sub` claim). `None` for anonymous sockets.
    pub sub: Option<String>,
    /// Roles (the JWT `roles` claim). Empty for anonymous sockets.
    pub roles: Vec<String>,
    /// Tenant (the JWT `tenant` claim).
    pub tenant: Option<String>,
}

impl Identity {
    /// The anonymous caller.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// An authenticated user with no roles and no tenant.
    pub fn user(sub: impl Into<String>) -> Self {
        Self {
            sub: Some(sub.into()),
            ..Self::default()
        }
    }

    /// True when the token gave nothing at all (no user, roles or tenant).
    pub fn is_anonymous(&self) -> bool {
        self.sub.is_none() && self.roles.is_empty() && self.tenant.is_none()
    }
}

/// One condition a rule can require. A rule holds a list of them, all of which must
/// hold; in the config file they are written `"authenticated+tenant"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// `public`: anyone, including anonymous sockets.
    Public,
    /// `authenticated`: any caller with a user id.
    Authenticated,
    /// `self`: the room id must be the caller's own user id (`user:{id}` rooms).
    SelfId,
    /// `role:a,b`: the caller must hold at least one of these roles.
    Roles(Vec<String>),
    /// `own-role`: the room id must be one of the caller's roles (`role:{id}` rooms).
    OwnRole,
    /// `tenant`: the room id must be the caller's tenant (`tenant:{id}` rooms).
    Tenant,
}

impl Permission {
    /// Parse a rule's permission string: single kinds joined with `+`, all of which
    /// must hold, e.g. `"authenticated+tenant"`. The result is never empty.
    pub fn parse_all(s: &str) -> Result<Vec<Permission>, PermissionParseError> {
        let perms = s
            .split('+')
            .map(str::parse)
            .collect::<Result<Vec<Permission>, _>>()?;
        if perms.len() > 1 && perms.contains(&Permission::Public) {
            return Err(PermissionParseError(
                "`public` cannot be combined with other permissions".into(),
            ));
        }
        Ok(normalize(perms))
    }

    /// Format a list the way [`Permission::parse_all`] reads it.
    pub fn format_all(perms: &[Permission]) -> String {
        perms
            .iter()
            .map(Permission::to_string)
            .collect::<Vec<_>>()
            .join("+")
    }

    /// Whether the permission compares the caller with the room's `{id}`, so it
    /// makes no sense on a static room.
    pub fn uses_room_id(&self) -> bool {
        matches!(
            self,
            Permission::SelfId | Permission::OwnRole | Permission::Tenant
        )
    }

    fn check(&self, who: &Identity, room_id: &str) -> Result<(), PermissionError> {
        match self {
            Permission::Public => Ok(()),
            Permission::Authenticated => match who.sub {
                Some(_) => Ok(()),
                None => Err(PermissionError::AuthenticationRequired),
            },
            Permission::SelfId => match who.sub.as_deref() {
                None => Err(PermissionError::AuthenticationRequired),
                Some(sub) if sub == room_id => Ok(()),
                Some(_) => Err(PermissionError::NotSelf),
            },
            Permission::Roles(required) => {
                if who.roles.iter().any(|r| required.contains(r)) {
                    Ok(())
                } else if who.is_anonymous() {
                    Err(PermissionError::AuthenticationRequired)
                } else {
                    Err(PermissionError::RoleRequired {
                        roles: required.clone(),
                    })
                }
            }
            Permission::OwnRole => {
                if who.roles.iter().any(|r| r == room_id) {
                    Ok(())
                } else if who.is_anonymous() {
                    Err(PermissionError::AuthenticationRequired)
                } else {
                    Err(PermissionError::NotYourRole {
                        role: room_id.to_owned(),
                    })
                }
            }
            Permission::Tenant => match who.tenant.as_deref() {
                Some(t) if t == room_id => Ok(()),
                _ if who.is_anonymous() => Err(PermissionError::AuthenticationRequired),
                _ => Err(PermissionError::NotYourTenant),
            },
        }
    }
}

/// Sort, deduplicate, and sort role lists, so that two spellings of the same
/// requirement compare equal (`"role:admin,staff"` == `"role:staff,admin"`).
pub(crate) fn normalize(mut perms: Vec<Permission>) -> Vec<Permission> {
    for p in &mut perms {
        if let Permission::Roles(roles) = p {
            roles.sort();
            roles.dedup();
        }
    }
    perms.sort();
    perms.dedup();
    perms
}

impl FromStr for Permission {
    type Err = PermissionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Ok(match s {
            "public" => Permission::Public,
            "authenticated" => Permission::Authenticated,
            "self" => Permission::SelfId,
            "own-role" => Permission::OwnRole,
            "tenant" => Permission::Tenant,
            _ => {
                let Some(list) = s.strip_prefix("role:") else {
                    return Err(PermissionParseError(format!(
                        "unknown permission `{s}` (expected public, authenticated, self, \
                         role:a,b, own-role or tenant)"
                    )));
                };
                let roles: Vec<String> = list.split(',').map(|r| r.trim().to_owned()).collect();
                if roles.iter().any(String::is_empty) {
                    return Err(PermissionParseError(format!(
                        "`{s}` has an empty role name (write role:staff,admin)"
                    )));
                }
                Permission::Roles(roles)
            }
        })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Public => f.write_str("public"),
            Permission::Authenticated => f.write_str("authenticated"),
            Permission::SelfId => f.write_str("self"),
            Permission::Roles(roles) => write!(f, "role:{}", roles.join(",")),
            Permission::OwnRole => f.write_str("own-role"),
            Permission::Tenant => f.write_str("tenant"),
        }
    }
}

/// A permission string in the rules table that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PermissionParseError(pub String);

/// Why a caller may not use a rule. The message is safe to send to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    /// The rule needs a user and the caller is anonymous.
    #[error("authentication required")]
    AuthenticationRequired,
    /// A `self` room of another user.
    #[error("not your user room")]
    NotSelf,
    /// The caller holds none of the required roles.
    #[error("role {} required", or_list(.roles))]
    RoleRequired {
        /// The roles of which one is required.
        roles: Vec<String>,
    },
    /// An `own-role` room of a role the caller does not hold.
    #[error("you do not have role {role}")]
    NotYourRole {
        /// The role the room belongs to.
        role: String,
    },
    /// A `tenant` room of another tenant.
    #[error("not your tenant")]
    NotYourTenant,
}

impl PermissionError {
    /// A stable machine-readable code: `unauthenticated` or `forbidden` (for error
    /// bodies and metric labels).
    pub fn code(&self) -> &'static str {
        match self {
            PermissionError::AuthenticationRequired => "unauthenticated",
            _ => "forbidden",
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Check every permission in `perms` for `who`. `room_id` is the value that filled the
/// room template's placeholder (`crm` for `module:crm`; empty for a static room).
///
/// All must hold; the first failing one is reported. An empty list allows everyone
/// (rules built by [`super::Rules`] always have at least one entry).
pub fn check(perms: &[Permission], who: &Identity, room_id: &str) -> Result<(), PermissionError> {
    perms.iter().try_for_each(|p| p.check(who, room_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(sub: Option<&str>, roles: &[&str], tenant: Option<&str>) -> Identity {
        Identity {
            sub: sub.map(Into::into),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            tenant: tenant.map(Into::into),
        }
    }

    fn p(s: &str) -> Vec<Permission> {
        Permission::parse_all(s).unwrap()
    }

    #[test]
    fn parses_every_kind_and_combinations() {
        assert_eq!(p("public"), vec![Permission::Public]);
        assert_eq!(p("authenticated"), vec![Permission::Authenticated]);
        assert_eq!(p("self"), vec![Permission::SelfId]);
        assert_eq!(p("own-role"), vec![Permission::OwnRole]);
        assert_eq!(p("tenant"), vec![Permission::Tenant]);
        assert_eq!(
            p("role:staff, admin"),
            vec![Permission::Roles(vec!["admin".into(), "staff".into()])]
        );
        assert_eq!(
            p("tenant+authenticated"),
            vec![Permission::Authenticated, Permission::Tenant]
        );
        assert_eq!(p("role:staff,admin"), p("role:admin,staff"));
    }

    #[test]
    fn rejects_bad_permission_strings() {
        let err = Permission::parse_all("rol:staff").unwrap_err();
        assert!(err.0.contains("unknown permission `rol:staff`"), "{err}");
        let err = Permission::parse_all("role:staff,").unwrap_err();
        assert!(err.0.contains("empty role name"), "{err}");
        assert!(Permission::parse_all("role:").is_err());
        assert!(Permission::parse_all("").is_err());
        let err = Permission::parse_all("public+tenant").unwrap_err();
        assert!(err.0.contains("cannot be combined"), "{err}");
    }

    #[test]
    fn formats_back_to_config_syntax() {
        assert_eq!(
            Permission::format_all(&p("authenticated+role:staff,admin")),
            "authenticated+role:admin,staff"
        );
    }

    #[test]
    fn public_allows_everyone() {
        assert_eq!(check(&p("public"), &Identity::anonymous(), "x"), Ok(()));
        assert_eq!(check(&p("public"), &Identity::user("u1"), "x"), Ok(()));
    }

    #[test]
    fn authenticated_needs_a_user() {
        assert_eq!(
            check(&p("authenticated"), &Identity::user("u1"), "lib1"),
            Ok(())
        );
        let err = check(&p("authenticated"), &Identity::anonymous(), "lib1").unwrap_err();
        assert_eq!(err, PermissionError::AuthenticationRequired);
        assert_eq!(err.to_string(), "authentication required");
        assert_eq!(err.code(), "unauthenticated");
    }

    #[test]
    fn self_needs_the_same_user() {
        assert_eq!(check(&p("self"), &Identity::user("u1"), "u1"), Ok(()));
        let err = check(&p("self"), &Identity::user("u1"), "u2").unwrap_err();
        assert_eq!(err, PermissionError::NotSelf);
        assert_eq!(err.to_string(), "not your user room");
        assert_eq!(err.code(), "forbidden");
        assert_eq!(
            check(&p("self"), &Identity::anonymous(), "u1"),
            Err(PermissionError::AuthenticationRequired)
        );
        // A role-only token is still not that user.
        assert_eq!(
            check(&p("self"), &who(None, &["admin"], None), ""),
            Err(PermissionError::AuthenticationRequired)
        );
    }

    #[test]
    fn roles_need_any_listed_role() {
        let perms = p("role:staff,admin");
        assert_eq!(check(&perms, &who(Some("u"), &["admin"], None), ""), Ok(()));
        assert_eq!(
            check(&perms, &who(Some("u"), &["x", "staff"], None), ""),
            Ok(())
        );
        let err = check(&perms, &who(Some("u"), &["student"], None), "").unwrap_err();
        assert_eq!(err.to_string(), "role admin or staff required");
        let err = check(&p("role:staff"), &Identity::user("u"), "").unwrap_err();
        assert_eq!(err.to_string(), "role staff required");
        let err = check(&p("role:a,b,c"), &Identity::user("u"), "").unwrap_err();
        assert_eq!(err.to_string(), "role a, b or c required");
        assert_eq!(
            check(&perms, &Identity::anonymous(), ""),
            Err(PermissionError::AuthenticationRequired)
        );
    }

    #[test]
    fn own_role_needs_the_room_role() {
        let student = who(Some("s1"), &["student"], None);
        assert_eq!(check(&p("own-role"), &student, "student"), Ok(()));
        let err = check(&p("own-role"), &student, "staff").unwrap_err();
        assert_eq!(err.to_string(), "you do not have role staff");
        assert_eq!(
            check(&p("own-role"), &Identity::anonymous(), "staff"),
            Err(PermissionError::AuthenticationRequired)
        );
    }

    #[test]
    fn tenant_needs_the_same_tenant() {
        let alice = who(Some("alice"), &[], Some("acme"));
        assert_eq!(check(&p("tenant"), &alice, "acme"), Ok(()));
        let err = check(&p("tenant"), &alice, "globex").unwrap_err();
        assert_eq!(err.to_string(), "not your tenant");
        assert_eq!(
            check(&p("tenant"), &Identity::user("bob"), "acme"),
            Err(PermissionError::NotYourTenant)
        );
        assert_eq!(
            check(&p("tenant"), &Identity::anonymous(), "acme"),
            Err(PermissionError::AuthenticationRequired)
        );
    }

    #[test]
    fn combinations_need_all() {
        let perms = p("authenticated+tenant");
        // A tenant claim without a user fails `authenticated`.
        assert_eq!(
            check(&perms, &who(None, &[], Some("acme")), "acme"),
            Err(PermissionError::AuthenticationRequired)
        );
        assert_eq!(
            check(&perms, &who(Some("u"), &[], Some("acme")), "acme"),
            Ok(())
        );
        assert_eq!(
            check(&perms, &who(Some("u"), &[], Some("acme")), "other"),
            Err(PermissionError::NotYourTenant)
        );
    }
}
