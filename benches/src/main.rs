//! `linkyard-bench`: load benchmarks that print one table, each throughput next to a bare hyper
//! server measured in the same run. Run with `cargo run --release -p linkyard-bench -- all`.

mod bare;
mod bookmarks;
mod links;
mod load;
mod pastes;
mod postgres;
mod qr;
mod report;
mod search;
mod servers;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "linkyard-bench", about = "Load benchmarks for linkyard")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every benchmark and print one table.
    All(Options),
    /// Short links: creation, hot, random and cold redirects, memory and durability.
    Links(Options),
    /// Cold redirects only: cache misses on PostgreSQL, next to the bare server.
    Cold(Options),
    /// QR codes: uncached renders against the library, cached images against bare hyper.
    Qr(Options),
    /// Pastes: 4 KiB creates, hot raw reads, a 10 MiB upload's memory and durability.
    Pastes(Options),
    /// Bookmark search: p50 and p99 latency over synthetic bookmarks in Tantivy.
    Search(Options),
    /// Bookmark enrichment throughput on the embedded queue, with memory.
    Bookmarks(Options),
    /// Internal: the bare hyper server.
    #[command(hide = true)]
    ServeBare {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        count: usize,
    },
    /// Internal: linkyard itself, with linkyard's own command line after it.
    #[command(hide = true)]
    ServeLinkyard {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<String>,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Links created before the redirect benchmarks.
    #[arg(long, default_value_t = 100_000)]
    links: u64,
    /// Total links before the memory reading; 0 skips the extra creation.
    #[arg(long, default_value_t = 1_000_000)]
    rss_links: u64,
    /// Bookmarks indexed before the search benchmark.
    #[arg(long, default_value_t = 100_000)]
    search_documents: usize,
    /// Search queries of each kind.
    #[arg(long, default_value_t = 500)]
    search_queries: usize,
    /// Bookmarks enriched by the bookmarks benchmark.
    #[arg(long, default_value_t = 5_000)]
    bookmarks: u64,
    /// `queue.concurrency` of the bookmarks benchmark: jobs one process runs at once.
    #[arg(long, default_value_t = 256)]
    queue_concurrency: usize,
    #[arg(skip = Duration::from_secs(2))]
    warmup: Duration,
    #[arg(skip = Duration::ZERO)]
    duration: Duration,
    /// The parent of every part's data directory, removed when the run ends.
    #[arg(skip)]
    scratch: Option<Arc<tempfile::TempDir>>,
}

impl Options {
    fn finish(mut self) -> anyhow::Result<Self> {
        self.duration = Duration::from_secs(self.seconds);
        self.scratch = Some(Arc::new(tempfile::tempdir()?));
        Ok(self)
    }

    /// Creates a new, empty data directory for one part of the run, kept until the run ends.
    /// On ext4 without a journal, as on the test VM, the inode allocator steps over every inode
    /// freed in the last 60 s, or 360 s while its inode table block is unwritten (Linux,
    /// `recently_deleted` in `fs/ext4/ialloc.c`). So deleting one part's 100,000 files would
    /// slow the file creation of the parts after it.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let scratch = self
            .scratch
            .as_ref()
            .context("the options were not finished")?;
        Ok(tempfile::tempdir_in(scratch.path())?.keep())
    }

    /// Environment for the linkyard under test: quiet logs, and no rate limits, which would
    /// measure the limiter instead of the service.
    pub fn linkyard_env(&self) -> Vec<(&'static str, &'static str)> {
        vec![("LINKYARD_RATE_LIMIT__ENABLED", "false")]
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::ServeBare { listen, count } => runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            bare::serve(listener, count).await
        }),
        Command::ServeLinkyard { arguments } => {
            let mut argv = vec!["linkyard".to_owned()];
            argv.extend(arguments);
            let cli = <linkyard::cli::Cli as Parser>::parse_from(argv);
            runtime.block_on(linkyard::cli::run(cli))
        }
        Command::All(options) => {
            let options = options.finish()?;
            let mut report = report::Report::default();
            runtime.block_on(async {
                links::run(&options, &mut report).await?;
                qr::run(&options, &mut report).await?;
                pastes::run(&options, &mut report).await?;
                search::run(&options, &mut report).await?;
                bookmarks::run(&options, &mut report).await
            })?;
            print_report(&options, &report);
            Ok(())
        }
        Command::Links(options) => {
            let options = options.finish()?;
            let mut report = report::Report::default();
            runtime.block_on(links::run(&options, &mut report))?;
            print_report(&options, &report);
            Ok(())
        }
        Command::Cold(options) => {
            let options = options.finish()?;
            let mut report = report::Report::default();
            runtime.block_on(async {
                links::bare_baseline(&options, &mut report).await?;
                links::cold_redirects(&options, &mut report).await
            })?;
            print_report(&options, &report);
            Ok(())
        }
        Command::Pastes(options) => {
            let options = options.finish()?;
            let mut report = report::Report::default();
            runtime.block_on(async {
                links::bare_baseline(&options, &mut report).await?;
                pastes::run(&options, &mut report).await
            })?;
            print_report(&options, &report);
            Ok(())
        }
        Command::Search(options) => {
            let options = options.finish()?;
            let mut report = report::Report::default();
            runtime.block_on(search::run(&options, &mut report))?;
            print_report(&options, &report);
            Ok(())
        }
        Command::Bookmarks(options) => {
            let options = options.finish()?;
            let mut report = report::Report::default();
            runtime.block_on(bookmarks::run(&options, &mut report))?;
            print_report(&options, &report);
            Ok(())
        }
        Command::Qr(options) => {
            let options = options.finish()?;
            let mut report = report::Report::default();
            runtime.block_on(async {
                // The QR rows compare with the bare server, so measure it in this run too.
                links::bare_baseline(&options, &mut report).await?;
                qr::run(&options, &mut report).await
            })?;
            print_report(&options, &report);
            Ok(())
        }
    }
}

#[expect(clippy::print_stdout, reason = "the benchmark prints its table")]
fn print_report(options: &Options, report: &report::Report) {
    println!(
        "\n{} connections, {} s per measurement, {} cores\n",
        options.connections,
        options.seconds,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("{}", report.render());
}
