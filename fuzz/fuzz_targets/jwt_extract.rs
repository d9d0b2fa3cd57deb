//! Which token a connection presents (`identity::presented_token`: auth payload, then
//! `Authorization`, then `?token=`) and what `Verifier::identify` makes of it, with a
//! fixed HS256 secret.
//!
//! Input: NUL-separated `auth-json \0 authorization \0 query \0 token \0 header-json \0
//! claims-json`. `token` goes to `identify` as is; header and claims are also signed
//! with the secret, so the claim checks behind the signature are reached too.
#![no_main]

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard::config::AuthMode;
use switchboard::identity::{presented_token, IdentityError, Verifier};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn verifier(mode: AuthMode) -> Verifier {
    Verifier::new(
        mode,
        Some((DecodingKey::from_secret(SECRET), Algorithm::HS256)),
    )
}

/// Identify with both modes: a presented token is judged the same way in each.
fn identify(token: &str) -> Result<switchboard::rules::Identity, IdentityError> {
    let a = verifier(AuthMode::Optional).identify(Some(token));
    let b = verifier(AuthMode::Required).identify(Some(token));
    assert_eq!(
        a, b,
        "the mode never changes how a presented token is judged"
    );
    if let Ok(who) = &a {
        assert!(who.sub.as_deref().is_some_and(|s| !s.is_empty()));
    }
    a
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut f = s.split('\0');
    let auth = f.next().unwrap_or("");
    let authorization = f.next().unwrap_or("");
    let query = f.next().unwrap_or("");
    let token = f.next().unwrap_or("");
    let header = f.next();
    let claims = f.next();

    let auth: Value = serde_json::from_str(auth).unwrap_or(Value::Null);
    let mut hs = sio::Handshake {
        query: query.to_owned(),
        ..Default::default()
    };
    if let Ok(v) = http::HeaderValue::from_str(authorization) {
        if !authorization.is_empty() {
            hs.headers.insert(http::header::AUTHORIZATION, v);
        }
    }
    let presented = presented_token(&auth, &hs);
    match auth.get("token") {
        Some(Value::String(t)) => assert_eq!(presented.as_deref(), Some(t.as_str())),
        Some(Value::Null) | None => {}
        Some(_) => assert!(presented.is_some(), "a non-string token is still presented"),
    }
    if let Some(t) = &presented {
        // Forging an HS256 signature is out of reach: only signed tokens pass.
        assert!(identify(t).is_err() || t.split('.').count() == 3);
    }
    assert!(identify(token).is_err() || token.split('.').count() == 3);

    // Tokens signed with the secret: the header and claims checks.
    if let (Some(header), Some(claims)) = (header, claims) {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let msg = format!("{}.{}", b64.encode(header), b64.encode(claims));
        let key = EncodingKey::from_secret(SECRET);
        let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &key, Algorithm::HS256)
            .expect("HS256 signs anything");
        let signed = format!("{msg}.{sig}");
        if let Ok(who) = identify(&signed) {
            // Accepted claims are JSON, though not always a `Value`: a number beyond f64 in a
            // claim the verifier ignores (`"x":1E400`) is skipped by its typed decode.
            if let Ok(c) = serde_json::from_str::<Value>(claims) {
                assert_eq!(who.sub.as_deref(), c["sub"].as_str(), "{claims}");
            }
            let h: Value = serde_json::from_str(header).expect("accepted header is JSON");
            assert_eq!(h["alg"], "HS256", "{header}");
        }
    }
});
