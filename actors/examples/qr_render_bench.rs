//! Measures QR rendering time per image and format.
//!
//! Run it optimized: `cargo run --release -p linkyard-actors --example qr_render_bench`.
//! It renders each case repeatedly on one thread and prints the median and mean time per image
//! and the encoded size.

use linkyard_actors::qr::{QrFormat, QrOptions, cache_key, render};
use std::time::{Duration, Instant};

const SHORT_URL: &str = "https://lnk.example/AbC1234";
const ITERATIONS: usize = 2_000;

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let long_url = format!("https://lnk.example/p/{}", "x".repeat(180));
    let cases = [
        (
            "png 256 px, short url",
            SHORT_URL,
            "size=256",
            QrFormat::Png,
        ),
        (
            "svg 256 px, short url",
            SHORT_URL,
            "size=256",
            QrFormat::Svg,
        ),
        (
            "png 256 px, 200-byte url",
            long_url.as_str(),
            "size=256",
            QrFormat::Png,
        ),
        (
            "png 256 px, level H, colors",
            SHORT_URL,
            "ecl=h&fg=1b5e20&bg=fff9c4",
            QrFormat::Png,
        ),
        (
            "png 1024 px, short url",
            SHORT_URL,
            "size=1024",
            QrFormat::Png,
        ),
        (
            "png 2048 px, short url",
            SHORT_URL,
            "size=2048",
            QrFormat::Png,
        ),
        (
            "svg 2048 px, short url",
            SHORT_URL,
            "size=2048",
            QrFormat::Svg,
        ),
    ];

    println!(
        "{:<30} {:>12} {:>12} {:>10}",
        "case", "median µs", "mean µs", "bytes"
    );
    for (name, data, query, format) in cases {
        let Ok(options) = QrOptions::from_query(query) else {
            println!("{name}: invalid options {query}");
            continue;
        };
        match measure(|| render(data, &options, format).map(|image| image.bytes.len())) {
            Ok((median, mean, bytes)) => println!(
                "{name:<30} {:>12.1} {:>12.1} {bytes:>10}",
                micros(median),
                micros(mean)
            ),
            Err(error) => println!("{name}: {error}"),
        }
    }

    let options = QrOptions::default();
    if let Ok((median, mean, _)) =
        measure(|| Ok::<_, ()>(cache_key(SHORT_URL, &options, QrFormat::Png).len()))
    {
        println!(
            "{:<30} {:>12.1} {:>12.1}",
            "cache_key",
            micros(median),
            micros(mean)
        );
    }
}

/// Runs `work` ITERATIONS times after a warm-up; returns the median and mean duration and the
/// last output size.
fn measure<E>(
    mut work: impl FnMut() -> Result<usize, E>,
) -> Result<(Duration, Duration, usize), E> {
    let mut bytes = 0;
    for _ in 0..ITERATIONS / 10 {
        bytes = work()?;
    }
    let mut times = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        bytes = std::hint::black_box(work()?);
        times.push(start.elapsed());
    }
    times.sort();
    let total: Duration = times.iter().sum();
    Ok((times[times.len() / 2], total / ITERATIONS as u32, bytes))
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
