//! The runtime of `traced`: configuration, export pipeline, propagation, and the support code that
//! `#[traced]` expands to.
pub mod config;
mod error;
pub mod propagation;

pub use error::Error;
pub use traced_macros::traced;
