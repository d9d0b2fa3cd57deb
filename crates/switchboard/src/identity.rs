//! Identity: a JWT from the Socket.IO `auth` payload (`auth: { token }`), the
//! `Authorization: Bearer` header, or the `token` query parameter → [`Identity`]
//! `{ sub, roles, tenant }`. HS256 with the configured secret, or RS256/ES256 with a
//! public key PEM file. `exp` and `nbf` are checked. A token that is present but invalid
//! is refused in every mode — never downgraded to anonymous.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{AuthMode, Config};
use crate::rules::Identity;

/// The claims Switchboard reads.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Roles, e.g. `["staff"]`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Expiry (unix seconds).
    pub exp: u64,
    /// Not before (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// Why a connection was refused (the message the client sees in `connect_error`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// `required` mode and no token.
    #[error("authentication required: send a JWT as auth.token, an Authorization: Bearer header or ?token=")]
    Missing,
    /// A token was sent but no key is configured to check it.
    #[error("invalid token: the server has no JWT key configured")]
    NoKey,
    /// Bad signature, expired, not yet valid, wrong algorithm, malformed.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Verifies tokens according to the configuration.
pub struct Verifier {
    mode: AuthMode,
    key: Option<(DecodingKey, Algorithm)>,
    /// Clock skew allowed on `exp` / `nbf`, in seconds.
    leeway: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("mode", &self.mode)
            .field("key", &self.key.as_ref().map(|k| k.1))
            .finish()
    }
}

impl Verifier {
    /// From the configuration: the public key file (RS256/ES256) if set, else the HS256 secret.
    pub fn from_config(cfg: &Config) -> Result<Self, IdentityConfigError> {
        let key = match (&cfg.jwt_public_key_file, &cfg.jwt_secret) {
            (Some(path), _) => {
                let pem = std::fs::read(path).map_err(|e| {
                    IdentityConfigError(format!("cannot read {}: {e}", path.display()))
                })?;
                Some(public_key(&pem).ok_or_else(|| {
                    IdentityConfigError(format!(
                        "{} holds no RSA or P-256 EC public key in PEM form",
                        path.display()
                    ))
                })?)
            }
            (None, Some(s)) => Some((
                DecodingKey::from_secret(s.expose().as_bytes()),
                Algorithm::HS256,
            )),
            (None, None) => None,
        };
        Ok(Self {
            mode: cfg.auth,
            key,
            leeway: cfg.jwt_leeway_secs,
        })
    }

    /// With an explicit key (RS256/ES256 public keys, tests).
    pub fn new(mode: AuthMode, key: Option<(DecodingKey, Algorithm)>) -> Self {
        Self {
            mode,
            key,
            leeway: 30,
        }
    }

    /// The identity of a connection presenting `token` (or none).
    pub fn identify(&self, token: Option<&str>) -> Result<Identity, IdentityError> {
        let Some(token) = token else {
            return match self.mode {
                AuthMode::Required => Err(IdentityError::Missing),
                AuthMode::Optional => Ok(Identity::default()),
            };
        };
        let Some((key, alg)) = &self.key else {
            return Err(IdentityError::NoKey);
        };
        let mut v = Validation::new(*alg);
        v.validate_nbf = true;
        v.leeway = self.leeway;
        v.set_required_spec_claims(&["exp", "sub"]);
        let data =
            decode::<Claims>(token, key, &v).map_err(|e| IdentityError::Invalid(reason(&e)))?;
        let c = data.claims;
        if c.sub.is_empty() {
            return Err(IdentityError::Invalid("empty sub".into()));
        }
        Ok(Identity {
            sub: Some(c.sub),
            roles: c.roles,
            tenant: c.tenant,
        })
    }
}

/// A bad `jwt_public_key_file`.
#[derive(Debug, thiserror::Error)]
#[error("jwt_public_key_file: {0}")]
pub struct IdentityConfigError(String);

/// An RSA key verifies RS256, an EC key ES256.
fn public_key(pem: &[u8]) -> Option<(DecodingKey, Algorithm)> {
    DecodingKey::from_rsa_pem(pem)
        .map(|k| (k, Algorithm::RS256))
        .or_else(|_| DecodingKey::from_ec_pem(pem).map(|k| (k, Algorithm::ES256)))
        .ok()
}

fn reason(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "expired".into(),
        K::ImmatureSignature => "not valid yet (nbf)".into(),
        K::InvalidSignature => "bad signature".into(),
        K::InvalidAlgorithm => "wrong algorithm".into(),
        K::MissingRequiredClaim(c) => format!("missing claim {c}"),
        _ => "malformed".into(),
    }
}

/// The token a client presented: `auth.token`, then `Authorization: Bearer`, then `?token=`.
pub fn presented_token(auth: &Value, hs: &sio::Handshake) -> Option<String> {
    match auth.get("token") {
        Some(Value::String(t)) => return Some(t.clone()),
        // A token that is not a string was still presented: it must fail verification,
        // not be ignored (which would downgrade the client to anonymous).
        Some(Value::Null) | None => {}
        Some(other) => return Some(other.to_string()),
    }
    if let Some(v) = hs
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        // The scheme is case-insensitive (RFC 7235 §2.1).
        if let Some((scheme, t)) = v.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(t.trim().to_owned());
            }
        }
    }
    hs.query_param("token").filter(|t| !t.is_empty())
}

