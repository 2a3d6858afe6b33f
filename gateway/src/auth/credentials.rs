//! Validated usernames and passwords: parse, don't validate.

use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;

/// A normalised username: trimmed, lower-cased, 3 to 64 of `a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 64;

    /// Normalises and checks `raw`. Lower-casing makes `Alice` and `alice` one account;
    /// the small alphabet rules out look-alike Unicode names.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = raw.trim().to_lowercase();
        let length = name.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&length) {
            return Err(ApiError::validation(
                "username",
                "a username has 3 to 64 characters",
            ));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        if !name.chars().all(allowed) {
            return Err(ApiError::validation(
                "username",
                "a username may contain only a-z, 0-9, '.', '_' and '-'",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets NIST SP 800-63B: at least 8 characters, at most 1024 bytes
/// (bounding the work and memory an attacker can make us spend), no composition rules.
#[derive(Debug)]
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(raw: SecretString) -> Result<Self, ApiError> {
        let secret = raw.expose_secret();
        if secret.len() > Self::MAX_BYTES {
            return Err(ApiError::validation(
                "password",
                "a password has at most 1024 bytes",
            ));
        }
        if secret.chars().count() < Self::MIN_CHARS {
            return Err(ApiError::validation(
                "password",
                "a password has at least 8 characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lower_cased() {
        let name = Username::parse("  Alice.B_2-x ").expect("valid");
        assert_eq!(name.as_str(), "alice.b_2-x");
    }

    #[test]
    fn usernames_outside_the_alphabet_or_length_are_refused() {
        for raw in ["ab", "a b c", "élodie", "x@y.z", &"a".repeat(65)] {
            assert!(Username::parse(raw).is_err(), "{raw:?} should be refused");
        }
        assert!(Username::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn passwords_count_characters_for_the_minimum_and_bytes_for_the_maximum() {
        assert!(NewPassword::parse("seven77".into()).is_err());
        // Eight characters, sixteen bytes: long enough.
        assert!(NewPassword::parse("éééééééé".into()).is_ok());
        assert!(NewPassword::parse("a".repeat(1024).into()).is_ok());
        assert!(NewPassword::parse("a".repeat(1025).into()).is_err());
        // No composition rules: a long passphrase of lower-case words is fine.
        assert!(NewPassword::parse("correct horse battery staple".into()).is_ok());
    }
}
