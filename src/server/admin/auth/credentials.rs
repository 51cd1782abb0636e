//! Passwords and tokens: argon2id hashes made and verified (verification off the async runtime,
//! a few at a time, so a login storm cannot stall the dashboard), API tokens found by their
//! SHA-256 in constant time, and random secrets from the operating system.

use crate::server::config::{ApiToken, TOKEN_HASH_PREFIX};
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// How many password verifications run at once (each takes ~19 MiB and tens of milliseconds).
pub const PARALLEL_VERIFICATIONS: usize = 2;

/// A well-formed argon2id hash of no one's password: verified against when the user name is
/// unknown, so an unknown name takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlkdW1teWR1bW15$q2w5Ot3ZwM2mJD3dHq6v8JYmC6yHrN4p0ZbWq5sXk1I";

/// `len` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// The SHA-256 of `text`.
pub fn sha256(text: &[u8]) -> [u8; 32] {
    Sha256::digest(text).into()
}

/// An argon2id PHC string of `password` (the library's default parameters: 19 MiB, 2 passes),
/// with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|error| error.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Whether `password` matches the PHC string `phc` (blocking: tens of milliseconds).
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A new API token: `gw_` and 64 hex digits (256 random bits).
pub fn new_token() -> String {
    format!("gw_{}", hex(&random_bytes::<32>()))
}

/// The `token_hash` value config.json keeps for `token`.
pub fn token_hash(token: &str) -> String {
    format!("{TOKEN_HASH_PREFIX}{}", hex(&sha256(token.as_bytes())))
}

/// The configured token `presented` is, comparing hashes in constant time with every one.
pub fn find_token<'a>(tokens: &'a [ApiToken], presented: &str) -> Option<&'a ApiToken> {
    let hash = sha256(presented.as_bytes());
    let mut found = None;
    for token in tokens {
        if bool::from(token.sha256.ct_eq(&hash)) {
            found = Some(token);
        }
    }
    found
}

/// Verifies passwords on the blocking pool, at most [`PARALLEL_VERIFICATIONS`] at once.
#[derive(Clone, Debug)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
}

impl Default for PasswordChecker {
    fn default() -> Self {
        Self {
            permits: Arc::new(Semaphore::new(PARALLEL_VERIFICATIONS)),
        }
    }
}

impl PasswordChecker {
    /// Whether `password` matches `phc`; `None` (an unknown user) is checked against a dummy
    /// hash, so it costs the same and is never true.
    pub async fn verify(&self, phc: Option<String>, password: String) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_string());
        let matched = tokio::task::spawn_blocking(move || verify_password(&phc, &password))
            .await
            .unwrap_or(false);
        known && matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::{check_password_hash, parse_token_hash};
    use crate::views::Role;

    #[test]
    fn a_password_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        check_password_hash(&hash).unwrap();
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horse "));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
        check_password_hash(DUMMY_HASH).unwrap();
    }

    #[test]
    fn tokens_are_found_by_their_hash() {
        let token = new_token();
        assert_eq!(token.len(), 3 + 64);
        let line = token_hash(&token);
        let tokens = [
            ApiToken {
                name: "other".into(),
                sha256: parse_token_hash(&token_hash("gw_other")).unwrap(),
                role: Role::Admin,
            },
            ApiToken {
                name: "prometheus".into(),
                sha256: parse_token_hash(&line).unwrap(),
                role: Role::Viewer,
            },
        ];
        assert_eq!(find_token(&tokens, &token).unwrap().name, "prometheus");
        assert!(find_token(&tokens, "gw_wrong").is_none());
        // The known SHA-256 of "test".
        assert_eq!(
            token_hash("test"),
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let checker = PasswordChecker::default();
        let hash = hash_password("pw").unwrap();
        assert!(checker.verify(Some(hash.clone()), "pw".into()).await);
        assert!(!checker.verify(Some(hash), "nope".into()).await);
        assert!(!checker.verify(None, "pw".into()).await);
    }
}
