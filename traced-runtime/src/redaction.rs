//! Redaction of secrets before export, and a keyed digest for values that must be correlated but not read.
//!
//! The batch processor replaces the value of every span, event and link attribute whose key contains one of
//! the redacted words ([`DEFAULT_KEYS`] plus `TRACED_REDACT_KEYS`) with [`REDACTED`], on the export thread, so
//! the application pays nothing for it. Keys match case-insensitively, anywhere in the key, with `-` and `_`
//! alike: `password`, `db.password`, `http.request.header.authorization` and `http.request.header.x-api-key`
//! are all redacted. Turn it off with `TRACED_REDACTION=off`, [`ConfigBuilder::without_redaction`] or
//! `redaction: {enabled: false}`.
//!
//! For values such as user ids, which must stay correlatable across spans without being readable, record
//! [`hash`]`(value)` instead of the value.
//!
//! [`ConfigBuilder::without_redaction`]: crate::config::ConfigBuilder::without_redaction

use std::sync::OnceLock;

use opentelemetry::{Key, KeyValue, Value};

/// The words whose attributes are redacted by default.
pub const DEFAULT_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "set-cookie",
    "session",
];

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// The environment variable keying [`hash`]: services that share it produce the same digests.
pub const TRACED_REDACT_SALT: &str = "TRACED_REDACT_SALT";

/// The compiled key list of the processor.
#[derive(Clone, Debug)]
pub(crate) struct Redactor {
    /// Lowercase, `-` as `_`.
    words: Vec<Vec<u8>>,
    /// The (folded) bytes some word starts with: most positions of a key start none, and are skipped at the
    /// cost of one lookup instead of a comparison per word.
    starts: [bool; 256],
    /// What [`Redactor::matches`] said of recent keys, by the address of their text: spans repeat the same few
    /// dozen keys, mostly `&'static str`, and even a fast search costs more than this lookup (a hash map's
    /// hashing alone cost half as much as the naive search). Direct-mapped, so its size is fixed; the text is
    /// compared too, so a reused address never gives another key's verdict.
    verdicts: Box<[Option<(usize, Key, bool)>]>,
}

/// Slots of [`Redactor::verdicts`].
const VERDICT_SLOTS: usize = 256;

impl Redactor {
    /// The redactor for the default words plus `extra`.
    pub(crate) fn new(extra: &[String]) -> Redactor {
        let mut words: Vec<Vec<u8>> = DEFAULT_KEYS
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .map(|w| w.trim().bytes().map(fold).collect::<Vec<u8>>())
            .filter(|w| !w.is_empty())
            .collect();
        words.sort();
        words.dedup();
        let mut starts = [false; 256];
        for word in &words {
            starts[usize::from(word[0])] = true;
        }
        Redactor {
            words,
            starts,
            verdicts: vec![None; VERDICT_SLOTS].into_boxed_slice(),
        }
    }

    /// True when `key` contains one of the words.
    pub(crate) fn matches(&self, key: &str) -> bool {
        let key = key.as_bytes();
        (0..key.len()).any(|at| {
            self.starts[usize::from(fold(key[at]))]
                && self.words.iter().any(|word| {
                    key[at..].len() >= word.len()
                        && key[at..].iter().zip(word).all(|(&k, &w)| fold(k) == w)
                })
        })
    }

    /// Replaces the values of the matching attributes.
    pub(crate) fn redact(&mut self, attributes: &mut [KeyValue]) {
        for kv in attributes {
            let text = kv.key.as_str();
            let address = text.as_ptr() as usize;
            let slot = ((address >> 3) ^ text.len().wrapping_mul(31)) % VERDICT_SLOTS;
            let secret = match &self.verdicts[slot] {
                Some((at, key, secret)) if *at == address && key.as_str() == text => *secret,
                _ => {
                    let secret = self.matches(text);
                    self.verdicts[slot] = Some((address, kv.key.clone(), secret));
                    secret
                }
            };
            if secret {
                kv.value = Value::from(REDACTED);
            }
        }
    }
}

/// ASCII lowercase, `-` as `_`: `Set-Cookie` matches `set_cookie`, `X-Api-Key` matches `api_key`.
fn fold(byte: u8) -> u8 {
    match byte {
        b'-' => b'_',
        other => other.to_ascii_lowercase(),
    }
}

