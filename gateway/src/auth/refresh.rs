//! Refresh tokens: opaque, rotated on every use, with reuse detection.
//!
//! A token is 256 random bits, given to the client once and stored only as its SHA-256
//! (a database leak yields nothing usable; the token's entropy makes a salt pointless).
//! Tokens issued from one login form a *family*. `POST /refresh` marks the presented
//! token rotated and issues the next one in its family. Presenting a rotated token again
//! means two parties hold it, so the whole family is revoked (OAuth 2.0 Security BCP,
//! section 4.14.2): both the thief and the user must log in again.
//!
//! Collections: `refresh_tokens {_id: sha256, family_id, user_id, created_at,
//! expires_at, rotated_at}` and `refresh_token_families {_id, user_id, created_at,
//! expires_at, revoked_at, revoked_reason}`; both expire through TTL indexes. Revoking
//! touches only the family document, so a token inserted concurrently with a revocation
//! is still dead: every rotation checks its family in the same update that extends it.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mongodb::bson::{DateTime, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const TOKEN_BYTES: usize = 32;
/// Length of a 32-byte token in unpadded base64url.
const TOKEN_CHARS: usize = 43;

#[derive(Debug, Serialize, Deserialize)]
struct TokenDoc {
    #[serde(rename = "_id")]
    hash: String,
    family_id: String,
    user_id: String,
    created_at: DateTime,
    expires_at: DateTime,
    rotated_at: Option<DateTime>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FamilyDoc {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    created_at: DateTime,
    expires_at: DateTime,
    revoked_at: Option<DateTime>,
    revoked_reason: Option<String>,
}

/// Why a refresh was refused. Every case answers the same `401` to the client.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("unknown, expired or revoked refresh token")]
    Invalid,
    #[error("a rotated refresh token was presented again")]
    Reused,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<RefreshError> for crate::error::ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::Invalid | RefreshError::Reused => Self::InvalidRefreshToken,
            RefreshError::Internal(error) => Self::Unexpected(error),
        }
    }
}

/// A freshly issued refresh token and whose it is.
#[derive(Debug)]
pub struct Issued {
    pub user_id: String,
    pub token: String,
}

/// The refresh-token store.
#[derive(Debug, Clone)]
pub struct RefreshTokens {
    tokens: Collection<TokenDoc>,
    families: Collection<FamilyDoc>,
    ttl: Duration,
}

impl RefreshTokens {
    pub fn new(db: &Database, ttl: Duration) -> Self {
        Self {
            tokens: db.collection("refresh_tokens"),
            families: db.collection("refresh_token_families"),
            ttl,
        }
    }

    /// TTL indexes: MongoDB deletes documents once `expires_at` passes. Expiry is also
    /// checked in code, because the TTL monitor runs only about once a minute.
    pub async fn ensure_indexes(&self) -> anyhow::Result<()> {
        let ttl_index = || {
            IndexModel::builder()
                .keys(doc! { "expires_at": 1 })
                .options(IndexOptions::builder().expire_after(Duration::ZERO).build())
                .build()
        };
        self.tokens
            .create_index(ttl_index())
            .await
            .context("Failed to index refresh_tokens")?;
        self.families
            .create_index(ttl_index())
            .await
            .context("Failed to index refresh_token_families")?;
        Ok(())
    }

    /// Starts a new family for a login and returns its first token.
    pub async fn issue_first(&self, user_id: &str) -> anyhow::Result<String> {
        let family = FamilyDoc {
            id: Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            created_at: DateTime::now(),
            expires_at: self.expiry(),
            revoked_at: None,
            revoked_reason: None,
        };
        self.families
            .insert_one(&family)
            .await
            .context("Failed to store a token family")?;
        self.insert_token(&family.id, user_id).await
    }

