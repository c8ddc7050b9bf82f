//! The subscriber of a pipeline whose only consumers of spans are its own (no log format: the span layer's work
//! and the log layer's, which reads the spans around an event): it keeps the spans itself, in slots of its own,
//! instead of `tracing`'s registry with the layers on top.
//!
//! Under the registry, each callback of each span goes down the layers' stack (`Layered`, the filter, the
//! sampling head, `SkipInternal`, the span layer), looks the span up in the sharded slab once per layer that
//! needs it, and the span's state sits in the registry's extensions (a map by type, a box per span). That was
//! about a third of the instructions of a sampled span (S4 under callgrind: 7,166 a iteration under the registry,
//! 4,898 here). What the registry gives is kept: ids the subscriber hands out (checked by generation, so a stale
//! one finds nothing), the thread's stack of entered spans (`Span::current()`), parents kept open until their
//! children close, events recorded on the span they belong to and, for the log layer, the spans around them. The
//! log filter stays a layer above (`Layered<LogFilter, SpanSubscriber>`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use opentelemetry::trace::SpanContext;
use opentelemetry::{Context, ContextGuard};
use tracing::field::Visit;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_core::span::Current;

use super::sampling::Head;
use super::span_layer::{
    Core, DebugTexts, SpanState, StateFn, Statics, Visiting, WithSpan, Written,
};
use crate::export::log_record::is_error_line;
use crate::export::thread::{in_export_thread, is_internal};
use crate::traces::sampling::in_unsampled_trace;

/// Slots per chunk; chunks are made when first needed and kept.
const CHUNK: usize = 256;
/// At most `CHUNK * CHUNKS` (about 4 million) spans open at once; past that a new span is not recorded.
const CHUNKS: usize = 16_384;

/// Every slot of the process (the subscribers share them: an id is only ever given back to the subscriber that
/// made it). A slot's memory is never freed, so an id, stale or not, always points at a slot; its generation
/// says whether the span is still the one the id names.
static SLOTS: [OnceLock<Box<[Slot]>>; CHUNKS] = [const { OnceLock::new() }; CHUNKS];
/// The next slot never used yet.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Free slots beyond the threads' own lists.
static FREE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// How many free slots a thread keeps before it hands half of them back to [`FREE`].
const LOCAL_FREE: usize = 256;

thread_local! {
    /// This thread's free slots: a span made here takes one without a lock.
    static LOCAL: RefCell<LocalFree> = const { RefCell::new(LocalFree(Vec::new())) };

    /// The spans entered on this thread, innermost last, with the OpenTelemetry context each attached.
    static STACK: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// A thread's free slots, handed back when the thread ends.
struct LocalFree(Vec<u32>);

impl Drop for LocalFree {
    fn drop(&mut self) {
        lock(&FREE).append(&mut self.0);
    }
}

struct Entered {
    id: u64,
    meta: &'static Metadata<'static>,
    /// `None` for a span without state (one the pipeline leaves out).
    _guard: Option<ContextGuard>,
}

#[derive(Default)]
struct Slot {
    /// Incremented when the span closes: ids carry the generation they were made in.
    generation: AtomicU32,
    /// The handles (`Span`s, children) that keep the span open.
    refs: AtomicUsize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    meta: Option<&'static Metadata<'static>>,
    /// Kept open (one reference) until this span closes.
    parent: Option<Id>,
    /// `None` for a span the pipeline leaves out (a dropped trace's, the export thread's, one made while a
    /// field value is visited).
    state: Option<SpanState>,
    /// The span's fields as the log format keeps them ([`LogLines::add_fields`]); its room is kept for the
    /// slot's next span, so that a span's text costs no allocation.
    fields: String,
    /// Where the last fields written have their `Debug` texts in `fields` (room kept as for `fields`).
    debug: DebugTexts,
}

/// A slot's field text longer than this is freed at its span's close rather than kept for the next one.
const FIELDS_KEPT: usize = 1024;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One more reference to the span of `id`, if it is still open (its slot not given back yet).
fn hold(id: &Id) -> bool {
    slot(id).is_some_and(|slot| {
        slot.refs
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |refs| {
                (refs > 0).then(|| refs + 1)
            })
            .is_ok()
    })
}

/// The slot `id` names, if its span is still open.
fn slot(id: &Id) -> Option<&'static Slot> {
    let raw = id.into_u64();
    let index = (raw as u32).checked_sub(1)? as usize;
    let slot = SLOTS.get(index / CHUNK)?.get()?.get(index % CHUNK)?;
    (slot.generation.load(Ordering::Acquire) == (raw >> 32) as u32).then_some(slot)
}

