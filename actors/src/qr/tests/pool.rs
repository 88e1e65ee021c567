use super::memory_store::MemoryStore;
use super::support::decode_png;
use crate::qr::{
    QrError, QrFactory, QrFormat, QrJob, QrOptions, QrPoolConfig, QrRenderer, blob_key, cache_key,
    child_spec, render,
};
use crate::supervisor::{ActorSlot, Supervisor, SupervisorArguments, SupervisorMessage};
use futures_util::future::join_all;
use ractor::ActorRef;
use ractor::factory::Job;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const URL: &str = "https://lnk.example/AbC1234";
const OTHER_URL: &str = "https://lnk.example/XyZ9876";
const TIMEOUT: Duration = Duration::from_secs(10);

/// A running pool under a supervisor, with its handle and store.
struct Pool {
    renderer: QrRenderer,
    store: Arc<MemoryStore>,
    slot: ActorSlot<QrFactory>,
    supervisor: ActorRef<SupervisorMessage>,
}

impl Pool {
    async fn start(workers: usize) -> Self {
        let slot = ActorSlot::<QrFactory>::new("qr_renderer");
        let config = QrPoolConfig {
            workers,
            queue_limit: 64,
        };
        let arguments = SupervisorArguments {
            children: vec![child_spec(slot.clone(), config)],
            restarts: Arc::new(AtomicU64::new(0)),
        };
        let (supervisor, _) = ractor::Actor::spawn(None, Supervisor, arguments)
            .await
            .expect("supervisor starts");
        let store = Arc::new(MemoryStore::default());
        let renderer = QrRenderer::new(slot.clone(), store.clone(), TIMEOUT);
        Self {
            renderer,
            store,
            slot,
            supervisor,
        }
    }

    async fn stop(self) {
        let stopped = self
            .supervisor
            .call(SupervisorMessage::Shutdown, Some(TIMEOUT))
            .await
            .expect("supervisor answers");
        assert!(stopped.is_success(), "supervisor stopped");
    }

    fn png_key(&self, data: &str) -> String {
        blob_key(
            &cache_key(data, &QrOptions::default(), QrFormat::Png),
            QrFormat::Png,
        )
    }
}

