//! MongoDB connection and error helpers.

use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database, bson::doc};
use secrecy::ExposeSecret;

use crate::commands::StoreCommands;
use crate::{StoreError, StoreSettings};

/// MongoDB's error code for a unique-index violation.
pub const DUPLICATE_KEY: i32 = 11000;

/// Connects to MongoDB and pings it, so a service with an unreachable store fails at
/// start rather than on its first request. `app_name` shows up in the server's logs.
pub async fn connect_mongodb(
    settings: &StoreSettings,
    app_name: &str,
) -> Result<Database, StoreError> {
    connect_mongodb_counted(settings, app_name, None).await
}

/// [`connect_mongodb`], counting every command into `commands` when given
/// ([`crate::commands`]).
pub async fn connect_mongodb_counted(
    settings: &StoreSettings,
    app_name: &str,
    commands: Option<StoreCommands>,
) -> Result<Database, StoreError> {
    let mut options = ClientOptions::parse(settings.mongodb_url.expose_secret())
        .await
        .map_err(StoreError::MongoConfig)?;
    options.app_name = Some(app_name.to_owned());
    options.connect_timeout = Some(settings.connect_timeout);
    // Without this an unreachable server makes every operation wait 30 s.
    options.server_selection_timeout = Some(settings.connect_timeout);
    options.command_event_handler = commands.map(crate::commands::handler);
    let client = Client::with_options(options).map_err(StoreError::MongoConfig)?;
    let database = client.database(&settings.mongodb_db);
    database
        .run_command(doc! { "ping": 1 })
        .await
        .map_err(StoreError::MongoUnreachable)?;
    Ok(database)
}

/// True when `error` is a unique-index violation (code 11000): "already there", which
/// callers usually map to a conflict or treat as an idempotent success.
///
/// For `insert_many`, true only when every write error is a duplicate key, so a batch
/// that also failed for another reason is still reported as a failure.
pub fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write_error)) => {
            write_error.code == DUPLICATE_KEY
        }
        // findAndModify with an upsert reports a violation as a command error.
        ErrorKind::Command(command_error) => command_error.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(insert_many) => {
            insert_many.write_concern_error.is_none()
                && insert_many.write_errors.as_ref().is_some_and(|errors| {
                    !errors.is_empty() && errors.iter().all(|e| e.code == DUPLICATE_KEY)
                })
        }
        _ => false,
    }
}
