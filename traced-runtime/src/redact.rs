//! Redaction of secrets before export, and a keyed digest for values that must be correlated but not read.
//!
//! The pipeline redacts every batch on the export thread, after the spans ended, so the application pays nothing
//! for it:
//!
//! - **By key**: the value of every span, event, link and resource attribute whose key contains one of the
//!   redacted words ([`DEFAULT_KEYS`] plus `TRACED_REDACT_KEYS`) becomes [`REDACTED`]. Keys match
//!   case-insensitively, anywhere in the key, `-` and `_` ignored: `password`, `db.Password`,
//!   `http.request.header.x-api-key`, `privateKey` and `card-number` are all redacted. Words of three letters or
//!   fewer (`ssn`, `cvv`) match only as a whole part of the key (`customer.ssn`, `userSsn`, not `classname`).
//! - **Query strings** of `url.full` and `url.query` (and the older `http.url`, `http.target`): the value of a
//!   parameter whose name is secret by the same rule, or one the semantic conventions name (`sig`, `Signature`,
//!   `X-Goog-Signature`, `AWSAccessKeyId`), becomes `REDACTED`, as do the user and password of a URL.
//! - **Free text**: in error messages (`exception.message`, `exception.stacktrace`, `error`, `*.chain`), event
//!   names (a log message's text), the span's status description, and log bodies: the value of a `key=value`,
//!   `key: value` or `"key": "value"` pair whose key is secret becomes [`REDACTED`]. After `=` the value is one
//!   word; after `:` an unquoted value runs to the end of the line, so `Authorization: Bearer …` and
//!   `Cookie: a=1; b=2` are hidden whole.
//!
//! Turn it off with `TRACED_REDACTION=off`, [`ConfigBuilder::without_redaction`] or `redaction: {enabled:
//! false}`. The configuration's own errors and warnings never quote a header value, the credentials of a URL,
//! or the value of a secret resource attribute, redaction on or off.
//!
//! For values such as user ids, which must stay correlatable across spans without being readable, record
//! [`hash`]`(value)` instead of the value.
//!
//! [`ConfigBuilder::without_redaction`]: crate::config::ConfigBuilder::without_redaction

use std::ops::Range;
use std::sync::OnceLock;

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

mod text;

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
    "private_key",
    "credit_card",
    "card_number",
    "ssn",
    "cvv",
];

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// What a redacted part of a URL becomes: the semantic conventions' spelling.
pub const URL_REDACTED: &str = "REDACTED";

/// The environment variable keying [`hash`]: services that share it produce the same digests.
pub const TRACED_REDACT_SALT: &str = "TRACED_REDACT_SALT";

/// Attributes holding a whole URL: credentials and secret query parameters are redacted.
const URL_KEYS: &[&str] = &["url.full", "http.url"];
/// Attributes holding a query string (or a path with one).
const QUERY_KEYS: &[&str] = &["url.query", "http.target"];
/// Attributes holding free text: error messages and chains. (`*.chain` too: what a `dyn Error` field records.)
const TEXT_KEYS: &[&str] = &[
    "exception.message",
    "exception.stacktrace",
    "error",
    "error.message",
    "message",
];

/// What the redactor does with an attribute, by its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing: an ordinary key.
    Keep,
    /// The whole value is a secret.
    Secret,
    /// A URL: credentials and secret query parameters.
    Url,
    /// A query string.
    Query,
    /// Free text: secret `key=value` pairs.
    Text,
}

/// The compiled key list of a pipeline, shared by every signal: [`Redactor::redact`] for attributes,
/// [`Redactor::redact_text`] for free text (names, descriptions, log bodies).
#[derive(Clone, Debug)]
pub(crate) struct Redactor {
    /// Words longer than [`SHORT`], lowercase, without `-` and `_`.
    words: Vec<Vec<u8>>,
    /// Words of at most [`SHORT`] letters, lowercase: matched as a whole part of a key only.
    short: Vec<Vec<u8>>,
    /// For each (lowercase) byte, the range of `words` and of `short` (both sorted) that start with it: most
    /// positions of a key start no word and cost one lookup, the others are compared with those words only.
    /// (Release build, default words, a loaded 2-core machine: `matches("http.request.method")` 202 ns when a
    /// hit compared with every word, 103 ns so; `matches("page")` 45 ns, 27 ns.) No limit on the word count.
    starts: Box<[(Range<usize>, Range<usize>); 256]>,
    /// What [`Redactor::verdict`] said of recent keys, by the address of their text: spans repeat the same few
    /// dozen keys, mostly `&'static str`, and even a fast search costs more than this lookup (a hash map's
    /// hashing alone cost half as much as the naive search). A fixed table, probed a few slots from the key's
    /// own: direct-mapped, two keys of the server span shared a slot and evicted each other in every span
    /// (two searches a request, a quarter of the redaction's cost). The text is compared too, so a reused
    /// address never gives another key's verdict.
    verdicts: Box<[Option<(usize, Key, Verdict)>]>,
    /// Verdicts searched for, for tests.
    #[cfg(test)]
    judged: usize,
}

