//! Secrets encrypted at rest: OAuth client secrets, webhook verify tokens and
//! athletes' provider tokens (SECURITY.md, "OAuth").
//!
//! * AES-256-GCM with a random 96-bit nonce per value.
//! * Associated data binds each value to its place: the table, the row
//!   (provider, and the user for connections) and the column. A value copied
//!   to another row or column does not decrypt.
//! * A key id is stored beside each ciphertext. Keys come from
//!   `PIERRE_DATA_KEYS` (`id:base64-32-bytes,…`): the first is the current key
//!   and encrypts; the others only decrypt, so a new key can be put in front,
//!   `pierre keys rotate` run, and the old one removed afterwards.
//!
//! # Stored layout
//!
//! A [`Sealed`] value is stored in one `bytea` column ([`Sealed::to_bytes`]):
//!
//! ```text
//! 0x01 | n (1 byte) | key id (n bytes, ASCII) | nonce (12 bytes) | ciphertext ‖ tag (16 bytes)
//! ```
//!
//! The first byte is the layout version. Plaintext is never logged nor shown by
//! `Debug`: it goes in and out as [`SecretString`].

use std::fmt;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretBox, SecretString};
use uuid::Uuid;

/// Bytes of an AES-256 key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a GCM nonce (96 bits).
pub const NONCE_BYTES: usize = 12;
/// Bytes of the GCM tag at the end of a ciphertext.
pub const TAG_BYTES: usize = 16;
/// Longest key id.
pub const MAX_KEY_ID: usize = 32;
/// The layout version, first byte of [`Sealed::to_bytes`].
const LAYOUT_V1: u8 = 1;
/// The key id of the key derived from `PIERRE_SECRET_KEY` in development.
pub const DEV_KEY_ID: &str = "dev";

/// Why a value could not be sealed or opened. Never contains plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The value names a key that is not configured.
    #[error(
        "the value was encrypted with key id {0:?}, which is not in PIERRE_DATA_KEYS; add that key back (after the current one) to decrypt it"
    )]
    UnknownKey(String),
    /// Wrong key, wrong associated data or tampered bytes: GCM refuses.
    #[error("the value cannot be decrypted: wrong key, moved to another row or column, or altered")]
    Authentication,
    /// The stored bytes do not follow the layout.
    #[error("the stored value is not a sealed secret (bad layout)")]
    Malformed,
    /// The decrypted bytes are not UTF-8 text.
    #[error("the decrypted value is not UTF-8 text")]
    NotText,
}

/// One data key: an id and 32 secret bytes.
struct DataKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The configured data keys: the first encrypts, all decrypt. Cheap to clone
/// (the cipher holds only the expanded key).
#[derive(Clone)]
pub struct DataKeys {
    keys: std::sync::Arc<Vec<DataKey>>,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("DataKeys")
            .field("ids", &ids)
            .field("keys", &"[redacted]")
            .finish()
    }
}