/// A stable, non-reversible digest of `value`: the first 16 bytes of HMAC-SHA-256, in hex (32 characters).
///
/// Keyed by `TRACED_REDACT_SALT` when set (read once), so that the services sharing the salt produce the same
/// digest for the same value and a user can be followed across them; otherwise by a random per-process key, so
/// digests correlate within one run only. A key is what makes the digest safe for small value spaces (ids,
/// emails, phone numbers): without it, anyone could hash every candidate and compare.
///
/// ```
/// let a = traced_runtime::redact::hash("user-42");
/// assert_eq!(a, traced_runtime::redact::hash("user-42"));
/// assert_ne!(a, traced_runtime::redact::hash("user-43"));
/// assert_eq!(a.len(), 32);
/// ```
pub fn hash(value: &str) -> String {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    let key = KEY.get_or_init(|| match std::env::var(TRACED_REDACT_SALT) {
        Ok(salt) if !salt.is_empty() => salt.into_bytes(),
        _ => random_key(),
    });
    hash_with(key, value)
}

/// [`hash`] with an explicit key.
pub fn hash_with(key: &[u8], value: &str) -> String {
    hmac_sha256(key, value.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 32 random bytes from the standard library's randomly keyed hashers (no RNG dependency for one key).
fn random_key() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    (0..4u64)
        .flat_map(|i| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(i);
            hasher.finish().to_le_bytes()
        })
        .collect()
}

/// HMAC (RFC 2104) over SHA-256.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Vec::with_capacity(64 + message.len());
    inner.extend(block.iter().map(|b| b ^ 0x36));
    inner.extend_from_slice(message);
    let mut outer = Vec::with_capacity(96);
    outer.extend(block.iter().map(|b| b ^ 0x5c));
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

/// SHA-256 (FIPS 180-4). Ours: sixty lines against a dependency, for digests of short ids.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut padded = data.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for chunk in padded.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(h) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_matches_the_fips_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn keys_match_anywhere_case_insensitively() {
        let redactor = Redactor::new(&["ssn".to_owned()]);
        for key in [
            "password",
            "db.Password",
            "http.request.header.authorization",
            "http.request.header.x-api-key",
            "http.response.header.set-cookie",
            "user.session_id",
            "ACCESS_TOKEN",
            "customer.ssn",
        ] {
            assert!(redactor.matches(key), "{key}");
        }
        for key in ["user.id", "http.route", "pass", ""] {
            assert!(!redactor.matches(key), "{key}");
        }
    }

    #[test]
    fn values_are_replaced_whatever_their_type() {
        let mut redactor = Redactor::new(&[]);
        // Twice: the second pass answers from the remembered verdicts.
        for _ in 0..2 {
            let mut attributes = vec![
                KeyValue::new("token", 42),
                KeyValue::new("user", "ann"),
                KeyValue::new("password", "hunter2"),
            ];
            redactor.redact(&mut attributes);
            assert_eq!(attributes[0].value, Value::from(REDACTED));
            assert_eq!(attributes[1].value, Value::from("ann"));
            assert_eq!(attributes[2].value, Value::from(REDACTED));
        }
        assert_eq!(redactor.verdicts.iter().flatten().count(), 3);
    }

    #[test]
    fn a_reused_address_is_judged_by_its_text() {
        let mut redactor = Redactor::new(&[]);
        // Keys of the same length made and dropped in turn: the allocator hands out the same address again,
        // and the verdict must follow the text, not the address.
        for i in 0..20 {
            let text = if i % 2 == 0 { "tokens" } else { "kitten" };
            let mut attributes = vec![KeyValue::new(text.to_owned(), 1)];
            redactor.redact(&mut attributes);
            let redacted = attributes[0].value == Value::from(REDACTED);
            assert_eq!(redacted, i % 2 == 0, "{text}");
        }
    }

    #[test]
    fn digests_depend_on_the_key() {
        assert_eq!(hash_with(b"k", "u"), hash_with(b"k", "u"));
        assert_ne!(hash_with(b"k", "u"), hash_with(b"other", "u"));
        assert_eq!(hash_with(b"k", "u").len(), 32);
    }
}
