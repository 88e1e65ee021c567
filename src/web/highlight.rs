//! Syntax highlighting of paste text into lines of classed HTML, under a time budget.
//!
//! syntect parses one line per call and a call cannot be interrupted, so parsing runs on a
//! worker thread that the caller leaves behind when the budget runs out. Static limits (line
//! length, total bytes, line count) decide up front how much may be highlighted at all. The
//! line length limit also bounds the work that the abandoned thread finishes. The first line
//! that is not highlighted, and every later one, is rendered as escaped plain text.
//!
//! Each output line is balanced: the `<span>`s open at its start (the syntect scope stack) are
//! reopened on it and closed at its end, so lines can sit in separate table rows.

use maud::Escaper;
use std::collections::HashMap;
use std::fmt::{self, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Condvar, LazyLock, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use syntect::html::ClassStyle;
use syntect::parsing::{
    BasicScopeStackOp, ParseState, Scope, ScopeStack, ScopeStackOp, SyntaxReference, SyntaxSet,
};

/// Prefix of every class that highlighting emits, so that syntect's classes cannot collide
/// with the page's own.
const CLASS_PREFIX: &str = "hl-";

/// The class naming of the stylesheet's theme rules, which matches the classes emitted here.
pub const CLASS_STYLE: ClassStyle = ClassStyle::SpacedPrefixed {
    prefix: CLASS_PREFIX,
};

/// The class of the element that contains highlighted lines. syntect's theme CSS sets the
/// theme's foreground and background on it.
pub const CODE_CLASS: &str = "hl-code";

/// The maximum depth of the scope stack at the start of a line. Every line reopens the open
/// scopes, so without this cap 100,000 lines that each open a bracket would emit about
/// 5 billion `<span>`s.
const MAX_SCOPE_DEPTH: usize = 64;

/// The maximum length of a first line that is matched against the syntaxes' first-line
/// patterns (shebangs, editor mode lines).
const MAX_FIRST_LINE_BYTES: usize = 256;

/// The syntaxes bundled with syntect, in their `newlines` form: lines are parsed with their
/// line terminator, which is how the syntax definitions are written.
static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

/// Short names that users type but that are neither a file extension nor a syntax name in
/// syntect's set, mapped to one that is. `None` means plain text.
const ALIASES: &[(&str, Option<&str>)] = &[
    ("plain", None),
    ("plaintext", None),
    ("text", None),
    ("txt", None),
    ("none", None),
    ("shell", Some("sh")),
    ("zsh", Some("sh")),
    ("console", Some("sh")),
    ("golang", Some("go")),
    ("c#", Some("cs")),
    ("csharp", Some("cs")),
    ("c++", Some("cpp")),
    ("objc", Some("m")),
    ("objective-c", Some("m")),
    ("py3", Some("py")),
    ("yml", Some("yaml")),
];

/// Limits that keep highlighting of one text within its time budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighlightLimits {
    /// Wall-clock time for one text, counted from the call, including the wait for a free
    /// highlighting thread and the one-time loading of the syntax set.
    pub budget: Duration,
    /// The maximum number of bytes highlighted; later lines are plain text.
    pub max_bytes: usize,
    /// The maximum number of lines highlighted; later lines are plain text.
    pub max_lines: usize,
    /// The maximum length of one line, terminator included. This bounds the work that
    /// continues after the deadline: parsing the current line.
    pub max_line_bytes: usize,
}

impl Default for HighlightLimits {
    fn default() -> Self {
        Self {
            budget: Duration::from_millis(200),
            max_bytes: 512 * 1024,
            max_lines: 20_000,
            max_line_bytes: 1024,
        }
    }
}

/// A syntax from syntect's bundled set.
#[derive(Clone, Copy)]
pub struct Syntax(&'static SyntaxReference);

impl fmt::Debug for Syntax {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_tuple("Syntax").field(&self.0.name).finish()
    }
}

impl PartialEq for Syntax {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Syntax {}

impl Syntax {
    /// Finds the syntax that a user's hint names: a file extension (`rs`, `py`), a syntax name
    /// in any case (`rust`, `Python`) or a common alias (`golang`). Plain text and unknown
    /// hints return `None`.
    pub fn from_hint(hint: &str) -> Option<Self> {
        let hint = hint.trim().trim_start_matches('.');
        if hint.is_empty() {
            return None;
        }
        let lowered = hint.to_lowercase();
        let token = match ALIASES.iter().find(|(alias, _)| *alias == lowered) {
            Some((_, target)) => (*target)?,
            None => hint,
        };
        SYNTAXES
            .find_syntax_by_token(token)
            .and_then(Self::unless_plain)
    }