/// A free slot's index: the thread's, else some of the process's, else one never used.
fn take_slot() -> Option<(u32, &'static Slot)> {
    let index = LOCAL
        .try_with(|local| local.borrow_mut().0.pop())
        .ok()
        .flatten()
        .or_else(refill)?;
    let at = index as usize;
    let chunk = SLOTS.get(at / CHUNK)?.get_or_init(|| {
        (0..CHUNK)
            .map(|_| Slot::default())
            .collect::<Vec<_>>()
            .into_boxed_slice()
    });
    Some((index, &chunk[at % CHUNK]))
}

/// Takes a batch of the process's free slots for this thread, or a new one.
#[cold]
fn refill() -> Option<u32> {
    let mut free = lock(&FREE);
    if let Some(index) = free.pop() {
        let batch = free.len().min(LOCAL_FREE / 2);
        let at = free.len() - batch;
        let mut taken: Vec<u32> = free.drain(at..).collect();
        drop(free);
        let kept = LOCAL.try_with(|local| local.borrow_mut().0.append(&mut taken));
        if kept.is_err() {
            lock(&FREE).append(&mut taken);
        }
        return Some(index);
    }
    drop(free);
    let index = NEXT.fetch_add(1, Ordering::Relaxed);
    if index as usize >= CHUNK * CHUNKS {
        NEXT.store((CHUNK * CHUNKS) as u32, Ordering::Relaxed);
        return None;
    }
    Some(index)
}

/// Gives a closed span's slot back.
fn free_slot(index: u32) {
    let spilled = LOCAL.try_with(|local| {
        let mut local = local.borrow_mut();
        local.0.push(index);
        (local.0.len() > LOCAL_FREE).then(|| local.0.split_off(LOCAL_FREE / 2))
    });
    match spilled {
        Ok(Some(mut spilled)) => lock(&FREE).append(&mut spilled),
        Ok(None) => {}
        // The thread's locals are gone (a span closed in a thread-local's destructor).
        Err(_) => lock(&FREE).push(index),
    }
}

/// The id of a span that cannot be kept (every slot in use): it names no slot, so the span records nothing.
const NO_SLOT: u64 = u64::MAX;

/// The id of the span the thread entered last.
fn current_id() -> Option<Id> {
    STACK
        .try_with(|stack| {
            stack
                .borrow()
                .last()
                .map(|entered| Id::from_u64(entered.id))
        })
        .ok()
        .flatten()
}

/// The span an event belongs to and the spans around it, as a reader of their states sees them: the registry's
/// (under the layers) or the span subscriber's.
pub(crate) trait SpanScope {
    /// Calls `f` on the state of each of the spans, innermost first, that has one, until `f` returns false.
    fn states(&self, f: &mut dyn FnMut(&SpanState) -> bool);
}

/// What else takes each event: the log layer, when log export is on. A trait here, so that the trace signal does
/// not depend on the logs one.
pub(crate) trait EventCapture: Send + Sync {
    /// Takes `event`, which belongs to the spans of `scope` (none outside any span).
    fn capture(&self, event: &Event<'_>, scope: Option<&dyn SpanScope>);
}

/// The log format's side of the span subscriber: each span's fields kept as text in its slot, each event printed
/// as a line with the spans around it. A trait here, so that the trace signal does not depend on the formats.
pub(crate) trait LogLines: Send + Sync {
    /// True when the lines show the spans' fields: then each span keeps them as text, in one form for every
    /// format that does (a site's `code.*` text is made once per callsite, whatever subscriber makes it).
    fn keeps_fields(&self) -> bool;

    /// Appends to `text` the fields `record` visits from index `skip` on: a new span's, or those recorded on it
    /// later. Notes in `debug` where each `Debug` value's text is, for the span's attributes to take.
    fn add_fields(
        &self,
        text: &mut String,
        debug: Option<&mut DebugTexts>,
        skip: usize,
        record: &dyn Fn(&mut dyn Visit),
    );

    /// Prints `event`, which belongs to the spans of `scope` (none outside any span).
    fn print(&self, event: &Event<'_>, scope: Option<&dyn LineScope>);
}

/// The spans around an event, as a log line shows them.
pub(crate) trait LineScope {
    /// Calls `f` with the metadata and the field text of the event's span and of each span around it, innermost
    /// first, until `f` returns false.
    fn spans(&self, f: &mut dyn FnMut(&'static Metadata<'static>, &str) -> bool);

