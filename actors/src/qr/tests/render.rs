use super::support::{Bitmap, Decoded, decode_png, parse_svg, png_bitmap};
use crate::qr::render::Layout;
use crate::qr::{
    EcLevel, MAX_SIZE, MIN_SIZE, QrError, QrFormat, QrOptions, Rendered, Rgb, max_bytes, render,
};

const SHORT_URL: &str = "https://lnk.example/AbC1234";

fn options(size: u32, margin: u32, ecl: EcLevel) -> QrOptions {
    QrOptions::new(size, margin, ecl, Rgb::BLACK, Rgb::WHITE).expect("valid options")
}

fn colored(fg: &str, bg: &str) -> QrOptions {
    let fg = Rgb::parse(fg).expect("fg");
    let bg = Rgb::parse(bg).expect("bg");
    QrOptions::new(256, 4, EcLevel::M, fg, bg).expect("valid colors")
}

fn channels(color: Rgb) -> [u8; 3] {
    [color.r, color.g, color.b]
}

fn render_ok(data: &str, options: &QrOptions, format: QrFormat) -> Rendered {
    render(data, options, format).unwrap_or_else(|error| panic!("render {options:?}: {error}"))
}

/// Checks that rqrr read `data` at the requested level, and that the code sits in the bitmap
/// where the documented size mapping puts it: whole-pixel modules and a quiet zone of `margin`
/// modules plus half the leftover pixels on the left and top.
fn assert_code(bitmap: &Bitmap, decoded: &Decoded, data: &str, options: &QrOptions) {
    let size = options.size() as usize;
    assert_eq!((bitmap.width, bitmap.height), (size, size), "{options:?}");
    assert_eq!(decoded.text, data, "{options:?}");
    assert_eq!(decoded.level, options.ecl(), "{options:?}");

    let layout = Layout::new(decoded.width, options.size(), options.margin()).expect("fits");
    let (first, last) = dark_extent(bitmap);
    let code_pixels = decoded.width * layout.module as usize;
    // The finder patterns put dark modules on all four outer edges of the code.
    assert_eq!(
        first,
        (layout.offset as usize, layout.offset as usize),
        "{options:?}"
    );
    assert_eq!(last.0 + 1 - first.0, code_pixels, "{options:?}");
    assert_eq!(last.1 + 1 - first.1, code_pixels, "{options:?}");
    let margin_pixels = options.margin() * layout.module;
    assert!(layout.offset >= margin_pixels, "{options:?}: {layout:?}");
}

/// Finds the top-left and bottom-right corners of the box around every dark pixel.
fn dark_extent(bitmap: &Bitmap) -> ((usize, usize), (usize, usize)) {
    let mut first = (usize::MAX, usize::MAX);
    let mut last = (0, 0);
    for y in 0..bitmap.height {
        for x in (0..bitmap.width).filter(|&x| bitmap.is_dark(x, y)) {
            first = (first.0.min(x), first.1.min(y));
            last = (last.0.max(x), last.1.max(y));
        }
    }
    (first, last)
}

/// Renders one case of the size × margin × level grid. The one case that cannot fit, the URL at
/// level H (version 4, 33 modules) plus 2 × 16 margin modules in 64 px, must give SizeTooSmall.
fn render_grid_case(options: &QrOptions, format: QrFormat) -> Option<Rendered> {
    let result = render(SHORT_URL, options, format);
    if options.size() == MIN_SIZE && options.margin() == 16 && options.ecl() == EcLevel::H {
        assert!(
            matches!(
                result,
                Err(QrError::SizeTooSmall {
                    size: 64,
                    modules: 65
                })
            ),
            "{result:?}"
        );
        return None;
    }
    Some(result.unwrap_or_else(|error| panic!("render {options:?}: {error}")))
}

#[test]
fn png_decodes_across_sizes_margins_levels() {
    for size in [MIN_SIZE, 256, MAX_SIZE] {
        for margin in [0, 4, 16] {
            for ecl in EcLevel::ALL {
                let options = options(size, margin, ecl);
                let Some(png) = render_grid_case(&options, QrFormat::Png) else {
                    continue;
                };

                assert_eq!(png.content_type, "image/png");
                let bitmap = png_bitmap(&png.bytes, [0, 0, 0], [255, 255, 255]);
                let decoded =
                    decode_png(&png.bytes).unwrap_or_else(|error| panic!("{options:?}: {error}"));
                assert_code(&bitmap, &decoded, SHORT_URL, &options);
            }
        }
    }
}

