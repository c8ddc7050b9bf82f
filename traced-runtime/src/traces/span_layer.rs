//! The OpenTelemetry layer of the `traced` pipeline: `tracing` spans in, finished `SpanData` out to the batch
//! processor's queue.
//!
//! It takes the place of tracing-opentelemetry's layer in the pipelines [`Config::init`](crate::Config::init)
//! and [`Config::layer`](crate::Config::layer) build (`#[traced]` still works under that layer in a subscriber
//! of the user's own). Per span, tracing-opentelemetry fills a `SpanBuilder`, turns it into an SDK span on the
//! first enter and into `SpanData` on close, behind an `Arc<Mutex>` and with every attribute copied on the way:
//! about 5,000 instructions per span under callgrind, two thirds of the cost of a sampled `#[traced]` call. Here
//! the span's state is the span data itself: attribute keys stay `&'static str`, the sampler runs once at the
//! start, and on close the data moves into the export queue.
//!
//! The rules are the ones users of tracing-opentelemetry know: `otel.name`, `otel.kind`, `otel.status_code` and
//! `otel.status_description` fields; events become span events named by their message, `ERROR` events and
//! `error` fields set the status, `dyn Error` fields record their `source()` chain; the span starts (ids drawn,
//! sampler asked) on its first enter, so a parent set before that still counts; and an entered span is the
//! current OpenTelemetry `Context`, for code that uses the OpenTelemetry API directly.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::LocalKey;
use std::time::SystemTime;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceState,
};
use opentelemetry::{Context, ContextGuard, InstrumentationScope, Key, KeyValue, StringValue};
use opentelemetry_sdk::trace::{IdGenerator, SamplingDecision, SpanEvents, SpanLimits, SpanLinks};
use tracing::dispatcher::{DefaultGuard, WeakDispatch};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use traced_conventions::error::{ERROR_FIELD, EXCEPTION, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE};
use traced_conventions::layer::{LEVEL, MESSAGE, TARGET, THREAD_ID, THREAD_NAME};
use traced_conventions::otel;
use traced_conventions::span::DURATION_MS;
use traced_conventions::value::{error_chain, Unsigned, DEBUG_PANICKED, DISPLAY_PANICKED};

use super::baggage_attributes::BaggageCopy;
use super::queue::SpanSink;
use super::sampler::HeadSampler;
use super::sampling::DecidedIdGenerator;
use crate::config::BaggageAttributes;
use crate::export::attribute_vecs;
use crate::export::log_record::is_error_line;
use crate::export::span::{CallsiteAttributes, ClosedSpan, Origin, QueuedSpan, Rare};

/// Set when a [`Core`] is made: until then no layer of this crate exists to take what [`giving`] gives, which
/// then builds nothing (an HTTP layer under another tracing stack, tracing-opentelemetry's).
static CORE_MADE: AtomicBool = AtomicBool::new(false);

/// What every span of one pipeline shares.
#[derive(Debug)]
pub(crate) struct Core {
    sampler: HeadSampler,
    ids: DecidedIdGenerator,
    limits: SpanLimits,
    /// Referred to by every span it queues: one per distinct scope of the process ([`interned`]).
    scope: &'static InstrumentationScope,
    /// `None` when no exporter is configured: spans still get ids, for propagation.
    sink: Option<SpanSink>,
    /// Tail sampling is on: the spans the sampler drops are recorded and sent all the same (their flag, the one
    /// propagated, still says not sampled), and the export thread decides per local trace.
    record_dropped: bool,
    /// `TRACED_BAGGAGE_ATTRIBUTES`; `None` when off.
    baggage: Option<BaggageCopy>,
}

impl Core {
    pub(crate) fn new(
        sampler: HeadSampler,
        limits: SpanLimits,
        scope: InstrumentationScope,
        sink: Option<SpanSink>,
    ) -> Self {
        CORE_MADE.store(true, Ordering::Relaxed);
        Core {
            sampler,
            ids: DecidedIdGenerator::default(),
            limits,
            scope: interned(scope),
            sink,
            baggage: None,
            record_dropped: false,
        }
    }

    /// Where finished spans go, if anywhere.
    pub(crate) fn sink(&self) -> Option<SpanSink> {
        self.sink.clone()
    }

    /// Copies the baggage entries `attributes` names onto every span, from the context it starts in.
    pub(crate) fn with_baggage_attributes(mut self, attributes: &BaggageAttributes) -> Self {
        self.baggage = BaggageCopy::new(attributes);
        self
    }

    /// Records the spans the sampler drops too, for tail sampling.
    pub(crate) fn recording_dropped(mut self, record_dropped: bool) -> Self {
        self.record_dropped = record_dropped;
        self
    }

