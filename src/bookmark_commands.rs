//! The bookmark commands of the CLI: `reindex`, `extract` and `import-bookmarks`.

use crate::app::{self, close_tantivy, open_search};
use crate::settings::Settings;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use linkyard_actors::accounts::Accounts;
use linkyard_actors::bookmarks::{Bookmarks, document, netscape};
use linkyard_actors::domain::UrlPolicy;
use sea_orm::DatabaseConnection;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// Opens the database, migrating it when configured, as `serve` would.
async fn open_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    std::fs::create_dir_all(&settings.storage.data_dir).context("creating the data directory")?;
    let db = app::connect_database(settings).await?;
    if settings.database.migrate_on_start {
        crate::migrate::run(&db)
            .await
            .context("migrating the database")?;
    }
    Ok(db)
}

fn progress_bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{elapsed}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Deletes every search document and writes them again from the database.
#[expect(
    clippy::print_stderr,
    reason = "the command reports its result to the operator"
)]
pub async fn reindex(settings: &Settings) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let (search, tantivy) = open_search(settings).await?;
    let total = linkyard_actors::db::bookmarks::count(&db).await?;

    let bar = progress_bar(total, "bookmarks");
    search
        .delete_all()
        .await
        .context("deleting the search documents")?;
    let written = document::index_all(&db, search.as_ref(), &mut |count| bar.set_position(count))
        .await
        .context("indexing the bookmarks")?;
    search.flush().await.context("flushing the search index")?;
    bar.finish_and_clear();

    drop(search);
    close_tantivy(tantivy).await;
    db.close().await.context("closing the database")?;
    eprintln!("Indexed {written} bookmarks.");
    Ok(())
}

/// Prints the metadata of a saved page as JSON.
#[expect(clippy::print_stdout, reason = "the command prints the metadata")]
pub fn extract(url: &str, file: &Path) -> anyhow::Result<()> {
    let page_url = Url::parse(url).with_context(|| format!("--url '{url}' is not a valid URL"))?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let decoded = crate::backends::fetch::decode_html_file(&bytes, page_url.host_str());
    let metadata = linkyard_actors::enrich::extract(&decoded.text, &page_url);
    let json = serde_json::to_string_pretty(&metadata).context("serializing the metadata")?;
    println!("{json}");
    Ok(())
}

/// Imports a bookmark file for the user with email `user`, with a progress bar. The jobs that
/// enrich and index the new bookmarks wait in the outbox for `serve` or `worker`.
#[expect(
    clippy::print_stderr,
    reason = "the command reports its result to the operator"
)]
pub async fn import(settings: &Settings, file: &Path, user: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let html = String::from_utf8_lossy(&bytes);
    let parsed = netscape::parse(&html);

    let db = open_database(settings).await?;
    let accounts = Accounts::new(db.clone(), Duration::from_secs(1));
    let principal = accounts.find_by_email(user).await?.with_context(|| {
        format!(
            "no user has the email '{user}'; create one with `linkyard user create --email {user}`"
        )
    })?;
    let queue = crate::backends::queue::build(&settings.queue, db.clone())
        .context("building the job queue")?;
    let policy = UrlPolicy::new(Vec::<String>::new(), settings.links.max_url_bytes);
    let bookmarks = Bookmarks::new(db.clone(), queue, policy);

    let total = parsed.entries.len() as u64;
    let bar = progress_bar(total, "bookmarks");
    let mut summary = bookmarks
        .import(principal.user_id, parsed.entries, &mut |count| {
            bar.set_position(count)
        })
        .await
        .context("importing the bookmarks")?;
    summary.invalid += parsed.skipped;
    bar.finish_and_clear();
    db.close().await.context("closing the database")?;
    eprintln!(
        "Imported {} bookmarks for {user}: {} duplicates and {} invalid entries skipped.",
        summary.imported, summary.duplicates, summary.invalid
    );
    Ok(())
}