/// Equal pixels prove that the SVG carries the PNG's module matrix, so rqrr reads it only at one
/// size, to keep the test fast.
#[test]
fn svg_matches_png_pixel_for_pixel() {
    for size in [MIN_SIZE, 256, 1000, MAX_SIZE] {
        for margin in [0, 4, 16] {
            for ecl in EcLevel::ALL {
                let options = options(size, margin, ecl);
                let (Some(png), Some(svg)) = (
                    render_grid_case(&options, QrFormat::Png),
                    render_grid_case(&options, QrFormat::Svg),
                ) else {
                    continue;
                };

                assert_eq!(svg.content_type, "image/svg+xml");
                let parsed = parse_svg(&svg.bytes);
                assert_eq!(parsed.width, size.to_string());
                assert_eq!(parsed.height, size.to_string());
                assert_eq!(parsed.view_box, format!("0 0 {size} {size}"));
                assert_eq!(parsed.shape_rendering, "crispEdges");
                let png_pixels = png_bitmap(&png.bytes, [0, 0, 0], [255, 255, 255]);
                assert!(
                    parsed.bitmap == png_pixels,
                    "{options:?}: SVG and PNG pixels differ"
                );
                if size == 256 {
                    let decoded = parsed
                        .bitmap
                        .decode()
                        .unwrap_or_else(|error| panic!("{options:?}: {error}"));
                    assert_code(&parsed.bitmap, &decoded, SHORT_URL, &options);
                }
            }
        }
    }
}

#[test]
fn valid_color_pairs_decode() {
    let pairs = [
        ("000", "fff"),
        ("000080", "ffffff"),
        ("1b5e20", "fff9c4"),
        ("c00000", "ffffff"),
        ("767676", "ffffff"),
        ("000000", "767676"),
        ("4a148c", "e1f5fe"),
    ];
    for (fg, bg) in pairs {
        let options = colored(fg, bg);
        let png = render_ok(SHORT_URL, &options, QrFormat::Png);
        let svg = parse_svg(&render_ok(SHORT_URL, &options, QrFormat::Svg).bytes);

        let bitmap = png_bitmap(&png.bytes, channels(options.fg()), channels(options.bg()));
        let decoded =
            decode_png(&png.bytes).unwrap_or_else(|error| panic!("{fg} on {bg}: {error}"));
        assert_code(&bitmap, &decoded, SHORT_URL, &options);
        assert_eq!(svg.fg, options.fg().to_string());
        assert_eq!(svg.bg, options.bg().to_string());
        assert!(
            svg.bitmap == bitmap,
            "{fg} on {bg}: SVG and PNG pixels differ"
        );
    }
}

#[test]
fn rejected_color_pairs_never_render() {
    let pairs = [
        ("fff", "000"),
        ("ffff00", "000080"),
        ("777777", "ffffff"),
        ("ff0000", "ffffff"),
        ("ccc", "fff"),
    ];
    for (fg, bg) in pairs {
        let query = format!("fg={fg}&bg={bg}");

        let error = QrOptions::from_query(&query).expect_err(&query);

        assert!(
            matches!(error.code(), "qr_contrast_too_low" | "qr_colors_inverted"),
            "{query}: {error}"
        );
    }
}

/// Evidence for rejecting light-on-dark codes: rqrr finds no code in an inverted image.
#[test]
fn rqrr_cannot_read_inverted_code() {
    let png = render_ok(SHORT_URL, &QrOptions::default(), QrFormat::Png);
    let bitmap = png_bitmap(&png.bytes, [0, 0, 0], [255, 255, 255]);
    let inverted = Bitmap {
        dark: bitmap.dark.iter().map(|dark| !dark).collect(),
        ..bitmap.clone()
    };

    assert!(bitmap.decode().is_ok());
    assert!(inverted.decode().is_err(), "rqrr read an inverted code");
}

/// The contrast threshold is not what rqrr needs from a clean image: it reads #c0c0c0 on white
/// (1.8:1), a code that a camera in real light may not.
#[test]
fn rqrr_reads_low_contrast_clean_image() {
    let png = render_ok(SHORT_URL, &QrOptions::default(), QrFormat::Png);
    let bitmap = png_bitmap(&png.bytes, [0, 0, 0], [255, 255, 255]);
    let ratio = Rgb::parse("c0c0c0")
        .expect("gray")
        .contrast_ratio(Rgb::WHITE);
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(bitmap.width, bitmap.height, |x, y| {
            if bitmap.is_dark(x, y) { 0xc0 } else { 0xff }
        });

    let grids = prepared.detect_grids();

    assert!(ratio < 2.0, "{ratio}");
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().expect("decodes").1, SHORT_URL);
}

