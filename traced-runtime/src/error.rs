//! The one error type of the runtime.

/// Everything that can go wrong while configuring or running the pipeline.
///
/// Each variant names what was wrong and where: the option (environment variable or YAML key), the value, and
/// why it was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option has a value that cannot be used.
    #[error("invalid value {value:?} for {option}: {reason}")]
    InvalidValue {
        /// The environment variable, YAML key or builder method.
        option: String,
        /// The value as given.
        value: String,
        /// Why it was refused, and what is accepted.
        reason: String,
    },
    /// A YAML file has a key this version does not know.
    #[error("unknown key {key:?} in {file}{hint}")]
    UnknownKey {
        /// The file.
        file: String,
        /// The dotted key path.
        key: String,
        /// ", did you mean ..." when a close key exists.
        hint: String,
    },
    /// A configuration file could not be read or parsed.
    #[error("cannot read configuration file {file}: {reason}")]
    File {
        /// The file.
        file: String,
        /// What failed.
        reason: String,
    },
    /// A global subscriber is already installed.
    #[error("a global tracing subscriber is already set; use traced::layer() to compose with it")]
    AlreadyInitialized,
    /// The exporter could not be built.
    #[error("cannot build the {exporter} exporter: {reason}")]
    Exporter {
        /// Which exporter.
        exporter: &'static str,
        /// What failed.
        reason: String,
    },
    /// Flushing or shutting down did not complete.
    #[error("shutdown: {0}")]
    Shutdown(String),
    /// Several configuration mistakes, reported together so that one run shows all of them.
    #[error("{} configuration errors: {}", .0.len(), join(.0))]
    Many(Vec<Error>),
}

impl Error {
    /// Folds collected errors into one: `Ok` when there are none, the error itself when there is one, one flat
    /// [`Error::Many`] otherwise.
    pub(crate) fn collect(errors: Vec<Error>) -> Result<(), Error> {
        let mut errors: Vec<Error> = errors
            .into_iter()
            .flat_map(|error| match error {
                Error::Many(inner) => inner,
                other => vec![other],
            })
            .collect();
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Many(errors)),
        }
    }
}

fn join(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