    /// Finds the syntax for a file name such as a paste title: by its extension (`main.rs`),
    /// then by the whole name (`Makefile`).
    pub fn from_file_name(file_name: &str) -> Option<Self> {
        let base_name = file_name
            .trim()
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default();
        let by_extension = base_name
            .rsplit_once('.')
            .filter(|(stem, extension)| !stem.is_empty() && !extension.is_empty())
            .and_then(|(_, extension)| SYNTAXES.find_syntax_by_extension(extension));
        by_extension
            .or_else(|| SYNTAXES.find_syntax_by_extension(base_name))
            .and_then(Self::unless_plain)
    }

    /// Finds the syntax that a first line declares: a shebang (`#!/usr/bin/env python3`) or an
    /// editor mode line. Lines over 256 bytes are not matched.
    pub fn from_first_line(text: &str) -> Option<Self> {
        let first_line = text.split_inclusive('\n').next()?;
        if first_line.len() > MAX_FIRST_LINE_BYTES {
            return None;
        }
        SYNTAXES
            .find_syntax_by_first_line(first_line)
            .and_then(Self::unless_plain)
    }

    /// Chooses the syntax of a paste: its syntax field, then its title as a file name, then
    /// its first line. `None` means plain text.
    pub fn for_paste(syntax: Option<&str>, title: Option<&str>, text: &str) -> Option<Self> {
        syntax
            .and_then(Self::from_hint)
            .or_else(|| title.and_then(Self::from_file_name))
            .or_else(|| Self::from_first_line(text))
    }

    /// Lists every bundled syntax except plain text and the hidden helper syntaxes that others
    /// embed, sorted by name, for a syntax picker.
    pub fn all() -> Vec<Self> {
        let mut syntaxes: Vec<Self> = SYNTAXES
            .syntaxes()
            .iter()
            .filter(|syntax| !syntax.hidden)
            .filter_map(Self::unless_plain)
            .collect();
        syntaxes.sort_by_key(|syntax| syntax.name().to_lowercase());
        syntaxes
    }

    /// Returns the syntax's display name, such as `Rust`, which [`Syntax::from_hint`] accepts.
    pub fn name(self) -> &'static str {
        &self.0.name
    }

    fn unless_plain(syntax: &'static SyntaxReference) -> Option<Self> {
        let plain = SYNTAXES.find_syntax_plain_text();
        (!std::ptr::eq(syntax, plain)).then_some(Self(syntax))
    }
}

/// Loads the syntax set and compiles its first-line patterns now rather than on the first
/// request that highlights. Call it once at start-up, off the async threads. Each syntax's own
/// regexes still compile on first use, which takes from milliseconds to seconds per syntax.
pub fn warm_up() {
    SYNTAXES.find_syntax_by_first_line("");
}

/// Highlighted text: one HTML fragment per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Highlighted {
    /// One fragment per line, without its terminator. Each closes every `<span>` it opens.
    pub lines: Vec<String>,
    /// The syntax used, or `None` for plain text.
    pub syntax: Option<Syntax>,
    /// The reason highlighting stopped before the end, if it did.
    pub fallback: Option<Fallback>,
}

/// The point where highlighting stopped: this line and all later ones are plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// 1-based number of the first plain line.
    pub line: usize,
    pub reason: FallbackReason,
}

/// The reason highlighting stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FallbackReason {
    #[error("the time budget of {budget:?} ran out after {elapsed:?}")]
    DeadlineExceeded { budget: Duration, elapsed: Duration },
    #[error("the text is over the {max} bytes that are highlighted")]
    TooLarge { max: usize },
    #[error("the text is over the {max} lines that are highlighted")]
    TooManyLines { max: usize },
    #[error("a line of {bytes} bytes is over the maximum of {max} bytes")]
    LineTooLong { bytes: usize, max: usize },
    #[error("the code nests {depth} scopes deep; the maximum is {max}")]
    NestedTooDeep { depth: usize, max: usize },
    #[error("the syntax definition failed on this line: {message}")]
    ParseFailed { message: String },
    #[error("every highlighting thread stayed busy for the whole time budget")]
    Busy,
    #[error("{message}")]
    WorkerFailed { message: String },
}

