//! The embedded search index: Tantivy under `<data_dir>/search/bookmarks`.
//!
//! One `IndexWriter` lives behind a mutex and is only touched on blocking threads. Writes queue
//! their operations and then wait for the next commit, which a committer task runs at most once
//! per commit interval unless [`SearchIndex::flush`] requests one at once. Concurrent writes
//! therefore share one commit, and a write that returns is durable and visible.
//!
//! Text fields go through one analyzer: split on anything that is not a letter or digit
//! (Unicode-aware), drop tokens over 40 bytes, lower-case (Unicode), and fold Latin accents to
//! ASCII, so `Café` matches `cafe`. Filters use untokenized fields: tag keys, the host with its
//! parent domains, status, the unread flag, `user_id` and `created_at`.
//!
//! Ranking: BM25 over the text fields with title, tags and site name boosted, then `created_at`
//! newest first. Queries without words or phrases skip scoring and sort by `created_at` alone.
//!
//! The index belongs to one process: Tantivy's lock file rejects a second writer, so two
//! processes that share a data directory need Meilisearch instead.

use super::unavailable;
use linkyard_actors::backends::search::{
    BookmarkDocument, SearchError, SearchHits, SearchIndex, SearchRequest,
};
use linkyard_actors::domain::search_query::{
    Clause, SearchQuery, Term as QueryTerm, after_cutoff, before_cutoff, host_domains,
    normalize_text, tag_key,
};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::indexer::UserOperation;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EnableScoring, Explanation, Occur, PhraseQuery,
    Query, RangeQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, INDEXED, IndexRecordOption, NumericOptions, STRING,
    Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score,
    SegmentReader, TantivyDocument, Term,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const BACKEND: &str = "tantivy";
/// The analyzer's name. Changing the analyzer must change this name, because the schema then
/// differs from the one on disk and the index is rebuilt.
const TEXT_ANALYZER: &str = "linkyard_text_v1";
/// Tokens longer than this, in bytes, are dropped: they are hashes and base64, not words.
const MAX_TOKEN_BYTES: usize = 40;
/// Memory the writer may buffer before it writes a segment, split among its indexing threads.
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// The index location and commit frequency.
#[derive(Debug, Clone)]
pub struct TantivyOptions {
    /// The index directory, created if missing: `<data_dir>/search/bookmarks`.
    pub path: PathBuf,
    /// The minimum time between two commits. Writes wait up to this long to become durable.
    pub commit_interval: Duration,
}

/// The Tantivy search index. Cheap to share behind an `Arc`; dropping the last handle commits
/// what is pending and stops the committer.
pub struct TantivySearch {
    shared: Arc<Shared>,
    signals: mpsc::UnboundedSender<Signal>,
    committer: JoinHandle<()>,
}

struct Shared {
    path: PathBuf,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
    writer: Mutex<WriterState>,
    /// The error of the last commit if it failed, cleared by the next successful one.
    last_error: Mutex<Option<String>>,
    commits: AtomicU64,
}

/// The writer and the writes that wait for its next commit.
struct WriterState {
    writer: IndexWriter,
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
}

/// A message to the committer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// A write is waiting; commit when the interval allows.
    Write,
    /// A caller wants a commit now.
    Flush,
}

/// The schema's fields. Text fields are searched by words; the others filter or sort.
#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    user_id: Field,
    title: Field,
    description: Field,
    url: Field,
    note: Field,
    tags_text: Field,
    site_name: Field,
    tag: Field,
    domain: Field,
    status: Field,
    unread: Field,
    created_at: Field,
    lang: Field,
}

impl Fields {
    /// Returns the text fields with their relevance boosts.
    fn text(&self) -> [(Field, f32); 6] {
        [
            (self.title, 3.0),
            (self.tags_text, 2.0),
            (self.site_name, 1.5),
            (self.description, 1.0),
            (self.note, 1.0),
            (self.url, 1.0),
        ]
    }
}