    /// Draws the ids and asks the sampler, once: on the first enter, or when something needs the span's context
    /// before that.
    fn start<'a>(&self, state: &'a mut SpanState) -> &'a Started {
        if let Phase::Pending { parent } = &mut state.phase {
            let parent = std::mem::take(parent);
            let started = self.decide(&parent, state);
            state.phase = Phase::Started(started);
        }
        match &state.phase {
            Phase::Started(started) => started,
            Phase::Pending { .. } => unreachable!("started above"),
        }
    }

    fn decide(&self, parent: &Context, state: &mut SpanState) -> Started {
        if parent.is_telemetry_suppressed() {
            return Started::non_recording(parent, SpanContext::empty_context());
        }
        let parent_span = Some(parent.span())
            .map(|span| span.span_context().clone())
            .filter(SpanContext::is_valid);
        let trace_id = parent_span
            .as_ref()
            .map_or_else(|| self.ids.new_trace_id(), SpanContext::trace_id);
        let result = self.sampler.should_sample(
            parent,
            trace_id,
            &state.name,
            &state.kind,
            &state.attributes,
            &state.links,
        );
        let flags = parent_span
            .as_ref()
            .map_or_else(TraceFlags::default, SpanContext::trace_flags);
        let (sampled, recording) = match result.decision {
            SamplingDecision::RecordAndSample => (true, true),
            SamplingDecision::RecordOnly => (false, true),
            SamplingDecision::Drop => (false, self.record_dropped),
        };
        let span_context = SpanContext::new(
            trace_id,
            self.ids.new_span_id(),
            flags.with_sampled(sampled),
            false,
            result.trace_state,
        );
        if recording {
            for attribute in result.attributes {
                state.push_attribute(attribute, &self.limits);
            }
            if let Some(baggage) = &self.baggage {
                // A key the span has already (a field the code recorded on purpose) is not copied.
                baggage.apply(parent.baggage(), |kv| {
                    state.push_context_attribute(kv, &self.limits);
                });
            }
        }
        let (parent_span_id, parent_is_remote, parent_sampled) =
            parent_span
                .as_ref()
                .map_or((SpanId::INVALID, false, false), |sc| {
                    (
                        sc.span_id(),
                        sc.is_remote(),
                        sc.is_remote() && sc.is_sampled(),
                    )
                });
        Started {
            cx: parent.with_remote_span_context(span_context.clone()),
            span_context,
            parent_span_id,
            parent_is_remote,
            parent_sampled,
            recording,
        }
    }

    /// Sends a closed span to the export queue, if it was sampled (or recorded for tail sampling). `timed`: the span declares `duration_ms`
    /// (as `#[traced]` spans do) and leaves it to the layer unless the code recorded it.
    /// The state's parts are taken out of it where it lies (its slot), not moved whole first.
    fn finish(&self, state: &mut SpanState, timed: bool) {
        let Some(sink) = &self.sink else { return };
        self.start(state);
        let Phase::Started(started) = std::mem::take(&mut state.phase) else {
            return;
        };
        if !started.recording || !(started.span_context.is_sampled() || self.record_dropped) {
            return;
        }
        let end_time = SystemTime::now();
        // Made from the start and end on the export thread (see `ExportSpan::duration_ms`), if it has room.
        let duration_ms = timed && !state.timed && state.room_for_one(&self.limits);
        let status = std::mem::take(&mut state.status);
        let ok = status == Status::Ok;
        let trace_state = started.span_context.trace_state();
        let rare = if state.events.is_empty()
            && state.links.is_empty()
            && state.dropped_events == 0
            && state.dropped_links == 0
            && matches!(status, Status::Unset | Status::Ok)
            && *trace_state == TraceState::NONE
        {
            None
        } else {
            let mut events = SpanEvents::default();
            events.events = std::mem::take(&mut state.events);
            events.dropped_count = state.dropped_events;
            let mut links = SpanLinks::default();
            links.links = std::mem::take(&mut state.links);
            links.dropped_count = state.dropped_links;
            Some(Box::new(Rare {
                events,
                links,
                status: if ok { Status::Unset } else { status },
                trace_state: trace_state.clone(),
            }))
        };
        let context = &started.span_context;
        sink.send(QueuedSpan::Closed(ClosedSpan {
            trace_id: context.trace_id(),
            span_id: context.span_id(),
            trace_flags: context.trace_flags(),
            is_remote: context.is_remote(),
            parent_span_id: started.parent_span_id,
            parent_span_is_remote: started.parent_is_remote,
            span_kind: std::mem::replace(&mut state.kind, SpanKind::Internal),
            name: std::mem::take(&mut state.name),
            start_time: state.start_time,
            end_time,
            attributes: std::mem::take(&mut state.attributes),
            dropped_attributes_count: state.dropped_attributes,
            rare,
            ok,
            scope: self.scope,
            origin: state.origin.take(),
            duration_ms,
            callsite: state
                .callsite
                .take()
                .map(|callsite| (callsite, state.callsite_at)),
            parent_sampled: started.parent_sampled,
        }));
    }

    /// The state of a span created now under `parent`: its name, its origin, the callsite's statics and its
    /// fields.
    pub(crate) fn new_state(&self, attrs: &Attributes<'_>, parent: Context) -> SpanState {
        let mut state = Core::empty_state(attrs, parent);
        self.fill_state(&mut state, attrs);
        state
    }

    /// [`Core::new_state`] before [`Core::fill_state`]: the name, the start, room for the attributes.
    pub(crate) fn empty_state(attrs: &Attributes<'_>, parent: Context) -> SpanState {
        // The fields, the thread and the target.
        let name = NAMED.take().unwrap_or(attrs.metadata().name());
        SpanState::new(name, attrs.fields().len() + 3, parent)
    }

    /// Records the origin, the callsite's statics and the fields of a new span on its [empty
    /// state](Core::empty_state), where it is to stay: the state is not moved again.
    pub(crate) fn fill_state(&self, state: &mut SpanState, attrs: &Attributes<'_>) {
        let skip = self.fill_origin(state, attrs.metadata());
        self.fill_fields(state, attrs, skip, None);
    }

    /// The first part of [`Core::fill_state`]: the origin and the callsite's statics (or what an integration
    /// gave). Returns how many of the fields that covers.
    pub(crate) fn fill_origin(
        &self,
        state: &mut SpanState,
        metadata: &'static Metadata<'static>,
    ) -> usize {
        let limits = &self.limits;
        THREAD.with(|(thread_id, name)| {
            state.push_origin(*thread_id, name.as_ref(), metadata.target(), limits);
        });
        state.context_at = state.attributes.len();
        match Statics::building(metadata) {
            Some(statics) => {
                state.push_callsite_attributes(&statics.attributes, limits);
                statics.len()
            }
            None => take_given(metadata, state, limits),
        }
    }

    /// The second part of [`Core::fill_state`]: the fields from index `skip` on, a `Debug` value's text taken
    /// from `written` where the log format wrote it already.
    pub(crate) fn fill_fields(
        &self,
        state: &mut SpanState,
        attrs: &Attributes<'_>,
        skip: usize,
        written: Option<Written<'_>>,
    ) {
        if skip < attrs.metadata().fields().len() {
            attrs.record(&mut SpanFields {
                state,
                limits: &self.limits,
                skip,
                written,
            });
        }
    }

    /// Records `values` on `state`, if it is recording, a `Debug` value's text taken from `written` where the log
    /// format wrote it already. The caller holds a [`Visiting`] guard.
    pub(crate) fn record(
        &self,
        state: &mut SpanState,
        values: &Record<'_>,
        written: Option<Written<'_>>,
    ) {
        if state.is_recording() {
            values.record(&mut SpanFields {
                state,
                limits: &self.limits,
                skip: 0,
                written,
            });
        }
    }

    /// Records `event` on `state` (the span it belongs to) as a span event; an `ERROR` event sets the status.
    /// The caller holds a [`Visiting`] guard.
    pub(crate) fn record_event(&self, state: &mut SpanState, event: &tracing::Event<'_>) {
        if !state.is_recording() {
            return;
        }
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let target = match &normalized {
            Some(normalized) => KeyValue::new(TARGET, normalized.target().to_owned()),
            None => KeyValue::new(TARGET, event.metadata().target()),
        };
        let mut fields = EventFields {
            name: None,
            attributes: vec![KeyValue::new(LEVEL, metadata.level().as_str()), target],
            span: state,
            limits: &self.limits,
        };
        event.record(&mut fields);
        let EventFields {
            name, attributes, ..
        } = fields;
        if *metadata.level() == tracing::Level::ERROR && state.status == Status::Unset {
            state.status = Status::error("");
        }
        let name = name.unwrap_or(Cow::Borrowed(event.metadata().name()));
        state.push_event(
            Event::new(name, SystemTime::now(), attributes, 0),
            &self.limits,
        );
    }

    /// Sends the span of `meta` with `state` to the export queue when it closes (see [`Core::finish`]); what is
    /// left of `state` is to be dropped.
    pub(crate) fn close(&self, state: &mut SpanState, meta: &Metadata<'_>) {
        self.finish(state, meta.fields().field(DURATION_MS).is_some());
    }
}