impl FallbackReason {
    /// Stable snake_case code, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::DeadlineExceeded { .. } => "deadline_exceeded",
            Self::TooLarge { .. } => "too_large",
            Self::TooManyLines { .. } => "too_many_lines",
            Self::LineTooLong { .. } => "line_too_long",
            Self::NestedTooDeep { .. } => "nested_too_deep",
            Self::ParseFailed { .. } => "parse_failed",
            Self::Busy => "busy",
            Self::WorkerFailed { .. } => "worker_failed",
        }
    }
}

/// Highlights `text` with `syntax` (`None` for plain text) within `limits`. It never fails:
/// lines that cannot be highlighted within the limits come back as escaped plain text, and
/// [`Highlighted::fallback`] contains the first such line and the reason.
///
/// The parsing runs on a separate thread, because one call to syntect's line parser cannot be
/// interrupted and can take seconds (a cold regex compilation, or a line of 1,000 letters in
/// some syntaxes). When the budget runs out, this returns what is done and the thread stops
/// after its current line, whose length [`HighlightLimits::max_line_bytes`] bounds.
pub fn highlight(text: &str, syntax: Option<Syntax>, limits: &HighlightLimits) -> Highlighted {
    let started = Instant::now();
    let Some(syntax) = syntax else {
        return Highlighted {
            lines: text.split_inclusive('\n').map(plain_line).collect(),
            syntax: None,
            fallback: None,
        };
    };

    let prefix = HighlightablePrefix::of(text, limits);
    let deadline = started + limits.budget;
    let (mut lines, fallback) = highlight_on_worker(&text[..prefix.bytes], syntax, deadline);
    let fallback = fallback
        .map(|reason| match reason {
            WorkerStop::Budget => FallbackReason::DeadlineExceeded {
                budget: limits.budget,
                elapsed: started.elapsed(),
            },
            WorkerStop::Reason(reason) => reason,
        })
        .or(prefix.cut_by)
        .map(|reason| Fallback {
            line: lines.len() + 1,
            reason,
        });

    if let Some(fallback) = &fallback {
        log_fallback(fallback, syntax);
    }

    lines.extend(text.split_inclusive('\n').skip(lines.len()).map(plain_line));
    Highlighted {
        lines,
        syntax: Some(syntax),
        fallback,
    }
}

/// Logs a fallback: failures of syntect or of the thread as warnings, limits at debug level.
fn log_fallback(fallback: &Fallback, syntax: Syntax) {
    let code = fallback.reason.code();
    let syntax = syntax.name();
    match &fallback.reason {
        FallbackReason::ParseFailed { .. } | FallbackReason::WorkerFailed { .. } => {
            tracing::warn!(
                code,
                syntax,
                line = fallback.line,
                reason = %fallback.reason,
                "highlighting failed; the rest is plain text"
            );
        }
        _ => {
            tracing::debug!(
                code,
                syntax,
                line = fallback.line,
                reason = %fallback.reason,
                "highlighting stopped at a limit"
            );
        }
    }
}

/// The part of a text that the static limits allow to highlight: whole lines, none of them
/// over the line length limit, within the byte and line limits.
struct HighlightablePrefix {
    bytes: usize,
    /// The limit that ended the prefix before the end of the text.
    cut_by: Option<FallbackReason>,
}

impl HighlightablePrefix {
    fn of(text: &str, limits: &HighlightLimits) -> Self {
        let mut bytes = 0;
        for (index, line) in text.split_inclusive('\n').enumerate() {
            let cut_by = if index >= limits.max_lines {
                Some(FallbackReason::TooManyLines {
                    max: limits.max_lines,
                })
            } else if line.len() > limits.max_line_bytes {
                Some(FallbackReason::LineTooLong {
                    bytes: line.len(),
                    max: limits.max_line_bytes,
                })
            } else if bytes + line.len() > limits.max_bytes {
                Some(FallbackReason::TooLarge {
                    max: limits.max_bytes,
                })
            } else {
                None
            };
            if cut_by.is_some() {
                return Self { bytes, cut_by };
            }
            bytes += line.len();
        }
        Self {
            bytes,
            cut_by: None,
        }
    }
}

/// The reason the worker stopped before the end of its text.
enum WorkerStop {
    Budget,
    Reason(FallbackReason),
}

/// A message from the worker thread.
enum WorkerEvent {
    Line(String),
    Stopped(FallbackReason),
}

