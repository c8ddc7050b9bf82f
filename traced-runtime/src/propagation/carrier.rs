//! Carrier adapters: maps and lists of string pairs, and (feature `http`) `http::HeaderMap`.
//!
//! Keys are matched case-insensitively on extract, as HTTP header names are, so a message whose headers were
//! written as `Traceparent` or `X-B3-TraceId` is still understood. On inject, an existing key that differs only
//! in case is replaced rather than duplicated.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use opentelemetry::propagation::{Extractor, Injector};

/// Reads propagation fields from `HashMap<String, String>`, `BTreeMap<String, String>`,
/// `Vec<(String, String)>` or `[(String, String)]`, matching keys case-insensitively.
///
/// ```
/// use opentelemetry::propagation::Extractor;
/// use traced::propagation::MapExtractor;
///
/// let headers = vec![("TraceState".to_owned(), "a=1".to_owned()), ("tracestate".to_owned(), "b=2".to_owned())];
/// assert_eq!(MapExtractor(&headers).get("tracestate"), Some("a=1"));
/// assert_eq!(MapExtractor(&headers).get_all("tracestate"), Some(vec!["a=1", "b=2"]));
/// ```
#[derive(Debug)]
pub struct MapExtractor<'a, M: ?Sized>(pub &'a M);

/// Writes propagation fields into `HashMap<String, String>`, `BTreeMap<String, String>` or
/// `Vec<(String, String)>`, replacing entries whose key differs only in case.
///
/// ```
/// use opentelemetry::propagation::Injector;
/// use traced::propagation::MapInjector;
///
/// let mut headers = vec![("Baggage".to_owned(), "old=1".to_owned())];
/// MapInjector(&mut headers).set("baggage", "new=2".to_owned());
/// assert_eq!(headers, [("baggage".to_owned(), "new=2".to_owned())]);
/// ```
#[derive(Debug)]
pub struct MapInjector<'a, M: ?Sized>(pub &'a mut M);

/// Values of all pairs whose key equals `key` ignoring ASCII case, in iteration order.
fn matching<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>, key: &str) -> Vec<&'a str> {
    pairs
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn non_empty(values: Vec<&str>) -> Option<Vec<&str>> {
    (!values.is_empty()).then_some(values)
}

impl<S: BuildHasher> Extractor for MapExtractor<'_, HashMap<String, String, S>> {
    fn get(&self, key: &str) -> Option<&str> {
        // The exact key is the common case and costs one lookup.
        if let Some(value) = self.0.get(key) {
            return Some(value.as_str());
        }
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        // Sort by key so the order of values is the same on every run; a hash map has none of its own.
        let mut pairs: Vec<_> = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .collect();
        pairs.sort();
        non_empty(pairs.into_iter().map(|(_, v)| v.as_str()).collect())
    }
}

impl Extractor for MapExtractor<'_, BTreeMap<String, String>> {
    fn get(&self, key: &str) -> Option<&str> {
        if let Some(value) = self.0.get(key) {
            return Some(value.as_str());
        }
        matching(self.0.iter(), key).into_iter().next()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        non_empty(matching(self.0.iter(), key))
    }
}

impl Extractor for MapExtractor<'_, [(String, String)]> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        non_empty(matching(self.0.iter().map(|(k, v)| (k, v)), key))
    }
}

impl Extractor for MapExtractor<'_, Vec<(String, String)>> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        non_empty(matching(self.0.iter().map(|(k, v)| (k, v)), key))
    }
}

impl<S: BuildHasher> Injector for MapInjector<'_, HashMap<String, String, S>> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|k, _| !k.eq_ignore_ascii_case(key));
        self.0.insert(key.to_owned(), value);
    }
}

impl Injector for MapInjector<'_, BTreeMap<String, String>> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|k, _| !k.eq_ignore_ascii_case(key));
        self.0.insert(key.to_owned(), value);
    }
}

impl Injector for MapInjector<'_, Vec<(String, String)>> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        self.0.push((key.to_owned(), value));
    }
}

#[cfg(feature = "http")]
pub use self::http_carrier::{HeaderExtractor, HeaderInjector};

#[cfg(feature = "http")]
mod http_carrier {
    use http::header::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry::propagation::{Extractor, Injector};

    use crate::propagation::known_header_name;

    /// `key` as a header name: a [known](known_header_name) one without parsing, parsed otherwise (`None` when it
    /// is not a valid name).
    fn name(key: &str) -> Option<HeaderName> {
        known_header_name(key).or_else(|| HeaderName::from_bytes(key.as_bytes()).ok())
    }

    /// Reads propagation fields from an [`http::HeaderMap`]. Values that are not visible ASCII are skipped.
    #[derive(Debug)]
    pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

    /// Writes propagation fields into an [`http::HeaderMap`], replacing existing values. A name or value that
    /// is not valid in HTTP is skipped, never a panic.
    #[derive(Debug)]
    pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

