//! What a `#[traced]` span carries, read from the spans a real OpenTelemetry pipeline exported: name, code location,
//! duration, kind, arguments, fields, return value, level and target.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::fmt;
use std::time::Duration;

use common::{capture, capture_async, capture_with};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;
use traced::traced;
use traced_test_support::span::{attr, elapsed, get, string};
use tracing_subscriber::filter::{LevelFilter, Targets};

// ---------------------------------------------------------------------------------------------------------------
// Names and code location

/// A module, so the qualified name has a module segment.
mod orders {
    use traced::traced;

    #[traced]
    pub fn checkout() -> u32 {
        line!() - 1
    }

    pub struct Cart;

    #[traced]
    impl Cart {
        pub fn add(&self, n: u32) -> u32 {
            n + 1
        }

        #[traced(name = "cart.clear")]
        pub fn clear(&self) {}
    }

    #[derive(Debug)]
    pub struct Located;

    #[traced]
    impl Located {
        pub fn method(&self) -> u32 {
            line!() - 1
        }

        #[traced(args(self))]
        pub fn describe(&self) {}
    }

    #[async_trait::async_trait]
    pub trait Load {
        async fn load(&self) -> u32;
    }

    #[async_trait::async_trait]
    #[traced]
    impl Load for Located {
        async fn load(&self) -> u32 {
            line!() - 1
        }
    }

    pub struct Wrapper<T>(pub T);

    #[traced]
    impl<T: Clone> Wrapper<T> {
        pub fn get(&self) -> T {
            self.0.clone()
        }
    }
}

#[traced(name = "checkout.v2")]
fn renamed() {}

#[test]
fn span_is_named_after_the_fn() {
    let ((), spans) = capture(|| {
        orders::checkout();
    });
    assert_eq!(spans.names(), ["checkout"]);
}

#[test]
fn span_in_an_impl_block_is_named_type_colon_colon_method() {
    let ((), spans) = capture(|| {
        assert_eq!(orders::Cart.add(1), 2);
        assert_eq!(orders::Wrapper(5_u8).get(), 5);
    });
    assert_eq!(spans.names(), ["Cart::add", "Wrapper::get"]);
}

#[test]
fn name_option_overrides_the_span_name() {
    let ((), spans) = capture(|| {
        renamed();
        orders::Cart.clear();
    });
    assert_eq!(spans.names(), ["checkout.v2", "cart.clear"]);
}

#[test]
fn code_function_name_is_fully_qualified() {
    let ((), spans) = capture(|| {
        orders::checkout();
        orders::Cart.add(1);
        renamed();
    });
    assert_eq!(
        string(spans.one("checkout"), "code.function.name"),
        "behaviour_span::orders::checkout"
    );
    assert_eq!(
        string(spans.one("Cart::add"), "code.function.name"),
        "behaviour_span::orders::Cart::add"
    );
    // A custom span name does not change the code name.
    assert_eq!(
        string(spans.one("checkout.v2"), "code.function.name"),
        "behaviour_span::renamed"
    );
}

#[test]
fn code_location_points_at_the_fn() {
    let (line, spans) = capture(orders::checkout);
    let span = spans.one("checkout");
    assert_eq!(string(span, "code.file.path"), file!());
    assert_eq!(
        get(span, "code.line.number"),
        &Value::I64(i64::from(line)),
        "line of `fn checkout`"
    );
    // `pub fn checkout`: the name starts in column 12 (1-based).
    assert_eq!(get(span, "code.column.number"), &Value::I64(12));
    let count = span
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str() == "code.line.number")
        .count();
    assert_eq!(count, 1, "one code.line.number: {:?}", span.attributes);
}

#[test]
fn code_location_of_methods_points_at_the_method() {
    use orders::Load as _;
    let ((method, load), spans) = capture(|| {
        let method = orders::Located.method();
        let load = common::runtime().block_on(orders::Located.load());
        (method, load)
    });
    let span = spans.one("Located::method");
    assert_eq!(
        get(span, "code.line.number"),
        &Value::I64(i64::from(method))
    );
    assert_eq!(
        string(span, "code.function.name"),
        "behaviour_span::orders::Located::method"
    );
    // Under `#[async_trait]`, which rewrote the fn before `#[traced]` saw it.
    let span = spans.one("Located::load");
    assert_eq!(get(span, "code.line.number"), &Value::I64(i64::from(load)));
}

#[test]
fn args_can_record_self() {
    let ((), spans) = capture(|| orders::Located.describe());
    assert_eq!(string(spans.one("Located::describe"), "self"), "Located");
}

// ---------------------------------------------------------------------------------------------------------------
// Duration