/// One span while it is open: what the SDK would keep in its span, kept in the registry's extensions (or in a slot
/// of the [`SpanSubscriber`](super::span_subscriber::SpanSubscriber)).
#[derive(Debug)]
pub(crate) struct SpanState {
    name: Cow<'static, str>,
    kind: SpanKind,
    start_time: SystemTime,
    /// The first attributes, the thread's and the target, when kept as values (see [`Origin`]).
    origin: Option<Origin>,
    attributes: Vec<KeyValue>,
    /// The attributes of the span's callsite, kept by reference, which belong at `callsite_at` in
    /// `attributes` (see [`ExportSpan`]).
    callsite: Option<&'static CallsiteAttributes>,
    callsite_at: usize,
    dropped_attributes: u32,
    events: Vec<Event>,
    dropped_events: u32,
    links: Vec<Link>,
    dropped_links: u32,
    status: Status,
    /// `duration_ms` was recorded by the code (a `span!` block, `#[traced]` under another pipeline).
    timed: bool,
    /// Where the span's own attributes start (after `thread.*` and `target`): the context attributes copied from
    /// the baggage go there, ahead of the fields, so a reader that shows a span's first few attributes (the
    /// console) shows whose request it is.
    context_at: usize,
    phase: Phase,
}

#[derive(Debug)]
enum Phase {
    /// Created, not entered yet: the parent may still change.
    Pending {
        parent: Context,
    },
    Started(Started),
}

impl Default for Phase {
    fn default() -> Self {
        Phase::Pending {
            parent: Context::new(),
        }
    }
}

#[derive(Clone, Debug)]
struct Started {
    /// The parent context with this span current, attached while the span is entered.
    cx: Context,
    span_context: SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    /// The parent is remote and arrived sampled.
    parent_sampled: bool,
    /// False when the sampler dropped the span: it still has a context to propagate, nothing is recorded.
    recording: bool,
}

impl Started {
    fn non_recording(parent: &Context, span_context: SpanContext) -> Self {
        Started {
            cx: parent.with_remote_span_context(span_context.clone()),
            span_context,
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            parent_sampled: false,
            recording: false,
        }
    }
}

impl SpanState {
    /// A span starting now under `parent`, with room for `attributes`.
    fn new(name: &'static str, attributes: usize, parent: Context) -> Self {
        SpanState {
            name: Cow::Borrowed(name),
            kind: SpanKind::Internal,
            start_time: SystemTime::now(),
            origin: None,
            attributes: attribute_vecs::take(attributes),
            callsite: None,
            callsite_at: 0,
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            links: Vec::new(),
            dropped_links: 0,
            status: Status::Unset,
            timed: false,
            context_at: 0,
            phase: Phase::Pending { parent },
        }
    }

    /// Replaces the parent of a span not started yet; false once it has started.
    pub(crate) fn set_parent(&mut self, parent: Context) -> bool {
        match &mut self.phase {
            Phase::Pending { parent: current } => {
                *current = parent;
                true
            }
            Phase::Started(_) => false,
        }
    }

    /// Adds an attribute, set from code rather than from a field.
    pub(crate) fn set_attribute(&mut self, attribute: KeyValue, core: &Core) {
        if self.is_recording() {
            self.push_attribute(attribute, &core.limits);
        }
    }

    /// Adds an event, set from code.
    pub(crate) fn add_event(&mut self, event: Event, core: &Core) {
        if self.is_recording() {
            self.push_event(event, &core.limits);
        }
    }

    /// Adds a link to another span.
    pub(crate) fn add_link(&mut self, span_context: SpanContext, core: &Core) {
        if span_context.is_valid() {
            self.push_link(span_context, &core.limits);
        }
    }

    /// The span's context (its parent context with the span current), starting the span if needed.
    pub(crate) fn context(&mut self, core: &Core) -> Context {
        core.start(self).cx.clone()
    }

    /// The span's own span context, starting the span if needed.
    pub(crate) fn span_context(&mut self, core: &Core) -> SpanContext {
        core.start(self).span_context.clone()
    }

    /// The span's own span context once it started (entered, or its context read); `None` before.
    pub(crate) fn started_span_context(&self) -> Option<&SpanContext> {
        match &self.phase {
            Phase::Started(started) => Some(&started.span_context),
            Phase::Pending { .. } => None,
        }
    }

    /// The attributes recorded so far, the origin's and the callsite's in place.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = Cow<'_, KeyValue>> {
        let at = self.callsite_at.min(self.attributes.len());
        let callsite = self
            .callsite
            .map_or(&[][..], CallsiteAttributes::attributes);
        let origin = self.origin.iter().flat_map(Origin::attributes);
        origin.map(Cow::Owned).chain(
            self.attributes[..at]
                .iter()
                .chain(callsite)
                .chain(&self.attributes[at..])
                .map(Cow::Borrowed),
        )
    }

    /// How many attributes the span has, the origin's and the callsite's included.
    fn attribute_count(&self) -> usize {
        self.attributes.len()
            + self.origin.map_or(0, |origin| origin.len())
            + self.callsite.map_or(0, |c| c.attributes().len())
    }

    /// The span's first attributes: kept as an [`Origin`] when they fit under the limit (nearly always) and
    /// the thread's name is a `'static` one, else pushed as attributes.
    fn push_origin(
        &mut self,
        thread_id: i64,
        thread_name: Option<&ThreadName>,
        target: &'static str,
        limits: &SpanLimits,
    ) {
        let static_name = match thread_name {
            None => Some(None),
            Some(ThreadName::Static(name)) => Some(Some(*name)),
            Some(ThreadName::Shared(_)) => None,
        };
        if let Some(thread_name) = static_name {
            let origin = Origin {
                thread_id,
                thread_name,
                target,
            };
            if self.attribute_count() + origin.len() <= limits.max_attributes_per_span as usize {
                self.origin = Some(origin);
                return;
            }
        }
        self.push_attribute(KeyValue::new(THREAD_ID, thread_id), limits);
        if let Some(name) = thread_name {
            self.push_attribute(KeyValue::new(THREAD_NAME, name.value()), limits);
        }
        self.push_attribute(KeyValue::new(TARGET, target), limits);
    }

    fn is_recording(&self) -> bool {
        match &self.phase {
            Phase::Pending { .. } => true,
            Phase::Started(started) => started.recording,
        }
    }

    /// Adds an attribute of the context (see `context_at`) unless the span has one of the same key already.
    fn push_context_attribute(&mut self, attribute: KeyValue, limits: &SpanLimits) {
        if self.attributes().any(|kv| kv.key == attribute.key) {
            return;
        }
        if self.attribute_count() < limits.max_attributes_per_span as usize {
            let at = self.context_at.min(self.attributes.len());
            self.attributes.insert(at, attribute);
            self.context_at = at + 1;
            if self.callsite_at >= at {
                self.callsite_at += 1;
            }
        } else {
            self.dropped_attributes += 1;
        }
    }

    /// True if one more attribute fits under the limit; false, and one more counted as dropped, if not.
    fn room_for_one(&mut self, limits: &SpanLimits) -> bool {
        let room = self.attribute_count() < limits.max_attributes_per_span as usize;
        if !room {
            self.dropped_attributes += 1;
        }
        room
    }

    fn push_attribute(&mut self, attribute: KeyValue, limits: &SpanLimits) {
        if self.attribute_count() < limits.max_attributes_per_span as usize {
            self.attributes.push(attribute);
        } else {
            self.dropped_attributes += 1;
        }
    }

    /// The attributes of the span's callsite, here: kept by reference when they all fit under the limit (nearly
    /// always), else [`SpanState::push_attribute`] for each, copied in one `extend`.
    fn push_callsite_attributes(
        &mut self,
        callsite: &'static CallsiteAttributes,
        limits: &SpanLimits,
    ) {
        let attributes = callsite.attributes();
        let room = (limits.max_attributes_per_span as usize).saturating_sub(self.attribute_count());
        if self.callsite.is_none() && attributes.len() <= room {
            self.callsite = Some(callsite);
            self.callsite_at = self.attributes.len();
            return;
        }
        let copied = attributes.len().min(room);
        self.attributes.extend_from_slice(&attributes[..copied]);
        self.dropped_attributes += (attributes.len() - copied) as u32;
    }

    /// The SDK's rule: `Ok` is final, `Unset` changes nothing, an error replaces an error.
    pub(crate) fn set_status(&mut self, status: Status) {
        match (&self.status, &status) {
            (Status::Ok, _) | (_, Status::Unset) => {}
            _ => self.status = status,
        }
    }

    fn push_event(&mut self, mut event: Event, limits: &SpanLimits) {
        if self.events.len() >= limits.max_events_per_span as usize {
            self.dropped_events += 1;
            return;
        }
        let max = limits.max_attributes_per_event as usize;
        if event.attributes.len() > max {
            event.dropped_attributes_count +=
                u32::try_from(event.attributes.len() - max).unwrap_or(u32::MAX);
            event.attributes.truncate(max);
        }
        self.events.push(event);
    }

    fn push_link(&mut self, span_context: SpanContext, limits: &SpanLimits) {
        if self.links.len() < limits.max_links_per_span as usize {
            self.links.push(Link::with_context(span_context));
        } else {
            self.dropped_links += 1;
        }
    }
}

