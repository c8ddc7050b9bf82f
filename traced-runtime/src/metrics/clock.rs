//! The clock of the function metrics: read twice per call, sampled or not.
//!
//! `Instant::now()` costs about 26 ns on the 2-vCPU AMD EPYC these figures come from (vDSO `clock_gettime`), so
//! two reads would take the whole 40 ns a call may spend on metrics. The time-stamp counter reads in about 10 ns:
//! where the kernel itself keeps time with it (its clocksource is `tsc`, which it only picks when the counter is
//! invariant and synchronised across cores), calls are timed in counter ticks, scaled once at start against
//! `Instant`. Elsewhere, `Instant` it is.
//!
//! A call is counted in ticks: its bucket is found against the bounds in ticks and the histogram's sum is kept
//! in ticks, so only a collection (and a sampled call's exemplar) converts to nanoseconds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::histogram::{bucket_in, BOUNDS_NANOS};

/// True when [`now`] reads the time-stamp counter.
static TSC: AtomicBool = AtomicBool::new(false);
/// Nanoseconds per tick, as `f64` bits; 1.0 for `Instant`.
static NANOS_PER_TICK: AtomicU64 = AtomicU64::new(0x3FF0_0000_0000_0000);
/// Where `Instant`-based ticks count from.
static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// [`BOUNDS_NANOS`] in ticks (the same until [`calibrate`] chooses the counter).
static BOUNDS_TICKS: [AtomicU64; BOUNDS_NANOS.len()] = {
    let mut bounds = [const { AtomicU64::new(0) }; BOUNDS_NANOS.len()];
    let mut i = 0;
    while i < bounds.len() {
        bounds[i] = AtomicU64::new(BOUNDS_NANOS[i]);
        i += 1;
    }
    bounds
};

/// How long the calibration spins: its error is the jitter of two clock reads (about 50 ns) over this.
const CALIBRATION: Duration = Duration::from_millis(2);

/// A point in time, in ticks of the clock [`calibrate`] chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticks(u64);

/// Chooses the clock, once per process, before the first call is timed.
pub(crate) fn calibrate() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let origin = *ORIGIN.get_or_init(Instant::now);
        if let Some(nanos_per_tick) = tsc::scale(origin) {
            NANOS_PER_TICK.store(nanos_per_tick.to_bits(), Ordering::Relaxed);
            for (ticks, nanos) in BOUNDS_TICKS.iter().zip(BOUNDS_NANOS) {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                ticks.store((nanos as f64 / nanos_per_tick) as u64, Ordering::Relaxed);
            }
            TSC.store(true, Ordering::Relaxed);
        }
    });
}

/// Now.
#[inline(always)]
pub(crate) fn now() -> Ticks {
    if TSC.load(Ordering::Relaxed) {
        Ticks(tsc::read())
    } else {
        let origin = *ORIGIN.get_or_init(Instant::now);
        Ticks(u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

impl Ticks {
    /// Ticks from `self` to `end` (0 if the clock went backwards).
    #[inline(always)]
    pub(crate) fn until(self, end: Ticks) -> u64 {
        end.0.saturating_sub(self.0)
    }

    /// Nanoseconds from `self` to `end` (0 if the clock went backwards).
    #[cfg(test)]
    pub(crate) fn nanos_until(self, end: Ticks) -> u64 {
        nanos(self.until(end))
    }
}

/// A number of ticks in nanoseconds.
#[inline]
pub(crate) fn nanos(ticks: u64) -> u64 {
    let scale = f64::from_bits(NANOS_PER_TICK.load(Ordering::Relaxed));
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let nanos = (ticks as f64 * scale) as u64;
    nanos
}

/// The histogram bucket of a duration in ticks: the first bound it does not exceed.
#[inline(always)]
pub(crate) fn bucket(ticks: u64) -> usize {
    bucket_in(
        ticks,
        BOUNDS_TICKS
            .iter()
            .map(|bound| bound.load(Ordering::Relaxed)),
    )
}

#[cfg(target_arch = "x86_64")]
mod tsc {
    use std::time::Instant;

    use super::CALIBRATION;

    /// The time-stamp counter.
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(super) fn read() -> u64 {
        // SAFETY: `rdtsc` reads a register and touches no memory; every x86_64 CPU has it. (The intrinsic is
        // `unsafe` only because every `core::arch` intrinsic once was.)
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    /// Nanoseconds per tick, if the kernel keeps time with the counter (so it is invariant and synchronised).
    pub(super) fn scale(origin: Instant) -> Option<f64> {
        let source = std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .ok()?;
        if source.trim() != "tsc" {
            return None;
        }
        let (start, ticks) = (origin.elapsed(), read());
        let (end, end_ticks) = loop {
            let elapsed = origin.elapsed();
            if elapsed - start >= CALIBRATION {
                break (elapsed, read());
            }
            std::hint::spin_loop();
        };
        #[allow(clippy::cast_precision_loss)]
        let scale = (end - start).as_nanos() as f64 / end_ticks.checked_sub(ticks)? as f64;
        // A counter slower than 10 MHz or faster than 100 GHz is not one to trust.
        (0.01..100.0).contains(&scale).then_some(scale)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod tsc {
    use std::time::Instant;

    pub(super) fn read() -> u64 {
        0
    }

    pub(super) fn scale(_origin: Instant) -> Option<f64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_measure_what_instant_measures() {
        calibrate();
        let (start, instant) = (now(), Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (end, elapsed) = (now(), instant.elapsed());
        let nanos = start.nanos_until(end) as f64;
        let expected = elapsed.as_nanos() as f64;
        assert!(
            (nanos / expected - 1.0).abs() < 0.05,
            "{nanos} ns against {expected} ns"
        );
        assert_eq!(end.nanos_until(start), 0);
    }

    #[test]
    fn buckets_in_ticks_are_the_buckets_in_nanoseconds() {
        calibrate();
        let scale = f64::from_bits(NANOS_PER_TICK.load(Ordering::Relaxed));
        let ticks = |nanos: u64| (nanos as f64 / scale) as u64;
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(ticks(4_000_000)), 0);
        assert_eq!(bucket(ticks(6_000_000)), 1);
        assert_eq!(bucket(ticks(9_000_000_000)), 13);
        assert_eq!(bucket(ticks(11_000_000_000)), 14);
        let nanos = nanos(ticks(1_000_000_000)) as f64;
        assert!((nanos / 1e9 - 1.0).abs() < 1e-6, "{nanos}");
    }
}
