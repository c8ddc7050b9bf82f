//! The hash of the stage's map of traces: two keyed multiplies per trace id instead of SipHash, which cost a fifth
//! of the stage's instructions per span under callgrind (about 300 of 1,500).
//!
//! Trace ids are random, but those of remote parents are chosen by whoever sends the request: the key, drawn
//! once per pipeline, keeps crafted ids from piling into one bucket without knowing it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Builds [`IdHasher`]s with this pipeline's key.
#[derive(Clone, Debug)]
pub(super) struct IdHash {
    key: [u64; 2],
}

impl IdHash {
    /// A fresh random key, from the standard library's per-process randomness.
    pub(super) fn new() -> Self {
        let random = RandomState::new();
        IdHash {
            key: [random.hash_one(1u8), random.hash_one(2u8)],
        }
    }
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            multiplier: self.key[1] | 1,
            state: self.key[0],
        }
    }
}

/// Folds each 64-bit word into the state with one widening multiply by the (odd) keyed multiplier.
#[derive(Debug)]
pub(super) struct IdHasher {
    multiplier: u64,
    state: u64,
}

impl IdHasher {
    /// Distinct `state ^ word` give distinct products (the multiplier is odd); the high half, folded into the low
    /// one, carries the word's high bits down.
    fn mix(&mut self, word: u64) {
        self.state = fold(self.state ^ word, self.multiplier);
    }
}

/// The low and high halves of `a * b`, folded.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Hasher for IdHasher {
    /// `TraceId` hashes as one `u128`.
    fn write_u128(&mut self, value: u128) {
        self.mix(value as u64);
        self.mix((value >> 64) as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    /// One multiply more: after one, ids that differ in high bits only (`i << 100`) differ in the low bits of
    /// the state by `i` times a few bits of the multiplier, which for one key in seven spread them over fewer than
    /// half of 1,024 buckets; the second one brings every bit of the state to the bucket index.
    fn finish(&self) -> u64 {
        fold(self.state, self.multiplier.rotate_left(32) | 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceId;

    #[test]
    fn ids_spread_over_the_buckets_and_keys_differ() {
        let hash = IdHash::new();
        // Ids that differ in one high byte only, as crafted ones might: their low bits must still spread.
        let buckets: std::collections::HashSet<u64> = (0..1024u128)
            .map(|i| hash.hash_one(TraceId::from(i << 100)) & 1023)
            .collect();
        assert!(buckets.len() > 500, "{} buckets of 1024", buckets.len());
        // Ids one bit apart in the low word get different hashes.
        let pairs = (0..1024u128)
            .filter(|i| {
                hash.hash_one(TraceId::from(i << 1)) == hash.hash_one(TraceId::from(i << 1 | 1))
            })
            .count();
        assert_eq!(pairs, 0);
        assert_ne!(
            hash.hash_one(TraceId::from(7u128)),
            IdHash::new().hash_one(TraceId::from(7u128))
        );
    }
}