    /// The span context of the event's span, if the pipeline keeps that span.
    fn span_context(&self) -> Option<SpanContext>;
}

/// See the module documentation.
pub(crate) struct SpanSubscriber {
    core: Core,
    head: Head,
    with_span: WithSpan,
    logs: Option<Box<dyn EventCapture>>,
    /// The log format. With one, the log filter above lets the pipeline's own targets through (they are printed),
    /// so this subscriber leaves them out of the pipeline itself.
    lines: Option<Box<dyn LogLines>>,
}

/// The span of a slot and the spans around it.
struct SlotScope<'a> {
    id: Id,
    core: &'a Core,
}

impl SpanScope for SlotScope<'_> {
    fn states(&self, f: &mut dyn FnMut(&SpanState) -> bool) {
        walk_up(self.id.clone(), |state| f(state));
    }
}

impl LineScope for SlotScope<'_> {
    fn spans(&self, f: &mut dyn FnMut(&'static Metadata<'static>, &str) -> bool) {
        walk_open(self.id.clone(), |open| {
            open.meta.is_none_or(|meta| f(meta, &open.fields))
        });
    }

    fn span_context(&self) -> Option<SpanContext> {
        let slot = slot(&self.id)?;
        let mut open = lock(&slot.open);
        open.state
            .as_mut()
            .map(|state| state.span_context(self.core))
    }
}

/// Calls `f` on the state of span `id` and of each span around it that has one, innermost first, each with its
/// slot locked in turn, until `f` returns false.
fn walk_up(id: Id, mut f: impl FnMut(&mut SpanState) -> bool) {
    walk_open(id, |open| open.state.as_mut().is_none_or(&mut f));
}

/// Calls `f` on span `id` and on each span around it, innermost first, each with its slot locked in turn, until
/// `f` returns false.
fn walk_open(id: Id, mut f: impl FnMut(&mut Open) -> bool) {
    let mut next = Some(id);
    while let Some(id) = next {
        let Some(slot) = slot(&id) else { return };
        let mut open = lock(&slot.open);
        if !f(&mut open) {
            return;
        }
        next = open.parent.clone();
    }
}

impl SpanSubscriber {
    /// The subscriber of the pipeline of `core`, whose events `logs` takes too and `lines` prints.
    pub(crate) fn new(
        core: Core,
        head: Head,
        logs: Option<Box<dyn EventCapture>>,
        lines: Option<Box<dyn LogLines>>,
    ) -> Self {
        SpanSubscriber {
            core,
            head,
            with_span: WithSpan { with: with_state },
            logs,
            lines,
        }
    }

    /// The log format, when its lines show the spans' fields (each span then keeps them as text).
    fn field_lines(&self) -> Option<&dyn LogLines> {
        self.lines.as_deref().filter(|lines| lines.keeps_fields())
    }

    /// True for a span or event of the pipeline's own targets that the log filter above let through (beside a
    /// log format, to be printed); without one, the filter left them out already.
    fn internal(&self, meta: &Metadata<'_>) -> bool {
        self.lines.is_some() && is_internal(meta.target())
    }

    /// The OpenTelemetry parent of a new span: its explicit parent's context (a root if that span has no
    /// state), the current context for a contextual span, nothing for a root.
    fn parent_context(&self, attrs: &Attributes<'_>) -> Context {
        if let Some(parent) = attrs.parent() {
            slot(parent)
                .and_then(|slot| {
                    lock(&slot.open)
                        .state
                        .as_mut()
                        .map(|state| state.context(&self.core))
                })
                .unwrap_or_default()
        } else if attrs.is_contextual() {
            Context::current()
        } else {
            Context::new()
        }
    }

    /// Drops a child's reference to its parent: through the whole subscriber when it is the thread's default, so
    /// that the layers above see the parent close too (as the registry does), else here.
    fn release(&self, parent: Id) {
        // Nearly always the parent has other references (its own handle): one fewer, and nothing closes.
        if let Some(slot) = slot(&parent) {
            let more = slot
                .refs
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |refs| {
                    (refs > 1).then(|| refs - 1)
                });
            if more.is_ok() {
                return;
            }
        }
        let mut parent = Some(parent);
        tracing::dispatcher::get_default(|dispatch| {
            let ours = dispatch
                .downcast_ref::<SpanSubscriber>()
                .is_some_and(|subscriber| std::ptr::eq(subscriber, self));
            if ours {
                if let Some(parent) = parent.take() {
                    dispatch.try_close(parent);
                }
            }
        });
        if let Some(parent) = parent {
            self.try_close(parent);
        }
    }
}

