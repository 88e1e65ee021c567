use crate::qr::{EcLevel, QrFormat, QrOptions, Rgb, blob_key, cache_key, etag, render};
use sha2::{Digest, Sha256};

const URL: &str = "https://lnk.example/AbC1234";

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn key_is_stable_lowercase_hex() {
    let options = QrOptions::default();

    let first = cache_key(URL, &options, QrFormat::Png);
    let second = cache_key(
        URL,
        &QrOptions::from_query("size=256&ecl=m&fg=000").expect("valid"),
        QrFormat::Png,
    );

    assert_eq!(first.len(), 64);
    assert!(
        first
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')),
        "{first}"
    );
    assert_eq!(
        first, second,
        "equal options written differently share a key"
    );
}

#[test]
fn key_changes_with_every_input() {
    let base = QrOptions::default();
    let black = Rgb::BLACK;
    let white = Rgb::WHITE;
    let navy = Rgb::parse("000080").expect("navy");
    let cream = Rgb::parse("fffdd0").expect("cream");
    let variants = [
        (
            "data",
            cache_key("https://lnk.example/AbC1235", &base, QrFormat::Png),
        ),
        ("format", cache_key(URL, &base, QrFormat::Svg)),
        (
            "size",
            cache_key(
                URL,
                &QrOptions::new(257, 4, EcLevel::M, black, white).expect("valid"),
                QrFormat::Png,
            ),
        ),
        (
            "margin",
            cache_key(
                URL,
                &QrOptions::new(256, 5, EcLevel::M, black, white).expect("valid"),
                QrFormat::Png,
            ),
        ),
        (
            "ecl",
            cache_key(
                URL,
                &QrOptions::new(256, 4, EcLevel::Q, black, white).expect("valid"),
                QrFormat::Png,
            ),
        ),
        (
            "fg",
            cache_key(
                URL,
                &QrOptions::new(256, 4, EcLevel::M, navy, white).expect("valid"),
                QrFormat::Png,
            ),
        ),
        (
            "bg",
            cache_key(
                URL,
                &QrOptions::new(256, 4, EcLevel::M, black, cream).expect("valid"),
                QrFormat::Png,
            ),
        ),
    ];
    let base_key = cache_key(URL, &base, QrFormat::Png);

    for (input, key) in &variants {
        assert_ne!(*key, base_key, "changing {input} keeps the key");
    }
    for (i, (first, a)) in variants.iter().enumerate() {
        for (second, b) in &variants[i + 1..] {
            assert_ne!(a, b, "{first} and {second} share a key");
        }
    }
}

#[test]
fn etag_and_blob_key_derive_from_key() {
    let key = cache_key(URL, &QrOptions::default(), QrFormat::Svg);

    assert_eq!(etag(&key), format!("\"{key}\""));
    assert_eq!(blob_key(&key, QrFormat::Svg), format!("qr/{key}.svg"));
    assert_eq!(blob_key(&key, QrFormat::Png), format!("qr/{key}.png"));
}

/// Stored images are found by key, so output that changes under an unchanged key would serve
/// old images next to new ones. When this test fails because the output changed on purpose (or
/// after an encoder upgrade), bump RENDER_VERSION in key.rs and update the digests here.
#[test]
fn output_changes_need_new_render_version() {
    let png = render(URL, &QrOptions::default(), QrFormat::Png).expect("renders");
    let svg = render(URL, &QrOptions::default(), QrFormat::Svg).expect("renders");

    assert_eq!(
        cache_key(URL, &QrOptions::default(), QrFormat::Png),
        "d5ae9ef4a60ab3745065c200d45fbfe23a35ca32d567e3776223c57cefffdf03"
    );
    assert_eq!(
        hex_sha256(&png.bytes),
        "53eb8b1473e1d60fc78c44daeb9775230a54ff8cf67018c2678d539bca3ba017",
        "PNG output changed"
    );
    assert_eq!(
        hex_sha256(&svg.bytes),
        "6e2103566bca3130e17a5dc15ca796cb1cc947b44ed46eef1ec2fdca44522f13",
        "SVG output changed"
    );
}