/// Whether a key id is acceptable: 1 to 32 of `A-Z a-z 0-9 _ - .`.
#[must_use]
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl DataKeys {
    /// Keys from `(id, 32 bytes)` pairs; the first is the current one.
    ///
    /// # Errors
    /// A message (for the configuration error) when the list is empty, an id
    /// is invalid or repeated, or a key is not 32 bytes.
    pub fn new(keys: Vec<(String, SecretBox<[u8]>)>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("must list at least one key".to_owned());
        }
        let mut out: Vec<DataKey> = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            if !valid_key_id(&id) {
                return Err(format!(
                    "has an invalid key id {id:?}: use 1 to {MAX_KEY_ID} letters, digits, '_', '-' or '.'"
                ));
            }
            if out.iter().any(|k| k.id == id) {
                return Err(format!("lists the key id {id:?} twice"));
            }
            let cipher = Aes256Gcm::new_from_slice(bytes.expose_secret())
                .ok()
                .filter(|_| bytes.expose_secret().len() == KEY_BYTES)
                .ok_or_else(|| {
                    format!(
                        "key {id:?} must decode to exactly {KEY_BYTES} bytes (got {}); generate one with `openssl rand -base64 32`",
                        bytes.expose_secret().len()
                    )
                })?;
            out.push(DataKey { id, cipher });
        }
        Ok(Self {
            keys: std::sync::Arc::new(out),
        })
    }

    /// Parse `id:base64,id:base64,…` (the value of `PIERRE_DATA_KEYS`).
    ///
    /// # Errors
    /// A message naming the bad entry (never its key bytes).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((id, encoded)) = entry.split_once(':') else {
                return Err(
                    "must be a comma-separated list of id:base64-key entries (an entry has no ':')"
                        .to_owned(),
                );
            };
            let id = id.trim();
            let bytes = BASE64
                .decode(encoded.trim().as_bytes())
                .map_err(|_| format!("key {id:?} is not base64 (`openssl rand -base64 32`)"))?;
            keys.push((id.to_owned(), SecretBox::new(bytes.into_boxed_slice())));
        }
        Self::new(keys)
    }

    /// One key (id [`DEV_KEY_ID`]) derived from the session secret with
    /// HKDF-SHA256, for development when `PIERRE_DATA_KEYS` is unset.
    #[must_use]
    pub fn derive_dev(secret: &[u8]) -> Self {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"pierre data keys v1"), secret);
        let mut okm = vec![0_u8; KEY_BYTES];
        // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
        let _ = hk.expand(b"dev", &mut okm);
        let key = SecretBox::new(okm.into_boxed_slice());
        Self::new(vec![(DEV_KEY_ID.to_owned(), key)]).unwrap_or_else(|_| Self {
            keys: std::sync::Arc::new(Vec::new()),
        })
    }

    /// The id of the key that encrypts.
    #[must_use]
    pub fn current_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// Every configured key id, current first.
    #[must_use]
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Encrypt `plaintext` with the current key, bound to `aad`.
    ///
    /// # Errors
    /// Only if no key is configured (cannot happen for parsed keys).
    pub fn seal(&self, plaintext: &SecretString, aad: &Aad) -> Result<Sealed, CryptoError> {
        let key = self
            .keys
            .first()
            .ok_or_else(|| CryptoError::UnknownKey(String::new()))?;
        let mut nonce = [0_u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Authentication)?;
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Decrypt a sealed value with the key it names.
    ///
    /// # Errors
    /// [`CryptoError::UnknownKey`] when that key is not configured,
    /// [`CryptoError::Authentication`] when the key, the associated data or the
    /// bytes do not match.
    pub fn open(&self, sealed: &Sealed, aad: &Aad) -> Result<SecretString, CryptoError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let plain = key
            .cipher
            .decrypt(
                &Nonce::from(sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Authentication)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CryptoError::NotText)
    }

    /// Decrypt stored bytes and, unless already under the current key,
    /// encrypt them again with it. `None` when nothing needs doing.
    ///
    /// # Errors
    /// As [`Sealed::from_bytes`] and [`DataKeys::open`].
    pub fn reseal(&self, stored: &[u8], aad: &Aad) -> Result<Option<Vec<u8>>, CryptoError> {
        let sealed = Sealed::from_bytes(stored)?;
        if sealed.key_id == self.current_id() {
            return Ok(None);
        }
        let plain = self.open(&sealed, aad)?;
        Ok(Some(self.seal(&plain, aad)?.to_bytes()))
    }
}

/// Associated data: where a sealed value belongs. Built only through the
/// constructors, so every call site binds the same fields the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aad(String);

impl Aad {
    /// A column of the `oauth_apps` row of `provider`.
    #[must_use]
    pub fn app(provider: &str, column: &str) -> Self {
        Self(format!("pierre/v1/oauth_apps/{provider}/{column}"))
    }

    /// A column of a user's `provider_connections` row.
    #[must_use]
    pub fn connection(user_id: Uuid, provider: &str, column: &str) -> Self {
        Self(format!(
            "pierre/v1/provider_connections/{user_id}/{provider}/{column}"
        ))
    }

