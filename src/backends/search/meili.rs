//! The production search engine: a Meilisearch server, through meilisearch-sdk.
//!
//! The bookmark index is `<index_prefix>bookmarks` with primary key `id`. Its settings make
//! `title`, `tags`, `site_name`, `description`, `note` and `url` searchable, in that order of
//! importance, and `user_id`, `tags`, `status`, `unread`, `domains` and `created_at` filterable.
//! The ranking rules are Meilisearch's defaults followed by `created_at:desc`, so ties in
//! relevance go to the newest bookmark.
//!
//! A query becomes a `q` string of its words and phrases (`-word` and `-"phrase"` for negated
//! ones) searched with the matching strategy `all`, plus a filter expression that starts with
//! `user_id = <id>`. Writes wait for their Meilisearch task, so a write that returns has been
//! applied. Meilisearch also forgives typos and treats the last word as a prefix, which
//! Tantivy does not do, so it can find more than Tantivy for the same query.

use super::unavailable;
use linkyard_actors::backends::search::{
    BookmarkDocument, MAX_RESULT_WINDOW, SearchError, SearchHits, SearchIndex, SearchRequest,
};
use linkyard_actors::domain::search_query::{
    Clause, SearchQuery, Term, after_cutoff, before_cutoff, host_domains, tag_key,
};
use meilisearch_sdk::client::Client;
use meilisearch_sdk::documents::DocumentsQuery;
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{PaginationSetting, Settings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

const BACKEND: &str = "meilisearch";
const INDEX_NAME: &str = "bookmarks";
const SEARCHABLE: [&str; 6] = ["title", "tags", "site_name", "description", "note", "url"];
const FILTERABLE: [&str; 6] = [
    "user_id",
    "tags",
    "status",
    "unread",
    "domains",
    "created_at",
];
const SORTABLE: [&str; 1] = ["created_at"];
const RANKING_RULES: [&str; 7] = [
    "words",
    "typo",
    "proximity",
    "attribute",
    "sort",
    "exactness",
    "created_at:desc",
];
/// How often a write polls its task while it waits.
const TASK_POLL_INTERVAL: Duration = Duration::from_millis(25);

/// How to reach the server and name the index.
#[derive(Clone)]
pub struct MeiliOptions {
    /// The server's base URL, such as `http://127.0.0.1:7700`.
    pub url: String,
    pub key: Option<String>,
    pub index_prefix: String,
    /// The timeout of one request, and of waiting for one task.
    pub timeout: Duration,
}

impl std::fmt::Debug for MeiliOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeiliOptions")
            .field("url", &self.url)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("index_prefix", &self.index_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The Meilisearch search index.
pub struct MeiliSearch {
    client: Client,
    index: Index,
    timeout: Duration,
}

/// A bookmark as Meilisearch stores it. Tags are stored as tag keys so that filters match
/// them exactly, and `created_at` is a Unix timestamp in seconds so that it can be compared.
#[derive(Debug, Serialize)]
struct MeiliDocument<'a> {
    id: i64,
    user_id: i64,
    url: &'a str,
    host: &'a str,
    domains: Vec<String>,
    title: Option<&'a str>,
    description: Option<&'a str>,
    site_name: Option<&'a str>,
    tags: Vec<String>,
    note: Option<&'a str>,
    unread: bool,
    status: &'static str,
    created_at: i64,
    lang: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Hit {
    id: i64,
}

impl MeiliSearch {
    /// Creates a client for the server. Nothing is sent until the first call.
    pub fn new(options: MeiliOptions) -> Result<Self, SearchError> {
        let url = options.url.trim_end_matches('/').to_owned();
        let client = Client::new(url, options.key.as_deref())
            .map_err(|error| unavailable(BACKEND, "connect", error))?;
        let index = client.index(format!("{}{INDEX_NAME}", options.index_prefix));
        Ok(Self {
            client,
            index,
            timeout: options.timeout,
        })
    }

    /// Returns the full index name, prefix included.
    pub fn index_name(&self) -> &str {
        &self.index.uid
    }

    /// Deletes the index and everything in it. Tests use it to clean up after themselves.
    pub async fn delete_index(&self) -> Result<(), SearchError> {
        let task = self
            .call("delete index", self.index.clone().delete())
            .await?;
        match self.finished("delete index", task).await? {
            Task::Failed { content } if content.error.error_code == ErrorCode::IndexNotFound => {
                Ok(())
            }
            task => succeeded("delete index", task),
        }
    }

    /// Runs one request with the configured timeout.
    async fn call<T>(
        &self,
        operation: &'static str,
        request: impl Future<Output = Result<T, MeiliError>>,
    ) -> Result<T, SearchError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result.map_err(|error| unavailable(BACKEND, operation, error)),
            Err(_) => Err(unavailable(
                BACKEND,
                operation,
                format!("no response within {} ms", self.timeout.as_millis()),
            )),
        }
    }

    /// Waits until Meilisearch has processed `task` and returns its final state.
    async fn finished(&self, operation: &'static str, task: TaskInfo) -> Result<Task, SearchError> {
        let waited =
            task.wait_for_completion(&self.client, Some(TASK_POLL_INTERVAL), Some(self.timeout));
        self.call(operation, waited).await
    }

    /// Waits until Meilisearch has processed `task`, and turns a failed task into an error.
    async fn wait(&self, operation: &'static str, task: TaskInfo) -> Result<(), SearchError> {
        let task = self.finished(operation, task).await?;
        succeeded(operation, task)
    }

    async fn create_index(&self) -> Result<(), SearchError> {
        let created = self.client.create_index(&self.index.uid, Some("id"));
        let task = self.call("create index", created).await?;
        match self.finished("create index", task).await? {
            Task::Failed { content }
                if content.error.error_code == ErrorCode::IndexAlreadyExists =>
            {
                Ok(())
            }
            task => succeeded("create index", task),
        }
    }
}

