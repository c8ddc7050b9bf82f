//! The resource: who emits the spans.

use opentelemetry::KeyValue;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::Resource;

use crate::config::Config;
use crate::redact::{Redactor, REDACTED};

/// The resource of every exported span.
///
/// Precedence, lowest first: detected attributes (host, process, SDK), `resource_attributes`, then the dedicated
/// fields (`service_version`, `deployment_environment`, `service_name`), so `OTEL_SERVICE_NAME` wins over a
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, as the specification requires.
///
/// Every request carries it, so it obeys what spans obey: values cut to the value-length limit (a 10 MB
/// `OTEL_RESOURCE_ATTRIBUTES` value failed every gRPC export), secret keys redacted (`db.password`). The count
/// is bounded when the configuration is read.
pub(crate) fn resource(config: &Config) -> Resource {
    let exe = executable_name();
    let mut detected = vec![KeyValue::new("process.pid", i64::from(std::process::id()))];
    if let Some(exe) = &exe {
        detected.push(KeyValue::new("process.executable.name", exe.clone()));
    }
    if let Some(host) = host_name() {
        detected.push(KeyValue::new("host.name", host));
    }
    let redactor = config
        .redaction
        .enabled
        .then(|| Redactor::new(&config.redaction.keys));
    let value = |key: &str, value: &str| -> String {
        match &redactor {
            Some(redactor) if redactor.matches(key) => REDACTED.to_owned(),
            _ => config.limits.cut(value).to_owned(),
        }
    };
    let mut builder = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(detected)
        .with_attributes(
            config
                .resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), value(k, v))),
        );
    if let Some(version) = &config.service_version {
        builder = builder.with_attribute(KeyValue::new(
            "service.version",
            value("service.version", version),
        ));
    }
    if let Some(env) = &config.deployment_environment {
        builder = builder.with_attribute(KeyValue::new(
            "deployment.environment.name",
            value("deployment.environment.name", env),
        ));
    }
    let explicit_name = config.service_name.clone().or_else(|| {
        config
            .resource_attributes
            .iter()
            .rev()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v.clone())
    });
    let name = explicit_name
        .unwrap_or_else(|| format!("unknown_service:{}", exe.as_deref().unwrap_or("rust")));
    builder
        .with_service_name(config.limits.cut(&name).to_owned())
        .build()
}

/// The file name of the running executable, as the spec's `unknown_service:<name>` and `process.executable.name`
/// want it.
fn executable_name() -> Option<String> {
    let path = std::env::current_exe()
        .ok()
        .or_else(|| std::env::args_os().next().map(Into::into))?;
    Some(path.file_name()?.to_string_lossy().into_owned())
}

/// The host name, without a new dependency: the kernel's view on Linux, `HOSTNAME`/`COMPUTERNAME` elsewhere.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Key;

    fn get(resource: &Resource, key: &'static str) -> Option<String> {
        resource
            .get(&Key::from_static_str(key))
            .map(|v| v.to_string())
    }

    #[test]
    fn defaults() {
        let r = resource(&Config::default());
        assert!(get(&r, "service.name")
            .unwrap()
            .starts_with("unknown_service:"));
        assert_eq!(get(&r, "telemetry.sdk.language").as_deref(), Some("rust"));
        assert_eq!(get(&r, "process.pid"), Some(std::process::id().to_string()));
        assert!(get(&r, "process.executable.name").is_some());
    }

    #[test]
    fn service_name_wins_over_resource_attributes() {
        let mut config = Config {
            resource_attributes: vec![
                ("service.name".into(), "from-attrs".into()),
                ("team".into(), "a".into()),
            ],
            ..Config::default()
        };
        assert_eq!(
            get(&resource(&config), "service.name").as_deref(),
            Some("from-attrs")
        );
        config.service_name = Some("explicit".into());
        config.service_version = Some("1.2.3".into());
        config.deployment_environment = Some("prod".into());
        let r = resource(&config);
        assert_eq!(get(&r, "service.name").as_deref(), Some("explicit"));
        assert_eq!(get(&r, "service.version").as_deref(), Some("1.2.3"));
        assert_eq!(
            get(&r, "deployment.environment.name").as_deref(),
            Some("prod")
        );
        assert_eq!(get(&r, "team").as_deref(), Some("a"));
    }

    #[test]
    fn values_are_cut_and_secret_keys_redacted() {
        let mut config = Config {
            service_name: Some("s".repeat(100)),
            resource_attributes: vec![
                ("big".into(), "é".repeat(10 << 20)),
                ("db.password".into(), "hunter2".into()),
                ("auth.token".into(), "t0k3n".into()),
            ],
            ..Config::default()
        };
        config.limits.attribute_value_length = Some(64);
        let r = resource(&config);
        assert_eq!(get(&r, "big").unwrap().chars().count(), 64);
        assert_eq!(get(&r, "service.name").unwrap().len(), 64);
        assert_eq!(get(&r, "db.password").as_deref(), Some(REDACTED));
        assert_eq!(get(&r, "auth.token").as_deref(), Some(REDACTED));
        config.redaction.enabled = false;
        assert_eq!(
            get(&resource(&config), "db.password").as_deref(),
            Some("hunter2")
        );
    }
}
