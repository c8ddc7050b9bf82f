//! The runtime of `traced`: configuration, export pipeline, propagation, and the support code that
//! `#[traced]` expands to.
pub mod config;
pub mod exporter;
mod error;

pub use error::Error;
pub use traced_macros::traced;