/// Highlights `text` on a worker thread until `deadline`. Returns the lines done, and why the
/// worker stopped early, if it did.
fn highlight_on_worker(
    text: &str,
    syntax: Syntax,
    deadline: Instant,
) -> (Vec<String>, Option<WorkerStop>) {
    if text.is_empty() {
        return (Vec::new(), None);
    }
    let Some(slot) = WORKER_SLOTS.acquire(deadline) else {
        return (Vec::new(), Some(WorkerStop::Reason(FallbackReason::Busy)));
    };

    let (sender, receiver) = mpsc::channel();
    let owned_text = text.to_owned();
    let spawned = thread::Builder::new()
        .name("highlight".to_owned())
        .spawn(move || {
            // The slot is released when the thread ends, even after the caller gave up on it.
            let _slot = slot;
            run_worker(&owned_text, syntax, &sender);
        });
    if let Err(error) = spawned {
        let reason = FallbackReason::WorkerFailed {
            message: format!("starting the highlighting thread failed: {error}"),
        };
        return (Vec::new(), Some(WorkerStop::Reason(reason)));
    }

    collect_worker_lines(&receiver, text.split_inclusive('\n').count(), deadline)
}

/// Receives lines until the worker finishes, stops or runs out of time. Dropping `receiver`
/// afterwards makes the worker's next send fail, which ends it.
fn collect_worker_lines(
    receiver: &Receiver<WorkerEvent>,
    expected_lines: usize,
    deadline: Instant,
) -> (Vec<String>, Option<WorkerStop>) {
    let mut lines = Vec::with_capacity(expected_lines);
    while lines.len() < expected_lines {
        let wait = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(wait) {
            Ok(WorkerEvent::Line(html)) => lines.push(html),
            Ok(WorkerEvent::Stopped(reason)) => return (lines, Some(WorkerStop::Reason(reason))),
            Err(RecvTimeoutError::Timeout) => return (lines, Some(WorkerStop::Budget)),
            Err(RecvTimeoutError::Disconnected) => {
                let reason = FallbackReason::WorkerFailed {
                    message: "the highlighting thread panicked".to_owned(),
                };
                return (lines, Some(WorkerStop::Reason(reason)));
            }
        }
    }
    (lines, None)
}

/// Runs the worker thread's loop: one event per line, until the text ends, a line fails or
/// the caller stops listening.
fn run_worker(text: &str, syntax: Syntax, sender: &Sender<WorkerEvent>) {
    let mut highlighter = LineHighlighter::new(syntax);
    for line in text.split_inclusive('\n') {
        let event = match highlighter.highlight_line(line) {
            Ok(html) => WorkerEvent::Line(html),
            Err(reason) => WorkerEvent::Stopped(reason),
        };
        let stopped = matches!(event, WorkerEvent::Stopped(_));
        if sender.send(event).is_err() || stopped {
            return;
        }
    }
}

/// The number of highlighting threads allowed to run at once: one per CPU. Threads whose
/// caller gave up still hold their slot until their current line is done, so slow input
/// cannot pile up threads.
static WORKER_SLOTS: LazyLock<WorkerSlots> = LazyLock::new(|| {
    let cpus = thread::available_parallelism().map_or(1, usize::from);
    WorkerSlots::new(cpus)
});

/// A counting semaphore for highlighting threads.
struct WorkerSlots {
    running: Mutex<usize>,
    released: Condvar,
    max: usize,
}

/// A held slot, released on drop.
struct WorkerSlot(&'static WorkerSlots);

impl WorkerSlots {
    fn new(max: usize) -> Self {
        Self {
            running: Mutex::new(0),
            released: Condvar::new(),
            max,
        }
    }

    /// Waits until a slot is free or `deadline` passes.
    fn acquire(&'static self, deadline: Instant) -> Option<WorkerSlot> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *running >= self.max {
            let wait = deadline.checked_duration_since(Instant::now())?;
            running = self
                .released
                .wait_timeout(running, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *running += 1;
        Some(WorkerSlot(self))
    }
}

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        let mut running = self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running = running.saturating_sub(1);
        self.0.released.notify_one();
    }
}

/// Escapes one line for HTML, without its terminator.
fn plain_line(line: &str) -> String {
    let content = strip_line_ending(line);
    let mut html = String::with_capacity(content.len() + content.len() / 8);
    escape_into(&mut html, content);
    html
}