#[traced]
fn sleeps(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[traced]
async fn sleeps_async(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[traced]
fn sleeps_later(ms: u64) -> impl std::future::Future<Output = u64> {
    async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }
}

fn duration_ms(span: &opentelemetry_sdk::trace::SpanData) -> f64 {
    match get(span, "duration_ms") {
        Value::F64(ms) => *ms,
        other => panic!("duration_ms is not an f64: {other:?}"),
    }
}

fn assert_duration(span: &opentelemetry_sdk::trace::SpanData, at_least_ms: f64) {
    // Recorded once, whether the fn's timer or the span layer records it.
    let count = span
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str() == "duration_ms")
        .count();
    assert_eq!(count, 1, "duration_ms recorded {count} times");
    let recorded = duration_ms(span);
    let measured = elapsed(span).as_secs_f64() * 1e3;
    assert!(
        recorded >= at_least_ms,
        "duration_ms {recorded} < the {at_least_ms} ms slept inside"
    );
    assert!(
        (recorded - measured).abs() < 10.0,
        "duration_ms {recorded} vs end - start {measured}"
    );
}

#[test]
fn duration_ms_covers_a_sync_body() {
    let ((), spans) = capture(|| sleeps(30));
    assert_duration(spans.one("sleeps"), 30.0);
}

#[test]
fn duration_ms_covers_an_async_body() {
    let ((), spans) = capture_async(|| sleeps_async(30));
    assert_duration(spans.one("sleeps_async"), 30.0);
}

#[test]
fn duration_ms_covers_the_future_of_an_impl_future_fn() {
    let (ms, spans) = capture_async(|| async { sleeps_later(30).await });
    assert_eq!(ms, 30);
    assert_duration(spans.one("sleeps_later"), 30.0);
}

// ---------------------------------------------------------------------------------------------------------------
// Kind

#[traced(kind = server)]
fn serve() {}
#[traced(kind = client)]
fn call() {}
#[traced(kind = producer)]
fn produce() {}
#[traced(kind = consumer)]
fn consume() {}
#[traced(kind = internal)]
fn internal() {}
#[traced]
fn default_kind() {}

#[test]
fn kind_option_sets_the_otlp_span_kind() {
    let ((), spans) = capture(|| {
        serve();
        call();
        produce();
        consume();
        internal();
        default_kind();
    });
    assert_eq!(spans.one("serve").span_kind, SpanKind::Server);
    assert_eq!(spans.one("call").span_kind, SpanKind::Client);
    assert_eq!(spans.one("produce").span_kind, SpanKind::Producer);
    assert_eq!(spans.one("consume").span_kind, SpanKind::Consumer);
    assert_eq!(spans.one("internal").span_kind, SpanKind::Internal);
    assert_eq!(spans.one("default_kind").span_kind, SpanKind::Internal);
}

// ---------------------------------------------------------------------------------------------------------------
// Arguments, fields, return value

/// Displays as dollars.
struct Money(u32);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

/// Only `Debug`.
#[derive(Debug)]
struct Opaque {
    id: u8,
}

#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)]
#[traced(args(
    count, delta, big, huge, size, ratio, flag, label, owned, money, opaque
))]
fn many(
    count: u32,
    delta: i64,
    big: u64,
    huge: u64,
    size: usize,
    ratio: f32,
    flag: bool,
    label: &str,
    owned: String,
    money: Money,
    opaque: Opaque,
    hidden: u64,
) -> u64 {
    hidden
}

#[traced]
fn quiet(secret: &str, pin: u32) -> usize {
    secret.len() + pin as usize
}

#[test]
fn args_records_only_the_listed_parameters_with_their_types() {
    let (hidden, spans) = capture(|| {
        many(
            7,
            -3,
            9,
            u64::MAX,
            12,
            0.5,
            true,
            "lbl",
            "own".to_owned(),
            Money(5),
            Opaque { id: 3 },
            11,
        )
    });
    assert_eq!(hidden, 11);
    let span = spans.one("many");
    assert_eq!(get(span, "count"), &Value::I64(7));
    assert_eq!(get(span, "delta"), &Value::I64(-3));
    assert_eq!(get(span, "big"), &Value::I64(9));
    // OTLP has no unsigned type: a u64 above i64::MAX keeps its value as text rather than wrapping.
    assert_eq!(string(span, "huge"), u64::MAX.to_string());
    assert_eq!(get(span, "size"), &Value::I64(12));
    assert_eq!(get(span, "ratio"), &Value::F64(0.5));
    assert_eq!(get(span, "flag"), &Value::Bool(true));
    assert_eq!(string(span, "label"), "lbl");
    assert_eq!(string(span, "owned"), "own");
    assert_eq!(string(span, "money"), "$5", "Display");
    assert_eq!(string(span, "opaque"), "Opaque { id: 3 }", "Debug");
    assert_eq!(attr(span, "hidden"), None, "not listed in args");
}

#[test]
fn no_args_are_recorded_by_default() {
    let (n, spans) = capture(|| quiet("hunter2", 4));
    assert_eq!(n, 11);
    let span = spans.one("quiet");
    assert_eq!(attr(span, "secret"), None);
    assert_eq!(attr(span, "pin"), None);
    let leaked = span
        .attributes
        .iter()
        .any(|kv| kv.value.as_str().contains("hunter2"));
    assert!(!leaked, "an argument leaked: {:?}", span.attributes);
}