/// Turns a task's final state into a result: a failed task, or one still pending after the
/// wait, is an error.
fn succeeded(operation: &'static str, task: Task) -> Result<(), SearchError> {
    match task {
        Task::Succeeded { .. } => Ok(()),
        Task::Failed { content } => {
            let error = content.error;
            Err(unavailable(
                BACKEND,
                operation,
                format!(
                    "task failed with {:?}: {}",
                    error.error_code, error.error_message
                ),
            ))
        }
        Task::Enqueued { .. } | Task::Processing { .. } => Err(unavailable(
            BACKEND,
            operation,
            "the task is still pending after waiting",
        )),
    }
}

#[async_trait::async_trait]
impl SearchIndex for MeiliSearch {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn apply_settings(&self) -> Result<(), SearchError> {
        self.create_index().await?;
        let settings = Settings::new()
            .with_searchable_attributes(SEARCHABLE)
            .with_filterable_attributes(FILTERABLE)
            .with_sortable_attributes(SORTABLE)
            .with_ranking_rules(RANKING_RULES)
            .with_pagination(PaginationSetting {
                max_total_hits: MAX_RESULT_WINDOW,
            });
        let task = self
            .call("apply settings", self.index.set_settings(&settings))
            .await?;
        self.wait("apply settings", task).await?;
        tracing::info!(index = %self.index.uid, "search settings applied");
        Ok(())
    }

    async fn upsert(&self, documents: Vec<BookmarkDocument>) -> Result<(), SearchError> {
        if documents.is_empty() {
            return Ok(());
        }
        let documents: Vec<MeiliDocument<'_>> = documents.iter().map(to_meili).collect();
        let task = self
            .call("upsert", self.index.add_or_replace(&documents, Some("id")))
            .await?;
        self.wait("upsert", task).await
    }