    /// Exchanges `presented` for the next token of its family.
    pub async fn rotate(&self, presented: &str) -> Result<Issued, RefreshError> {
        let hash = hash_of(presented).ok_or(RefreshError::Invalid)?;
        let now = DateTime::now();
        // Atomically claims the token: of two racing refreshes, exactly one wins.
        let claimed = self
            .tokens
            .find_one_and_update(
                doc! { "_id": &hash, "rotated_at": null },
                doc! { "$set": { "rotated_at": now } },
            )
            .await
            .context("Failed to claim a refresh token")?;
        let Some(token) = claimed else {
            return Err(self.refused_unclaimable(&hash).await);
        };
        if token.expires_at <= now {
            return Err(RefreshError::Invalid);
        }
        // Extends the family only while it is not revoked: the check and the update are
        // one atomic write.
        let extended = self
            .families
            .update_one(
                doc! { "_id": &token.family_id, "revoked_at": null },
                doc! { "$set": { "expires_at": self.expiry() } },
            )
            .await
            .context("Failed to extend a token family")?;
        if extended.matched_count == 0 {
            return Err(RefreshError::Invalid);
        }
        let next = self.insert_token(&token.family_id, &token.user_id).await?;
        Ok(Issued {
            user_id: token.user_id,
            token: next,
        })
    }

    /// Revokes the family of `presented` (logout). Returns the user id, or `None` for a
    /// token we do not know.
    pub async fn revoke_family_of(&self, presented: &str) -> anyhow::Result<Option<String>> {
        let Some(hash) = hash_of(presented) else {
            return Ok(None);
        };
        let Some(token) = self.tokens.find_one(doc! { "_id": &hash }).await? else {
            return Ok(None);
        };
        self.revoke_family(&token.family_id, "logout").await?;
        Ok(Some(token.user_id))
    }

    /// Explains why `hash` could not be claimed, revoking its family if it was reused.
    async fn refused_unclaimable(&self, hash: &str) -> RefreshError {
        let existing = match self.tokens.find_one(doc! { "_id": hash }).await {
            Ok(existing) => existing,
            Err(error) => return RefreshError::Internal(error.into()),
        };
        let Some(token) = existing else {
            return RefreshError::Invalid;
        };
        tracing::warn!(
            user_id = %token.user_id,
            family_id = %token.family_id,
            "A rotated refresh token was reused; revoking its family"
        );
        match self.revoke_family(&token.family_id, "reuse").await {
            Ok(()) => RefreshError::Reused,
            Err(error) => RefreshError::Internal(error),
        }
    }

    async fn revoke_family(&self, family_id: &str, reason: &str) -> anyhow::Result<()> {
        self.families
            .update_one(
                doc! { "_id": family_id, "revoked_at": null },
                doc! { "$set": { "revoked_at": DateTime::now(), "revoked_reason": reason } },
            )
            .await
            .context("Failed to revoke a token family")?;
        Ok(())
    }

    async fn insert_token(&self, family_id: &str, user_id: &str) -> anyhow::Result<String> {
        let mut bytes = [0u8; TOKEN_BYTES];
        // ThreadRng is a CSPRNG seeded from the operating system.
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let doc = TokenDoc {
            hash: sha256(&token),
            family_id: family_id.to_owned(),
            user_id: user_id.to_owned(),
            created_at: DateTime::now(),
            expires_at: self.expiry(),
            rotated_at: None,
        };
        self.tokens
            .insert_one(&doc)
            .await
            .context("Failed to store a refresh token")?;
        Ok(token)
    }

    fn expiry(&self) -> DateTime {
        DateTime::from_system_time(SystemTime::now() + self.ttl)
    }
}

/// The stored form of a presented token, or `None` when it cannot be one of ours
/// (which spares the database a lookup for garbage).
fn hash_of(presented: &str) -> Option<String> {
    let well_formed = presented.len() == TOKEN_CHARS
        && presented
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| sha256(presented))
}

fn sha256(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        assert!(hash_of(&"a".repeat(TOKEN_CHARS)).is_some());
        assert!(hash_of("short").is_none());
        assert!(hash_of(&"+".repeat(TOKEN_CHARS)).is_none());
    }

    #[test]
    fn the_stored_hash_is_not_the_token() {
        let token = "b".repeat(TOKEN_CHARS);
        let stored = hash_of(&token).expect("well formed");
        assert_ne!(stored, token);
        assert_eq!(stored.len(), TOKEN_CHARS);
    }
}