    const fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// An encrypted value with the id of its key and its nonce.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: [u8; NONCE_BYTES],
    /// Ciphertext followed by the 16-byte GCM tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("bytes", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl Sealed {
    /// The stored form (see the module documentation for the layout).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let id = self.key_id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_BYTES + self.ciphertext.len());
        out.push(LAYOUT_V1);
        // Key ids are at most MAX_KEY_ID (32) bytes.
        out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(id);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Read the stored form.
    ///
    /// # Errors
    /// [`CryptoError::Malformed`] when the bytes do not follow the layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let [version, len, rest @ ..] = bytes else {
            return Err(CryptoError::Malformed);
        };
        if *version != LAYOUT_V1 {
            return Err(CryptoError::Malformed);
        }
        let len = usize::from(*len);
        if rest.len() < len + NONCE_BYTES + TAG_BYTES {
            return Err(CryptoError::Malformed);
        }
        let (id, rest) = rest.split_at(len);
        let key_id = std::str::from_utf8(id)
            .ok()
            .filter(|id| valid_key_id(id))
            .ok_or(CryptoError::Malformed)?
            .to_owned();
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self {
            key_id,
            nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        BASE64.encode([byte; KEY_BYTES])
    }

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn round_trip_through_the_stored_layout() {
        let keys = DataKeys::parse(&format!("k1:{}", key(1))).unwrap();
        let aad = Aad::app("strava", "client_secret");
        let sealed = keys.seal(&secret("s3cr3t-value"), &aad).unwrap();
        assert_eq!(sealed.key_id, "k1");
        let bytes = sealed.to_bytes();
        assert!(!bytes.windows(12).any(|w| w == b"s3cr3t-value"));
        let back = Sealed::from_bytes(&bytes).unwrap();
        assert_eq!(back, sealed);
        assert_eq!(
            keys.open(&back, &aad).unwrap().expose_secret(),
            "s3cr3t-value"
        );
        // A fresh nonce each time: the same plaintext seals differently.
        let again = keys.seal(&secret("s3cr3t-value"), &aad).unwrap();
        assert_ne!(again.nonce, sealed.nonce);
        assert_ne!(again.ciphertext, sealed.ciphertext);
    }

    #[test]
    fn wrong_associated_data_fails() {
        let keys = DataKeys::parse(&format!("k1:{}", key(1))).unwrap();
        let user = Uuid::new_v4();
        let sealed = keys
            .seal(
                &secret("token"),
                &Aad::connection(user, "strava", "access_token"),
            )
            .unwrap();
        for aad in [
            Aad::connection(user, "strava", "refresh_token"),
            Aad::connection(user, "garmin", "access_token"),
            Aad::connection(Uuid::new_v4(), "strava", "access_token"),
            Aad::app("strava", "access_token"),
        ] {
            assert_eq!(
                keys.open(&sealed, &aad).unwrap_err(),
                CryptoError::Authentication
            );
        }
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let keys = DataKeys::parse(&format!("k1:{}", key(1))).unwrap();
        let aad = Aad::app("garmin", "client_secret");
        let sealed = keys.seal(&secret("value"), &aad).unwrap();
        let mut bytes = sealed.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = Sealed::from_bytes(&bytes).unwrap();
        assert_eq!(
            keys.open(&tampered, &aad).unwrap_err(),
            CryptoError::Authentication
        );
        let mut nonce_flipped = sealed;
        nonce_flipped.nonce[0] ^= 0x80;
        assert_eq!(
            keys.open(&nonce_flipped, &aad).unwrap_err(),
            CryptoError::Authentication
        );
        assert_eq!(
            Sealed::from_bytes(&bytes[..10]).unwrap_err(),
            CryptoError::Malformed
        );
        assert_eq!(Sealed::from_bytes(&[]).unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn unknown_key_id_fails_clearly() {
        let old = DataKeys::parse(&format!("old:{}", key(1))).unwrap();
        let aad = Aad::app("strava", "client_secret");
        let sealed = old.seal(&secret("value"), &aad).unwrap();
        let new = DataKeys::parse(&format!("new:{}", key(2))).unwrap();
        let err = new.open(&sealed, &aad).unwrap_err();
        assert_eq!(err, CryptoError::UnknownKey("old".to_owned()));
        let message = err.to_string();
        assert!(
            message.contains("\"old\"") && message.contains("PIERRE_DATA_KEYS"),
            "{message}"
        );
    }

    #[test]
    fn rotation_decrypts_with_the_old_key_and_reseals_with_the_new() {
        let old = DataKeys::parse(&format!("2025a:{}", key(1))).unwrap();
        let aad = Aad::app("strava", "webhook_verify_token");
        let stored = old.seal(&secret("verify-me"), &aad).unwrap().to_bytes();
        let both = DataKeys::parse(&format!("2026a:{}, 2025a:{}", key(2), key(1))).unwrap();
        assert_eq!(both.current_id(), "2026a");
        assert_eq!(both.ids(), ["2026a", "2025a"]);
        let sealed = Sealed::from_bytes(&stored).unwrap();
        assert_eq!(
            both.open(&sealed, &aad).unwrap().expose_secret(),
            "verify-me"
        );
        let resealed = both.reseal(&stored, &aad).unwrap().unwrap();
        let resealed = Sealed::from_bytes(&resealed).unwrap();
        assert_eq!(resealed.key_id, "2026a");
        assert_eq!(
            both.open(&resealed, &aad).unwrap().expose_secret(),
            "verify-me"
        );
        // Already current: nothing to do (rotation is idempotent).
        assert_eq!(both.reseal(&resealed.to_bytes(), &aad).unwrap(), None);
        // The new key alone still opens it; the old key alone no longer does.
        let new_only = DataKeys::parse(&format!("2026a:{}", key(2))).unwrap();
        assert!(new_only.open(&resealed, &aad).is_ok());
        assert!(matches!(
            old.open(&resealed, &aad),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn bad_key_lists_are_refused_without_showing_keys() {
        let good = key(3);
        for raw in [
            String::new(),
            "nocolon".to_owned(),
            format!("bad id:{good}"),
            format!("a:{good},a:{good}"),
            "a:c2hvcnQ=".to_owned(),
            "a:not base64!".to_owned(),
        ] {
            let err = DataKeys::parse(&raw).unwrap_err();
            assert!(!err.contains(&good), "{err}");
        }
    }

    #[test]
    fn dev_key_is_derived_deterministically_and_debug_hides_keys() {
        let a = DataKeys::derive_dev(&[9; 32]);
        let b = DataKeys::derive_dev(&[9; 32]);
        assert_eq!(a.current_id(), DEV_KEY_ID);
        let aad = Aad::app("strava", "client_secret");
        let sealed = a.seal(&secret("x"), &aad).unwrap();
        assert_eq!(b.open(&sealed, &aad).unwrap().expose_secret(), "x");
        let other = DataKeys::derive_dev(&[8; 32]);
        assert_eq!(
            other.open(&sealed, &aad).unwrap_err(),
            CryptoError::Authentication
        );
        let shown = format!("{a:?} {sealed:?}");
        assert!(
            shown.contains("redacted") && !shown.contains("ciphertext: ["),
            "{shown}"
        );
    }
}
