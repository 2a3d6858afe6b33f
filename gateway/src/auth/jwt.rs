//! Access tokens: short-lived HS256 JWTs.
//!
//! The algorithm is pinned (a token whose header names any other algorithm, `none`
//! included, is refused) and every registered claim we set is also checked on the way
//! in: `iss`, `aud`, `exp`, `iat`, `sub`, `jti`.
//!
//! Rotation: tokens are signed with `M2M_JWT_SECRET` only; a token that fails
//! its signature check is tried once more against `M2M_JWT_PREVIOUS_SECRET`
//! when one is set, so tokens issued before a rotation stay valid until they
//! expire and nobody is logged out (`docs/OPERATIONS.md`).

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::error::TokenProblem;

const ALGORITHM: Algorithm = Algorithm::HS256;
/// Tolerated clock skew between gateway instances when checking `exp`.
const LEEWAY_SECS: u64 = 30;

/// The claims of an access token. All are required when decoding: a token missing
/// `iat` or `jti` fails deserialisation and is refused like a tampered one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    /// Unique per token, so a future deny-list can name one token.
    pub jti: String,
}

/// Signs and verifies access tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Verification only: the key being rotated out.
    previous: Option<DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys hold the secret; never print them.
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(ALGORITHM);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            previous: settings
                .jwt_previous_secret
                .as_ref()
                .map(|previous| DecodingKey::from_secret(previous.expose_secret().as_bytes())),
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            ttl: settings.access_token_ttl,
        }
    }

    /// How long an issued token lives; sent to the client as `expires_in`.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues an access token for `user_id`.
    pub fn issue(&self, user_id: &str) -> anyhow::Result<String> {
        let now = unix_now();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_owned(),
            exp: now + self.ttl.as_secs(),
            iat: now,
            jti: Uuid::now_v7().to_string(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenProblem> {
        let mut decoded = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation);
        if let (Err(error), Some(previous)) = (&decoded, &self.previous)
            && matches!(error.kind(), ErrorKind::InvalidSignature)
        {
            decoded = jsonwebtoken::decode::<Claims>(token, previous, &self.validation);
        }
        match decoded {
            Ok(data) => Ok(data.claims),
            Err(error) => {
                tracing::debug!(error = %error, "Refused an access token");
                match error.kind() {
                    ErrorKind::ExpiredSignature => Err(TokenProblem::Expired),
                    _ => Err(TokenProblem::Invalid),
                }
            }
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn keys() -> JwtKeys {
        keys_with(&[])
    }

    fn keys_with(vars: &[(&str, &str)]) -> JwtKeys {
        let settings = Settings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("valid settings");
        JwtKeys::new(&settings.auth)
    }

    const OLD: &str = "the-old-secret-of-at-least-32-bytes-0000";
    const NEW: &str = "the-new-secret-of-at-least-32-bytes-1111";

    #[test]
    fn after_a_rotation_tokens_signed_with_the_previous_secret_still_verify() {
        let before = keys_with(&[("M2M_JWT_SECRET", OLD)])
            .issue("user-1")
            .expect("issue");
        let rotated = keys_with(&[("M2M_JWT_SECRET", NEW), ("M2M_JWT_PREVIOUS_SECRET", OLD)]);
        assert_eq!(rotated.verify(&before).expect("still valid").sub, "user-1");
        // New tokens are signed with the new secret only.
        let after = rotated.issue("user-2").expect("issue");
        let new_only = keys_with(&[("M2M_JWT_SECRET", NEW)]);
        assert_eq!(new_only.verify(&after).expect("valid").sub, "user-2");
        let old_only = keys_with(&[("M2M_JWT_SECRET", OLD)]);
        assert_eq!(old_only.verify(&after).err(), Some(TokenProblem::Invalid));
    }

    #[test]
    fn without_the_previous_secret_old_tokens_are_refused_and_other_keys_never_verify() {
        let before = keys_with(&[("M2M_JWT_SECRET", OLD)])
            .issue("user-1")
            .expect("issue");
        let rotated = keys_with(&[("M2M_JWT_SECRET", NEW)]);
        assert_eq!(rotated.verify(&before).err(), Some(TokenProblem::Invalid));
        let forged = keys_with(&[("M2M_JWT_SECRET", "a-third-secret-nobody-configured-22222")])
            .issue("user-1")
            .expect("issue");
        let rotating = keys_with(&[("M2M_JWT_SECRET", NEW), ("M2M_JWT_PREVIOUS_SECRET", OLD)]);
        assert_eq!(rotating.verify(&forged).err(), Some(TokenProblem::Invalid));
    }

    #[test]
    fn an_issued_token_verifies_and_names_its_user() {
        let keys = keys();
        let token = keys.issue("user-1").expect("issue");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.aud, "m2m-app");
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn a_token_with_a_changed_signature_is_invalid() {
        let keys = keys();
        let token = keys.issue("user-1").expect("issue");
        // Change a character inside the signature, away from its padding bits.
        let at = token.len() - 10;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let token = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        assert_eq!(keys.verify(&token).err(), Some(TokenProblem::Invalid));
    }
}