thread_local! {
    /// `thread.id` and `thread.name` of this thread, computed once: the name is shared, not copied per span.
    static THREAD: (i64, Option<ThreadName>) = {
        let thread = std::thread::current();
        let id = format!("{:?}", thread.id())
            .trim_start_matches("ThreadId(")
            .trim_end_matches(')')
            .parse()
            .unwrap_or(0);
        (id, thread.name().map(thread_name))
    };

    /// Short strings recorded as span fields, by address: a `&'static str` value (`file!()`, a fn's path, a
    /// route) is copied once per thread, then shared by every span that records it. Direct-mapped; the content
    /// is compared too, so a reused address never returns a stale string.
    static STRINGS: RefCell<[Option<(usize, StringValue)>; STRING_SLOTS]> =
        const { RefCell::new([const { None }; STRING_SLOTS]) };

    /// The same strings by content, for the values each request builds anew at a new address with the same text
    /// as the last one (a path, a peer address, a user agent): found here, they are not copied again.
    static TEXTS: RefCell<[Option<StringValue>; STRING_SLOTS]> =
        const { RefCell::new([const { None }; STRING_SLOTS]) };

    /// See [`Visiting`].
    static VISITING: Cell<bool> = const { Cell::new(false) };

    /// See [`building`].
    static BUILDING: Cell<Option<&'static Statics>> = const { Cell::new(None) };

    /// See [`named`].
    static NAMED: Cell<Option<&'static str>> = const { Cell::new(None) };

    /// See [`giving`].
    static GIVEN: RefCell<Given> = const {
        RefCell::new(Given { meta: None, fields: 0, kind: SpanKind::Internal, parent: None, attributes: Vec::new() })
    };

    /// The contexts attached by the spans entered on this thread, innermost last, and the default subscriber a
    /// test pipeline's span set (see [`SpanLayer::carrying_its_dispatch`]).
    static ENTERED: RefCell<Vec<(Id, ContextGuard, Option<DefaultGuard>)>> = const { RefCell::new(Vec::new()) };
}

/// The `'static` value equal to `value` in `known`, else one leaked by `leak` and kept there while `known` holds
/// fewer than `max`; `None` when it is full and holds none equal.
fn leaked_once<T: PartialEq + ?Sized + 'static>(
    known: &Mutex<Vec<&'static T>>,
    max: usize,
    value: &T,
    leak: impl FnOnce() -> &'static T,
) -> Option<&'static T> {
    let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(same) = known.iter().find(|same| **same == value) {
        return Some(same);
    }
    (known.len() < max).then(|| {
        let leaked = leak();
        known.push(leaked);
        leaked
    })
}

/// Distinct scopes kept for pipelines to share, at most: a process starts its pipelines again (a second `init`,
/// a forked child, each test) with the same one.
const MAX_SCOPES: usize = 64;

/// The `'static` scope equal to `scope`, made once per distinct scope: a pipeline's spans refer to it, and a
/// leaked one per pipeline (about 100 bytes) added up in a process that starts pipelines without end. Past
/// [`MAX_SCOPES`] distinct ones, each is leaked as before.
fn interned(scope: InstrumentationScope) -> &'static InstrumentationScope {
    static SCOPES: Mutex<Vec<&'static InstrumentationScope>> = Mutex::new(Vec::new());
    leaked_once(&SCOPES, MAX_SCOPES, &scope, || {
        Box::leak(Box::new(scope.clone()))
    })
    .unwrap_or_else(|| Box::leak(Box::new(scope)))
}

/// Distinct thread names, at most: a pool's threads share one name, and a program that names each thread has a
/// bounded number of them, unless it makes threads without end.
const MAX_THREAD_NAMES: usize = 256;

/// The `thread.name` value of a thread named `name`: a `'static` text, made once per distinct name, so the spans
/// of a thread share it with no reference count (an `Arc` would be incremented by each span on its thread and
/// decremented on the export thread, a cache line passed between the two per span); past
/// [`MAX_THREAD_NAMES`], a shared `Arc` as before.
fn thread_name(name: &str) -> ThreadName {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    match leaked_once(&NAMES, MAX_THREAD_NAMES, name, || Box::leak(name.into())) {
        Some(known) => ThreadName::Static(known),
        None => ThreadName::Shared(StringValue::from(std::sync::Arc::<str>::from(name))),
    }
}

/// A thread's `thread.name`.
#[derive(Clone, Debug)]
enum ThreadName {
    Static(&'static str),
    Shared(StringValue),
}

impl ThreadName {
    #[cfg(test)]
    fn as_str(&self) -> &str {
        match self {
            ThreadName::Static(name) => name,
            ThreadName::Shared(name) => name.as_str(),
        }
    }