    async fn delete(&self, ids: &[i64]) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let task = self
            .call("delete", self.index.delete_documents(ids))
            .await?;
        self.wait("delete", task).await
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchHits, SearchError> {
        SearchError::check_window(request)?;
        let (text, filter) = translate(request.user_id, &request.query);
        let page = Page::of(request.offset, request.limit);

        let mut query = self.index.search();
        query
            .with_query(&text)
            .with_filter(&filter)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_attributes_to_retrieve(Selectors::Some(&["id"]))
            .with_page(page.number)
            .with_hits_per_page(page.size);
        let results = self.call("search", query.execute::<Hit>()).await?;

        let ids = results
            .hits
            .into_iter()
            .skip(page.skip)
            .take(request.limit)
            .map(|hit| hit.result.id)
            .collect();
        let total = results.total_hits.unwrap_or_default() as u64;
        Ok(SearchHits { ids, total })
    }

    async fn count(&self, user_id: Option<i64>) -> Result<u64, SearchError> {
        let filter = user_id.map(|user_id| format!("user_id = {user_id}"));
        let mut query = DocumentsQuery::new(&self.index);
        query.with_limit(0);
        if let Some(filter) = &filter {
            query.with_filter(filter);
        }
        match tokio::time::timeout(self.timeout, query.execute::<Hit>()).await {
            Ok(Ok(results)) => Ok(u64::from(results.total)),
            Ok(Err(MeiliError::Meilisearch(error)))
                if error.error_code == ErrorCode::IndexNotFound =>
            {
                Ok(0)
            }
            Ok(Err(error)) => Err(unavailable(BACKEND, "count", error)),
            Err(_) => Err(unavailable(
                BACKEND,
                "count",
                format!("no response within {} ms", self.timeout.as_millis()),
            )),
        }
    }

    async fn delete_all(&self) -> Result<(), SearchError> {
        let task = self
            .call("delete all", self.index.delete_all_documents())
            .await?;
        self.wait("delete all", task).await
    }

    /// Returns at once, because every write already waits for its task.
    async fn flush(&self) -> Result<(), SearchError> {
        Ok(())
    }

    async fn ping(&self) -> Result<(), SearchError> {
        let health = self.call("ping", self.client.health()).await?;
        if health.status != "available" {
            return Err(unavailable(
                BACKEND,
                "ping",
                format!("server status is {}", health.status),
            ));
        }
        Ok(())
    }
}

/// The Meilisearch page that contains the hits `offset..offset + limit`. Page-based requests
/// make Meilisearch count every hit (up to its maximum) instead of estimating the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Page {
    /// The 1-based page number.
    number: usize,
    size: usize,
    /// Hits to drop from the start of the page.
    skip: usize,
}

impl Page {
    fn of(offset: usize, limit: usize) -> Self {
        if limit > 0 && offset.is_multiple_of(limit) {
            return Self {
                number: offset / limit + 1,
                size: limit,
                skip: 0,
            };
        }
        // An offset that is not a multiple of the limit: fetch everything up to the end of the
        // requested range and drop the start. The result window bounds the cost.
        Self {
            number: 1,
            size: offset + limit,
            skip: offset,
        }
    }
}

fn to_meili(document: &BookmarkDocument) -> MeiliDocument<'_> {
    MeiliDocument {
        id: document.id,
        user_id: document.user_id,
        url: &document.url,
        host: &document.host,
        domains: host_domains(&document.host),
        title: document.title.as_deref(),
        description: document.description.as_deref(),
        site_name: document.site_name.as_deref(),
        tags: document.tags.iter().map(|tag| tag_key(tag)).collect(),
        note: document.note.as_deref(),
        unread: document.unread,
        status: document.status.as_str(),
        created_at: document.created_at.timestamp(),
        lang: document.lang.as_deref(),
    }
}

/// Translates a query into Meilisearch's `q` text and a filter expression scoped to the user.
fn translate(user_id: i64, query: &SearchQuery) -> (String, String) {
    let mut words = Vec::new();
    let mut filters = vec![format!("user_id = {user_id}")];
    for clause in query.clauses() {
        match &clause.term {
            Term::Word(_) | Term::Phrase(_) => words.extend(text_operand(clause)),
            _ => filters.push(filter_operand(clause)),
        }
    }
    (words.join(" "), filters.join(" AND "))
}