/// A user, shown with `%`.
struct User(&'static str);

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user:{}", self.0)
    }
}

/// A request, shown with `?`.
#[derive(Debug)]
struct Request {
    path: &'static str,
}

#[traced(fields(key = 40 + 2, db.system = "postgresql", user = %u, req = ?r, label = u.0))]
fn handle(u: &User, r: &Request) -> usize {
    r.path.len()
}

#[test]
fn fields_record_expressions_with_display_and_debug_markers() {
    let (n, spans) = capture(|| handle(&User("ann"), &Request { path: "/a" }));
    assert_eq!(n, 2);
    let span = spans.one("handle");
    assert_eq!(get(span, "key"), &Value::I64(42));
    assert_eq!(string(span, "db.system"), "postgresql");
    assert_eq!(string(span, "user"), "user:ann");
    assert_eq!(string(span, "req"), r#"Request { path: "/a" }"#);
    assert_eq!(string(span, "label"), "ann");
}

#[traced(ret)]
fn answer() -> u32 {
    42
}

#[traced(ret)]
fn greeting(name: &str) -> String {
    format!("hi {name}")
}

#[traced(ret)]
async fn answer_async() -> Opaque {
    Opaque { id: 9 }
}

#[traced]
fn unrecorded() -> u32 {
    42
}

#[traced(ret)]
fn priced(fail: bool) -> Result<u32, std::io::Error> {
    if fail {
        Err(std::io::Error::other("no price"))
    } else {
        Ok(1000)
    }
}

#[traced(ret)]
async fn named_async() -> Result<String, std::io::Error> {
    Ok("bo".to_owned())
}

#[traced(ret, err(off))]
fn priced_quietly() -> Result<u32, String> {
    Err("no price".to_owned())
}

#[test]
fn ret_on_a_result_records_the_ok_value_with_its_type() {
    let ((), spans) = capture(|| {
        assert_eq!(priced(false).unwrap(), 1000);
        assert!(priced(true).is_err());
        assert_eq!(common::runtime().block_on(named_async()).unwrap(), "bo");
        assert!(priced_quietly().is_err());
    });
    let [ok, err] = spans.all("priced")[..] else {
        panic!("two priced spans");
    };
    assert_eq!(get(ok, "return.value"), &Value::I64(1000));
    // The `Err` is the span's error, not a return value.
    assert_eq!(attr(err, "return.value"), None);
    assert_eq!(err.status, Status::error("no price"));
    assert_eq!(string(spans.one("named_async"), "return.value"), "bo");
    // With `err(off)` the error is recorded nowhere else: the whole value is kept.
    assert_eq!(
        string(spans.one("priced_quietly"), "return.value"),
        r#"Err("no price")"#
    );
}

#[test]
fn ret_records_the_returned_value() {
    let ((), spans) = capture(|| {
        assert_eq!(answer(), 42);
        assert_eq!(greeting("bo"), "hi bo");
        assert_eq!(unrecorded(), 42);
        assert_eq!(common::runtime().block_on(answer_async()).id, 9);
    });
    assert_eq!(get(spans.one("answer"), "return.value"), &Value::I64(42));
    assert_eq!(string(spans.one("greeting"), "return.value"), "hi bo");
    assert_eq!(
        string(spans.one("answer_async"), "return.value"),
        "Opaque { id: 9 }"
    );
    assert_eq!(attr(spans.one("unrecorded"), "return.value"), None);
}

// ---------------------------------------------------------------------------------------------------------------
// Level and target

#[traced(level = "debug")]
fn chatty() -> u32 {
    1
}

#[traced(level = "warn")]
fn loud() -> u32 {
    2
}

#[traced(target = "payments")]
fn pay() {}

#[traced]
fn default_target() {}

#[test]
fn level_below_the_filter_exports_no_span() {
    let (sum, spans) = capture_with(LevelFilter::INFO, || chatty() + loud());
    assert_eq!(sum, 3);
    assert_eq!(spans.names(), ["loud"]);
    // The same fn is exported when the filter lets debug through.
    let (_, spans) = capture_with(LevelFilter::DEBUG, chatty);
    assert_eq!(spans.names(), ["chatty"]);
}

#[test]
fn target_option_sets_the_tracing_target() {
    let ((), spans) = capture(|| {
        pay();
        default_target();
    });
    assert_eq!(string(spans.one("pay"), "target"), "payments");
    assert_eq!(
        string(spans.one("default_target"), "target"),
        "behaviour_span"
    );
    // A filter on the target sees it too.
    let filter = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("payments", LevelFilter::OFF);
    let ((), spans) = capture_with(filter, || {
        pay();
        default_target();
    });
    assert_eq!(spans.names(), ["default_target"]);
}