    fn value(&self) -> StringValue {
        match self {
            ThreadName::Static(name) => StringValue::from(*name),
            ThreadName::Shared(name) => name.clone(),
        }
    }
}

const STRING_SLOTS: usize = 64;
/// Longer values are copied every time rather than kept alive by the cache.
const SHARED_STRING_MAX: usize = 256;

/// `value` as an attribute value, shared with earlier spans (and log records) that recorded the same string from
/// the same address.
pub(crate) fn shared(value: &str) -> StringValue {
    if value.len() > SHARED_STRING_MAX {
        return value.to_owned().into();
    }
    let address = value.as_ptr() as usize;
    let slot = ((address >> 4) ^ value.len()) % STRING_SLOTS;
    STRINGS.with(|strings| {
        let mut strings = strings.borrow_mut();
        if let Some((cached_at, cached)) = &strings[slot] {
            if *cached_at == address && cached.as_str() == value {
                return cached.clone();
            }
        }
        let found = by_content(value);
        strings[slot] = Some((address, found.clone()));
        found
    })
}

/// [`shared`]'s second table: `value` as the string of the same text kept last in its slot, else a copy that
/// takes the slot.
fn by_content(value: &str) -> StringValue {
    // FNV-1a: the strings are short, and a few collisions cost a copy, not a wrong answer.
    let hash = value.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let slot = (hash % STRING_SLOTS as u64) as usize;
    TEXTS.with(|texts| {
        let mut texts = texts.borrow_mut();
        match &texts[slot] {
            Some(cached) if cached.as_str() == value => cached.clone(),
            _ => {
                let fresh = StringValue::from(std::sync::Arc::<str>::from(value));
                texts[slot] = Some(fresh.clone());
                fresh
            }
        }
    })
}

/// The first attributes of every span of one callsite, whose values never change (a `#[traced]` fn's `code.*`
/// fields): the code that builds such a span hands them over ([`building`]) and the layer copies them rather
/// than visit those fields and look each string up in the thread's cache. Other layers see the fields as ever.
#[derive(Debug)]
pub(crate) struct Statics {
    meta: &'static Metadata<'static>,
    /// The values of the first fields of `meta`, as attributes, in order.
    attributes: CallsiteAttributes,
    /// Their text in a log line (the one form of [`LogLines::add_fields`](super::span_subscriber::LogLines)),
    /// made the first time a span of the callsite is printed.
    line_text: OnceLock<Box<str>>,
}

impl Statics {
    /// The first fields of `meta`, with `values`.
    pub(crate) fn new(
        meta: &'static Metadata<'static>,
        values: impl IntoIterator<Item = opentelemetry::Value>,
    ) -> Statics {
        let attributes = meta
            .fields()
            .iter()
            .zip(values)
            .map(|(field, value)| KeyValue::new(Key::from_static_str(field.name()), value))
            .collect();
        Statics {
            meta,
            attributes: CallsiteAttributes::new(attributes),
            line_text: OnceLock::new(),
        }
    }

    /// The statics of the span of `meta` being built on this thread, if the expansion handed them over.
    pub(crate) fn building(meta: &Metadata<'_>) -> Option<&'static Statics> {
        BUILDING
            .with(Cell::get)
            .filter(|statics| std::ptr::eq(statics.meta, meta))
    }

    /// How many of the callsite's first fields they give.
    pub(crate) fn len(&self) -> usize {
        self.attributes.attributes().len()
    }

    /// Their text in a log line, written by `write` (given their values to visit) once per callsite.
    pub(crate) fn line_text(
        &self,
        write: impl FnOnce(&mut String, &dyn Fn(&mut dyn Visit)),
    ) -> &str {
        self.line_text.get_or_init(|| {
            let mut text = String::new();
            write(&mut text, &|visit| self.record(visit));
            text.into_boxed_str()
        })
    }

    /// Visits their values as the fields they are.
    fn record(&self, visit: &mut dyn Visit) {
        for (field, attribute) in self.meta.fields().iter().zip(self.attributes.attributes()) {
            match &attribute.value {
                opentelemetry::Value::String(text) => visit.record_str(&field, text.as_str()),
                opentelemetry::Value::I64(n) => visit.record_i64(&field, *n),
                opentelemetry::Value::F64(x) => visit.record_f64(&field, *x),
                opentelemetry::Value::Bool(b) => visit.record_bool(&field, *b),
                other => visit.record_debug(&field, &format_args!("{other}")),
            }
        }
    }
}

/// Runs `build`, which creates a span of `statics`' callsite, with `statics` handed to the layer.
pub(crate) fn building<R>(statics: &'static Statics, build: impl FnOnce() -> R) -> R {
    handing(&BUILDING, statics, build)
}

/// What [`giving`] gives the span of `meta`.
#[derive(Debug)]
struct Given {
    meta: Option<&'static Metadata<'static>>,
    /// How many of the callsite's first fields the attributes and the kind stand for.
    fields: usize,
    /// The span's kind (the value of its `otel.kind` field, when among them).
    kind: SpanKind,
    /// The span's OpenTelemetry parent, in place of the one it would have (the current context).
    parent: Option<Context>,
    /// The values of those fields that have one, as attributes, in their order.
    attributes: Vec<KeyValue>,
}

/// Runs `build`, which creates a span of callsite `meta` of `kind` whose first `fields` fields have the values
/// `attributes` pushes (those with a value, as attributes, in the fields' order; `otel.kind` may be among the
/// fields, `otel.name` if [`named`] gives the name), with them given to the layer: it takes them as they are
/// rather than visit those fields, each value through `Visit`, the `otel.*` checks and the string cache, and
/// when they are all the fields it does not visit the span's values at all. Other layers and the log formats
/// see the fields as ever. For values made per span (the HTTP server span's); [`building`] for values a
/// callsite never changes.
///
/// The span's OpenTelemetry `parent` is given too (what [`SpanExt::set_parent`](crate::SpanExt::set_parent) would
/// set once it is made, through a look-up of its state). Returns whether this crate's layer took it all: then it
/// keeps the span's state, and times the span itself when its callsite declares `duration_ms`, as it does a
/// `#[traced]` fn's. Otherwise the parent is given back, to be set the usual way.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn giving<R>(
    meta: &'static Metadata<'static>,
    fields: usize,
    kind: SpanKind,
    parent: Context,
    attributes: impl FnOnce(&mut Vec<KeyValue>),
    build: impl FnOnce() -> R,
) -> (R, Result<(), Context>) {
    if !CORE_MADE.load(Ordering::Relaxed) {
        return (build(), Err(parent));
    }
    /// Takes back what no layer took (no span was made, or not by this crate's layer), on unwind too.
    struct Clear;
    impl Clear {
        /// The parent no layer took (`take_given` takes it with the rest); `None` when this crate's layer did.
        fn clear() -> Option<Context> {
            GIVEN.with(|given| {
                // Never busy: see below.
                let mut given = given.try_borrow_mut().ok()?;
                given.meta = None;
                given.attributes.clear();
                given.parent.take()
            })
        }
    }
    impl Drop for Clear {
        fn drop(&mut self) {
            Clear::clear();
        }
    }
    let given = GIVEN.with(|given| {
        // Borrowed only here (while `attributes` pushes) and in `take_given`: never busy.
        let Ok(mut given) = given.try_borrow_mut() else {
            return Err(parent);
        };
        given.attributes.clear();
        attributes(&mut given.attributes);
        given.meta = Some(meta);
        given.fields = fields;
        given.kind = kind;
        given.parent = Some(parent);
        Ok(())
    });
    let clear = given.is_ok().then_some(Clear);
    let built = build();
    let left = match given {
        Ok(()) => {
            std::mem::forget(clear);
            Clear::clear().map_or(Ok(()), Err)
        }
        Err(parent) => Err(parent),
    };
    (built, left)
}

/// Pushes onto `state` what [`giving`] gives the span of `meta` being built on this thread, if anything; returns
/// how many of the callsite's first fields that stands for (0: none, every field is visited).
fn take_given(meta: &Metadata<'_>, state: &mut SpanState, limits: &SpanLimits) -> usize {
    GIVEN.with(|given| {
        let Ok(mut given) = given.try_borrow_mut() else {
            return 0;
        };
        if !given.meta.is_some_and(|given| std::ptr::eq(given, meta)) {
            return 0;
        }
        // For one span: another of the callsite built inside this one's creation visits its fields.
        given.meta = None;
        state.kind = given.kind.clone();
        if let Some(parent) = given.parent.take() {
            state.set_parent(parent);
        }
        let room =
            (limits.max_attributes_per_span as usize).saturating_sub(state.attribute_count());
        if given.attributes.len() <= room {
            // Nearly always: one copy of them all.
            state.attributes.append(&mut given.attributes);
        } else {
            for attribute in given.attributes.drain(..) {
                state.push_attribute(attribute, limits);
            }
        }
        given.fields
    })
}

/// Runs `build`, which creates a span whose `otel.name` field is `name`, with `name` handed to the layer: the
/// first span created takes it as its name as is, rather than a copy of the field's text per span.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn named<R>(name: &'static str, build: impl FnOnce() -> R) -> R {
    handing(&NAMED, name, build)
}