/// Renders a word or phrase for `q`. A leading `-` in `q` means negation, so dashes at the
/// start of a word are dropped; the tokenizer would drop them anyway.
fn text_operand(clause: &Clause) -> Option<String> {
    let sign = if clause.negated { "-" } else { "" };
    match &clause.term {
        Term::Word(word) => {
            let word = word.trim_start_matches('-');
            (!word.is_empty()).then(|| format!("{sign}{word}"))
        }
        Term::Phrase(phrase) => Some(format!("{sign}\"{phrase}\"")),
        _ => None,
    }
}

fn filter_operand(clause: &Clause) -> String {
    let condition = match &clause.term {
        Term::Tag(tag) => format!("tags = {}", quote(tag)),
        Term::Site(host) => format!("domains = {}", quote(host)),
        Term::Unread(unread) => format!("unread = {unread}"),
        Term::Status(status) => format!("status = {}", quote(status.as_str())),
        Term::Before(date) => format!("created_at < {}", before_cutoff(*date).timestamp()),
        Term::After(date) => format!("created_at >= {}", after_cutoff(*date).timestamp()),
        Term::Word(_) | Term::Phrase(_) => "true".to_owned(),
    };
    if clause.negated {
        format!("NOT ({condition})")
    } else {
        format!("({condition})")
    }
}

/// Quotes a filter value. Meilisearch's filter parser reads `\"` as a quote inside a quoted
/// value and keeps every other backslash as it is. Tag keys and hosts never contain a
/// backslash, so escaping the quote is enough.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(query: &str) -> (String, String) {
        let query = SearchQuery::parse(query).expect("valid query");
        translate(7, &query)
    }

    #[test]
    fn empty_query_is_scoped_to_the_user() {
        assert_eq!(translated(""), (String::new(), "user_id = 7".to_owned()));
    }

    #[test]
    fn words_and_phrases_go_to_q() {
        let (text, filter) = translated(r#"rust -java "async io" -"blocking call" --x -"#);
        assert_eq!(text, r#"rust -java "async io" -"blocking call" -x"#);
        assert_eq!(filter, "user_id = 7");
    }

    #[test]
    fn operators_become_filters() {
        let (text, filter) = translated(
            "#Rust -#draft site:blog.example.com is:unread -status:failed \
             before:2024-05-01 after:2024-04-01",
        );
        assert_eq!(text, "");
        assert_eq!(
            filter,
            "user_id = 7 AND (tags = \"rust\") AND NOT (tags = \"draft\") AND \
             (domains = \"blog.example.com\") AND (unread = true) AND NOT (status = \"failed\") \
             AND (created_at < 1714521600) AND (created_at >= 1712016000)"
        );
    }

    #[test]
    fn quote_escapes_double_quotes() {
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote("plain"), "\"plain\"");
    }

    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        // A port this test bound and released, so nothing listens on it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let search = MeiliSearch::new(MeiliOptions {
            url: format!("http://{address}"),
            key: Some("secret".to_owned()),
            index_prefix: "unreachable_".to_owned(),
            timeout: Duration::from_secs(5),
        })
        .expect("client");

        let error = search.ping().await.expect_err("nothing listens");

        assert_eq!(error.code(), "backend_unavailable");
        assert!(matches!(
            error,
            SearchError::Unavailable {
                backend: "meilisearch",
                ..
            }
        ));
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn page_covers_any_offset() {
        assert_eq!(
            Page::of(0, 20),
            Page {
                number: 1,
                size: 20,
                skip: 0
            }
        );
        assert_eq!(
            Page::of(40, 20),
            Page {
                number: 3,
                size: 20,
                skip: 0
            }
        );
        assert_eq!(
            Page::of(5, 20),
            Page {
                number: 1,
                size: 25,
                skip: 5
            }
        );
        assert_eq!(
            Page::of(3, 0),
            Page {
                number: 1,
                size: 3,
                skip: 3
            }
        );
    }
}