impl TantivySearch {
    /// Opens the index at `options.path`, creating it if needed, and starts the committer. An
    /// index written with another schema is deleted and created anew, and the start-up count
    /// check then backfills it from the database.
    pub async fn open(options: TantivyOptions) -> Result<Self, SearchError> {
        let path = options.path.clone();
        let shared = tokio::task::spawn_blocking(move || open_shared(path))
            .await
            .map_err(|error| unavailable(BACKEND, "open", error))??;
        let shared = Arc::new(shared);

        let (signals, receiver) = mpsc::unbounded_channel();
        let committer = Committer {
            shared: Arc::clone(&shared),
            signals: receiver,
            interval: options.commit_interval,
        };
        let committer = tokio::spawn(committer.run());
        tracing::info!(path = %options.path.display(), "search index opened");
        Ok(Self {
            shared,
            signals,
            committer,
        })
    }

    /// Commits what is pending, stops the committer and releases the index lock, so that the
    /// index can be opened again.
    pub async fn close(self) -> Result<(), SearchError> {
        let flushed = self.flush().await;
        let Self {
            shared,
            signals,
            committer,
        } = self;
        drop(signals);
        drop(shared);
        committer
            .await
            .map_err(|error| unavailable(BACKEND, "close", error))?;
        flushed
    }

    /// Returns the number of commits made since the index opened.
    pub fn commit_count(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Queues `apply`'s operations on the writer, then waits for the commit that includes them.
    async fn write<F>(&self, operation: &'static str, apply: F) -> Result<(), SearchError>
    where
        F: FnOnce(&IndexWriter, &Fields) -> tantivy::Result<()> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut state = lock(&shared.writer, operation)?;
            apply(&state.writer, &shared.fields)
                .map_err(|error| unavailable(BACKEND, operation, error))?;
            state.waiters.push(sender);
            Ok::<_, SearchError>(())
        })
        .await
        .map_err(|error| unavailable(BACKEND, operation, error))??;

        self.signal(Signal::Write, operation)?;
        self.wait_for_commit(receiver, operation).await
    }

    fn signal(&self, signal: Signal, operation: &'static str) -> Result<(), SearchError> {
        self.signals
            .send(signal)
            .map_err(|_| unavailable(BACKEND, operation, "the committer task has stopped"))
    }

    async fn wait_for_commit(
        &self,
        receiver: oneshot::Receiver<Result<(), String>>,
        operation: &'static str,
    ) -> Result<(), SearchError> {
        match receiver.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(unavailable(BACKEND, operation, message)),
            Err(_) => Err(unavailable(
                BACKEND,
                operation,
                "the committer task has stopped",
            )),
        }
    }

    async fn read<T, F>(&self, operation: &'static str, read: F) -> Result<T, SearchError>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> tantivy::Result<T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || read(&shared))
            .await
            .map_err(|error| unavailable(BACKEND, operation, error))?
            .map_err(|error| unavailable(BACKEND, operation, error))
    }
}

