//! The `users` collection: `{_id: user id (UUID v7), username, password_hash,
//! created_at, password_updated_at}`, unique on `username`.

use anyhow::Context;
use mongodb::bson::{DateTime, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use shared_store::is_duplicate_key;

use crate::auth::credentials::Username;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    /// A PHC string (`$argon2id$v=19$m=...`).
    pub password_hash: String,
    pub created_at: DateTime,
    pub password_updated_at: DateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

#[derive(Debug, Clone)]
pub struct Users {
    collection: Collection<UserDoc>,
}

impl Users {
    pub fn new(db: &Database) -> Self {
        Self {
            collection: db.collection("users"),
        }
    }

    /// The unique index is what makes registration race-free: of two concurrent inserts
    /// of one username, the second fails with 11000.
    pub async fn ensure_indexes(&self) -> anyhow::Result<()> {
        let unique_username = IndexModel::builder()
            .keys(doc! { "username": 1 })
            .options(IndexOptions::builder().unique(true).build())
            .build();
        self.collection
            .create_index(unique_username)
            .await
            .context("Failed to create the unique username index")?;
        Ok(())
    }

    pub async fn insert(&self, user: &UserDoc) -> Result<(), InsertUserError> {
        match self.collection.insert_one(user).await {
            Ok(_) => Ok(()),
            Err(error) if is_duplicate_key(&error) => Err(InsertUserError::UsernameTaken),
            Err(error) => Err(anyhow::Error::new(error)
                .context("Failed to insert a user")
                .into()),
        }
    }

    pub async fn find_by_username(&self, username: &Username) -> anyhow::Result<Option<UserDoc>> {
        self.collection
            .find_one(doc! { "username": username.as_str() })
            .await
            .context("Failed to look up a user by username")
    }

    /// Replaces a password hash after a rehash, only if it is still `old_hash`, so a
    /// concurrent password change is never overwritten by an upgrade of the old one.
    pub async fn replace_hash(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> anyhow::Result<()> {
        self.collection
            .update_one(
                doc! { "_id": user_id, "password_hash": old_hash },
                doc! { "$set": {
                    "password_hash": new_hash,
                    "password_updated_at": DateTime::now(),
                } },
            )
            .await
            .context("Failed to store a rehashed password")?;
        Ok(())
    }
}