/// The range of the sorted `words` that start with `byte`.
fn starting_with(words: &[Vec<u8>], byte: usize) -> Range<usize> {
    words.partition_point(|w| usize::from(w[0]) < byte)
        ..words.partition_point(|w| usize::from(w[0]) <= byte)
}

/// Slots of [`Redactor::verdicts`], as a power of two.
const VERDICT_BITS: u32 = 9;
const VERDICT_SLOTS: usize = 1 << VERDICT_BITS;
/// Slots looked at from a key's own before its verdict is searched for again (and replaces the last one).
const VERDICT_PROBES: usize = 8;

/// Words this short match only as a whole part of a key: `ssn` in `customer.ssn`, not in `classname`.
const SHORT: usize = 3;

impl Redactor {
    /// The redactor for the default words plus `extra`.
    pub(crate) fn new(extra: &[String]) -> Redactor {
        let mut words: Vec<Vec<u8>> = DEFAULT_KEYS
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .map(|w| {
                w.trim()
                    .bytes()
                    .filter(|b| !is_separator(*b))
                    .map(|b| b.to_ascii_lowercase())
                    .collect::<Vec<u8>>()
            })
            .filter(|w| !w.is_empty())
            .collect();
        words.sort();
        words.dedup();
        let (short, words): (Vec<_>, Vec<_>) = words.into_iter().partition(|w| w.len() <= SHORT);
        let starts = Box::new(std::array::from_fn(|byte| {
            (starting_with(&words, byte), starting_with(&short, byte))
        }));
        Redactor {
            words,
            short,
            starts,
            verdicts: vec![None; VERDICT_SLOTS].into_boxed_slice(),
            #[cfg(test)]
            judged: 0,
        }
    }

    /// True when `key` names a secret: it contains one of the words (see the [module docs](self)).
    pub(crate) fn matches(&self, key: &str) -> bool {
        let key = key.as_bytes();
        (0..key.len()).any(|at| {
            let (long, short) = &self.starts[usize::from(key[at].to_ascii_lowercase())];
            self.words[long.clone()]
                .iter()
                .any(|word| contains_at(key, at, word))
                || self.short[short.clone()]
                    .iter()
                    .any(|word| part_at(key, at, word))
        })
    }

    /// Redacts attributes in place: secret keys' values, then URLs, query strings and free text by their key.
    pub(crate) fn redact(&mut self, attributes: &mut [KeyValue]) {
        for kv in attributes {
            match self.verdict(&kv.key) {
                Verdict::Keep => {}
                Verdict::Secret => kv.value = Value::from(REDACTED),
                Verdict::Url => rewrite(&mut kv.value, |url| text::url(self, url)),
                Verdict::Query => rewrite(&mut kv.value, |query| text::query(self, query)),
                Verdict::Text => rewrite(&mut kv.value, |text| self.redact_text(text)),
            }
        }
    }

    /// True when [`Redactor::redact`] leaves the values of `key` as they are.
    pub(crate) fn keeps(&mut self, key: &Key) -> bool {
        matches!(self.verdict(key), Verdict::Keep)
    }

    /// Free text with the values of its secret `key=value` and `key: value` pairs redacted; `None` when there
    /// are none (the common case costs one pass over the bytes, no allocation).
    pub(crate) fn redact_text(&self, text: &str) -> Option<String> {
        text::free_text(self, text)
    }

