//! Password hashing and policy.
//!
//! Argon2id with m = 19456 KiB, t = 2, p = 1 (OWASP), stored as PHC strings so
//! the parameters travel with each hash and can be raised later: a hash made
//! with other parameters is re-made at the next successful sign-in.
//! Hashing costs about 60 ms of a core, so it runs on the blocking thread pool
//! behind a semaphore sized to the cores: a sign-in flood queues there instead
//! of starving the async workers that serve every other page.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 8;
/// Longest accepted password, in characters (never truncated).
pub const MAX_LEN: usize = 256;

/// The parameters new hashes are made with.
fn params() -> Params {
    Params::new(19_456, 2, 1, None).unwrap_or(Params::DEFAULT)
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// A hash of a password nobody has, verified against when the email is
/// unknown so that case costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hasher()
        .hash_password(b"pierre-dummy-password-for-timing")
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Runs hashes off the async threads, at most one per core at a time.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password (or no such account).
    No,
    /// Right password; the hash is current.
    Yes,
    /// Right password; store this new hash (parameters changed).
    YesRehashed(String),
}

impl PasswordHasher {
    #[must_use]
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Hash a new password.
    ///
    /// # Errors
    /// Only if hashing itself fails (out of memory) or the pool is shut down.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            hasher()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|err| AppError::internal(anyhow::anyhow!("argon2: {err}")))
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Check a password against a stored hash; `None` means the account does
    /// not exist, which is checked against a dummy hash to take the same time.
    ///
    /// # Errors
    /// If the blocking pool is shut down.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verified, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || verify_blocking(&password, stored.as_deref()))
            .await
            .map_err(AppError::internal)
    }
}

fn verify_blocking(password: &str, stored: Option<&str>) -> Verified {
    let known = stored.is_some();
    let hash_text = stored.unwrap_or(DUMMY_HASH.as_str());
    let Ok(hash) = PasswordHash::new(hash_text) else {
        return Verified::No;
    };
    if hasher()
        .verify_password(password.as_bytes(), &hash)
        .is_err()
        || !known
    {
        return Verified::No;
    }
    let current = Params::try_from(&hash).is_ok_and(|p| {
        let want = params();
        p.m_cost() == want.m_cost() && p.t_cost() == want.t_cost() && p.p_cost() == want.p_cost()
    }) && hash.algorithm.as_str() == "argon2id";
    if current {
        return Verified::Yes;
    }
    hasher()
        .hash_password(password.as_bytes())
        .map_or(Verified::Yes, |new_hash| {
            Verified::YesRehashed(new_hash.to_string())
        })
}

/// Why a new password is refused; the text is shown under the field.
///
/// # Errors
/// A sentence the person can act on.
pub fn check_new_password(password: &str, user_inputs: &[&str]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(format!("Use at least {MIN_LEN} characters."));
    }
    if chars > MAX_LEN {
        return Err(format!("Use at most {MAX_LEN} characters."));
    }
    if password.contains('\0') {
        return Err("The password cannot contain a NUL character.".to_owned());
    }
    // zxcvbn knows the most common passwords, names, keyboard patterns and the
    // person's own email and name; scores 0 and 1 are guessable in under a
    // million tries.
    let inputs: Vec<&str> = user_inputs
        .iter()
        .copied()
        .filter(|s| !s.is_empty())
        .collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if (estimate.score() as u8) < 2 {
        let hint = estimate
            .feedback()
            .and_then(|feedback| feedback.warning().map(|warning| warning.to_string()))
            .unwrap_or_else(|| "It is too easy to guess.".to_owned());
        return Err(format!(
            "Choose a less common password. {hint} A few unrelated words make a strong one."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_short_passwords_are_refused_with_a_reason() {
        for weak in [
            "password",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
            "Password1",
        ] {
            let err = check_new_password(weak, &[]).unwrap_err();
            assert!(err.contains("less common"), "{weak}: {err}");
        }
        assert!(
            check_new_password("short", &[])
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            check_new_password(&"a".repeat(257), &[])
                .unwrap_err()
                .contains("at most 256")
        );
        assert!(check_new_password("ana.runner@example.org", &["ana.runner@example.org"]).is_err());
    }

    #[test]
    fn long_unusual_passwords_are_accepted_without_composition_rules() {
        check_new_password("correct horse battery staple", &[]).unwrap();
        check_new_password("tempo run along the lake", &[]).unwrap();
        // 256 characters is allowed and nothing is truncated.
        let long: String = "granite-otter-".repeat(19).chars().take(256).collect();
        check_new_password(&long, &[]).unwrap();
    }

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters() {
        let hash = hasher()
            .hash_password(b"correct horse battery staple")
            .unwrap()
            .to_string();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[test]
    fn verification_accepts_the_right_password_only_and_upgrades_old_hashes() {
        let hash = hasher()
            .hash_password(b"tempo run along the lake")
            .unwrap()
            .to_string();
        assert_eq!(
            verify_blocking("tempo run along the lake", Some(&hash)),
            Verified::Yes
        );
        assert_eq!(
            verify_blocking("tempo run along the lak", Some(&hash)),
            Verified::No
        );
        assert_eq!(
            verify_blocking("tempo run along the lake", None),
            Verified::No
        );
        // A hash made with weaker parameters is re-made on success.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"tempo run along the lake")
        .unwrap()
        .to_string();
        match verify_blocking("tempo run along the lake", Some(&weak)) {
            Verified::YesRehashed(new) => {
                assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