/// Polls `check` every 10 ms until it returns true or five seconds pass.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_request_hits_cache() {
    let pool = Pool::start(2).await;
    let options = QrOptions::default();
    let key = pool.png_key(URL);

    let first = pool
        .renderer
        .image(URL, &options, QrFormat::Png)
        .await
        .expect("renders");
    let stored = eventually(|| pool.store.object(&key).is_some()).await;
    let second = pool
        .renderer
        .image(URL, &options, QrFormat::Png)
        .await
        .expect("cached");

    assert!(stored, "image stored under {key}");
    assert_eq!(
        pool.store.object(&key).expect("stored").content_type,
        "image/png"
    );
    assert_eq!(first, second);
    assert_eq!(decode_png(&second.bytes).expect("decodes").text, URL);
    let stats = pool.renderer.stats();
    assert_eq!(stats.renders, 1);
    assert_eq!(stats.cache_hits, 1);
    assert_eq!(stats.store_failures, 0);
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svg_cached_under_own_key() {
    let pool = Pool::start(1).await;
    let options = QrOptions::default();
    let key = blob_key(&cache_key(URL, &options, QrFormat::Svg), QrFormat::Svg);

    let svg = pool
        .renderer
        .image(URL, &options, QrFormat::Svg)
        .await
        .expect("renders");
    let stored = eventually(|| pool.store.object(&key).is_some()).await;

    assert!(stored, "image stored under {key}");
    assert_eq!(svg.content_type, "image/svg+xml");
    assert_eq!(
        pool.store.object(&key).expect("stored").content_type,
        "image/svg+xml"
    );
    assert_eq!(pool.store.keys(), vec![key]);
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_image_served_without_render() {
    let pool = Pool::start(1).await;
    let key = pool.png_key(URL);
    // Another code's image, so the test can tell a stored image from a fresh render.
    let stored = render(OTHER_URL, &QrOptions::default(), QrFormat::Png).expect("renders");
    pool.store
        .insert(&key, stored.bytes.clone(), "application/octet-stream");

    let image = pool
        .renderer
        .image(URL, &QrOptions::default(), QrFormat::Png)
        .await
        .expect("served");

    assert_eq!(image.bytes, stored.bytes);
    assert_eq!(image.content_type, "image/png");
    assert_eq!(pool.renderer.stats().renders, 0);
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_stored_image_renders_again() {
    let pool = Pool::start(1).await;
    let key = pool.png_key(URL);
    let whole = render(URL, &QrOptions::default(), QrFormat::Png).expect("renders");
    // What a power cut can leave of a cache write that was never flushed.
    let cut = whole.bytes.slice(..whole.bytes.len() - 5);
    pool.store.insert(&key, cut, "image/png");

    let image = pool
        .renderer
        .image(URL, &QrOptions::default(), QrFormat::Png)
        .await
        .expect("served");

    assert_eq!(image.bytes, whole.bytes);
    assert_eq!(pool.renderer.stats().renders, 1);
    let repaired = eventually(|| {
        pool.store
            .object(&key)
            .is_some_and(|blob| blob.bytes == whole.bytes)
    })
    .await;
    assert!(repaired, "the whole image replaces the cut-short one");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_one_image_render_once() {
    let pool = Pool::start(2).await;
    let options = QrOptions::from_query("size=1024&ecl=h").expect("valid");

    let requests = (0..16).map(|_| pool.renderer.image(URL, &options, QrFormat::Png));
    let images = join_all(requests).await;

    let first = images[0].as_ref().expect("renders").clone();
    for image in &images {
        assert_eq!(image.as_ref().expect("renders"), &first);
    }
    assert_eq!(pool.renderer.stats().renders, 1);
    assert_eq!(decode_png(&first.bytes).expect("decodes").text, URL);
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_distinct_images_all_render() {
    let pool = Pool::start(3).await;
    let urls: Vec<String> = (0..24)
        .map(|i| format!("https://lnk.example/code{i:03}"))
        .collect();
    let options = QrOptions::default();

    let requests = urls
        .iter()
        .map(|url| pool.renderer.image(url, &options, QrFormat::Png));
    let images = join_all(requests).await;

    for (url, image) in urls.iter().zip(&images) {
        let image = image
            .as_ref()
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        assert_eq!(&decode_png(&image.bytes).expect("decodes").text, url);
    }
    assert_eq!(pool.renderer.stats().renders, 24);
    let all_stored = eventually(|| pool.store.keys().len() == 24).await;
    assert!(
        all_stored,
        "{} of 24 images stored",
        pool.store.keys().len()
    );
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_failure_renders_anyway() {
    let pool = Pool::start(1).await;
    pool.store.fail_reads.store(true, Ordering::SeqCst);

    let image = pool
        .renderer
        .image(URL, &QrOptions::default(), QrFormat::Png)
        .await;

    let image = image.expect("rendered despite the failed read");
    assert_eq!(decode_png(&image.bytes).expect("decodes").text, URL);
    let stats = pool.renderer.stats();
    assert_eq!(stats.renders, 1);
    assert_eq!(stats.store_failures, 1);
    let stored = eventually(|| pool.store.object(&pool.png_key(URL)).is_some()).await;
    assert!(stored, "image stored after the failed read");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_failure_still_returns_image() {
    let pool = Pool::start(1).await;
    pool.store.fail_writes.store(true, Ordering::SeqCst);
    let options = QrOptions::default();

    let first = pool.renderer.image(URL, &options, QrFormat::Png).await;
    let write_failed = eventually(|| pool.renderer.stats().store_failures == 1).await;
    let second = pool.renderer.image(URL, &options, QrFormat::Png).await;

    assert_eq!(
        decode_png(&first.expect("served").bytes)
            .expect("decodes")
            .text,
        URL
    );
    assert!(write_failed, "failed write counted");
    assert!(second.is_ok(), "{second:?}");
    assert!(pool.store.keys().is_empty());
    assert_eq!(
        pool.renderer.stats().renders,
        1,
        "the store kept nothing, but the in-memory copy serves the second request"
    );
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prerender_stores_default_png() {
    let pool = Pool::start(1).await;
    let key = pool.png_key(URL);

    pool.renderer.prerender(URL).await.expect("prerendered");
    let stored = pool.store.object(&key).expect("stored at once");
    pool.renderer.prerender(URL).await.expect("already there");
    let served = pool
        .renderer
        .image(URL, &QrOptions::default(), QrFormat::Png)
        .await
        .expect("served");

    assert_eq!(stored.content_type, "image/png");
    assert_eq!(served.bytes, stored.bytes);
    assert_eq!(decode_png(&stored.bytes).expect("decodes").text, URL);
    let stats = pool.renderer.stats();
    assert_eq!(
        stats.renders, 1,
        "the second prerender and the request use the stored image"
    );
    assert_eq!(stats.cache_hits, 1);
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prerender_replaces_damaged_image() {
    let pool = Pool::start(1).await;
    let key = pool.png_key(URL);
    let whole = render(URL, &QrOptions::default(), QrFormat::Png).expect("renders");
    let mut damaged = whole.bytes.to_vec();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    pool.store.insert(&key, damaged, "image/png");

    pool.renderer.prerender(URL).await.expect("prerendered");

    let stored = pool.store.object(&key).expect("stored");
    assert_eq!(stored.bytes, whole.bytes);
    assert_eq!(pool.renderer.stats().renders, 1);
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prerender_write_failure_is_backend_error() {
    let pool = Pool::start(1).await;
    pool.store.fail_writes.store(true, Ordering::SeqCst);

    let error = pool
        .renderer
        .prerender(URL)
        .await
        .expect_err("write failed");

    assert!(
        matches!(
            error,
            QrError::Backend {
                backend: "memory",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), "backend_unavailable");
    assert!(error.to_string().contains("memory"), "{error}");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_error_reaches_caller() {
    let pool = Pool::start(1).await;
    let data = "a".repeat(3000);
    let options = QrOptions::default();

    let first = pool.renderer.image(&data, &options, QrFormat::Png).await;
    let second = pool.renderer.image(&data, &options, QrFormat::Svg).await;

    assert!(
        matches!(
            first,
            Err(QrError::DataTooLong {
                len: 3000,
                max: 2331,
                ..
            })
        ),
        "{first:?}"
    );
    assert!(
        matches!(second, Err(QrError::DataTooLong { .. })),
        "{second:?}"
    );
    assert!(pool.store.keys().is_empty());
    assert_eq!(pool.renderer.stats().renders, 0);
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_not_running_is_unavailable() {
    let slot = ActorSlot::<QrFactory>::new("qr_renderer");
    let store = Arc::new(MemoryStore::default());
    let renderer = QrRenderer::new(slot, store.clone(), TIMEOUT);

    let error = renderer
        .image(URL, &QrOptions::default(), QrFormat::Png)
        .await
        .expect_err("no pool");

    assert!(matches!(error, QrError::Unavailable(_)), "{error:?}");
    assert_eq!(error.code(), "actor_unavailable");
    assert_eq!(
        store.gets.load(Ordering::SeqCst),
        1,
        "the store was read first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_worker_restarts_and_serves() {
    let pool = Pool::start(1).await;
    let factory = pool.slot.get().expect("pool running");

    factory
        .cast(QrFactory::Dispatch(Job::new(
            "failure".to_owned(),
            QrJob::InjectFailure,
        )))
        .expect("job sent");
    let image = pool
        .renderer
        .image(URL, &QrOptions::default(), QrFormat::Png)
        .await;

    assert_eq!(
        decode_png(&image.expect("served after restart").bytes)
            .expect("decodes")
            .text,
        URL
    );
    assert!(pool.slot.get().is_ok(), "the factory itself kept running");
    pool.stop().await;
}
