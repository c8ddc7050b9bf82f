//! The sending end of the log record queue, for the log layer.

use super::worker::Records;
use crate::export::pipeline::Sink;

/// Where the log layer puts its records: never blocks, a full queue drops the record and counts it.
pub(crate) type LogSink = Sink<Records>;
