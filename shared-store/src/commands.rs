//! Counting the commands a process sends to MongoDB, by command and collection,
//! through the driver's command monitoring.
//!
//! Why: the store is the part of the system that grows hardest to scale, so the
//! number of operations each game costs is a figure to watch in production
//! (`m2m_store_commands_total` on every process's `/metrics`) and to hold in
//! benchmarks (BENCHMARKS.md, "store operations per game").

use mongodb::bson::{Bson, Document};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// `m2m_store_commands_total{command, collection}`.
pub type StoreCommands = Family<StoreCommandLabels, Counter>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreCommandLabels {
    /// `insert`, `find`, `update`, `findAndModify`, ...
    pub command: String,
    /// The collection the command names; empty for database commands (`ping`).
    pub collection: String,
}

/// A new family, registered as `store_commands` in `registry`.
pub fn register(registry: &mut Registry) -> StoreCommands {
    let family = StoreCommands::default();
    registry.register(
        "store_commands",
        "Commands sent to MongoDB, by command and collection",
        family.clone(),
    );
    family
}

/// The driver's command-event handler that counts into `family`.
pub(crate) fn handler(family: StoreCommands) -> EventHandler<CommandEvent> {
    EventHandler::callback(move |event: CommandEvent| {
        if let CommandEvent::Started(started) = event {
            family
                .get_or_create(&StoreCommandLabels {
                    collection: collection_of(&started.command_name, &started.command),
                    command: started.command_name,
                })
                .inc();
        }
    })
}

/// The collection a command works on: the value of its first field for CRUD
/// commands (`{insert: "games", ...}`), `collection` for `getMore`.
fn collection_of(name: &str, command: &Document) -> String {
    let field = if name == "getMore" {
        command.get("collection")
    } else {
        command.get(name)
    };
    match field {
        Some(Bson::String(collection)) => collection.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn a_command_names_its_collection() {
        assert_eq!(
            collection_of("insert", &doc! { "insert": "games", "documents": [] }),
            "games"
        );
        assert_eq!(
            collection_of(
                "getMore",
                &doc! { "getMore": 7_i64, "collection": "change_feed" }
            ),
            "change_feed"
        );
        assert_eq!(collection_of("ping", &doc! { "ping": 1 }), "");
    }
}
