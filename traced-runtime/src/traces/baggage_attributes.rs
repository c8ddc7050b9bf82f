//! `TRACED_BAGGAGE_ATTRIBUTES`: baggage entries of a span's parent context copied onto the span as attributes,
//! when the span starts (so a parent set after creation, as the HTTP server layer does, counts).

use opentelemetry::baggage::Baggage;
use opentelemetry::{Key, KeyValue, Value};

use crate::config::BaggageAttributes;

/// Which entries to copy; the layer holds `None` when the option is off, so a span then pays one branch.
#[derive(Debug)]
pub(crate) enum BaggageCopy {
    All,
    Keys(Vec<Key>),
}

impl BaggageCopy {
    pub(crate) fn new(attributes: &BaggageAttributes) -> Option<Self> {
        match attributes {
            BaggageAttributes::None => None,
            BaggageAttributes::All => Some(BaggageCopy::All),
            BaggageAttributes::Keys(keys) => Some(BaggageCopy::Keys(
                keys.iter().cloned().map(Key::from).collect(),
            )),
        }
    }

    /// Hands the entries of `baggage` this copy names to `add`, as attributes.
    pub(crate) fn apply(&self, baggage: &Baggage, mut add: impl FnMut(KeyValue)) {
        if baggage.is_empty() {
            return;
        }
        match self {
            BaggageCopy::All => {
                let mut entries: Vec<_> = baggage.iter().collect();
                // Baggage is a hash map: sorted, the attributes come out in the same order on every span.
                entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
                for (key, (value, _)) in entries {
                    add(KeyValue::new(key.clone(), Value::String(value.clone())));
                }
            }
            BaggageCopy::Keys(keys) => {
                for key in keys {
                    if let Some(value) = baggage.get(key.as_str()) {
                        add(KeyValue::new(key.clone(), Value::String(value.clone())));
                    }
                }
            }
        }
    }
}
