//! The phone's position in its change feed, as an opaque string.
//!
//! A cursor names the patient it belongs to, so a cursor from another patient's
//! session is refused instead of silently paging through the wrong feed (the feed
//! query is always scoped to the caller; the check only makes the mistake loud).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// After entry `seq` of `user_id`'s feed; `seq` 0 is the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    pub user_id: String,
    pub seq: u64,
}

/// Why a cursor string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not one this server issued")]
    Invalid,
    #[error("the cursor belongs to another user")]
    Foreign,
}

const VERSION: &str = "f1";

impl FeedCursor {
    pub fn new(user_id: &str, seq: u64) -> Self {
        Self {
            user_id: user_id.to_owned(),
            seq,
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{VERSION}:{}:{}", self.user_id, self.seq))
    }

    /// Decodes `raw` and checks it is `user_id`'s.
    pub fn decode_for(raw: &str, user_id: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| CursorError::Invalid)?;
        let text = String::from_utf8(bytes).map_err(|_| CursorError::Invalid)?;
        let mut parts = text.splitn(3, ':');
        let (Some(VERSION), Some(owner), Some(seq)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError::Invalid);
        };
        let seq = seq.parse().map_err(|_| CursorError::Invalid)?;
        if owner != user_id {
            return Err(CursorError::Foreign);
        }
        Ok(Self::new(owner, seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_encoding_for_its_owner() {
        let cursor = FeedCursor::new("u-1", 42);
        assert_eq!(FeedCursor::decode_for(&cursor.encode(), "u-1"), Ok(cursor));
    }

    #[test]
    fn another_users_cursor_is_foreign() {
        let cursor = FeedCursor::new("u-1", 42).encode();
        assert_eq!(
            FeedCursor::decode_for(&cursor, "u-2"),
            Err(CursorError::Foreign)
        );
    }

    #[test]
    fn garbage_is_invalid() {
        for raw in [
            "",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("f1:u-1"),
            &URL_SAFE_NO_PAD.encode("f1:u-1:-3"),
            &URL_SAFE_NO_PAD.encode("f9:u-1:3"),
            &URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ] {
            assert_eq!(
                FeedCursor::decode_for(raw, "u-1"),
                Err(CursorError::Invalid),
                "{raw}"
            );
        }
    }
}