#[test]
fn capacity_boundary_per_level() {
    for ecl in EcLevel::ALL {
        let max = max_bytes(ecl, false);
        let longest = "a".repeat(max);
        let too_long = "a".repeat(max + 1);
        let options = options(1024, 4, ecl);

        let png = render(&longest, &options, QrFormat::Png);
        let error = render(&too_long, &options, QrFormat::Png).expect_err("one byte too many");

        let decoded = decode_png(&png.expect("longest fits").bytes).expect("decodes");
        assert_eq!(decoded.text, longest, "{ecl}");
        assert_eq!(decoded.level, ecl);
        assert_eq!(decoded.width, 177, "{ecl}: version 40");
        let QrError::DataTooLong {
            len, max: limit, ..
        } = &error
        else {
            panic!("{ecl}: expected DataTooLong, got {error:?}");
        };
        assert_eq!(*len, max + 1, "{ecl}");
        assert_eq!(*limit, max, "{ecl}");
        assert_eq!(error.code(), "qr_data_too_long");
        let message = error.to_string();
        assert!(
            message.contains(&format!("at most {max} bytes")),
            "{message}"
        );
        assert!(message.contains(&format!("level {ecl}")), "{message}");
    }
}

#[test]
fn documented_capacities_are_version_40_byte_mode() {
    assert_eq!(max_bytes(EcLevel::L, false), 2953);
    assert_eq!(max_bytes(EcLevel::M, false), 2331);
    assert_eq!(max_bytes(EcLevel::Q, false), 1663);
    assert_eq!(max_bytes(EcLevel::H, false), 1273);
}

#[test]
fn utf8_capacity_boundary_per_level() {
    for ecl in EcLevel::ALL {
        let max = max_bytes(ecl, true);
        // 'é' is two bytes in UTF-8 and every limit is even.
        let longest = "é".repeat(max / 2);
        let too_long = format!("{longest}a");
        let options = options(1024, 4, ecl);

        let fits = render(&longest, &options, QrFormat::Png);
        let error = render(&too_long, &options, QrFormat::Svg).expect_err("one byte too many");

        assert_eq!(longest.len(), max);
        assert!(fits.is_ok(), "{ecl}: {:?}", fits.err());
        assert!(
            matches!(error, QrError::DataTooLong { len, .. } if len == max + 1),
            "{error:?}"
        );
    }
    let longest = "é".repeat(max_bytes(EcLevel::H, true) / 2);
    let png = render_ok(&longest, &options(1024, 4, EcLevel::H), QrFormat::Png);
    assert_eq!(decode_png(&png.bytes).expect("decodes").text, longest);
}

#[test]
fn digits_pack_beyond_byte_limit() {
    let digits = "7".repeat(max_bytes(EcLevel::L, false) * 2);

    let png = render_ok(&digits, &options(1024, 4, EcLevel::L), QrFormat::Png);

    assert_eq!(decode_png(&png.bytes).expect("decodes").text, digits);
}

#[test]
fn non_ascii_text_round_trips() {
    // The UTF-8 bytes of 日本 (e6 97 a5 e6 9c ac) look like Shift JIS kanji to an encoder.
    for data in [
        "https://lnk.example/p/日本語",
        "https://lnk.example/é?q=ü#ß",
        "日本",
    ] {
        let png = render_ok(data, &QrOptions::default(), QrFormat::Png);

        let decoded = decode_png(&png.bytes).unwrap_or_else(|error| panic!("{data}: {error}"));

        assert_eq!(decoded.text, data);
    }
}

#[test]
fn mixed_text_round_trips() {
    let data = "https://LNK.EXAMPLE/0123456789012345/ABCDEF?x=ABC123abc";

    let png = render_ok(data, &options(512, 4, EcLevel::Q), QrFormat::Png);

    assert_eq!(decode_png(&png.bytes).expect("decodes").text, data);
}

