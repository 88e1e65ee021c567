//! `Links`: the handle that request handlers use for short links. It validates input, allocates
//! ids, reads the shards' hot caches directly and sends everything else to the owning shard.

use crate::backends::queue::{JobQueue, NewJob, RENDER_QR};
use crate::db::entities::links;
use crate::db::{self, DbError};
use crate::domain::{Alias, AliasError, CodeCodec, ReservedNames, TargetUrl, UrlError, UrlPolicy};
use crate::id_allocator::{IdAllocatorHandle, IdError};
use crate::supervisor::{ActorSlot, ActorUnavailable};
use crate::url_shard::{
    CacheEntry, CachedLink, LinkCacheStats, ShardCache, ShardFactory, SharedCache, UrlShardMessage,
};
use chrono::{DateTime, Utc};
use ractor::factory::hash::hash_with_max;
use sea_orm::{DatabaseConnection, Set};
use std::sync::Arc;
use std::time::Duration;

const SHARD_CALL_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_PAGE_SIZE: u64 = 100;
pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const REDIRECT_STATUSES: [u16; 4] = [301, 302, 307, 308];

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Alias(#[from] AliasError),
    #[error("alias '{alias}' is already taken")]
    AliasTaken { alias: String },
    #[error("redirect {value} is not supported; use 301, 302, 307 or 308")]
    InvalidRedirect { value: i64 },
    #[error("max_visits {value} is invalid; use a whole number of at least 1")]
    InvalidMaxVisits { value: i64 },
    #[error("expires_at '{value}' is not an RFC 3339 timestamp such as 2030-01-31T12:00:00Z")]
    InvalidExpiresAt { value: String },
    #[error("expires_at '{value}' is in the past")]
    ExpiresAtInPast { value: String },
    #[error(
        "tag '{tag}' is invalid; tags are 1 to {MAX_TAG_CHARS} characters without control characters"
    )]
    InvalidTag { tag: String },
    #[error("{count} tags given; the maximum is {MAX_TAGS}")]
    TooManyTags { count: usize },
    #[error("cursor '{value}' is invalid; pass the next_cursor of the previous page")]
    InvalidCursor { value: String },
    #[error("limit {value} is invalid; use 1 to {MAX_PAGE_SIZE}")]
    InvalidLimit { value: i64 },
    #[error("no link has the code '{code}'")]
    NotFound { code: String },
    #[error("link '{code}' has expired")]
    Expired { code: String },
    #[error("link '{code}' has reached its visit limit")]
    VisitLimitReached { code: String },
    #[error("link '{code}' is disabled")]
    Disabled { code: String },
    #[error("link '{code}' belongs to another user")]
    NotOwner { code: String },
    #[error("link '{code}' was created anonymously and cannot be changed")]
    Anonymous { code: String },
    #[error("sign in with an API key to create links; anonymous link creation is disabled")]
    AnonymousCreateDisabled,
    #[error("every short code has been used")]
    CodesExhausted,
    #[error(transparent)]
    Database(#[from] Arc<DbError>),
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
}

impl From<DbError> for LinkError {
    fn from(error: DbError) -> Self {
        Self::Database(Arc::new(error))
    }
}

impl From<IdError> for LinkError {
    fn from(error: IdError) -> Self {
        match error {
            IdError::Database(error) => Self::Database(error),
            IdError::Unavailable(error) => Self::Unavailable(error),
        }
    }
}

/// A create request as the client sent it; [`Links::create`] validates every field.
#[derive(Debug, Default, Clone)]
pub struct NewLink {
    pub url: String,
    pub alias: Option<String>,
    pub expires_at: Option<String>,
    pub max_visits: Option<i64>,
    pub redirect: Option<i64>,
    pub forward_query: Option<bool>,
    pub tags: Option<Vec<String>>,
}