/// Mint a development token (HS256) — `switchboard token`.
pub fn mint(
    secret: &str,
    sub: &str,
    roles: &[String],
    tenant: Option<&str>,
    ttl: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub: sub.to_owned(),
        roles: roles.to_vec(),
        tenant: tenant.map(str::to_owned),
        exp: now + ttl.as_secs(),
        nbf: None,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn hs(mode: AuthMode) -> Verifier {
        Verifier::new(
            mode,
            Some((
                DecodingKey::from_secret(SECRET.as_bytes()),
                Algorithm::HS256,
            )),
        )
    }

    #[test]
    fn valid_token_gives_claims() {
        let t = mint(
            SECRET,
            "alice",
            &["staff".into()],
            Some("t1"),
            Duration::from_secs(60),
        )
        .unwrap();
        let who = hs(AuthMode::Required).identify(Some(&t)).unwrap();
        assert_eq!(
            (who.sub.as_deref(), who.roles, who.tenant.as_deref()),
            (Some("alice"), vec!["staff".to_string()], Some("t1"))
        );
    }

    #[test]
    fn modes_and_refusals() {
        assert_eq!(
            hs(AuthMode::Required).identify(None),
            Err(IdentityError::Missing)
        );
        assert!(hs(AuthMode::Optional).identify(None).unwrap().sub.is_none());
        let forged = mint(
            "another-secret-another-secret-xx",
            "alice",
            &[],
            None,
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(
            hs(AuthMode::Optional).identify(Some(&forged)),
            Err(IdentityError::Invalid("bad signature".into())),
            "never downgraded"
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let expired = encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: "a".into(),
                roles: vec![],
                tenant: None,
                exp: now - 3600,
                nbf: None,
            },
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            hs(AuthMode::Optional).identify(Some(&expired)),
            Err(IdentityError::Invalid("expired".into()))
        );
        let hs384 = encode(
            &Header::new(Algorithm::HS384),
            &Claims {
                sub: "a".into(),
                roles: vec![],
                tenant: None,
                exp: now + 60,
                nbf: None,
            },
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            hs(AuthMode::Optional).identify(Some(&hs384)),
            Err(IdentityError::Invalid("wrong algorithm".into()))
        );
        assert_eq!(
            hs(AuthMode::Optional).identify(Some("not.a.jwt")),
            Err(IdentityError::Invalid("malformed".into()))
        );
        let nokey = Verifier::new(AuthMode::Optional, None);
        assert_eq!(nokey.identify(Some("x")), Err(IdentityError::NoKey));
    }

    /// Generate a key pair with the openssl CLI; returns (private PKCS#8 PEM, public PEM path).
    fn keypair(dir: &std::path::Path, algo: &[&str]) -> (Vec<u8>, std::path::PathBuf) {
        let private = dir.join("private.pem");
        let public = dir.join("public.pem");
        let ok = std::process::Command::new("openssl")
            .arg("genpkey")
            .args(algo)
            .arg("-out")
            .arg(&private)
            .status()
            .unwrap();
        assert!(ok.success());
        let ok = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public)
            .status()
            .unwrap();
        assert!(ok.success());
        (std::fs::read(private).unwrap(), public)
    }

    #[test]
    fn rs256_and_es256_public_keys_verify_their_tokens_only() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = Claims {
            sub: "bob".into(),
            roles: vec!["staff".into()],
            tenant: None,
            exp: now + 60,
            nbf: None,
        };
        for (algo, alg) in [
            (
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
                Algorithm::RS256,
            ),
            (
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
                Algorithm::ES256,
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (private, public) = keypair(dir.path(), algo);
            let enc = match alg {
                Algorithm::RS256 => EncodingKey::from_rsa_pem(&private).unwrap(),
                _ => EncodingKey::from_ec_pem(&private).unwrap(),
            };
            let token = encode(&Header::new(alg), &claims, &enc).unwrap();
            let cfg = Config {
                jwt_public_key_file: Some(public),
                auth: AuthMode::Required,
                ..Config::default()
            };
            let v = Verifier::from_config(&cfg).unwrap();
            assert_eq!(
                v.identify(Some(&token)).unwrap().sub.as_deref(),
                Some("bob"),
                "{alg:?}"
            );
            // An HS256 token, whatever its secret, is refused under a public key.
            let hs = mint(SECRET, "bob", &[], None, Duration::from_secs(60)).unwrap();
            assert_eq!(
                v.identify(Some(&hs)),
                Err(IdentityError::Invalid("wrong algorithm".into()))
            );
        }
        let cfg = Config {
            jwt_public_key_file: Some("/nonexistent.pem".into()),
            ..Config::default()
        };
        assert!(Verifier::from_config(&cfg).is_err());
    }
}
