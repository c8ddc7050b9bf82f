//! The runtime of `traced`: configuration, export pipeline, propagation, and the support code that
//! `#[traced]` expands to.
mod block;
pub mod config;
mod error;
pub mod exporter;
pub mod propagation;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use error::Error;
pub use traced_macros::traced;
