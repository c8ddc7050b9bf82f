//! [`TailSampling`]: which local traces are exported once they are complete, and how many spans may wait for it.

use std::time::Duration;

use super::parse;

/// Tail sampling in the process (`TRACED_TAIL_SAMPLING`, YAML `sampler.tail`,
/// [`ConfigBuilder::with_tail_sampling`](super::ConfigBuilder::with_tail_sampling)); off unless one of them sets it.
///
/// With it on, every span of a trace is recorded, whatever the head sampler says, and held on the export thread
/// until the trace's **local root** (its first span in this process: no parent, or a remote one) ends. Then the
/// whole local trace is exported, or none of it. It is kept, and its local root carries `sampling.reason`, when:
///
/// - `error`: any of its spans has status ERROR (an `Err`, a panic, a 5xx server span, a failing client span) and
///   [`errors`](Self::errors) is on;
/// - `slow`: the local root lasted at least [`slow`](Self::slow);
/// - `parent`: its remote parent arrived sampled (flag `01`): the trace is recorded upstream, so it is kept whole;
/// - `ratio`: its trace id falls within [`ratio`](Self::ratio), by the `traceidratio` rule, so that the same trace id
///   gets the same verdict in every process.
///
/// The head sampler still decides the flag propagated downstream.
///
/// ```
/// use std::time::Duration;
/// use traced::config::{Config, TailSampling};
///
/// let config = Config::builder()
///     .without_env()
///     .with_tail_sampling(
///         TailSampling::new()
///             .keep_errors()
///             .keep_slower_than(Duration::from_millis(500))
///             .keep_ratio(0.1),
///     )
///     .build()?;
/// assert_eq!(config.tail_sampling.map(|tail| tail.max_spans), Some(10_000));
/// # Ok::<(), traced::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[must_use]
pub struct TailSampling {
    /// `errors`: keep every trace with a span of status ERROR. Default off.
    pub errors: bool,
    /// `slow=<duration>`: keep every trace whose local root lasted at least this long. Default none.
    pub slow: Option<Duration>,
    /// `ratio=<0..1>`: the fraction of the other traces kept, by trace id. Default 0: only the rules above keep.
    pub ratio: f64,
    /// `max_spans=<n>`: spans held at most, over every trace waiting for its local root; when one more arrives,
    /// the oldest waiting trace is decided at once, by `ratio`. Default 10000. The verdicts of as many recent
    /// traces are remembered, for their spans that end later.
    pub max_spans: usize,
}

impl TailSampling {
    /// The default of [`TailSampling::max_spans`].
    pub const DEFAULT_MAX_SPANS: usize = 10_000;

    /// Keeps only the traces whose remote parent arrived sampled; add rules with the methods below.
    pub fn new() -> Self {
        TailSampling {
            errors: false,
            slow: None,
            ratio: 0.0,
            max_spans: Self::DEFAULT_MAX_SPANS,
        }
    }

    /// Keeps every trace with a span of status ERROR.
    pub fn keep_errors(mut self) -> Self {
        self.errors = true;
        self
    }

    /// Keeps every trace whose local root lasted at least `threshold`.
    pub fn keep_slower_than(mut self, threshold: Duration) -> Self {
        self.slow = Some(threshold);
        self
    }

    /// Keeps this fraction (`0..=1`) of the other traces, decided by the trace id.
    pub fn keep_ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Holds at most `spans` spans (at least 1) while their traces wait for their local root.
    pub fn max_spans(mut self, spans: usize) -> Self {
        self.max_spans = spans;
        self
    }
}

impl Default for TailSampling {
    fn default() -> Self {
        TailSampling::new()
    }
}

/// The members of `TRACED_TAIL_SAMPLING`, listed in error messages.
const MEMBERS: &str = "errors, slow=<duration>, ratio=<0..1>, max_spans=<n>";

/// `errors,slow=500ms,ratio=0.1,max_spans=10000`: the `TRACED_TAIL_SAMPLING` grammar, each member at most once,
/// names case-insensitive.
pub(crate) fn parse_list(value: &str) -> Result<TailSampling, String> {
    let mut tail = TailSampling::new();
    let mut seen: Vec<String> = Vec::new();
    for member in value.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let (name, arg) = match member.split_once('=') {
            Some((name, arg)) => (name.trim().to_ascii_lowercase(), Some(arg.trim())),
            None => (member.to_ascii_lowercase(), None),
        };
        if seen.contains(&name) {
            return Err(format!("{name} is given twice"));
        }
        let bad = |reason: String| format!("{member:?}: {reason}");
        match (name.as_str(), arg) {
            ("errors", None) => tail.errors = true,
            ("slow", Some(arg)) => tail.slow = Some(parse::duration(arg).map_err(bad)?),
            ("ratio", Some(arg)) => tail.ratio = parse::ratio(arg).map_err(bad)?,
            ("max_spans", Some(arg)) => {
                let spans = parse::integer(arg, 1).map_err(bad)?;
                tail.max_spans = usize::try_from(spans).unwrap_or(usize::MAX);
            }
            ("errors", Some(_)) => return Err(bad("errors takes no value".to_owned())),
            ("slow" | "ratio" | "max_spans", None) => {
                return Err(bad(format!("{name} needs a value: {name}=...")))
            }
            _ => return Err(format!("unknown member {member:?}; accepted: {MEMBERS}")),
        }
        seen.push(name);
    }
    Ok(tail)
}

/// What every source checks of a [`TailSampling`] (the builder gets one that was never parsed).
pub(crate) fn check(tail: &TailSampling) -> Result<(), String> {
    parse::check_ratio(tail.ratio)?;
    if tail.max_spans == 0 {
        return Err("max_spans must be at least 1".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_grammar() {
        assert_eq!(
            parse_list("errors, slow=500ms ,RATIO=0.1,max_spans=100").unwrap(),
            TailSampling::new()
                .keep_errors()
                .keep_slower_than(Duration::from_millis(500))
                .keep_ratio(0.1)
                .max_spans(100)
        );
        assert_eq!(
            parse_list("slow=2s").unwrap().slow,
            Some(Duration::from_secs(2))
        );
        assert_eq!(parse_list("errors").unwrap().max_spans, 10_000);
        for (bad, why) in [
            ("slow=fast", "\"slow=fast\": not a duration"),
            ("slow=500", "unit"),
            ("ratio=1.5", "0..=1"),
            ("max_spans=0", "at least 1"),
            ("errors=yes", "takes no value"),
            ("ratio", "needs a value"),
            ("errors,errors", "given twice"),
            ("eror", "unknown member \"eror\"; accepted: errors, slow"),
        ] {
            let reason = parse_list(bad).unwrap_err();
            assert!(reason.contains(why), "{bad}: {reason}");
        }
    }

    #[test]
    fn checks() {
        assert!(check(&TailSampling::new().keep_ratio(0.5)).is_ok());
        assert!(check(&TailSampling::new().keep_ratio(f64::NAN)).is_err());
        assert!(check(&TailSampling::new().max_spans(0)).is_err());
    }
}