impl Subscriber for SpanSubscriber {
    /// Every callsite: which ones are enabled is for the log filter above to say.
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            Some(parent.clone())
        } else {
            current_id()
        };
        // The parent stays open while this span is: a reference of its own.
        let parent = parent.filter(hold);
        let Some((index, slot)) = take_slot() else {
            if let Some(parent) = parent {
                self.release(parent);
            }
            return Id::from_u64(NO_SLOT);
        };
        // The per-span checks of `LogFilter::with_not_internal`, which let the expansion's sites through by callsite
        // (the rest was asked about already), or of `NotInternal` beside a log format.
        let keep = !Visiting::now()
            && !in_unsampled_trace()
            && !in_export_thread()
            && !self.internal(attrs.metadata());
        {
            // No other thread knows the slot yet: its lock is held while the fields are visited, so that the
            // state is made where it stays (a move of the whole state, about 340 bytes, is a copy each).
            let mut guard = lock(&slot.open);
            let open = &mut *guard;
            open.meta = Some(attrs.metadata());
            open.parent = parent;
            let mut state = keep.then(|| {
                let cx = self.parent_context(attrs);
                let state = open.state.insert(Core::empty_state(attrs, cx));
                let skip = self.core.fill_origin(state, attrs.metadata());
                (state, skip)
            });
            // The text first: the attributes take its `Debug` values rather than format them again.
            let lines = self.field_lines();
            if let Some(lines) = lines {
                open.debug.clear();
                add_span_fields(lines, &mut open.fields, &mut open.debug, attrs);
            }
            if let Some((state, skip)) = state.as_mut() {
                let written = lines.map(|_| Written {
                    text: &open.fields,
                    debug: &open.debug,
                });
                self.core.fill_fields(state, attrs, *skip, written);
            }
        }
        slot.refs.store(1, Ordering::Release);
        let generation = slot.generation.load(Ordering::Relaxed);
        Id::from_u64(u64::from(generation) << 32 | u64::from(index + 1))
    }

    fn record(&self, id: &Id, values: &Record<'_>) {
        let Some(_visiting) = Visiting::enter() else {
            return;
        };
        if let Some(slot) = slot(id) {
            let mut guard = lock(&slot.open);
            let open = &mut *guard;
            // The text first, as in `new_span`.
            let lines = self.field_lines();
            if let Some(lines) = lines {
                open.debug.clear();
                lines.add_fields(&mut open.fields, Some(&mut open.debug), 0, &|visit| {
                    values.record(visit)
                });
            }
            if let Some(state) = open.state.as_mut() {
                let written = lines.map(|_| Written {
                    text: &open.fields,
                    debug: &open.debug,
                });
                self.core.record(state, values, written);
            }
        }
    }

    fn record_follows_from(&self, id: &Id, follows: &Id) {
        let Some(span_context) = slot(follows).and_then(|slot| {
            lock(&slot.open)
                .state
                .as_mut()
                .map(|state| state.span_context(&self.core))
        }) else {
            return;
        };
        if let Some(slot) = slot(id) {
            if let Some(state) = lock(&slot.open).state.as_mut() {
                state.add_link(span_context, &self.core);
            }
        }
    }

    fn event(&self, event: &Event<'_>) {
        let span = match event.parent() {
            Some(parent) => Some(parent.clone()),
            None if event.is_contextual() => current_id(),
            None => None,
        };
        let scope = span.map(|id| SlotScope {
            id,
            core: &self.core,
        });
        if let Some(lines) = &self.lines {
            // While a field value is visited a slot is locked, perhaps this event's: the line goes without its
            // spans rather than wait on it.
            match &scope {
                Some(scope) if !Visiting::now() => lines.print(event, Some(scope)),
                _ => lines.print(event, None),
            }
        }
        let meta = event.metadata();
        // Only printed: the pipeline's own events, and (the filter lets them through beside a log format) the
        // export thread's.
        if self.internal(meta) || (self.lines.is_some() && in_export_thread()) {
            return;
        }
        // `#[traced]` put its error on the span already; its line is for the log.
        if let (Some(scope), false) = (&scope, is_error_line(meta)) {
            if let Some(_visiting) = Visiting::enter() {
                // On the span it belongs to: the nearest one with a state.
                walk_up(scope.id.clone(), |state| {
                    self.core.record_event(state, event);
                    false
                });
            }
        }
        if let Some(logs) = &self.logs {
            logs.capture(event, scope.as_ref().map(|scope| scope as &dyn SpanScope));
        }
    }

    fn enter(&self, id: &Id) {
        let Some(slot) = slot(id) else { return };
        let (meta, cx) = {
            let mut open = lock(&slot.open);
            let cx = if Visiting::now() {
                None
            } else {
                open.state.as_mut().map(|state| state.context(&self.core))
            };
            (open.meta, cx)
        };
        let Some(meta) = meta else { return };
        // Attached with the slot's lock released.
        let guard = cx.map(|cx| cx.attach());
        let _ = STACK.try_with(|stack| {
            stack.borrow_mut().push(Entered {
                id: id.into_u64(),
                meta,
                _guard: guard,
            });
        });
    }

    fn exit(&self, id: &Id) {
        let raw = id.into_u64();
        let entered = STACK
            .try_with(|stack| {
                let mut stack = stack.borrow_mut();
                let at = stack.iter().rposition(|entered| entered.id == raw)?;
                Some(stack.remove(at))
            })
            .ok()
            .flatten();
        // The context detached with the stack's borrow released.
        drop(entered);
    }

    fn current_span(&self) -> Current {
        STACK
            .try_with(|stack| {
                stack
                    .borrow()
                    .last()
                    .map(|entered| Current::new(Id::from_u64(entered.id), entered.meta))
            })
            .ok()
            .flatten()
            .unwrap_or_else(Current::none)
    }

    fn clone_span(&self, id: &Id) -> Id {
        // A handle being cloned holds a reference already; `hold` also refuses a slot given back meanwhile (an id
        // kept past its span's close, which the registry would panic on).
        hold(id);
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let Some(slot) = slot(&id) else { return false };
        if slot.refs.fetch_sub(1, Ordering::AcqRel) != 1 {
            return false;
        }
        let parent = {
            let mut open = lock(&slot.open);
            let meta = open.meta.take();
            // Finished in its slot (no other handle is left to want the lock): its parts go to the export queue
            // without the whole state being moved out first.
            if let (Some(state), Some(meta)) = (open.state.as_mut(), meta) {
                self.core.close(state, meta);
            }
            open.state = None;
            if open.fields.capacity() > FIELDS_KEPT {
                open.fields = String::new();
            } else {
                open.fields.clear();
            }
            open.parent.take()
        };
        // Stale ids stop finding the slot before it is reused.
        slot.generation.fetch_add(1, Ordering::Release);
        free_slot((id.into_u64() as u32) - 1);
        if let Some(parent) = parent {
            self.release(parent);
        }
        true
    }

    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else if id == std::any::TypeId::of::<Core>() {
            Some(std::ptr::from_ref(&self.core).cast())
        } else if id == std::any::TypeId::of::<Head>() {
            Some(std::ptr::from_ref(&self.head).cast())
        } else if id == std::any::TypeId::of::<WithSpan>() {
            Some(std::ptr::from_ref(&self.with_span).cast())
        } else {
            None
        }
    }
}

