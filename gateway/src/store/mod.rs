//! MongoDB collections the gateway reads and writes (besides refresh tokens, which live
//! with their logic in [`crate::auth::refresh`]).

pub mod feed;
pub mod games;
pub mod results;
pub mod uploads;
pub mod users;

pub use feed::ChangeFeed;
pub use games::Games;
pub use results::Results;
pub use users::Users;
