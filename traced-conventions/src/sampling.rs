//! Written by tail sampling (`TRACED_TAIL_SAMPLING`) on the local root of every trace it keeps.

/// Why the trace was kept: one of [`ERROR`], [`SLOW`], [`RATIO`], [`PARENT`].
pub const SAMPLING_REASON: &str = "sampling.reason";

/// A span of the trace had status ERROR.
pub const ERROR: &str = "error";
/// The local root lasted at least the `slow` threshold.
pub const SLOW: &str = "slow";
/// The trace id fell within `ratio` (the `traceidratio` rule).
pub const RATIO: &str = "ratio";
/// The trace's remote parent arrived sampled.
pub const PARENT: &str = "parent";