#[async_trait::async_trait]
impl SearchIndex for TantivySearch {
    fn name(&self) -> &'static str {
        BACKEND
    }

    /// Checks that the index is healthy. The schema was applied when the index opened.
    async fn apply_settings(&self) -> Result<(), SearchError> {
        self.ping().await
    }

    async fn upsert(&self, documents: Vec<BookmarkDocument>) -> Result<(), SearchError> {
        if documents.is_empty() {
            return Ok(());
        }
        self.write("upsert", move |writer, fields| {
            let mut operations = Vec::with_capacity(documents.len() * 2);
            for document in &documents {
                let id = Term::from_field_i64(fields.id, document.id);
                operations.push(UserOperation::Delete(id));
                operations.push(UserOperation::Add(to_tantivy(fields, document)));
            }
            writer.run(operations).map(|_| ())
        })
        .await
    }

    async fn delete(&self, ids: &[i64]) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write("delete", move |writer, fields| {
            let operations: Vec<_> = ids
                .iter()
                .map(|id| UserOperation::Delete(Term::from_field_i64(fields.id, *id)))
                .collect();
            writer.run(operations).map(|_| ())
        })
        .await
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchHits, SearchError> {
        SearchError::check_window(request)?;
        let request = request.clone();
        self.read("search", move |shared| shared.search(&request))
            .await
    }

    async fn count(&self, user_id: Option<i64>) -> Result<u64, SearchError> {
        self.read("count", move |shared| {
            let searcher = shared.reader.searcher();
            match user_id {
                None => Ok(searcher.num_docs()),
                Some(user_id) => {
                    let query = shared.user_filter(user_id);
                    searcher.search(&query, &Count).map(|count| count as u64)
                }
            }
        })
        .await
    }

    async fn delete_all(&self) -> Result<(), SearchError> {
        self.write("delete all", |writer, _| {
            writer.delete_all_documents().map(|_| ())
        })
        .await
    }

    async fn flush(&self) -> Result<(), SearchError> {
        let (sender, receiver) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            lock(&shared.writer, "flush").map(|mut state| state.waiters.push(sender))
        })
        .await
        .map_err(|error| unavailable(BACKEND, "flush", error))??;

        self.signal(Signal::Flush, "flush")?;
        self.wait_for_commit(receiver, "flush").await
    }

    async fn ping(&self) -> Result<(), SearchError> {
        if self.signals.is_closed() {
            return Err(unavailable(
                BACKEND,
                "ping",
                "the committer task has stopped",
            ));
        }
        let last_error = lock(&self.shared.last_error, "ping")?.clone();
        match last_error {
            Some(message) => Err(unavailable(
                BACKEND,
                "ping",
                format!(
                    "the last commit to {} failed: {message}",
                    self.shared.path.display()
                ),
            )),
            None => Ok(()),
        }
    }
}

fn lock<'a, T>(
    mutex: &'a Mutex<T>,
    operation: &'static str,
) -> Result<MutexGuard<'a, T>, SearchError> {
    mutex.lock().map_err(|_| {
        unavailable(
            BACKEND,
            operation,
            "a thread panicked while holding the index lock",
        )
    })
}

/// Batches writes into commits: after the first waiting write, it commits once the interval
/// since the previous commit has passed, or at once on a flush.
struct Committer {
    shared: Arc<Shared>,
    signals: mpsc::UnboundedReceiver<Signal>,
    interval: Duration,
}

impl Committer {
    async fn run(mut self) {
        let mut last_commit: Option<Instant> = None;
        while let Some(first) = self.signals.recv().await {
            let closed = self.wait_for_batch(first, last_commit).await;
            if self.commit().await {
                last_commit = Some(Instant::now());
            }
            if closed {
                break;
            }
        }
        // Every handle is gone. The final commit above (or the loop's end) left nothing
        // pending, and dropping the writer joins its threads, so it happens off the runtime.
        let shared = self.shared;
        let _ = tokio::task::spawn_blocking(move || drop(shared)).await;
        tracing::info!("search index committer stopped");
    }

    /// Waits until the batch that `first` started should be committed. Returns whether every
    /// handle has been dropped.
    async fn wait_for_batch(&mut self, first: Signal, last_commit: Option<Instant>) -> bool {
        if first == Signal::Flush {
            return false;
        }
        let Some(last_commit) = last_commit else {
            return false;
        };
        let deadline = last_commit + self.interval;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return false,
                signal = self.signals.recv() => match signal {
                    Some(Signal::Flush) => return false,
                    Some(Signal::Write) => {}
                    None => return true,
                },
            }
        }
    }

    /// Commits what is pending. Returns whether there was anything to commit.
    async fn commit(&self) -> bool {
        let shared = Arc::clone(&self.shared);
        match tokio::task::spawn_blocking(move || shared.commit()).await {
            Ok(committed) => committed,
            Err(error) => {
                tracing::error!(%error, "search index commit task failed");
                true
            }
        }
    }
}