/// Runs `build` with `value` in the thread's `slot`, where the layer finds it while the span is built; what was
/// there before is put back when `build` returns or unwinds.
fn handing<T: Copy + 'static, R>(
    slot: &'static LocalKey<Cell<Option<T>>>,
    value: T,
    build: impl FnOnce() -> R,
) -> R {
    struct Restore<T: Copy + 'static> {
        slot: &'static LocalKey<Cell<Option<T>>>,
        outer: Option<T>,
    }
    impl<T: Copy + 'static> Drop for Restore<T> {
        fn drop(&mut self) {
            self.slot.set(self.outer);
        }
    }
    let _restore = Restore {
        slot,
        outer: slot.replace(Some(value)),
    };
    build()
}

/// The layer. `S` is the subscriber below it, for the span lookups of [`WithSpan`].
pub(crate) struct SpanLayer<S> {
    core: Core,
    with_span: WithSpan,
    /// Test pipelines only ([`SpanLayer::carrying_its_dispatch`]): the subscriber this layer is part of.
    carried: Option<OnceLock<WeakDispatch>>,
    _subscriber: PhantomData<fn(S)>,
}

impl<S> SpanLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    pub(crate) fn new(core: Core) -> Self {
        SpanLayer {
            core,
            with_span: WithSpan {
                with: with_state::<S>,
            },
            carried: None,
            _subscriber: PhantomData,
        }
    }

    /// A layer whose spans bring their subscriber along: entered on a thread whose default subscriber is another
    /// one (a task spawned with `.in_current_span()` onto a runtime's worker, in a test that scoped its subscriber
    /// to its own thread), the span makes its own subscriber the thread's default while it is entered, so the
    /// spans and events inside still reach it. For `traced::testing`, whose captures never set a global.
    #[cfg(feature = "testing")]
    pub(crate) fn carrying_its_dispatch(mut self) -> Self {
        self.carried = Some(OnceLock::new());
        self
    }

    /// The default-subscriber guard [`SpanLayer::carrying_its_dispatch`] asks for, when the thread's default is
    /// not this layer's subscriber.
    fn carry(&self) -> Option<DefaultGuard> {
        let ours = self.carried.as_ref()?.get()?;
        let is_default = tracing::dispatcher::get_default(|current| {
            current
                .downcast_ref::<Core>()
                .is_some_and(|core| std::ptr::eq(core, &self.core))
        });
        if is_default {
            return None;
        }
        Some(tracing::dispatcher::set_default(&ours.upgrade()?))
    }

    /// The parent a new span starts under: its explicit parent's context, the current OpenTelemetry context
    /// for a contextual span (the entered span, or a context the application attached), nothing for a root.
    fn parent(&self, attrs: &Attributes<'_>, ctx: &LayerContext<'_, S>) -> Context {
        if let Some(parent) = attrs.parent() {
            // A parent filtered away from this layer: the span becomes a root rather than a panic.
            if let Some(span) = ctx.span(parent) {
                if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
                    return self.core.start(state).cx.clone();
                }
            }
            Context::new()
        } else if attrs.is_contextual() {
            Context::current()
        } else {
            Context::new()
        }
    }
}

impl<S> Layer<S> for SpanLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if Visiting::now() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = self.parent(attrs, &ctx);
        let state = self.core.new_state(attrs, parent);
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(_visiting) = Visiting::enter() else {
            return;
        };
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            self.core.record(state, values, None);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let Some(follows) = ctx.span(follows) else {
            return;
        };
        let Some(span_context) = follows
            .extensions_mut()
            .get_mut::<SpanState>()
            .map(|state| self.core.start(state).span_context.clone())
        else {
            return;
        };
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            state.push_link(span_context, &self.core.limits);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
        // `#[traced]` put its error on the span already; its line is for the log.
        if is_error_line(event.metadata()) {
            return;
        }
        let Some(_visiting) = Visiting::enter() else {
            return;
        };
        let span = match event.parent() {
            Some(parent) => ctx.span(parent),
            None if event.is_contextual() => ctx.lookup_current(),
            None => None,
        };
        let Some(span) = span.and_then(with_state_or_above) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            self.core.record_event(state, event);
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        if Visiting::now() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let cx = match span.extensions_mut().get_mut::<SpanState>() {
            Some(state) => self.core.start(state).cx.clone(),
            None => return,
        };
        // Attached with the registry's lock released.
        let carried = self.carry();
        let guard = cx.attach();
        ENTERED.with(|entered| entered.borrow_mut().push((id.clone(), guard, carried)));
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        let guards = ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            let at = entered.iter().rposition(|(entered, ..)| entered == id)?;
            Some(entered.remove(at))
        });
        drop(guards);
    }

    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        if let Some(carried) = &self.carried {
            let _ = carried.set(subscriber.downgrade());
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let state = span.extensions_mut().remove::<SpanState>();
        if let Some(mut state) = state {
            self.core.close(&mut state, span.metadata());
        }
    }

    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else if id == std::any::TypeId::of::<WithSpan>() {
            Some(std::ptr::from_ref(&self.with_span).cast())
        } else if id == std::any::TypeId::of::<Core>() {
            Some(std::ptr::from_ref(&self.core).cast())
        } else {
            None
        }
    }
}

/// `span` if the layer keeps its state, else the nearest span around it that it does: the span an event inside
/// belongs to. Under a per-layer filter the current span is always one of ours; without one (see
/// `subscriber::SkipInternal`) it may be a span the layer left out (an internal target's, one of a dropped trace).
pub(crate) fn with_state_or_above<'a, S>(span: SpanRef<'a, S>) -> Option<SpanRef<'a, S>>
where
    S: Subscriber + for<'l> LookupSpan<'l>,
{
    span.scope()
        .find(|span| span.extensions().get::<SpanState>().is_some())
}

