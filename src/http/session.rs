//! Web sessions: a signed cookie that names the signed-in user, and CSRF tokens tied to it.
//!
//! The cookie value is `v1.<user id>.<expiry>.<nonce>.<mac>`, where the MAC is HMAC-SHA-256
//! under the key shared through the database, so every instance verifies every other
//! instance's cookies and nothing is stored per session. The CSRF token of a form is the HMAC
//! of the cookie value, so it is only valid together with that session.
//!
//! NOTE: sessions are stateless, so signing out removes the cookie from the browser but does
//! not revoke a copied cookie before it expires (`bookmarks.session_ttl_secs`).

use super::request::Ctx;
use chrono::{DateTime, Utc};
use http::{HeaderValue, header};
use sha2::{Digest, Sha256};

/// The name of the session cookie.
pub const COOKIE: &str = "linkyard_session";
const VERSION: &str = "v1";
const BLOCK_BYTES: usize = 64;

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    /// The cookie value, which the CSRF token is derived from.
    pub token: String,
}

/// Issues a session token for `user_id` that expires at `expires`.
pub fn issue(key: &[u8], user_id: i64, expires: DateTime<Utc>) -> String {
    let nonce: u128 = rand::random();
    let payload = format!("{VERSION}.{user_id}.{}.{nonce:032x}", expires.timestamp());
    let mac = hex(&hmac_sha256(key, payload.as_bytes()));
    format!("{payload}.{mac}")
}

/// Returns the user of a token whose MAC is right and which has not expired.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Option<i64> {
    let (payload, mac) = token.rsplit_once('.')?;
    let expected = hex(&hmac_sha256(key, payload.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
        return None;
    }
    let mut parts = payload.split('.');
    let (Some(VERSION), Some(user_id), Some(expires)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let expires: i64 = expires.parse().ok()?;
    (now.timestamp() < expires).then_some(())?;
    user_id.parse().ok()
}

/// Returns the CSRF token of the session with cookie value `token`.
pub fn csrf_token(key: &[u8], token: &str) -> String {
    let message = format!("csrf.{token}");
    hex(&hmac_sha256(key, message.as_bytes()))
}

/// Checks whether `submitted` is the CSRF token of the session.
pub fn csrf_matches(key: &[u8], session: &Session, submitted: &str) -> bool {
    let expected = csrf_token(key, &session.token);
    constant_time_eq(expected.as_bytes(), submitted.as_bytes())
}

/// Returns the caller's verified session, if the request carries one.
pub fn session_of(ctx: &Ctx) -> Option<Session> {
    let token = ctx
        .parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())?;
    let user_id = verify(&ctx.state.session_key, &token, Utc::now())?;
    Some(Session { user_id, token })
}

/// Builds the `Set-Cookie` value that stores a session for `max_age_secs`. The cookie is `Secure`
/// when the service's public URL is https.
pub fn set_cookie(token: &str, max_age_secs: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    let value =
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&value).ok()
}

/// Builds the `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> Option<HeaderValue> {
    set_cookie("", 0, secure)
}

/// HMAC-SHA-256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK_BYTES];
    if key.len() > BLOCK_BYTES {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block.iter().map(|byte| byte ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|byte| byte ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let key = b"0123456789abcdef";
        let now = Utc::now();
        let token = issue(key, 42, now + Duration::hours(1));
        assert_eq!(verify(key, &token, now), Some(42));
        assert_eq!(verify(key, &token, now + Duration::hours(2)), None);
        assert_eq!(verify(b"another key", &token, now), None);

        let forged = token.replacen(".42.", ".43.", 1);
        assert_eq!(verify(key, &forged, now), None);
        assert_eq!(verify(key, "v1.42", now), None);
        assert_eq!(verify(key, "", now), None);
    }

    #[test]
    fn csrf_token_is_tied_to_the_session() {
        let key = b"0123456789abcdef";
        let expires = Utc::now() + Duration::hours(1);
        let first = Session {
            user_id: 1,
            token: issue(key, 1, expires),
        };
        let second = Session {
            user_id: 1,
            token: issue(key, 1, expires),
        };
        let token = csrf_token(key, &first.token);
        assert!(csrf_matches(key, &first, &token));
        assert!(!csrf_matches(key, &second, &token));
        assert!(!csrf_matches(key, &first, ""));
    }
}