    /// What to do with `key`'s values, remembered by the address of its text. Inlined into the per-attribute
    /// loop of [`Redactor::redact`], as it was before [`Redactor::keeps`] became its second caller.
    #[inline(always)]
    fn verdict(&mut self, key: &Key) -> Verdict {
        let text = key.as_str();
        let address = text.as_ptr() as usize;
        // Fibonacci hashing: the `&'static str`s of one crate sit a few bytes apart, and their slots must not.
        let home = ((address as u64 ^ text.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (u64::BITS - VERDICT_BITS)) as usize;
        // Ends on the first empty slot, or on the last one probed, which the new verdict replaces.
        let mut slot = home;
        for probe in 0..VERDICT_PROBES {
            slot = (home + probe) % VERDICT_SLOTS;
            match &self.verdicts[slot] {
                // The same text the table keeps alive (a `&'static str`, a shared `Arc<str>`): no byte compare.
                Some((at, known, verdict))
                    if *at == address
                        && (std::ptr::eq(known.as_str(), text) || known.as_str() == text) =>
                {
                    return *verdict
                }
                Some(_) => {}
                None => break,
            }
        }
        let verdict = self.judge(text);
        #[cfg(test)]
        {
            self.judged += 1;
        }
        self.verdicts[slot] = Some((address, key.clone(), verdict));
        verdict
    }

    fn judge(&self, key: &str) -> Verdict {
        if self.matches(key) {
            Verdict::Secret
        } else if URL_KEYS.contains(&key) {
            Verdict::Url
        } else if QUERY_KEYS.contains(&key) {
            Verdict::Query
        } else if TEXT_KEYS.contains(&key) || key.ends_with(".chain") {
            Verdict::Text
        } else {
            Verdict::Keep
        }
    }
}

/// The redactor of the default words, for the configuration's own messages.
fn default_redactor() -> &'static Redactor {
    static DEFAULT: OnceLock<Redactor> = OnceLock::new();
    DEFAULT.get_or_init(|| Redactor::new(&[]))
}

/// `url` as an error or log line may show it: without credentials nor secret query parameters.
pub(crate) fn url(url: &str) -> String {
    text::url(default_redactor(), url).unwrap_or_else(|| url.to_owned())
}