/// Writes the fields of a new span to its text: a site's `code.*` ones as its statics' text, made once per
/// callsite, then the others (whether or not the `code.*` values were passed too).
fn add_span_fields(
    lines: &dyn LogLines,
    text: &mut String,
    debug: &mut DebugTexts,
    attrs: &Attributes<'_>,
) {
    let skip = match Statics::building(attrs.metadata()) {
        Some(statics) => {
            text.push_str(
                statics.line_text(|text, record| lines.add_fields(text, None, 0, record)),
            );
            statics.len()
        }
        None => 0,
    };
    lines.add_fields(text, Some(debug), skip, &|visit| attrs.record(visit));
}

/// [`WithSpan`] for spans of a [`SpanSubscriber`].
fn with_state(dispatch: &Dispatch, id: &Id, f: &mut StateFn<'_>) {
    let Some(subscriber) = dispatch.downcast_ref::<SpanSubscriber>() else {
        return;
    };
    if let Some(slot) = slot(id) {
        if let Some(state) = lock(&slot.open).state.as_mut() {
            f(&subscriber.core, state);
        }
    }
}

/// A span with the fields of the expansion's sites, as `#[traced]` and `span!` write them.
#[cfg(test)]
pub(crate) fn site_span() -> tracing::Span {
    tracing::info_span!(
        "site",
        code.function.name = "app::work",
        code.file.path = "src/lib.rs",
        code.line.number = 1,
        code.column.number = 4
    )
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
    use tracing::Span;

    use super::*;
    use crate::config::{Config, LogFormat, SamplerConfig};
    use crate::traces::span_layer::giving;

    /// Runs `body` with the whole subscriber `Config::dispatch` builds with `log_format` (no log export), and
    /// returns the spans it exported.
    fn run(log_format: LogFormat, body: impl FnOnce(&Dispatch)) -> Vec<SpanData> {
        run_filtered("trace", log_format, body)
    }

    /// [`run`] with the log filter `filter`.
    fn run_filtered(
        filter: &str,
        log_format: LogFormat,
        body: impl FnOnce(&Dispatch),
    ) -> Vec<SpanData> {
        let spans = InMemorySpanExporter::default();
        let (dispatch, guard) = Config::builder()
            .without_env()
            .with_sampler(SamplerConfig::AlwaysOn)
            .with_exporters([])
            .with_logs_exporters([])
            .with_span_exporter(spans.clone())
            .with_log_filter(filter)
            .with_log_format(log_format)
            // Room for every span of a test, however slow the export thread is on a loaded machine.
            .with_batch_max_queue_size(1 << 15)
            .build()
            .expect("config")
            .dispatch()
            .expect("pipeline");
        body(&dispatch);
        guard.force_flush().expect("flush");
        let found = spans.get_finished_spans().expect("spans");
        drop(guard);
        found
    }

    fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
        spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
    }

    /// The attributes given for a callsite's first fields (`giving`) are the span's, those fields are not
    /// visited (no second attribute of a key), the others are; a span of another callsite visits all of its own.
    #[test]
    fn given_attributes_stand_for_the_first_fields_of_their_callsite() {
        let make = || tracing::info_span!("given", first = "field", second = 2, third = "visited");
        for log_format in [LogFormat::None, LogFormat::Compact] {
            let spans = run(log_format, |dispatch| {
                tracing::dispatcher::with_default(dispatch, || {
                    let meta = make().metadata().expect("an enabled span");
                    let give = |into: &mut Vec<KeyValue>| {
                        into.push(KeyValue::new("first", "given"));
                        into.push(KeyValue::new("second", 20));
                    };
                    let parent = Context::new().with_remote_span_context(SpanContext::new(
                        TraceId::from(7),
                        SpanId::from(8),
                        TraceFlags::SAMPLED,
                        true,
                        TraceState::NONE,
                    ));
                    let (span, left) =
                        giving(meta, 2, SpanKind::Server, parent.clone(), give, make);
                    assert!(left.is_ok(), "the layer takes what is given its callsite");
                    drop(span);
                    let (span, left) = giving(meta, 2, SpanKind::Server, parent, give, || {
                        tracing::info_span!("other", first = "own")
                    });
                    let left = left.expect_err("nothing is taken for another callsite");
                    assert_eq!(left.span().span_context().span_id(), SpanId::from(8));
                    drop(span);
                });
            });
            let fields = |span: &SpanData| {
                span.attributes
                    .iter()
                    .filter(|kv| ["first", "second", "third"].contains(&kv.key.as_str()))
                    .map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect::<Vec<_>>()
            };
            let given: Vec<_> = spans
                .iter()
                .filter(|s| s.name == "given")
                .map(fields)
                .collect();
            assert_eq!(
                given,
                [
                    vec!["first=field", "second=2", "third=visited"],
                    vec!["first=given", "second=20", "third=visited"],
                ],
                "{log_format:?}"
            );
            assert_eq!(
                fields(named(&spans, "other")),
                ["first=own"],
                "{log_format:?}"
            );
            // The given parent is the parent of the span that took it, not of the other.
            let parents: Vec<(&str, SpanId)> = spans
                .iter()
                .map(|span| (&*span.name, span.parent_span_id))
                .collect();
            assert_eq!(
                parents,
                [
                    ("given", SpanId::INVALID),
                    ("given", SpanId::from(8)),
                    ("other", SpanId::INVALID)
                ],
                "{log_format:?}"
            );
        }
    }

    /// An event's `error` field makes it an exception event and fails the span; any other text field is an
    /// attribute as it is.
    #[test]
    fn an_events_error_field_fails_its_span_and_other_texts_stay_attributes() {
        let spans = run(LogFormat::None, |dispatch| {
            tracing::dispatcher::with_default(dispatch, || {
                let span = tracing::info_span!("pay");
                let _entered = span.enter();
                tracing::info!(note = "a \"quoted\" word", "noted");
                tracing::error!(error = "card declined");
            });
        });
        let pay = named(&spans, "pay");
        let (noted, failed) = (&pay.events.events[0], &pay.events.events[1]);
        assert_eq!(noted.name, "noted");
        let note = noted.attributes.iter().find(|kv| kv.key.as_str() == "note");
        assert_eq!(
            note.map(|kv| kv.value.to_string()).as_deref(),
            Some("a \"quoted\" word")
        );
        assert_eq!(failed.name, "exception");
        let message = failed
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "exception.message");
        assert_eq!(
            message.map(|kv| kv.value.to_string()).as_deref(),
            Some("\"card declined\"")
        );
        assert!(
            matches!(pay.status, opentelemetry::trace::Status::Error { .. }),
            "{:?}",
            pay.status
        );
    }

    #[test]
    fn every_layout_but_the_pretty_format_has_it() {
        for format in [LogFormat::None, LogFormat::Compact, LogFormat::Json] {
            run(format, |dispatch| {
                assert!(dispatch.downcast_ref::<SpanSubscriber>().is_some());
            });
        }
        run(LogFormat::Pretty, |dispatch| {
            assert!(dispatch.downcast_ref::<SpanSubscriber>().is_none());
        });
    }

    #[test]
    fn current_span_parents_and_events_are_the_registrys() {
        let spans = run(LogFormat::None, |dispatch| {
            tracing::dispatcher::with_default(dispatch, || {
                assert!(Span::current().is_none());
                let outer = tracing::info_span!("outer", late = tracing::field::Empty);
                let _outer = outer.enter();
                assert_eq!(Span::current().id(), outer.id());
                assert_eq!(Span::current().metadata().map(|m| m.name()), Some("outer"));
                // Recorded through `Span::current()`, as code inside an instrumented fn does.
                Span::current().record("late", 7);
                let inner = tracing::info_span!("inner");
                inner.in_scope(|| {
                    assert_eq!(Span::current().id(), inner.id());
                    tracing::info!(n = 1, "inside");
                });
                assert_eq!(Span::current().id(), outer.id());
                let explicit = tracing::info_span!(parent: &inner, "explicit");
                drop(explicit);
                drop(inner);
                tracing::warn!("after");
            });
        });
        let (outer, inner, explicit) = (
            named(&spans, "outer"),
            named(&spans, "inner"),
            named(&spans, "explicit"),
        );
        assert_eq!(outer.parent_span_id, SpanId::INVALID);
        assert_eq!(inner.parent_span_id, outer.span_context.span_id());
        assert_eq!(explicit.parent_span_id, inner.span_context.span_id());
        assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
        let late = outer.attributes.iter().find(|kv| kv.key.as_str() == "late");
        assert_eq!(late.map(|kv| kv.value.to_string()), Some("7".to_owned()));
        let events = |span: &SpanData| {
            span.events
                .iter()
                .map(|event| event.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(events(inner), ["inside"]);
        assert_eq!(events(outer), ["after"]);
    }

    #[test]
    fn a_parent_closes_after_its_last_child() {
        let spans = run(LogFormat::None, |dispatch| {
            tracing::dispatcher::with_default(dispatch, || {
                let parent = tracing::info_span!("parent");
                let child = tracing::info_span!(parent: &parent, "child");
                drop(parent);
                // The child keeps its parent open: nothing exported yet, and its context is still there.
                std::thread::sleep(std::time::Duration::from_millis(5));
                let grandchild = tracing::info_span!(parent: &child, "grandchild");
                drop(child);
                drop(grandchild);
            });
        });
        let names: Vec<_> = spans.iter().map(|span| span.name.to_string()).collect();
        assert_eq!(
            names,
            ["grandchild", "child", "parent"],
            "closed innermost first"
        );
        let (parent, child) = (named(&spans, "parent"), named(&spans, "child"));
        assert!(parent.end_time >= child.end_time);
        assert_eq!(
            named(&spans, "grandchild").parent_span_id,
            child.span_context.span_id()
        );
    }

    #[test]
    fn a_stale_id_finds_nothing_and_slots_are_reused() {
        let spans = run(LogFormat::None, |dispatch| {
            tracing::dispatcher::with_default(dispatch, || {
                let stale = {
                    let span = tracing::info_span!("gone");
                    span.id().expect("an id")
                };
                assert!(slot(&stale).is_none(), "the closed span's id names no slot");
                // Used again as a parent: a root, not a panic and not the slot's next span.
                let orphan = tracing::info_span!(parent: stale.clone(), "orphan");
                dispatch.record_follows_from(&orphan.id().expect("an id"), &stale);
                drop(orphan);
                let before = NEXT.load(Ordering::Relaxed);
                for _ in 0..10_000 {
                    let span = tracing::info_span!("again");
                    let _entered = span.enter();
                }
                assert!(
                    NEXT.load(Ordering::Relaxed) - before < 1_000,
                    "closed spans' slots are taken again"
                );
            });
        });
        let orphan = named(&spans, "orphan");
        assert_eq!(orphan.parent_span_id, SpanId::INVALID);
        assert!(orphan.links.is_empty());
        assert_eq!(spans.len(), 10_002);
    }

    /// A log filter's span directives follow the spans here too: the filter above sees them enter, exit and close.
    #[test]
    fn span_directives_of_the_log_filter_follow_the_spans() {
        let spans = run_filtered("info,[checkout]=debug", LogFormat::None, |dispatch| {
            tracing::dispatcher::with_default(dispatch, || {
                tracing::debug_span!("outside").in_scope(|| {});
                tracing::info_span!("checkout").in_scope(|| {
                    tracing::debug_span!("inside").in_scope(|| {});
                });
                tracing::debug_span!("after").in_scope(|| {});
            });
        });
        let mut names: Vec<_> = spans.iter().map(|span| span.name.to_string()).collect();
        names.sort();
        assert_eq!(names, ["checkout", "inside"]);
    }

    /// What `LogFilter::with_not_internal` lets through by callsite (the expansion's sites) is checked here per
    /// span: in a dropped trace such a span is built, with no state.
    #[test]
    fn a_site_span_in_a_dropped_trace_is_left_out() {
        let spans = run(LogFormat::None, |dispatch| {
            tracing::dispatcher::with_default(dispatch, || {
                let kept = site_span();
                assert!(!kept.is_disabled());
                let _dropped = crate::traces::sampling::Mark::set(Some(
                    crate::traces::sampling::Unsampled::for_test(),
                ));
                let span = site_span();
                assert!(!span.is_disabled(), "let through by its callsite");
                let id = span.id().expect("an id");
                assert!(slot(&id).is_some_and(|slot| lock(&slot.open).state.is_none()));
            });
        });
        assert_eq!(
            spans.len(),
            1,
            "only the span outside the dropped trace: {spans:?}"
        );
    }

    /// Children on several threads at once under one parent, which is dropped first: every span is exported once,
    /// the parent last, and no slot is left open.
    #[test]
    fn children_on_many_threads_share_a_parent() {
        const THREADS: usize = 4;
        const CHILDREN: usize = 500;
        let spans = run(LogFormat::None, |dispatch| {
            let parent =
                tracing::dispatcher::with_default(dispatch, || tracing::info_span!("parent"));
            let parent_id = parent.id().expect("an id");
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (dispatch, parent) = (dispatch.clone(), parent.clone());
                    std::thread::spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            for _ in 0..CHILDREN {
                                let child = tracing::info_span!(parent: &parent, "child");
                                child.in_scope(|| tracing::info!("in child"));
                            }
                        });
                    })
                })
                .collect();
            drop(parent);
            for worker in workers {
                worker.join().expect("worker");
            }
            assert!(
                slot(&parent_id).is_none(),
                "the parent closed with its last child"
            );
        });
        assert_eq!(spans.len(), THREADS * CHILDREN + 1);
        let parent = named(&spans, "parent");
        let children = spans.iter().filter(|span| span.name == "child");
        for child in children {
            assert_eq!(child.parent_span_id, parent.span_context.span_id());
            assert!(child.end_time <= parent.end_time);
            assert_eq!(child.events.len(), 1);
        }
    }

    #[test]
    fn a_span_made_on_one_thread_closes_on_another() {
        let spans = run(LogFormat::None, |dispatch| {
            let span = tracing::dispatcher::with_default(dispatch, || tracing::info_span!("moved"));
            let id = span.id().expect("an id");
            let there = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&there, || {
                    let _entered = span.enter();
                    tracing::info!("there");
                });
            })
            .join()
            .expect("thread");
            assert!(slot(&id).is_none(), "closed with its last handle");
        });
        assert_eq!(named(&spans, "moved").events.len(), 1);
    }
}
