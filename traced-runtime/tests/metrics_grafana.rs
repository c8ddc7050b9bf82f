//! `examples/grafana/dashboard.json` names only metrics that exist: every metric its PromQL queries select is one
//! the Prometheus endpoint serves once `#[traced]` fns, an HTTP server and an HTTP client ran.

mod metrics_support;

use std::collections::BTreeSet;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_support::{checkout, http_get};
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use traced::config::{Config, LogFormat, MetricsExporterKind};
use traced::http::{ClientTraceLayer, TraceLayer};

/// The metric names a PromQL expression selects: what is left once strings, label matchers, ranges, grouping
/// label lists, functions, aggregation operators and keywords are taken out. `label_values(metric, label)` selects
/// its first argument.
fn selected_metrics(expr: &str) -> BTreeSet<String> {
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const OPERATORS: [&str; 17] = [
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
    ];
    // Strings, label matchers and ranges out.
    let mut text = String::new();
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        let close = match c {
            '"' => '"',
            '{' => '}',
            '[' => ']',
            _ => {
                text.push(c);
                continue;
            }
        };
        for c in chars.by_ref() {
            if c == close {
                break;
            }
        }
        text.push(' ');
    }
    // Identifiers, each with what follows it.
    let chars: Vec<char> = text.chars().collect();
    let mut tokens: Vec<(String, Option<char>, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphabetic() || matches!(chars[i], '_' | ':' | '$') {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':' | '$'))
            {
                i += 1;
            }
            let next = chars[i..].iter().copied().find(|c| !c.is_whitespace());
            tokens.push((chars[start..i].iter().collect(), next, i));
        } else {
            i += 1;
        }
    }
    let mut names = BTreeSet::new();
    let mut skip_until = 0;
    let mut label_argument = false;
    for (token, next, end) in &tokens {
        if *end <= skip_until {
            continue;
        }
        if GROUPING.contains(&token.as_str()) {
            // Skip the label list in the parentheses that follow.
            if let Some(open) = chars[*end..].iter().position(|c| *c == '(') {
                let close = chars[*end + open..]
                    .iter()
                    .position(|c| *c == ')')
                    .unwrap_or(0);
                skip_until = end + open + close;
            }
            continue;
        }
        if label_argument {
            label_argument = false;
            continue;
        }
        if *next == Some('(') || OPERATORS.contains(&token.as_str()) || token.starts_with('$') {
            continue;
        }
        names.insert(token.clone());
        // `label_values(metric, label)`: the label is not a metric.
        if expr.contains("label_values(") && *next == Some(',') {
            label_argument = true;
        }
    }
    names
}

#[test]
fn the_query_reader_finds_the_metrics() {
    let names = selected_metrics(
        "histogram_quantile(0.99, sum by (le, function) (rate(function_calls_duration_seconds_bucket{function=~\"$function\"}[$__rate_interval]))) / on (job) group_left(version) build_info",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["build_info", "function_calls_duration_seconds_bucket"]
    );
    let names = selected_metrics("label_values(function_calls_total, function)");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["function_calls_total"]
    );
}

#[test]
fn every_metric_the_dashboard_queries_exists() {
    let guard = Config::builder()
        .without_env()
        .with_service_name("metrics-grafana")
        .with_exporters([])
        .with_metrics_exporters([MetricsExporterKind::Prometheus])
        .with_prometheus_host("127.0.0.1")
        .with_prometheus_port(0)
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .unwrap()
        .init()
        .unwrap();
    for order in 0..8 {
        let _ = checkout(order);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let app = axum::Router::new()
            .route("/orders/{id}", axum::routing::get(|| async { "ok" }))
            .route(
                "/fail",
                axum::routing::get(|| async {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "no")
                }),
            )
            .layer(TraceLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut client = ClientTraceLayer::new()
            .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
        for path in ["/orders/1", "/orders/2", "/fail"] {
            let request = http::Request::get(format!("http://{addr}{path}"))
                .body(Empty::new())
                .unwrap();
            let response = client.ready().await.unwrap().call(request).await.unwrap();
            assert!(response.status().is_success() || path == "/fail");
        }
    });
    let (_, _, scraped) = http_get(guard.prometheus_addr().unwrap(), "/metrics", "text/plain");
    let served: BTreeSet<String> = scraped
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect();
    assert!(scraped.contains("http_route=\"/orders/{id}\""), "{scraped}");

    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/grafana/dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 12, "{exprs:?}");
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let names = selected_metrics(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            assert!(
                served.contains(&name),
                "{expr} names {name}, which the endpoint does not serve: {served:?}"
            );
            used.insert(name);
        }
    }
    // Per fn and per route: the calls, the errors, the latency of both.
    for needed in [
        "function_calls_total",
        "function_calls_duration_seconds_bucket",
        "function_calls_concurrent",
        "http_server_request_duration_seconds_count",
        "http_server_request_duration_seconds_bucket",
        "http_server_active_requests",
        "http_client_request_duration_seconds_bucket",
    ] {
        assert!(
            used.contains(needed),
            "the dashboard does not show {needed}"
        );
    }
    // The latency panels ask for exemplars.
    let panels = dashboard["panels"].as_array().unwrap();
    let latency: Vec<_> = panels
        .iter()
        .filter(|p| {
            p["title"]
                .as_str()
                .is_some_and(|t| t.contains("Latency p99"))
        })
        .collect();
    assert_eq!(latency.len(), 2);
    assert!(latency.iter().all(|p| p["targets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["exemplar"] == true)));
    guard.shutdown().unwrap();
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    ("expr" | "definition", serde_json::Value::String(expr)) => {
                        out.push(expr.clone())
                    }
                    _ => collect_exprs(member, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_exprs(item, out)),
        _ => {}
    }
}
