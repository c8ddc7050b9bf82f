//! The clock of the function metrics: read twice per call, sampled or not.
//!
//! `Instant::now()` costs about 26 ns on the 2-vCPU AMD EPYC these figures come from (vDSO `clock_gettime`), so
//! two reads would take the whole 40 ns a call may spend on metrics. The time-stamp counter reads in about 10 ns:
//! where the kernel itself keeps time with it (its clocksource is `tsc`, which it only picks when the counter is
//! invariant and synchronised across cores), calls are timed in counter ticks, scaled once at start against
//! `Instant`. Elsewhere, `Instant` it is.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// True when [`now`] reads the time-stamp counter.
static TSC: AtomicBool = AtomicBool::new(false);
/// Nanoseconds per tick, as `f64` bits; 1.0 for `Instant`.
static NANOS_PER_TICK: AtomicU64 = AtomicU64::new(0x3FF0_0000_0000_0000);
/// Where `Instant`-based ticks count from.
static ORIGIN: OnceLock<Instant> = OnceLock::new();

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
    /// Nanoseconds from `self` to `end` (0 if the clock went backwards).
    #[inline(always)]
    pub(crate) fn nanos_until(self, end: Ticks) -> u64 {
        let ticks = end.0.saturating_sub(self.0);
        let scale = f64::from_bits(NANOS_PER_TICK.load(Ordering::Relaxed));
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let nanos = (ticks as f64 * scale) as u64;
        nanos
    }
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
}