#[test]
fn size_too_small_for_large_code() {
    let data = "a".repeat(max_bytes(EcLevel::H, false));

    let error =
        render(&data, &options(MIN_SIZE, 4, EcLevel::H), QrFormat::Png).expect_err("too small");

    // Version 40 is 177 modules wide, plus 4 on each side.
    assert!(
        matches!(
            error,
            QrError::SizeTooSmall {
                size: 64,
                modules: 185
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), "qr_size_too_small");
    assert_eq!(error.field().as_deref(), Some("size"));
    assert!(error.to_string().contains("at least 185 px"), "{error}");
}

#[test]
fn layout_fits_whole_pixel_modules() {
    // (modules wide without margin, size, margin, pixels per module, offset)
    let cases = [
        (21, 256, 4, 8, 44),
        (21, 64, 0, 3, 0),
        (21, 64, 4, 2, 8 + 3),
        (29, 256, 0, 8, 12),
        (177, 2048, 16, 9, 144 + 83),
        (21, 2048, 16, 38, 608 + 17),
        (53, 64, 4, 1, 4 + 1),
    ];
    for (width, size, margin, module, offset) in cases {
        let layout = Layout::new(width, size, margin).expect("fits");

        assert_eq!(
            layout.module, module,
            "{width} modules in {size} px, margin {margin}"
        );
        assert_eq!(
            layout.offset, offset,
            "{width} modules in {size} px, margin {margin}"
        );
        let right = size - offset - module * width as u32;
        assert!(right >= offset, "right margin {right} < left {offset}");
        assert!(
            right <= offset + 1,
            "right margin {right} > left {offset} + 1"
        );
    }
}

#[test]
fn png_is_one_bit_indexed() {
    let png = render_ok(SHORT_URL, &colored("1b5e20", "fff9c4"), QrFormat::Png);

    let decoder = png::Decoder::new(std::io::Cursor::new(png.bytes.to_vec()));
    let reader = decoder.read_info().expect("PNG header");
    let info = reader.info();

    assert_eq!(info.color_type, png::ColorType::Indexed);
    assert_eq!(info.bit_depth, png::BitDepth::One);
    assert_eq!(
        info.palette.as_deref(),
        Some(&[0xff, 0xf9, 0xc4, 0x1b, 0x5e, 0x20][..])
    );
    // About 1.2 KB, against 8 KiB of raw 1-bit rows.
    assert!(png.bytes.len() < 2048, "PNG is {} bytes", png.bytes.len());
}

#[test]
fn render_is_deterministic() {
    let options = colored("000080", "ffffff");

    let first = render_ok(SHORT_URL, &options, QrFormat::Png);
    let second = render_ok(SHORT_URL, &options, QrFormat::Png);

    assert_eq!(first, second);
}

#[test]
fn completeness_rejects_cut_images() {
    let options = QrOptions::default();
    for format in [QrFormat::Png, QrFormat::Svg] {
        let image = render_ok(SHORT_URL, &options, format);
        assert!(format.is_complete(&image.bytes), "{format} is whole");
        // The SVG ends with a newline, which a cut may drop and still leave a whole image.
        let last = image.bytes.trim_ascii_end().len() - 1;
        for length in [0, 1, 8, image.bytes.len() / 2, last] {
            assert!(
                !format.is_complete(&image.bytes[..length]),
                "{format} cut to {length} of {} bytes",
                image.bytes.len()
            );
        }
    }
    let png = render_ok(SHORT_URL, &options, QrFormat::Png);
    assert!(
        !QrFormat::Svg.is_complete(&png.bytes),
        "a PNG is not an SVG"
    );
}

#[test]
fn completeness_rejects_changed_png_bytes() {
    let png = render_ok(SHORT_URL, &QrOptions::default(), QrFormat::Png);
    // Every byte after the signature is covered by a chunk's length, type, data or CRC.
    for position in [8, 12, 20, png.bytes.len() / 2, png.bytes.len() - 5] {
        let mut changed = png.bytes.to_vec();
        changed[position] ^= 0x01;
        assert!(
            !QrFormat::Png.is_complete(&changed),
            "byte {position} of {} changed",
            png.bytes.len()
        );
    }
    let mut longer = png.bytes.to_vec();
    longer.push(0);
    assert!(!QrFormat::Png.is_complete(&longer), "a byte after IEND");
}

#[test]
fn completeness_rejects_svg_with_zeroed_start() {
    let svg = render_ok(SHORT_URL, &QrOptions::default(), QrFormat::Svg);
    let mut zeroed = svg.bytes.to_vec();
    zeroed[..16].fill(0);

    assert!(!QrFormat::Svg.is_complete(&zeroed));
}