fn strip_line_ending(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn escape_into(html: &mut String, text: &str) {
    // Writing into a String cannot fail.
    let _ = Escaper::new(html).write_str(text);
}

/// The state carried from one line to the next.
struct LineHighlighter {
    parser: ParseState,
    scopes: ScopeStack,
    /// The `<span class="…">` opening tag of each scope seen so far.
    open_tags: HashMap<Scope, String>,
}

impl LineHighlighter {
    fn new(syntax: Syntax) -> Self {
        Self {
            parser: ParseState::new(syntax.0),
            scopes: ScopeStack::new(),
            open_tags: HashMap::new(),
        }
    }

    /// Highlights one line, terminator included, or returns the reason it cannot.
    fn highlight_line(&mut self, line: &str) -> Result<String, FallbackReason> {
        if self.scopes.len() > MAX_SCOPE_DEPTH {
            return Err(FallbackReason::NestedTooDeep {
                depth: self.scopes.len(),
                max: MAX_SCOPE_DEPTH,
            });
        }

        let ops = self.parser.parse_line(line, &SYNTAXES).map_err(|error| {
            FallbackReason::ParseFailed {
                message: error.to_string(),
            }
        })?;

        self.render_line(strip_line_ending(line), &ops)
    }

    /// Renders one line from the parser's scope operations. `ops` carries byte offsets into
    /// the line with its terminator; offsets past `content` apply at its end.
    fn render_line(
        &mut self,
        content: &str,
        ops: &[(usize, ScopeStackOp)],
    ) -> Result<String, FallbackReason> {
        let mut html = LineHtml::with_capacity(content.len() * 3);

        // Reopen the scopes that earlier lines left open.
        for scope in self.scopes.as_slice() {
            html.open(open_tag(&mut self.open_tags, *scope));
        }

        let mut position = 0;
        for (offset, op) in ops {
            let offset = (*offset).min(content.len());
            if offset > position {
                let text =
                    content
                        .get(position..offset)
                        .ok_or_else(|| FallbackReason::ParseFailed {
                            message: format!(
                                "scope offset {offset} is not on a character boundary"
                            ),
                        })?;
                html.text(text);
                position = offset;
            }

            let open_tags = &mut self.open_tags;
            self.scopes
                .apply_with_hook(op, |basic_op, _| match basic_op {
                    BasicScopeStackOp::Push(scope) => html.open(open_tag(open_tags, scope)),
                    BasicScopeStackOp::Pop => html.close(),
                })
                .map_err(|error| FallbackReason::ParseFailed {
                    message: error.to_string(),
                })?;
        }
        html.text(content.get(position..).unwrap_or_default());

        Ok(html.finish())
    }
}

/// The HTML of one line, with every span it opens closed by [`LineHtml::finish`].
struct LineHtml {
    html: String,
    open_spans: usize,
    /// The start of the last opened span, while no text has followed it.
    empty_span_start: Option<usize>,
}

impl LineHtml {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            html: String::with_capacity(capacity),
            open_spans: 0,
            empty_span_start: None,
        }
    }

    fn open(&mut self, tag: &str) {
        self.empty_span_start = Some(self.html.len());
        self.html.push_str(tag);
        self.open_spans += 1;
    }

    /// Closes the innermost span, or drops it when no text followed it.
    fn close(&mut self) {
        // Never close more spans than this line opened, whatever the syntax does.
        if self.open_spans == 0 {
            return;
        }
        self.open_spans -= 1;
        match self.empty_span_start.take() {
            Some(start) => self.html.truncate(start),
            None => self.html.push_str("</span>"),
        }
    }

    fn text(&mut self, text: &str) {
        if !text.is_empty() {
            self.empty_span_start = None;
            escape_into(&mut self.html, text);
        }
    }

    fn finish(mut self) -> String {
        for _ in 0..self.open_spans {
            self.html.push_str("</span>");
        }
        self.html
    }
}

