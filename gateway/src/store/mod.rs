//! MongoDB collections the gateway reads and writes (besides refresh tokens, which live
//! with their logic in [`crate::auth::refresh`]).

pub mod games;
pub mod users;

pub use games::Games;
pub use users::Users;
