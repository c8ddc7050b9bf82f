//! The one error type of the runtime.

/// Everything that can go wrong while configuring or running the pipeline.
///
/// Each variant names what was wrong and where: the option (environment variable or YAML key), the value, and
/// why it was refused. `Debug` reads like `Display` (a `main` returning `Result<(), traced::Error>` prints it),
/// with the errors of [`Error::Many`] one per line.
#[derive(thiserror::Error)]
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
        /// The file, with the line and column of the key when known (`traced.yaml:3:5`).
        file: String,
        /// The dotted key path.
        key: String,
        /// ", did you mean ..." when a close key exists.
        hint: String,
    },
    /// A configuration file could not be read or parsed.
    #[error("cannot read configuration file {file}: {reason}")]
    File {
        /// The file, with the line and column of a syntax error (`traced.yaml:3:5`).
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
    /// [`Error::InvalidValue`]: `value` of `option` refused for `reason`. A value longer than
    /// [`SHOWN_VALUE_CHARS`] is shown cut, with its length: a 10 MB variable makes no readable message.
    pub(crate) fn invalid(
        option: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        let mut value = value.into();
        if let Some((cut, _)) = value.char_indices().nth(SHOWN_VALUE_CHARS) {
            value = format!("{}… ({} bytes)", &value[..cut], value.len());
        }
        Error::InvalidValue {
            option: option.into(),
            value,
            reason: reason.into(),
        }
    }

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

/// How much of a refused value an error shows.
const SHOWN_VALUE_CHARS: usize = 200;

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Many(errors) => {
                write!(f, "{} configuration errors:", errors.len())?;
                errors
                    .iter()
                    .try_for_each(|error| write!(f, "\n  - {error}"))
            }
            other => write!(f, "{other}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_reads_like_display() {
        let one = Error::invalid("OTEL_TRACES_SAMPLER", "sometimes", "unknown sampler");
        assert_eq!(format!("{one:?}"), one.to_string());
        assert_eq!(
            format!("{one:?}"),
            r#"invalid value "sometimes" for OTEL_TRACES_SAMPLER: unknown sampler"#
        );
        let many = Error::collect(vec![
            one,
            Error::invalid("OTEL_PROPAGATORS", "xray", "unknown name"),
        ])
        .unwrap_err();
        assert_eq!(
            format!("{many:?}"),
            "2 configuration errors:\n  \
             - invalid value \"sometimes\" for OTEL_TRACES_SAMPLER: unknown sampler\n  \
             - invalid value \"xray\" for OTEL_PROPAGATORS: unknown name"
        );
    }

    #[test]
    fn long_values_are_shown_cut() {
        let error = Error::invalid("OTEL_RESOURCE_ATTRIBUTES", "x".repeat(10_000), "bad");
        let text = error.to_string();
        assert!(text.len() < 300, "{text}");
        assert!(text.contains("… (10000 bytes)"), "{text}");
    }
}
