//! The runtime of `traced`: configuration, export pipeline, propagation, and the support code that
//! `#[traced]` expands to.
mod block;
pub mod config;
mod error;
pub mod exporter;
mod guard;
#[cfg(feature = "http")]
pub mod http;
mod init;
mod processor;
pub mod propagation;
#[path = "redaction.rs"]
pub mod redact;
mod resource;
mod sampler;
mod sampling;
mod span_ext;
mod span_layer;
mod subscriber;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use config::Config;
pub use error::Error;
pub use guard::{healthy, stats, Guard, Stats};
pub use init::{init, init_from_file, layer, try_init};
pub use span_ext::SpanExt;
pub use traced_macros::traced;