impl Shared {
    /// Commits the queued operations and reloads the reader, then sends the outcome to every
    /// waiting write. A failed commit is rolled back, so its writers can retry from a clean
    /// state. Returns whether any write was waiting.
    fn commit(&self) -> bool {
        let Ok(mut state) = self.writer.lock() else {
            tracing::error!("search index writer lock is poisoned; commits have stopped");
            return false;
        };
        if state.waiters.is_empty() {
            return false;
        }
        let waiters = std::mem::take(&mut state.waiters);
        let result = match state.writer.commit() {
            Ok(_) => self.reader.reload().map_err(|error| error.to_string()),
            Err(error) => {
                if let Err(rollback) = state.writer.rollback() {
                    tracing::error!(error = %rollback, "search index rollback failed");
                }
                Err(error.to_string())
            }
        };
        drop(state);

        self.record_outcome(&result, waiters.len());
        for waiter in waiters {
            // A writer that went away no longer needs the outcome.
            let _ = waiter.send(result.clone());
        }
        true
    }

    fn record_outcome(&self, result: &Result<(), String>, writes: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        if let Err(message) = result {
            tracing::error!(error = %message, writes, path = %self.path.display(), "search index commit failed");
        } else {
            tracing::debug!(writes, "search index committed");
        }
        if let Ok(mut last_error) = self.last_error.lock() {
            *last_error = result.clone().err();
        }
    }

    fn search(&self, request: &SearchRequest) -> tantivy::Result<SearchHits> {
        let query = self.to_query(request.user_id, &request.query);
        let searcher = self.reader.searcher();
        if request.limit == 0 {
            let total = searcher.search(&query, &Count)?;
            return Ok(SearchHits {
                ids: Vec::new(),
                total: total as u64,
            });
        }

        let page = TopDocs::for_doc_range(request.offset..request.offset + request.limit);
        let (addresses, total) = if request.query.has_text() {
            let newest = (
                SortByStaticFastValue::<tantivy::DateTime>::for_field("created_at"),
                Order::Desc,
            );
            let collector = page.order_by((SortBySimilarityScore, newest));
            let (hits, total) = searcher.search(&query, &(collector, Count))?;
            (
                hits.into_iter()
                    .map(|(_, address)| address)
                    .collect::<Vec<_>>(),
                total,
            )
        } else {
            let collector =
                page.order_by_fast_field::<tantivy::DateTime>("created_at", Order::Desc);
            let (hits, total) = searcher.search(&query, &(collector, Count))?;
            (
                hits.into_iter().map(|(_, address)| address).collect(),
                total,
            )
        };

        let ids = self.ids_of(&searcher, &addresses)?;
        Ok(SearchHits {
            ids,
            total: total as u64,
        })
    }

    /// Reads the bookmark ids of hits from the `id` fast field.
    fn ids_of(
        &self,
        searcher: &tantivy::Searcher,
        addresses: &[DocAddress],
    ) -> tantivy::Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(addresses.len());
        for address in addresses {
            let column = searcher
                .segment_reader(address.segment_ord)
                .fast_fields()
                .i64("id")?;
            if let Some(id) = column.first(address.doc_id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Translates a query into a boolean query scoped to the user: every clause must hold, and
    /// negated clauses must not.
    fn to_query(&self, user_id: i64, query: &SearchQuery) -> BooleanQuery {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(self.user_filter(user_id)))];
        for clause in query.clauses() {
            let Some(subquery) = self.clause_query(clause) else {
                continue;
            };
            if clause.negated {
                clauses.push((Occur::MustNot, Box::new(Excludable(subquery))));
            } else {
                clauses.push((Occur::Must, subquery));
            }
        }
        BooleanQuery::new(clauses)
    }

    /// Builds a filter on the owner that adds nothing to the relevance score.
    fn user_filter(&self, user_id: i64) -> ConstScoreQuery {
        let term = Term::from_field_i64(self.fields.user_id, user_id);
        filter(TermQuery::new(term, IndexRecordOption::Basic))
    }