/// Returns the opening tag for `scope`, built once per scope: `source.rust` becomes
/// `<span class="hl-source hl-rust">`.
fn open_tag(open_tags: &mut HashMap<Scope, String>, scope: Scope) -> &str {
    open_tags.entry(scope).or_insert_with(|| {
        let classes: Vec<String> = scope
            .build_string()
            .split('.')
            .map(|atom| format!("{CLASS_PREFIX}{atom}"))
            .collect();
        let mut tag = String::from("<span class=\"");
        escape_into(&mut tag, &classes.join(" "));
        tag.push_str("\">");
        tag
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Generous limits for tests of the output rather than of the time budget.
    fn unhurried() -> HighlightLimits {
        HighlightLimits {
            budget: Duration::from_secs(60),
            ..HighlightLimits::default()
        }
    }

    /// The budget of the time budget tests, and the time allowed on top for the caller's own
    /// work (escaping the plain-text rest) in an unoptimized build on a loaded machine.
    const BUDGET: Duration = Duration::from_millis(200);
    const MARGIN: Duration = Duration::from_millis(400);

    /// Time budget tests run one at a time, so that the thread one of them leaves behind does
    /// not take the highlighting slot another one needs.
    static TIMING: Mutex<()> = Mutex::new(());

    fn budgeted() -> HighlightLimits {
        HighlightLimits {
            budget: BUDGET,
            ..HighlightLimits::default()
        }
    }

    fn syntax(hint: &str) -> Syntax {
        Syntax::from_hint(hint).expect("known syntax")
    }

    /// Highlights a sample once, so that the syntax's regexes are compiled before a test
    /// measures time.
    fn warm(hint: &str, sample: &str) {
        let warmed = highlight(sample, Some(syntax(hint)), &unhurried());
        assert_eq!(warmed.fallback, None);
    }

    fn assert_balanced(line: &str) {
        assert_eq!(
            line.matches("<span").count(),
            line.matches("</span>").count(),
            "unbalanced spans in {line}"
        );
    }

    #[test]
    fn hints_find_syntaxes() {
        for (hint, name) in [
            ("rust", "Rust"),
            ("rs", "Rust"),
            ("RS", "Rust"),
            (".rs", "Rust"),
            ("py", "Python"),
            ("Python", "Python"),
            ("golang", "Go"),
            ("js", "JavaScript"),
            ("c++", "C++"),
            ("shell", "Bourne Again Shell (bash)"),
        ] {
            assert_eq!(
                Syntax::from_hint(hint).map(Syntax::name),
                Some(name),
                "hint {hint}"
            );
        }
    }

    #[test]
    fn plain_and_unknown_hints_find_nothing() {
        for hint in ["", "  ", "text", "txt", "Plain Text", "no-such-language"] {
            assert_eq!(Syntax::from_hint(hint), None, "hint {hint:?}");
        }
    }

    #[test]
    fn file_names_find_syntaxes() {
        assert_eq!(
            Syntax::from_file_name("main.rs").map(Syntax::name),
            Some("Rust")
        );
        assert_eq!(
            Syntax::from_file_name("src/app.py").map(Syntax::name),
            Some("Python")
        );
        assert_eq!(
            Syntax::from_file_name("Makefile").map(Syntax::name),
            Some("Makefile")
        );
        assert_eq!(Syntax::from_file_name("notes"), None);
        assert_eq!(Syntax::from_file_name("notes.txt"), None);
        assert_eq!(Syntax::from_file_name("My paste about rs"), None);
    }

    #[test]
    fn shebang_finds_syntax() {
        let script = "#!/usr/bin/env python3\nprint('hi')\n";
        assert_eq!(
            Syntax::from_first_line(script).map(Syntax::name),
            Some("Python")
        );
    }

    #[test]
    fn paste_syntax_prefers_field_then_title() {
        let text = "#!/bin/sh\necho hi\n";
        let from_field = Syntax::for_paste(Some("rust"), Some("a.py"), text);
        let from_title = Syntax::for_paste(None, Some("a.py"), text);
        let from_first_line = Syntax::for_paste(None, Some("notes"), text);
        let unknown_field = Syntax::for_paste(Some("klingon"), Some("a.py"), text);
        assert_eq!(from_field.map(Syntax::name), Some("Rust"));
        assert_eq!(from_title.map(Syntax::name), Some("Python"));
        assert_eq!(
            from_first_line.map(Syntax::name),
            Some("Bourne Again Shell (bash)")
        );
        assert_eq!(unknown_field.map(Syntax::name), Some("Python"));
    }

    #[test]
    fn all_syntaxes_sorted_without_plain_text() {
        let names: Vec<&str> = Syntax::all().into_iter().map(Syntax::name).collect();
        assert!(names.contains(&"Rust"));
        assert!(!names.contains(&"Plain Text"));
        assert!(!names.contains(&"commands-builtin-shell-bash"));
        let mut sorted = names.clone();
        sorted.sort_by_key(|name| name.to_lowercase());
        assert_eq!(names, sorted);
    }

    #[test]
    fn rust_highlights_with_classes() {
        let text = "fn main() {\n    let greeting = \"<script>\";\n}\n";
        let highlighted = highlight(text, Some(syntax("rust")), &unhurried());
        assert_eq!(highlighted.fallback, None);
        assert_eq!(highlighted.lines.len(), 3);
        assert!(highlighted.lines[0].contains("<span class=\"hl-"));
        assert!(highlighted.lines[0].contains("hl-storage"));
        assert!(highlighted.lines[1].contains("&lt;script&gt;"));
        assert!(!highlighted.lines[1].contains("<script"));
        for line in &highlighted.lines {
            assert_balanced(line);
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn open_scopes_reopen_on_next_line() {
        let text = "/* first\nsecond */ fn x() {}\n";
        let highlighted = highlight(text, Some(syntax("rust")), &unhurried());
        assert!(highlighted.lines[0].contains("hl-comment"));
        assert!(highlighted.lines[1].starts_with("<span"));
        assert!(highlighted.lines[1].contains("hl-comment"));
        assert_balanced(&highlighted.lines[0]);
        assert_balanced(&highlighted.lines[1]);
    }

    #[test]
    fn plain_text_is_escaped_per_line() {
        let text = "a < b && \"c\"\r\n</textarea>\nlast without newline";
        let highlighted = highlight(text, None, &unhurried());
        assert_eq!(highlighted.syntax, None);
        assert_eq!(
            highlighted.lines,
            [
                "a &lt; b &amp;&amp; &quot;c&quot;",
                "&lt;/textarea&gt;",
                "last without newline"
            ]
        );
    }

    #[test]
    fn empty_text_has_no_lines() {
        let highlighted = highlight("", Some(syntax("rust")), &unhurried());
        assert!(highlighted.lines.is_empty());
        assert_eq!(highlighted.fallback, None);
    }

    #[test]
    fn static_limits_cut_highlighting() {
        let limits = HighlightLimits {
            max_lines: 2,
            ..unhurried()
        };
        let text = "let a = 1;\nlet b = 2;\nlet c = 3;\n";
        let highlighted = highlight(text, Some(syntax("rust")), &limits);
        let fallback = highlighted.fallback.expect("cut after two lines");
        assert_eq!(fallback.line, 3);
        assert_eq!(fallback.reason, FallbackReason::TooManyLines { max: 2 });
        assert!(highlighted.lines[1].contains("<span"));
        assert_eq!(highlighted.lines[2], "let c = 3;");
    }

    #[test]
    fn byte_limit_cuts_at_line() {
        let limits = HighlightLimits {
            max_bytes: 15,
            ..unhurried()
        };
        let text = "let a = 1;\nlet b = 2;\n";
        let highlighted = highlight(text, Some(syntax("rust")), &limits);
        let fallback = highlighted.fallback.expect("cut after one line");
        assert_eq!(fallback.line, 2);
        assert_eq!(fallback.reason, FallbackReason::TooLarge { max: 15 });
    }

    #[test]
    fn megabyte_line_falls_back_in_time() {
        let _serial = TIMING.lock().unwrap_or_else(PoisonError::into_inner);
        let text = format!("{}\nfn after() {{}}\n", "a".repeat(1024 * 1024));

        let started = Instant::now();
        let highlighted = highlight(&text, Some(syntax("rust")), &budgeted());
        let elapsed = started.elapsed();

        let fallback = highlighted.fallback.expect("fallback");
        assert_eq!(fallback.line, 1);
        assert!(matches!(
            fallback.reason,
            FallbackReason::LineTooLong { .. }
        ));
        assert_eq!(highlighted.lines.len(), 2);
        assert!(!highlighted.lines[1].contains("<span"));
        assert!(elapsed < BUDGET + MARGIN, "took {elapsed:?}");
    }

    #[test]
    fn nested_brackets_on_one_line_fall_back() {
        let _serial = TIMING.lock().unwrap_or_else(PoisonError::into_inner);
        let text = format!("{}{}\n", "(".repeat(100_000), ")".repeat(100_000));

        let started = Instant::now();
        let highlighted = highlight(&text, Some(syntax("rust")), &budgeted());
        let elapsed = started.elapsed();

        let fallback = highlighted.fallback.expect("fallback");
        assert!(matches!(
            fallback.reason,
            FallbackReason::LineTooLong { .. }
        ));
        assert!(elapsed < BUDGET + MARGIN, "took {elapsed:?}");
    }

    #[test]
    fn nested_brackets_per_line_stop_at_depth() {
        let _serial = TIMING.lock().unwrap_or_else(PoisonError::into_inner);
        // C opens a scope for every parenthesis, and keeps it open across lines.
        warm("c", "int main() { return f((1), [2]); }\n");
        let text = "(\n".repeat(100_000);

        let started = Instant::now();
        let highlighted = highlight(&text, Some(syntax("c")), &budgeted());
        let elapsed = started.elapsed();

        let fallback = highlighted.fallback.expect("fallback");
        assert!(
            matches!(
                fallback.reason,
                FallbackReason::NestedTooDeep {
                    max: MAX_SCOPE_DEPTH,
                    ..
                }
            ),
            "{fallback:?}"
        );
        assert!(fallback.line < 1_000, "{fallback:?}");
        assert_eq!(highlighted.lines.len(), 100_000);
        for line in &highlighted.lines[..fallback.line - 1] {
            assert!(line.matches("<span").count() <= MAX_SCOPE_DEPTH + 2);
        }
        assert!(elapsed < BUDGET + MARGIN, "took {elapsed:?}");
    }

    #[test]
    fn long_file_stops_at_deadline() {
        let _serial = TIMING.lock().unwrap_or_else(PoisonError::into_inner);
        warm("rust", "fn main() { let x = 1; }\n");
        let limits = HighlightLimits {
            max_bytes: usize::MAX,
            max_lines: usize::MAX,
            ..budgeted()
        };
        // 30,000 lines of 70 bytes: about the largest text that the page shows by default.
        let text = "fn f(x: u32) -> u32 { let y = x * 2; /* c */ y + \"s\".len() as u32 }\n"
            .repeat(30_000);

        let started = Instant::now();
        let highlighted = highlight(&text, Some(syntax("rust")), &limits);
        let elapsed = started.elapsed();

        let fallback = highlighted.fallback.expect("fallback");
        assert!(
            matches!(fallback.reason, FallbackReason::DeadlineExceeded { .. }),
            "{fallback:?}"
        );
        assert!(fallback.line > 1, "nothing highlighted within {BUDGET:?}");
        assert_eq!(highlighted.lines.len(), 30_000);
        assert!(elapsed < BUDGET + MARGIN, "took {elapsed:?}");
    }

    #[test]
    fn slow_lines_are_left_at_deadline() {
        let _serial = TIMING.lock().unwrap_or_else(PoisonError::into_inner);
        // Long identifiers make syntect's C# regexes search in quadratic time; 1,000 of them
        // take seconds even with the regexes compiled, so the deadline passes mid-line.
        let line = format!("{}\n", "a".repeat(1_000));
        let text = line.repeat(1_000);
        let limits = HighlightLimits {
            budget: Duration::from_millis(50),
            ..HighlightLimits::default()
        };

        let started = Instant::now();
        let highlighted = highlight(&text, Some(syntax("cs")), &limits);
        let elapsed = started.elapsed();

        let fallback = highlighted.fallback.expect("fallback");
        assert!(
            matches!(fallback.reason, FallbackReason::DeadlineExceeded { .. }),
            "{fallback:?}"
        );
        assert_eq!(highlighted.lines.len(), 1_000);
        assert!(elapsed < limits.budget + MARGIN, "took {elapsed:?}");
    }

    #[test]
    fn fallback_reasons_have_codes() {
        let reason = FallbackReason::LineTooLong {
            bytes: 5000,
            max: 1024,
        };
        assert_eq!(reason.code(), "line_too_long");
        assert_eq!(
            reason.to_string(),
            "a line of 5000 bytes is over the maximum of 1024 bytes"
        );
    }

    /// Prints the time to load the syntax set and to highlight this file cold and warm.
    /// Run with `--ignored --nocapture` in a fresh process; the numbers are for reading.
    #[test]
    #[ignore = "prints timings for reading; asserts nothing about speed"]
    fn cold_and_warm_timings() {
        let started = Instant::now();
        warm_up();
        eprintln!("loading the syntax set: {:?}", started.elapsed());

        let text = include_str!("highlight.rs");
        let lines = text.lines().count();
        for (hint, run) in [
            ("rust", "cold"),
            ("rust", "warm"),
            ("py", "cold (Rust text)"),
        ] {
            let started = Instant::now();
            let highlighted = highlight(text, Some(syntax(hint)), &unhurried());
            assert_eq!(highlighted.fallback, None);
            eprintln!("{hint} {run}, {lines} lines: {:?}", started.elapsed());
        }
    }
}
