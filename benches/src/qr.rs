//! QR benchmarks: uncached default PNGs against the qrcode and image crates in a plain loop,
//! and cached images against the bare hyper server.

use crate::Options;
use crate::links::create_links;
use crate::load::{self, RequestFn};
use crate::report::{Report, Row};
use crate::servers;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use linkyard_actors::qr::{QrFormat, QrOptions, render};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Links whose QR images are each requested once, so every request renders.
const UNCACHED_LINKS: u64 = 30_000;
const UNCACHED_SECONDS: u64 = 3;

pub async fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let crates = crates_p50()?;
    report.note(format!(
        "qrcode + image crates, render and PNG encode of a default 256 px code in a plain loop: p50 {:.3} ms",
        crates.as_secs_f64() * 1000.0
    ));
    let own = render_p50();
    report.note(format!(
        "linkyard's own renderer (qrcode encoding, 1-bit PNG) in the same loop: p50 {:.3} ms",
        own.as_secs_f64() * 1000.0
    ));

    let data_dir = options.data_dir()?;
    let mut env = options.linkyard_env();
    env.push(("LINKYARD_QR__PRERENDER", "false"));
    let linkyard = servers::start_linkyard(data_dir.as_path(), &env).await?;
    let (codes, _) = create_links(linkyard.address, options.connections, UNCACHED_LINKS).await?;
    let codes = Arc::new(codes);

    // Every request takes the next code, so each one renders. Latency is measured with one
    // connection, as the render loops are; throughput with the usual connection count.
    let next = Arc::new(AtomicUsize::new(0));
    let uncached_codes = Arc::clone(&codes);
    let uncached: RequestFn = Arc::new(move |_, _| {
        let index = next.fetch_add(1, Ordering::Relaxed) % uncached_codes.len();
        qr_request(&uncached_codes[index])
    });
    let duration = Duration::from_secs(UNCACHED_SECONDS);
    let single = load::run(linkyard.address, 1, duration, 200, Arc::clone(&uncached)).await?;
    report.push(Row::load(
        "linkyard: uncached QR PNG, 256 px, 1 connection",
        &single,
        false,
    ));
    report.note(format!(
        "uncached QR p50 with one connection is {:.1}x the qrcode + image loop (target: at most 3x) and {:.1}x linkyard's own renderer",
        single.p50.as_secs_f64() / crates.as_secs_f64(),
        single.p50.as_secs_f64() / own.as_secs_f64()
    ));
    let result = load::run(
        linkyard.address,
        options.connections,
        duration,
        200,
        uncached,
    )
    .await?;
    report.push(Row::load(
        &format!(
            "linkyard: uncached QR PNG, 256 px, {} connections",
            options.connections
        ),
        &result,
        false,
    ));

    let hot = codes[0].clone();
    let cached: RequestFn = Arc::new(move |_, _| qr_request(&hot));
    let period = (options.warmup, options.duration);
    let result =
        load::warm_and_run(linkyard.address, options.connections, period, 200, cached).await?;
    report.push(Row::load("linkyard: cached QR PNG", &result, true));
    Ok(())
}

fn qr_request(code: &str) -> Request<Full<Bytes>> {
    Request::get(format!("/api/links/{code}/qr.png"))
        .header("host", "bench")
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// Short URLs like the ones the server encodes, one per sample.
fn sample_data(i: usize) -> String {
    format!("http://127.0.0.1:8080/Ab{i:05}")
}

/// Returns the median time of `SAMPLES` calls of `work`.
fn p50(mut work: impl FnMut(usize)) -> Duration {
    const SAMPLES: usize = 2_000;
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let started = Instant::now();
        work(i);
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Measures the median time the `qrcode` and `image` crates take to render a default code
/// (level M, quiet zone of 4 modules, 256 px) and encode it as PNG: the target's yardstick.
fn crates_p50() -> anyhow::Result<Duration> {
    // Every sample encodes the same kind of short URL, so one render shows whether any fails.
    crates_render(&sample_data(0))?;
    Ok(p50(|i| {
        std::hint::black_box(crates_render(&sample_data(i)).ok());
    }))
}

fn crates_render(data: &str) -> anyhow::Result<Vec<u8>> {
    let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M)?;
    let pixels = code
        .render::<image::Luma<u8>>()
        .quiet_zone(true)
        .max_dimensions(256, 256)
        .build();
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(pixels).write_to(&mut png, image::ImageFormat::Png)?;
    Ok(png.into_inner())
}

/// Measures the median time linkyard's renderer takes for the same image.
fn render_p50() -> Duration {
    let options = QrOptions::default();
    p50(|i| {
        let rendered = render(&sample_data(i), &options, QrFormat::Png);
        std::hint::black_box(rendered.ok());
    })
}