    /// Translates one clause, or returns `None` for text without any token (such as `!!!`),
    /// which matches everything and is dropped.
    fn clause_query(&self, clause: &Clause) -> Option<Box<dyn Query>> {
        let fields = &self.fields;
        let exact = |field: Field, value: &str| {
            let term = Term::from_field_text(field, value);
            Box::new(filter(TermQuery::new(term, IndexRecordOption::Basic))) as Box<dyn Query>
        };
        let query: Box<dyn Query> = match &clause.term {
            QueryTerm::Word(text) | QueryTerm::Phrase(text) => return self.text_query(text),
            QueryTerm::Tag(tag) => exact(fields.tag, tag),
            QueryTerm::Site(host) => exact(fields.domain, host),
            QueryTerm::Status(status) => exact(fields.status, status.as_str()),
            QueryTerm::Unread(unread) => {
                let term = Term::from_field_bool(fields.unread, *unread);
                Box::new(filter(TermQuery::new(term, IndexRecordOption::Basic)))
            }
            QueryTerm::Before(date) => {
                let cutoff = self.date_term(before_cutoff(*date).timestamp());
                Box::new(filter(RangeQuery::new(
                    Bound::Unbounded,
                    Bound::Excluded(cutoff),
                )))
            }
            QueryTerm::After(date) => {
                let cutoff = self.date_term(after_cutoff(*date).timestamp());
                Box::new(filter(RangeQuery::new(
                    Bound::Included(cutoff),
                    Bound::Unbounded,
                )))
            }
        };
        Some(query)
    }

    fn date_term(&self, seconds: i64) -> Term {
        Term::from_field_date(
            self.fields.created_at,
            tantivy::DateTime::from_timestamp_secs(seconds),
        )
    }

    /// Matches text in any text field: one token as a term, several as a phrase.
    fn text_query(&self, text: &str) -> Option<Box<dyn Query>> {
        let tokens = self.tokens(text);
        if tokens.is_empty() {
            return None;
        }
        let per_field = self
            .fields
            .text()
            .into_iter()
            .map(|(field, boost)| {
                let query: Box<dyn Query> = if let [token] = tokens.as_slice() {
                    let term = Term::from_field_text(field, token);
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
                } else {
                    let terms = tokens
                        .iter()
                        .map(|token| Term::from_field_text(field, token));
                    Box::new(PhraseQuery::new(terms.collect()))
                };
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(query, boost)) as Box<dyn Query>,
                )
            })
            .collect();
        Some(Box::new(BooleanQuery::new(per_field)))
    }

    fn tokens(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        while stream.advance() {
            tokens.push(stream.token().text.clone());
        }
        tokens
    }
}

/// Wraps a `MustNot` clause so that its scorer handles `seek_danger` with tantivy's default
/// implementation.
///
/// NOTE: tantivy 0.27's `Exclude` queries the excluded scorer for a document that
/// lies behind that scorer's current document. `PhraseScorer::seek_danger` does not accept such
/// a target: debug builds panic on an assertion, and release builds pass the backward target on
/// to the phrase's term intersection, which is not built for it. The default `seek_danger`
/// returns a result based on the current document, which is correct for every scorer.
#[derive(Debug)]
struct Excludable(Box<dyn Query>);

impl Clone for Excludable {
    fn clone(&self) -> Self {
        Self(self.0.box_clone())
    }
}

struct ExcludableWeight(Box<dyn Weight>);

struct ExcludableScorer(Box<dyn Scorer>);

impl Query for Excludable {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ExcludableWeight(self.0.weight(enable_scoring)?)))
    }
}

impl Weight for ExcludableWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ExcludableScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

impl DocSet for ExcludableScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.0.seek(target)
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }
}

impl Scorer for ExcludableScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}

fn filter(query: impl Query) -> ConstScoreQuery {
    ConstScoreQuery::new(Box::new(query), 0.0)
}