/// A `k=v,k2=v2` list (`OTEL_RESOURCE_ATTRIBUTES`) as an error may show it: the values of secret keys hidden.
pub(crate) fn key_value_list(list: &str) -> String {
    let redactor = default_redactor();
    list.split(',')
        .map(|member| match member.split_once('=') {
            Some((key, _)) if redactor.matches(key) => format!("{key}={REDACTED}"),
            _ => member.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Replaces a string value (or the strings of an array) by what `redact` makes of it, when it changes it.
fn rewrite(value: &mut Value, redact: impl Fn(&str) -> Option<String>) {
    match value {
        Value::String(s) => {
            if let Some(redacted) = redact(s.as_str()) {
                *s = StringValue::from(redacted);
            }
        }
        Value::Array(Array::String(items)) => {
            for s in items.iter_mut() {
                if let Some(redacted) = redact(s.as_str()) {
                    *s = StringValue::from(redacted);
                }
            }
        }
        _ => {}
    }
}

/// `-` and `_` are ignored in keys and words: `X-Api-Key`, `api_key` and `apikey` are one key.
fn is_separator(byte: u8) -> bool {
    matches!(byte, b'-' | b'_')
}

/// Whether `word` (lowercase, no separators) starts at `key[at]`, separators in the key skipped.
fn contains_at(key: &[u8], at: usize, word: &[u8]) -> bool {
    let mut k = at;
    for &letter in word {
        loop {
            let Some(&byte) = key.get(k) else {
                return false;
            };
            k += 1;
            if !is_separator(byte) {
                if byte.to_ascii_lowercase() != letter {
                    return false;
                }
                break;
            }
        }
    }
    true
}

/// Whether the short `word` is the whole part of `key` that starts at `at`: bounded by the ends, by characters
/// other than letters and digits, or by a lowercase-to-uppercase step (`userSsn`).
fn part_at(key: &[u8], at: usize, word: &[u8]) -> bool {
    let end = at + word.len();
    end <= key.len()
        && key[at..end]
            .iter()
            .zip(word)
            .all(|(k, w)| k.to_ascii_lowercase() == *w)
        && (at == 0 || is_boundary(key[at - 1], key[at]))
        && (end == key.len() || is_boundary(key[end - 1], key[end]))
}

fn is_boundary(before: u8, after: u8) -> bool {
    !before.is_ascii_alphanumeric()
        || !after.is_ascii_alphanumeric()
        || (before.is_ascii_lowercase() && after.is_ascii_uppercase())
}

/// A stable, non-reversible digest of `value`: the first 16 bytes of HMAC-SHA-256, in hex (32 characters).
///
/// Keyed by `TRACED_REDACT_SALT` when set (read once), so that the services sharing the salt produce the same
/// digest for the same value and a user can be followed across them; otherwise by a random per-process key, so
/// digests correlate within one run only. A key is what makes the digest safe for small value spaces (ids,
/// emails, phone numbers): without it, anyone could hash every candidate and compare.
///
/// ```
/// let a = traced::redact::hash("user-42");
/// assert_eq!(a, traced::redact::hash("user-42"));
/// assert_ne!(a, traced::redact::hash("user-43"));
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

    #[test]
    fn a_pipelines_keys_are_judged_once() {
        let mut redactor = Redactor::new(&[]);
        // Keys 2 KiB apart, as the `&'static str`s of a binary can be: a table indexed by the address's low bits
        // puts them all in one slot.
        const STRIDE: usize = 2048;
        let text: &'static str = Box::leak(
            (0..64)
                .map(|i| format!("{:<STRIDE$}", format!("attribute.{i:03}")))
                .collect::<String>()
                .into_boxed_str(),
        );
        let keys: Vec<Key> = (0..64)
            .map(|i| Key::from_static_str(&text[i * STRIDE..i * STRIDE + 13]))
            .collect();
        let mut attributes: Vec<KeyValue> = keys
            .iter()
            .map(|key| KeyValue::new(key.clone(), "v"))
            .chain([KeyValue::new("api_key", "secret")])
            .collect();
        redactor.redact(&mut attributes);
        assert_eq!(redactor.judged, 65);
        for _ in 0..3 {
            redactor.redact(&mut attributes);
        }
        assert_eq!(redactor.judged, 65, "every verdict came from the table");
        assert_eq!(attributes[64].value.as_str(), REDACTED);
        assert_eq!(attributes[0].value.as_str(), "v");
    }

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
    fn the_default_words_cover_keys_and_cards() {
        let redactor = Redactor::new(&[]);
        for key in [
            "tls.private_key",
            "privateKey",
            "payment.credit-card",
            "card_number",
            "cardNumber",
            "customer.ssn",
            "user_ssn",
            "userSsn",
            "SSN",
            "card.cvv",
            "x-apikey",
            "db.password",
            "auth.token",
        ] {
            assert!(redactor.matches(key), "{key}");
        }
        // Short words only as a whole part of the key.
        for key in ["code.classname", "lessons", "cvvx", "classNameSsnx"] {
            assert!(!redactor.matches(key), "{key}");
        }
    }

    #[test]
    fn every_configured_word_counts_however_many() {
        // 300 words that sort before every default word: none of them, nor of the defaults, is dropped.
        let extra: Vec<String> = (0..300).map(|i| format!("aa{i:03}")).collect();
        let redactor = Redactor::new(&extra);
        for key in [
            "x.aa000",
            "x.aa254",
            "x.aa255",
            "x.AA299",
            "password",
            "auth.token",
            "user.ssn",
        ] {
            assert!(redactor.matches(key), "{key}");
        }
        assert!(!redactor.matches("x.aa300"));
    }

    #[test]
    fn words_starting_with_any_byte_match() {
        // Non-ASCII first bytes, and words sharing a first byte with others (`p`: passwd, password, privatekey).
        let redactor = Redactor::new(&["ключ".to_owned(), "pin".to_owned(), "émail".to_owned()]);
        for key in [
            "api.ключ",
            "user.pin",
            "user.émail",
            "PASSWD",
            "x.privateKey",
            "db.password",
        ] {
            assert!(redactor.matches(key), "{key}");
        }
        for key in ["api.клю", "spinner", "email", "page"] {
            assert!(!redactor.matches(key), "{key}");
        }
    }

    #[test]
    fn attributes_are_redacted_by_what_their_key_holds() {
        let mut redactor = Redactor::new(&[]);
        let mut attributes = vec![
            KeyValue::new("url.query", "q=shoes&api_key=k-1"),
            KeyValue::new("url.full", "https://u:p-1@shop/s?token=t-1"),
            KeyValue::new("exception.message", "login failed for password=h-1"),
            KeyValue::new(
                "error.chain",
                Value::Array(Array::String(vec!["inner secret: s-1".into()])),
            ),
            KeyValue::new("http.route", "/s?token=kept"),
        ];
        redactor.redact(&mut attributes);
        let text = format!("{attributes:?}");
        for secret in ["k-1", "p-1", "t-1", "h-1", "s-1"] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert_eq!(attributes[0].value.as_str(), "q=shoes&api_key=REDACTED");
        assert_eq!(
            attributes[1].value.as_str(),
            "https://REDACTED:REDACTED@shop/s?token=REDACTED"
        );
        assert_eq!(
            attributes[2].value.as_str(),
            "login failed for password=[REDACTED]"
        );
        assert_eq!(
            attributes[4].value.as_str(),
            "/s?token=kept",
            "not a URL attribute"
        );
    }

    #[test]
    fn configuration_messages_hide_secrets() {
        assert_eq!(
            url("https://me:pw@c:4318/x?api_key=k&a=1"),
            "https://REDACTED:REDACTED@c:4318/x?api_key=REDACTED&a=1"
        );
        assert_eq!(url("http://c:4318"), "http://c:4318");
        assert_eq!(
            key_value_list("team=a,db.password=hunter2,broken"),
            "team=a,db.password=[REDACTED],broken"
        );
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
        // Remembered (two keys may share a slot: it is direct-mapped by address).
        assert!(redactor.verdicts.iter().flatten().count() >= 2);
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