/// True while the span layer holds a span's state and runs the application's code on a field value: another
/// layer must not reach for a span's state now either.
pub(crate) fn visiting() -> bool {
    Visiting::now()
}

/// Set while the layer holds a span's state and runs the application's `Debug` and `Display` code on field
/// values: an event or a span made by that code must not reach for a state that is locked already (a deadlock),
/// so the layer ignores it, as tracing-opentelemetry's does.
pub(crate) struct Visiting;

impl Visiting {
    pub(crate) fn now() -> bool {
        VISITING.with(Cell::get)
    }

    /// The guard, unless the thread is visiting already.
    pub(crate) fn enter() -> Option<Visiting> {
        // Not `then_some(Visiting)`: its argument is made either way, and dropped when the thread is visiting
        // already, which cleared the flag of the outer guard.
        if VISITING.with(|visiting| visiting.replace(true)) {
            None
        } else {
            Some(Visiting)
        }
    }
}

impl Drop for Visiting {
    fn drop(&mut self) {
        VISITING.with(|visiting| visiting.set(false));
    }
}

/// Where the log format wrote the `Debug` text of each of a span's field values, by field index, in the text it
/// keeps for the span: the span's attributes take that text rather than run the application's `Debug` again
/// (twice the cost, and twice what that code does).
#[derive(Default)]
pub(crate) struct DebugTexts {
    ranges: Vec<(usize, Range<usize>)>,
}

impl DebugTexts {
    /// Forgets the texts of the last fields written.
    pub(crate) fn clear(&mut self) {
        self.ranges.clear();
    }

    /// The `Debug` text of `field`'s value is at `range` of the text.
    pub(crate) fn note(&mut self, field: &Field, range: Range<usize>) {
        self.ranges.push((field.index(), range));
    }

    fn get(&self, field: &Field) -> Option<Range<usize>> {
        let index = field.index();
        self.ranges
            .iter()
            .find(|(at, _)| *at == index)
            .map(|(_, range)| range.clone())
    }
}

/// The text the log format wrote for the fields being visited, and where their `Debug` values are in it.
#[derive(Clone, Copy)]
pub(crate) struct Written<'a> {
    pub(crate) text: &'a str,
    pub(crate) debug: &'a DebugTexts,
}

impl Written<'_> {
    /// The `Debug` text of `field`'s value, if the log format wrote it.
    fn debug(&self, field: &Field) -> Option<&str> {
        self.debug.get(field).and_then(|range| self.text.get(range))
    }
}

/// Span fields as attributes, with the `otel.*` fields setting the name, kind and status instead.
struct SpanFields<'a> {
    state: &'a mut SpanState,
    limits: &'a SpanLimits,
    /// The first fields, whose attributes came from [`Statics`]: not recorded again.
    skip: usize,
    written: Option<Written<'a>>,
}

impl SpanFields<'_> {
    fn push(&mut self, attribute: KeyValue) {
        self.state.push_attribute(attribute, self.limits);
    }

    /// Handles an `otel.*` field; false for any other field.
    fn special(&mut self, field: &Field, value: &str) -> bool {
        match field.name() {
            // The name [`named`] handed over is this text already.
            otel::NAME if self.state.name == value => {}
            otel::NAME => self.state.name = Cow::Owned(value.to_owned()),
            otel::KIND => self.state.kind = span_kind(value).unwrap_or(self.state.kind.clone()),
            otel::STATUS_CODE => {
                let status = match value {
                    "ok" | "OK" | "Ok" => Status::Ok,
                    "error" | "ERROR" | "Error" => Status::error(""),
                    _ => Status::Unset,
                };
                self.state.set_status(status);
            }
            otel::STATUS_DESCRIPTION => self.state.set_status(Status::error(value.to_owned())),
            _ => return false,
        }
        true
    }
}