    /// [`HeaderValue::to_str`], through std: a `HeaderValue` holds no control byte but tab and no DEL (its
    /// constructors that skip the check are `unsafe`), so it is visible ASCII exactly when it is ASCII, which is
    /// UTF-8 whose every char is one byte. `to_str`'s byte loop is compiled at the caller's optimisation level: in
    /// a debug build it took about 370 µs for an 80 KB header, a quarter of the whole request through
    /// `TraceLayer`; `from_utf8` and `chars().count()` run std's own optimised code, about 5 µs (`is_ascii` is
    /// inlined into the caller, as slow as `to_str`).
    fn text(value: &HeaderValue) -> Option<&str> {
        let text = std::str::from_utf8(value.as_bytes()).ok()?;
        (text.chars().count() == text.len()).then_some(text)
    }

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get_all(name(key)?).iter().find_map(text)
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(HeaderName::as_str).collect()
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            let values: Vec<&str> = self.0.get_all(name(key)?).iter().filter_map(text).collect();
            (!values.is_empty()).then_some(values)
        }
    }

    impl Injector for HeaderInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            // The value's bytes are moved, not copied.
            let (Some(name), Ok(value)) = (name(key), HeaderValue::try_from(value)) else {
                return;
            };
            self.0.insert(name, value);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn header_map_round_trip_and_invalid_values() {
            let mut headers = HeaderMap::new();
            let mut injector = HeaderInjector(&mut headers);
            injector.set("traceparent", "00-abc".to_owned());
            injector.set("bad name", "x".to_owned());
            injector.set("bad-value", "line\nbreak".to_owned());
            injector.set("Tracestate", "a=1".to_owned());
            assert_eq!(headers.len(), 2);

            headers.append("tracestate", HeaderValue::from_static("b=2"));
            headers.append("tracestate", HeaderValue::from_bytes(b"\xff").unwrap());
            let extractor = HeaderExtractor(&headers);
            assert_eq!(extractor.get("TRACEPARENT"), Some("00-abc"));
            assert_eq!(extractor.get_all("tracestate"), Some(vec!["a=1", "b=2"]));
            assert_eq!(extractor.get("bad name"), None);
            assert_eq!(extractor.get("missing"), None);
            let mut keys = extractor.keys();
            keys.sort();
            assert_eq!(keys, ["traceparent", "tracestate"]);

            // A header whose only value is not text reads as absent.
            let mut headers = HeaderMap::new();
            headers.insert("baggage", HeaderValue::from_bytes(b"k=\xe9").unwrap());
            assert_eq!(HeaderExtractor(&headers).get("baggage"), None);
            assert_eq!(HeaderExtractor(&headers).get_all("baggage"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn extract_is_case_insensitive_for_every_map() {
        let list = pairs(&[
            ("TraceParent", "tp"),
            ("tracestate", "a=1"),
            ("TRACESTATE", "b=2"),
        ]);
        let hash: HashMap<String, String> = list.iter().cloned().collect();
        let btree: BTreeMap<String, String> = list.iter().cloned().collect();

        assert_eq!(MapExtractor(&list).get("traceparent"), Some("tp"));
        assert_eq!(MapExtractor(list.as_slice()).get("TRACEPARENT"), Some("tp"));
        assert_eq!(MapExtractor(&hash).get("traceparent"), Some("tp"));
        assert_eq!(MapExtractor(&btree).get("traceparent"), Some("tp"));

        assert_eq!(
            MapExtractor(&list).get_all("tracestate"),
            Some(vec!["a=1", "b=2"])
        );
        // Map orders are by key: "TRACESTATE" sorts before "tracestate".
        assert_eq!(
            MapExtractor(&hash).get_all("tracestate"),
            Some(vec!["b=2", "a=1"])
        );
        assert_eq!(
            MapExtractor(&btree).get_all("tracestate"),
            Some(vec!["b=2", "a=1"])
        );
        assert_eq!(MapExtractor(&hash).get_all("baggage"), None);
        assert_eq!(MapExtractor(&list).get("baggage"), None);

        let extractor = MapExtractor(&hash);
        let mut keys = extractor.keys();
        keys.sort();
        assert_eq!(keys, ["TRACESTATE", "TraceParent", "tracestate"]);
    }

    #[test]
    fn inject_replaces_keys_differing_in_case() {
        let mut list = pairs(&[("Baggage", "old"), ("other", "x")]);
        MapInjector(&mut list).set("baggage", "new".to_owned());
        assert_eq!(list, pairs(&[("other", "x"), ("baggage", "new")]));

        let mut hash: HashMap<String, String> =
            pairs(&[("TRACEPARENT", "old")]).into_iter().collect();
        MapInjector(&mut hash).set("traceparent", "new".to_owned());
        assert_eq!(hash.len(), 1);
        assert_eq!(hash["traceparent"], "new");

        let mut btree: BTreeMap<String, String> = pairs(&[("B3", "old")]).into_iter().collect();
        MapInjector(&mut btree).set("b3", "new".to_owned());
        assert_eq!(
            btree.into_iter().collect::<Vec<_>>(),
            pairs(&[("b3", "new")])
        );
    }
}
