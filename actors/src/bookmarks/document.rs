//! The search document of a bookmark, rebuilt from its row whenever it is indexed, and the
//! index maintenance that the jobs and the start-up check share.

use crate::backends::search::{BookmarkDocument, SearchError, SearchIndex};
use crate::db::entities::bookmarks::Model;
use crate::db::{self, DbError};
use sea_orm::DatabaseConnection;
use url::Url;

/// Bookmarks read and indexed at a time when the index is rebuilt.
const REBUILD_BATCH: u64 = 500;

/// Builds the search document of a bookmark row.
pub fn document_of(bookmark: &Model) -> BookmarkDocument {
    let host = Url::parse(&bookmark.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    BookmarkDocument {
        id: bookmark.id,
        user_id: bookmark.user_id,
        url: bookmark.url.clone(),
        host,
        title: bookmark.display_title().map(str::to_owned),
        description: bookmark.display_description().map(str::to_owned),
        site_name: bookmark.site_name.clone(),
        tags: bookmark.tag_list(),
        note: bookmark.note.clone(),
        unread: bookmark.unread,
        status: bookmark.status(),
        created_at: bookmark.created_at,
        lang: bookmark.lang.clone(),
    }
}

/// A failure while the index is rebuilt from the database.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// Writes the document of every bookmark in the database to the index, in batches. Returns
/// the number of documents written. `progress` gets the running count.
pub async fn index_all(
    db: &DatabaseConnection,
    index: &dyn SearchIndex,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<u64, RebuildError> {
    let mut after_id = 0;
    let mut written = 0;
    loop {
        let page = db::bookmarks::scan(db, after_id, REBUILD_BATCH).await?;
        let Some(last) = page.last() else {
            return Ok(written);
        };
        after_id = last.id;
        written += page.len() as u64;
        index.upsert(page.iter().map(document_of).collect()).await?;
        progress(written);
    }
}

/// Compares the number of indexed documents with the number of bookmarks and rebuilds the
/// index when they differ, as after a lost index directory or a search outage. Returns the
/// number of documents written, 0 when the counts agreed.
pub async fn backfill(
    db: &DatabaseConnection,
    index: &dyn SearchIndex,
) -> Result<u64, RebuildError> {
    let stored = db::bookmarks::count(db).await?;
    let indexed = index.count(None).await?;
    if stored == indexed {
        return Ok(0);
    }
    tracing::info!(
        stored,
        indexed,
        "search index is out of date; rebuilding it"
    );
    // Documents of deleted bookmarks only go away with a full rebuild.
    if indexed > stored {
        index.delete_all().await?;
    }
    let written = index_all(db, index, &mut |_| {}).await?;
    index.flush().await?;
    Ok(written)
}