fn open_shared(path: PathBuf) -> Result<Shared, SearchError> {
    let (schema, fields) = build_schema();
    let index = open_index(&path, schema).map_err(|error| unavailable(BACKEND, "open", error))?;
    let analyzer = text_analyzer();
    index.tokenizers().register(TEXT_ANALYZER, analyzer.clone());

    let writer = index
        .writer(WRITER_MEMORY_BYTES)
        .map_err(|error| match error {
            tantivy::TantivyError::LockFailure(..) => unavailable(
                BACKEND,
                "open",
                format!(
                    "the index at {} is locked by another process; stop it, or configure \
                 search.backend = \"meilisearch\" to share search between processes",
                    path.display()
                ),
            ),
            other => unavailable(BACKEND, "open", other),
        })?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|error| unavailable(BACKEND, "open", error))?;

    Ok(Shared {
        path,
        reader,
        fields,
        analyzer,
        writer: Mutex::new(WriterState {
            writer,
            waiters: Vec::new(),
        }),
        last_error: Mutex::new(None),
        commits: AtomicU64::new(0),
    })
}

/// Opens the index in `path`, or creates it there. An index with another schema is replaced.
fn open_index(path: &Path, schema: Schema) -> anyhow::Result<Index> {
    use anyhow::Context;
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    let directory =
        MmapDirectory::open(path).with_context(|| format!("opening {}", path.display()))?;
    if !Index::exists(&directory)? {
        return Ok(Index::create(directory, schema, Default::default())?);
    }
    let index = Index::open(directory)?;
    if index.schema() == schema {
        return Ok(index);
    }

    tracing::warn!(path = %path.display(), "search index schema changed; rebuilding the index");
    drop(index);
    std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(Index::create_in_dir(path, schema)?)
}

fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let filter_number = NumericOptions::default().set_indexed().set_fast();
    let created_at = DateOptions::default()
        .set_indexed()
        .set_fast()
        .set_precision(DateTimePrecision::Seconds);

    let fields = Fields {
        id: builder.add_i64_field("id", filter_number.clone()),
        user_id: builder.add_i64_field("user_id", INDEXED),
        title: builder.add_text_field("title", text.clone()),
        description: builder.add_text_field("description", text.clone()),
        url: builder.add_text_field("url", text.clone()),
        note: builder.add_text_field("note", text.clone()),
        tags_text: builder.add_text_field("tags_text", text.clone()),
        site_name: builder.add_text_field("site_name", text),
        tag: builder.add_text_field("tag", STRING),
        domain: builder.add_text_field("domain", STRING),
        status: builder.add_text_field("status", STRING),
        unread: builder.add_bool_field("unread", INDEXED),
        created_at: builder.add_date_field("created_at", created_at),
        lang: builder.add_text_field("lang", STRING),
    };
    (builder.build(), fields)
}

