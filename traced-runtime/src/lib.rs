//! The runtime of `traced`: configuration, export pipeline, propagation, and the support code that
//! `#[traced]` expands to.
pub mod config;
mod error;
mod exporter;
mod guard;
mod init;
mod processor;
mod resource;
mod sampler;
mod subscriber;

pub use error::Error;
pub use guard::{Guard, Stats};
pub use init::{init, init_from_file, layer, try_init};
pub use traced_macros::traced;