impl Visit for SpanFields<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.index() < self.skip {
            return;
        }
        self.push(KeyValue::new(Key::from_static_str(field.name()), value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.index() < self.skip {
            return;
        }
        if field.name() == DURATION_MS {
            self.state.timed = true;
        }
        self.push(KeyValue::new(Key::from_static_str(field.name()), value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.index() < self.skip {
            return;
        }
        self.push(KeyValue::new(Key::from_static_str(field.name()), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.index() < self.skip {
            return;
        }
        self.push(KeyValue::new(
            Key::from_static_str(field.name()),
            unsigned(value),
        ));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.index() < self.skip {
            return;
        }
        if !self.special(field, value) {
            self.push(KeyValue::new(
                Key::from_static_str(field.name()),
                shared(value),
            ));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.index() < self.skip {
            return;
        }
        let text = match self
            .written
            .as_ref()
            .and_then(|written| written.debug(field))
        {
            Some(text) => text.to_owned(),
            None => debug_text(value),
        };
        if !self.special(field, &text) {
            self.push(KeyValue::new(Key::from_static_str(field.name()), text));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let (message, chain) = error_texts(value);
        self.push(KeyValue::new(EXCEPTION_MESSAGE, message.clone()));
        if let Some(chain) = &chain {
            self.push(KeyValue::new(EXCEPTION_STACKTRACE, chain.clone()));
        }
        self.push(KeyValue::new(Key::from_static_str(field.name()), message));
        if let Some(chain) = chain {
            self.push(KeyValue::new(format!("{}.chain", field.name()), chain));
        }
    }
}

/// An event's fields: `message` names it, an `error` field makes it an exception and sets the span's status, a
/// `dyn Error` field records its chain on the event and on the span.
struct EventFields<'a> {
    name: Option<Cow<'static, str>>,
    attributes: Vec<KeyValue>,
    span: &'a mut SpanState,
    limits: &'a SpanLimits,
}

impl EventFields<'_> {
    fn push(&mut self, field: &Field, value: opentelemetry::Value) {
        match field.name() {
            MESSAGE => self.name = Some(Cow::Owned(value.as_str().into_owned())),
            // Fields tracing-log adds for a log record: already in the metadata.
            name if name.starts_with("log.") => {}
            name => self
                .attributes
                .push(KeyValue::new(Key::from_static_str(name), value)),
        }
    }

    /// `error = %e` / `?e` on an event with no message yet: an exception event, and an error status.
    fn error_field(&mut self, field: &Field, message: &str) -> bool {
        if field.name() != ERROR_FIELD || self.name.is_some() {
            return false;
        }
        self.span.set_status(Status::error(message.to_owned()));
        self.name = Some(Cow::Borrowed(EXCEPTION));
        self.attributes
            .push(KeyValue::new(EXCEPTION_MESSAGE, message.to_owned()));
        true
    }
}

impl Visit for EventFields<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, unsigned(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // The quoted text is only made for an `error` field: every other text field of every event went through
        // a `format!` for nothing.
        if !(field.name() == ERROR_FIELD && self.error_field(field, &format!("{value:?}"))) {
            self.push(field, value.to_owned().into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = debug_text(value);
        if !self.error_field(field, &text) {
            self.push(field, text.into());
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let (message, chain) = error_texts(value);
        let mut exception = vec![KeyValue::new(EXCEPTION_MESSAGE, message.clone())];
        if let Some(chain) = &chain {
            exception.push(KeyValue::new(EXCEPTION_STACKTRACE, chain.clone()));
        }
        for attribute in &exception {
            self.span.push_attribute(attribute.clone(), self.limits);
        }
        self.attributes.extend(exception);
        self.attributes
            .push(KeyValue::new(Key::from_static_str(field.name()), message));
        if let Some(chain) = chain {
            self.attributes
                .push(KeyValue::new(format!("{}.chain", field.name()), chain));
        }
    }
}

/// A `u64` field as an attribute, by the conventions' rule: an integer when it fits an `i64`, text otherwise.
fn unsigned(value: u64) -> opentelemetry::Value {
    match Unsigned::new(value) {
        Unsigned::Fits(value) => value.into(),
        Unsigned::Wide(value) => value.to_string().into(),
    }
}

/// The application's `Debug` of a field value. It runs while the layer holds the span's state locked: a panic
/// there would poison the lock and the span's close would panic again while unwinding, aborting the process. So
/// it is caught, the value recorded as a placeholder, and the caller's code goes on as if nothing was recorded.
fn debug_text(value: &dyn std::fmt::Debug) -> String {
    catch_unwind(AssertUnwindSafe(|| format!("{value:?}")))
        .unwrap_or_else(|_| DEBUG_PANICKED.to_owned())
}

/// An error's message and `source()` chain, caught like [`debug_text`].
fn error_texts(error: &(dyn std::error::Error + 'static)) -> (String, Option<String>) {
    catch_unwind(AssertUnwindSafe(|| (error.to_string(), error_chain(error))))
        .unwrap_or_else(|_| (DISPLAY_PANICKED.to_owned(), None))
}

fn span_kind(value: &str) -> Option<SpanKind> {
    Some(match value {
        "server" | "SERVER" | "Server" => SpanKind::Server,
        "client" | "CLIENT" | "Client" => SpanKind::Client,
        "producer" | "PRODUCER" | "Producer" => SpanKind::Producer,
        "consumer" | "CONSUMER" | "Consumer" => SpanKind::Consumer,
        "internal" | "INTERNAL" | "Internal" => SpanKind::Internal,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Access from a `tracing::Span`, under this layer or under tracing-opentelemetry's

/// Reaches a span's state through the current dispatcher, like tracing-opentelemetry's `WithContext`.
#[derive(Clone, Copy)]
pub(crate) struct WithSpan {
    pub(crate) with: fn(&Dispatch, &Id, &mut StateFn<'_>),
}

/// What [`WithSpan`] runs on a span's state.
pub(crate) type StateFn<'a> = dyn FnMut(&Core, &mut SpanState) + 'a;

fn with_state<S>(dispatch: &Dispatch, id: &Id, f: &mut StateFn<'_>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let (Some(core), Some(subscriber)) = (
        dispatch.downcast_ref::<Core>(),
        dispatch.downcast_ref::<S>(),
    ) else {
        return;
    };
    if let Some(span) = subscriber.span(id) {
        if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
            f(core, state);
        }
    }
}

impl std::fmt::Debug for WithSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WithSpan")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads of one name share one `'static` text for it; another name gets its own.
    #[test]
    fn thread_names_are_made_once_per_distinct_name() {
        let name_of = |name: &str| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(|| THREAD.with(|(_, name)| name.clone()))
                .unwrap()
                .join()
                .unwrap()
                .unwrap()
        };
        let text = |value: &ThreadName| {
            let text = value.as_str();
            (text.as_ptr(), text.to_owned())
        };
        let (first, first_text) = text(&name_of("pool-worker"));
        let (second, second_text) = text(&name_of("pool-worker"));
        let (other, other_text) = text(&name_of("other-worker"));
        assert_eq!(first_text, "pool-worker");
        assert_eq!(second_text, "pool-worker");
        assert_eq!(other_text, "other-worker");
        assert_eq!(first, second, "one text for one name");
        assert_ne!(first, other);
    }

    #[test]
    fn shared_strings_follow_the_content_not_only_the_address() {
        let mut text = String::from("abc");
        let first = shared(&text);
        assert_eq!(shared(&text).as_str(), "abc");
        // Same address, same length, new content: the cache must not answer with the old string.
        text.replace_range(0..1, "x");
        assert_eq!(shared(&text).as_str(), "xbc");
        assert_eq!(first.as_str(), "abc");
        let long = "y".repeat(SHARED_STRING_MAX + 1);
        assert_eq!(shared(&long).as_str(), long);
    }

    #[test]
    fn a_string_built_again_is_shared_by_its_text() {
        let first = String::from("/orders/17");
        let again = first.clone();
        assert_ne!(first.as_ptr(), again.as_ptr());
        let (a, b) = (shared(&first), shared(&again));
        assert!(
            std::ptr::eq(a.as_str(), b.as_str()),
            "the same text at a new address is not copied again"
        );
        assert_eq!(shared("/orders/18").as_str(), "/orders/18");
    }

    #[test]
    fn status_follows_the_sdk_precedence() {
        let mut state = SpanState::new("s", 0, Context::new());
        state.set_status(Status::error("first"));
        state.set_status(Status::Unset);
        assert_eq!(state.status, Status::error("first"));
        state.set_status(Status::error("second"));
        assert_eq!(state.status, Status::error("second"));
        state.set_status(Status::Ok);
        state.set_status(Status::error("third"));
        assert_eq!(state.status, Status::Ok);
    }

    // nextest runs each test in a process of its own: no `Core` made but this test's.
    #[test]
    fn nothing_is_given_before_a_layer_of_this_crate_is_made() {
        static CALLSITE: tracing::callsite::DefaultCallsite =
            tracing::callsite::DefaultCallsite::new(&META);
        static META: Metadata<'static> = Metadata::new(
            "given",
            "test",
            tracing::Level::INFO,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&["first"], tracing::callsite::Identifier(&CALLSITE)),
            tracing::metadata::Kind::SPAN,
        );
        let built = &std::cell::Cell::new(0);
        let give = |value| move |_: &mut Vec<KeyValue>| built.set(value);
        let (_, left) = giving(&META, 1, SpanKind::Server, Context::new(), give(1), || ());
        assert!(left.is_err(), "the parent is given back");
        assert_eq!(built.get(), 0, "nothing built for no layer");
        let _core = Core::new(
            HeadSampler::new(&crate::config::SamplerConfig::AlwaysOn),
            SpanLimits::default(),
            InstrumentationScope::builder("test").build(),
            None,
        );
        let (_, left) = giving(&META, 1, SpanKind::Server, Context::new(), give(2), || ());
        assert!(left.is_err(), "no span made: nothing taken");
        assert_eq!(built.get(), 2, "built once a layer may take it");
    }

    #[test]
    fn pipelines_of_one_scope_share_it() {
        let scope = |version: &'static str| {
            InstrumentationScope::builder("interned")
                .with_version(version)
                .build()
        };
        let first = interned(scope("1"));
        assert_eq!(*first, scope("1"));
        assert!(
            std::ptr::eq(first, interned(scope("1"))),
            "the same scope again"
        );
        let other = interned(scope("2"));
        assert_eq!(*other, scope("2"));
        assert!(!std::ptr::eq(first, other), "another scope is its own");
    }
}