fn to_tantivy(fields: &Fields, document: &BookmarkDocument) -> TantivyDocument {
    let mut output = TantivyDocument::default();
    output.add_i64(fields.id, document.id);
    output.add_i64(fields.user_id, document.user_id);

    let texts = [
        (fields.title, document.title.as_deref()),
        (fields.description, document.description.as_deref()),
        (fields.url, Some(document.url.as_str())),
        (fields.note, document.note.as_deref()),
        (fields.site_name, document.site_name.as_deref()),
    ];
    for (field, text) in texts {
        if let Some(text) = text {
            output.add_text(field, normalize_text(text));
        }
    }
    for tag in &document.tags {
        output.add_text(fields.tags_text, normalize_text(tag));
        output.add_text(fields.tag, tag_key(tag));
    }

    for domain in host_domains(&document.host) {
        output.add_text(fields.domain, domain);
    }
    output.add_text(fields.status, document.status.as_str());
    output.add_bool(fields.unread, document.unread);
    let created_at = tantivy::DateTime::from_timestamp_secs(document.created_at.timestamp());
    output.add_date(fields.created_at, created_at);
    if let Some(lang) = &document.lang {
        output.add_text(fields.lang, lang);
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use linkyard_actors::domain::{BookmarkStatus, SearchQuery};

    fn document(id: i64, title: &str) -> BookmarkDocument {
        BookmarkDocument {
            id,
            user_id: 1,
            url: format!("https://example.org/{id}"),
            host: "example.org".to_owned(),
            title: Some(title.to_owned()),
            description: None,
            site_name: None,
            tags: Vec::new(),
            note: None,
            unread: false,
            status: BookmarkStatus::Active,
            created_at: Utc
                .timestamp_opt(1_700_000_000 + id, 0)
                .single()
                .expect("time"),
            lang: None,
        }
    }

    async fn open(path: &Path, commit_interval: Duration) -> TantivySearch {
        let options = TantivyOptions {
            path: path.to_path_buf(),
            commit_interval,
        };
        TantivySearch::open(options).await.expect("open index")
    }

    async fn ids(index: &TantivySearch, query: &str) -> Vec<i64> {
        let request = SearchRequest {
            user_id: 1,
            query: SearchQuery::parse(query).expect("query"),
            limit: 10,
            offset: 0,
        };
        index.search(&request).await.expect("search").ids
    }

    fn waiting_writes(index: &TantivySearch) -> usize {
        index
            .shared
            .writer
            .lock()
            .map(|state| state.waiters.len())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn concurrent_writes_share_one_commit() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let index = Arc::new(open(directory.path(), Duration::from_secs(3600)).await);
        // The first write commits at once because no commit came before it.
        index
            .upsert(vec![document(1, "first")])
            .await
            .expect("first upsert");
        let before = index.commit_count();

        let writers: Vec<_> = [2, 3]
            .into_iter()
            .map(|id| {
                let index = Arc::clone(&index);
                tokio::spawn(async move { index.upsert(vec![document(id, "batched")]).await })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while waiting_writes(&index) < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            waiting_writes(&index),
            2,
            "both writes should wait for the next commit"
        );
        assert!(writers.iter().all(|writer| !writer.is_finished()));
        assert_eq!(index.commit_count(), before);
        assert!(ids(&index, "batched").await.is_empty());

        index.flush().await.expect("flush");
        for writer in writers {
            writer.await.expect("writer task").expect("batched upsert");
        }
        assert_eq!(index.commit_count(), before + 1);
        assert_eq!(ids(&index, "batched").await, [3, 2]);
    }

    #[tokio::test]
    async fn reopened_index_keeps_documents() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let index = open(directory.path(), Duration::from_millis(10)).await;
        index
            .upsert(vec![document(1, "durable")])
            .await
            .expect("upsert");
        index.close().await.expect("close");

        let reopened = open(directory.path(), Duration::from_millis(10)).await;

        assert_eq!(ids(&reopened, "durable").await, [1]);
        assert_eq!(reopened.count(Some(1)).await.expect("count"), 1);
    }

    #[tokio::test]
    async fn second_writer_is_rejected() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let _first = open(directory.path(), Duration::from_millis(10)).await;

        let options = TantivyOptions {
            path: directory.path().to_path_buf(),
            commit_interval: Duration::from_millis(10),
        };
        let error = TantivySearch::open(options).await.err().expect("lock held");

        assert_eq!(error.code(), "backend_unavailable");
        assert!(
            error.to_string().contains("locked by another process"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn other_schema_is_rebuilt() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let mut builder = Schema::builder();
        builder.add_text_field("legacy", STRING);
        Index::create_in_dir(directory.path(), builder.build()).expect("legacy index");

        let index = open(directory.path(), Duration::from_millis(10)).await;

        assert_eq!(index.count(None).await.expect("count"), 0);
        index
            .upsert(vec![document(1, "fresh")])
            .await
            .expect("upsert");
        assert_eq!(ids(&index, "fresh").await, [1]);
    }

    #[test]
    fn analyzer_splits_lowercases_and_folds() {
        let (_, fields) = build_schema();
        let directory = tempfile::tempdir().expect("temporary directory");
        let shared = open_shared(directory.path().to_path_buf()).expect("open");
        assert_eq!(fields.title, shared.fields.title);

        let tokens = shared.tokens("Café-Culture über ÆON node.js 東京");

        assert_eq!(
            tokens,
            ["cafe", "culture", "uber", "aeon", "node", "js", "東京"]
        );
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert!(shared.tokens(&long).is_empty());
    }
}