/// A partial update: `None` keeps a field, `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone)]
pub struct LinkPatch {
    pub url: Option<String>,
    pub expires_at: Option<Option<String>>,
    pub max_visits: Option<Option<i64>>,
    pub redirect: Option<i64>,
    pub forward_query: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

/// Settings of the links product.
#[derive(Debug, Clone)]
pub struct LinkRules {
    pub anonymous_create: bool,
    /// Whether each new link gets a job that renders its default QR image ahead of time.
    pub prerender_qr: bool,
    pub policy: UrlPolicy,
    pub reserved: ReservedNames,
}

/// The cheap, cloneable handle on links and their shards.
#[derive(Clone)]
pub struct Links {
    inner: Arc<Inner>,
}

/// Everything the links handle works with.
pub struct LinkParts {
    pub db: DatabaseConnection,
    pub codec: CodeCodec,
    pub ids: IdAllocatorHandle,
    pub shards: ActorSlot<ShardFactory>,
    pub caches: Vec<ShardCache>,
    pub shared: SharedCache,
    pub queue: Arc<dyn JobQueue>,
    pub rules: LinkRules,
}

type Inner = LinkParts;

/// Who is asking: a signed-in user or an anonymous client.
pub type Caller = Option<i64>;

impl Links {
    pub fn new(parts: LinkParts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    /// Counters of the link caches.
    pub fn cache_stats(&self) -> &LinkCacheStats {
        &self.inner.shared.stats
    }

    pub fn rules(&self) -> &LinkRules {
        &self.inner.rules
    }

    /// Validates and stores a new link. With an alias, the alias is the code; otherwise the code
    /// is derived from a fresh id, which cannot collide.
    pub async fn create(&self, caller: Caller, input: NewLink) -> Result<links::Model, LinkError> {
        if caller.is_none() && !self.inner.rules.anonymous_create {
            return Err(LinkError::AnonymousCreateDisabled);
        }
        let target = TargetUrl::parse(&input.url, &self.inner.rules.policy)?;
        let alias = match &input.alias {
            Some(alias) => Some(Alias::parse(alias, &self.inner.rules.reserved)?),
            None => None,
        };
        let now = Utc::now();
        let expires_at = parse_future_expiry(input.expires_at.as_deref(), now)?;
        let max_visits = input.max_visits.map(check_max_visits).transpose()?;
        let redirect = check_redirect(input.redirect.unwrap_or(302))?;
        let tags = check_tags(input.tags.unwrap_or_default())?;

        let (id, code) = match &alias {
            Some(alias) => (self.inner.ids.next().await?, alias.as_str().to_owned()),
            None => self.generate_code().await?,
        };
        let model = links::Model {
            id: id as i64,
            code: code.clone(),
            url: target.as_str().to_owned(),
            owner_id: caller,
            created_at: now,
            updated_at: now,
            expires_at,
            max_visits,
            visits: 0,
            redirect,
            forward_query: input.forward_query.unwrap_or(true),
            tags: serde_json::to_string(&tags).unwrap_or_else(|_| "[]".to_owned()),
            disabled: false,
        };

        let row = Box::new(sea_orm::IntoActiveModel::into_active_model(model.clone()));
        let job = self
            .inner
            .rules
            .prerender_qr
            .then(|| qr_job(model.id, &code));
        let shard_code = code.clone();
        let inserted = self
            .call_shard(&code, |reply| UrlShardMessage::Create {
                row,
                job,
                code: shard_code,
                reply,
            })
            .await?;
        if inserted && self.inner.rules.prerender_qr {
            self.inner.queue.wake();
        }
        if !inserted {
            if alias.is_none() {
                tracing::error!(
                    code,
                    id,
                    "generated code collided; is the id counter behind?"
                );
            }
            return Err(LinkError::AliasTaken { alias: code });
        }
        Ok(model)
    }

    /// Allocates an id and derives its code, skipping the rare id whose code spells a route
    /// name such as `healthz`, which the route would shadow.
    async fn generate_code(&self) -> Result<(u64, String), LinkError> {
        loop {
            let id = self.inner.ids.next().await?;
            let code = self
                .inner
                .codec
                .encode(id)
                .ok_or(LinkError::CodesExhausted)?;
            if !self.inner.rules.reserved.contains(&code) {
                return Ok((id, code));
            }
        }
    }

    /// Returns the link behind `code` for a redirect: from the hot cache when it is there,
    /// otherwise through the owning shard. A generated code whose id was never allocated is
    /// answered without touching the database.
    pub async fn resolve(&self, code: &str) -> Result<Arc<CachedLink>, LinkError> {
        let not_found = || LinkError::NotFound {
            code: code.to_owned(),
        };
        let stats = &self.inner.shared.stats;
        if let Some(entry) = self.cache_for(code).get(code) {
            stats
                .hot_hits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return entry.ok_or_else(not_found);
        }
        if let Some(id) = self.inner.codec.decode(code)
            && !self.inner.ids.may_exist(id)
        {
            return Err(not_found());
        }

        stats
            .hot_misses
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let owned = code.to_owned();
        let entry: CacheEntry = self
            .call_shard(code, |reply| UrlShardMessage::Resolve {
                code: owned,
                reply,
            })
            .await?;
        entry.ok_or_else(not_found)
    }

    /// Checks that a resolved link may be visited now: not disabled, not expired.
    pub fn check_visitable(link: &CachedLink, now: DateTime<Utc>) -> Result<(), LinkError> {
        if link.disabled {
            return Err(LinkError::Disabled {
                code: link.code.clone(),
            });
        }
        if link.expires_at.is_some_and(|expires_at| expires_at <= now) {
            return Err(LinkError::Expired {
                code: link.code.clone(),
            });
        }
        Ok(())
    }

    /// Takes one visit of a link with a visit limit. Exact under concurrency: the database
    /// grants at most `max_visits` of them.
    pub async fn take_limited_visit(&self, link: &CachedLink) -> Result<(), LinkError> {
        if db::links::take_limited_visit(&self.inner.db, link.id).await? {
            Ok(())
        } else {
            Err(LinkError::VisitLimitReached {
                code: link.code.clone(),
            })
        }
    }

    /// Whether a link with a visit limit still has visits left, without taking one.
    pub async fn has_visits_left(&self, link: &CachedLink) -> Result<bool, LinkError> {
        let Some(max_visits) = link.max_visits else {
            return Ok(true);
        };
        let row = db::links::find_by_code(&self.inner.db, &link.code).await?;
        Ok(row.is_some_and(|row| row.visits < max_visits))
    }

    /// Returns a link with its current visit count, if `caller` may see it. Anonymous links are
    /// visible to everyone, like their redirect.
    pub async fn get(&self, caller: Caller, code: &str) -> Result<links::Model, LinkError> {
        let link = self.find(code).await?;
        if link.owner_id.is_some() && link.owner_id != caller {
            return Err(LinkError::NotOwner {
                code: code.to_owned(),
            });
        }
        Ok(link)
    }

    pub async fn update(
        &self,
        caller: Caller,
        code: &str,
        patch: LinkPatch,
    ) -> Result<links::Model, LinkError> {
        let link = self.find_owned(caller, code).await?;
        let row = Box::new(self.apply_patch(link, patch)?);

        let owned = code.to_owned();
        self.call_shard(code, |reply| UrlShardMessage::Update {
            row,
            code: owned,
            reply,
        })
        .await
    }

    pub async fn delete(&self, caller: Caller, code: &str) -> Result<(), LinkError> {
        let link = self.find_owned(caller, code).await?;
        let owned = code.to_owned();
        let deleted = self
            .call_shard(code, |reply| UrlShardMessage::Delete {
                id: link.id,
                code: owned,
                reply,
            })
            .await?;
        if !deleted {
            return Err(LinkError::NotFound {
                code: code.to_owned(),
            });
        }
        Ok(())
    }

    /// Returns one page of the caller's links, newest first, and the cursor of the next page.
    pub async fn list(
        &self,
        owner_id: i64,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<(Vec<links::Model>, Option<String>), LinkError> {
        let limit = match limit {
            None => DEFAULT_PAGE_SIZE,
            Some(value) if (1..=MAX_PAGE_SIZE as i64).contains(&value) => value as u64,
            Some(value) => return Err(LinkError::InvalidLimit { value }),
        };
        let before_id = cursor.map(parse_cursor).transpose()?;

        let mut page =
            db::links::list_by_owner(&self.inner.db, owner_id, before_id, limit + 1).await?;
        let next = if page.len() as u64 > limit {
            page.truncate(limit as usize);
            page.last().map(|link| link.id.to_string())
        } else {
            None
        };
        Ok((page, next))
    }

    /// Drops the cached entry of `code` on this instance, for invalidations from other instances.
    pub fn invalidate(&self, code: &str) {
        if let Ok(shards) = self.inner.shards.get() {
            let _ = shards.dispatch(
                code.to_owned(),
                UrlShardMessage::Invalidate {
                    code: code.to_owned(),
                },
            );
        }
    }

    /// Drops every hot cache entry of this instance, for when invalidations may have been
    /// missed (the shared cache's subscription was lost and restored).
    pub fn invalidate_all(&self) {
        self.inner
            .shared
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        for cache in &self.inner.caches {
            cache.invalidate_all();
        }
    }

    /// Makes the shard that owns `code` fail, to exercise supervision in tests.
    #[doc(hidden)]
    pub fn inject_shard_failure(&self, code: &str) -> Result<(), LinkError> {
        let shards = self.inner.shards.get()?;
        let message = UrlShardMessage::InjectFailure {
            code: code.to_owned(),
        };
        shards
            .dispatch(code.to_owned(), message)
            .map_err(|_| ActorUnavailable {
                name: self.inner.shards.name(),
            })?;
        Ok(())
    }

    fn cache_for(&self, code: &str) -> &ShardCache {
        let index = hash_with_max(&code, self.inner.caches.len());
        &self.inner.caches[index]
    }

    async fn call_shard<T: Send + 'static>(
        &self,
        code: &str,
        build: impl FnOnce(ractor::RpcReplyPort<Result<T, Arc<DbError>>>) -> UrlShardMessage,
    ) -> Result<T, LinkError> {
        let key = code.to_owned();
        let result = self
            .inner
            .shards
            .call(
                |reply| ShardFactory::Dispatch(ractor::factory::Job::new(key, build(reply))),
                SHARD_CALL_TIMEOUT,
            )
            .await?;
        Ok(result?)
    }

    async fn find(&self, code: &str) -> Result<links::Model, LinkError> {
        db::links::find_by_code(&self.inner.db, code)
            .await?
            .ok_or_else(|| LinkError::NotFound {
                code: code.to_owned(),
            })
    }

    async fn find_owned(&self, caller: Caller, code: &str) -> Result<links::Model, LinkError> {
        let link = self.find(code).await?;
        match link.owner_id {
            None => Err(LinkError::Anonymous {
                code: code.to_owned(),
            }),
            Some(owner) if Some(owner) != caller => Err(LinkError::NotOwner {
                code: code.to_owned(),
            }),
            Some(_) => Ok(link),
        }
    }

    fn apply_patch(
        &self,
        link: links::Model,
        patch: LinkPatch,
    ) -> Result<links::ActiveModel, LinkError> {
        let now = Utc::now();
        let mut row: links::ActiveModel = sea_orm::IntoActiveModel::into_active_model(link);
        if let Some(url) = patch.url {
            let target = TargetUrl::parse(&url, &self.inner.rules.policy)?;
            row.url = Set(target.as_str().to_owned());
        }
        if let Some(expires_at) = patch.expires_at {
            row.expires_at = Set(parse_future_expiry(expires_at.as_deref(), now)?);
        }
        if let Some(max_visits) = patch.max_visits {
            row.max_visits = Set(max_visits.map(check_max_visits).transpose()?);
        }
        if let Some(redirect) = patch.redirect {
            row.redirect = Set(check_redirect(redirect)?);
        }
        if let Some(forward_query) = patch.forward_query {
            row.forward_query = Set(forward_query);
        }
        if let Some(tags) = patch.tags {
            let tags = check_tags(tags)?;
            row.tags = Set(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".to_owned()));
        }
        if let Some(disabled) = patch.disabled {
            row.disabled = Set(disabled);
        }
        row.updated_at = Set(now);
        Ok(row)
    }
}

/// The job that renders a new link's default QR image, keyed by the link id so that a
/// redelivered job renders nothing twice.
fn qr_job(id: i64, code: &str) -> NewJob {
    NewJob::new(RENDER_QR, serde_json::json!({ "link": code })).with_id(format!("qr-link-{id}"))
}

fn parse_future_expiry(
    value: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, LinkError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let parsed = DateTime::parse_from_rfc3339(value)
        .map_err(|_| LinkError::InvalidExpiresAt {
            value: value.to_owned(),
        })?
        .with_timezone(&Utc);
    if parsed <= now {
        return Err(LinkError::ExpiresAtInPast {
            value: value.to_owned(),
        });
    }
    Ok(Some(parsed))
}

fn check_max_visits(value: i64) -> Result<i64, LinkError> {
    if value < 1 {
        return Err(LinkError::InvalidMaxVisits { value });
    }
    Ok(value)
}

fn check_redirect(value: i64) -> Result<i16, LinkError> {
    REDIRECT_STATUSES
        .iter()
        .find(|status| i64::from(**status) == value)
        .map(|status| *status as i16)
        .ok_or(LinkError::InvalidRedirect { value })
}

/// Trims tags, drops duplicates and checks their count and length.
pub fn check_tags(tags: Vec<String>) -> Result<Vec<String>, LinkError> {
    let mut clean: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let trimmed = tag.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > MAX_TAG_CHARS || trimmed.chars().any(char::is_control) {
            return Err(LinkError::InvalidTag { tag });
        }
        if !clean.iter().any(|existing| existing == trimmed) {
            clean.push(trimmed.to_owned());
        }
    }
    if clean.len() > MAX_TAGS {
        return Err(LinkError::TooManyTags { count: clean.len() });
    }
    Ok(clean)
}

fn parse_cursor(value: &str) -> Result<i64, LinkError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| LinkError::InvalidCursor {
            value: value.to_owned(),
        })
}

/// Decodes the tags column.
pub fn tags_of(link: &links::Model) -> Vec<String> {
    serde_json::from_str(&link.tags).unwrap_or_default()
}
