//! Authentication: password hashing, credentials, access tokens, refresh tokens and the
//! [`AuthUser`] extractor.

pub mod credentials;
pub mod extractor;
pub mod hash_pool;
pub mod jwt;
pub mod password;
pub mod refresh;

pub use extractor::{AuthUser, SocketUser};
