//! Test helpers: decoding rendered images and reading SVG back into pixels.

use crate::qr::EcLevel;
use quick_xml::events::{BytesStart, Event};
use std::collections::BTreeMap;

/// A decoded image: its size and one `true` per dark pixel, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: usize,
    pub height: usize,
    pub dark: Vec<bool>,
}

impl Bitmap {
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }

    /// Decodes the one QR code in the bitmap with rqrr.
    pub fn decode(&self) -> Result<Decoded, String> {
        let mut prepared =
            rqrr::PreparedImage::prepare_from_bitmap(self.width, self.height, |x, y| {
                self.is_dark(x, y)
            });
        decode_grids(prepared.detect_grids())
    }
}

/// What rqrr read from a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub level: EcLevel,
    /// Modules per side, from the version.
    pub width: usize,
}

/// Decodes the one QR code in a PNG with rqrr from its grayscale pixels, as a camera app would
/// see them.
pub fn decode_png(png: &[u8]) -> Result<Decoded, String> {
    let image =
        image::load_from_memory(png).map_err(|error| format!("PNG does not load: {error}"))?;
    let mut prepared = rqrr::PreparedImage::prepare(image.to_luma8());
    decode_grids(prepared.detect_grids())
}

fn decode_grids<G: rqrr::BitGrid>(grids: Vec<rqrr::Grid<G>>) -> Result<Decoded, String> {
    if grids.len() != 1 {
        return Err(format!("expected one QR code, found {}", grids.len()));
    }
    let (meta, text) = grids[0]
        .decode()
        .map_err(|error| format!("rqrr failed: {error}"))?;
    // The format bits store the level as L = 1, M = 0, Q = 3, H = 2.
    let level = match meta.ecc_level {
        1 => EcLevel::L,
        0 => EcLevel::M,
        3 => EcLevel::Q,
        _ => EcLevel::H,
    };
    Ok(Decoded {
        text,
        level,
        width: 17 + 4 * meta.version.0,
    })
}

/// Loads a PNG and classifies each pixel as `fg` (dark) or `bg`, failing on any other color.
pub fn png_bitmap(png: &[u8], fg: [u8; 3], bg: [u8; 3]) -> Bitmap {
    let image = image::load_from_memory(png).expect("PNG loads").to_rgb8();
    let (width, height) = (image.width() as usize, image.height() as usize);
    let dark = image
        .pixels()
        .map(|pixel| match pixel.0 {
            color if color == fg => true,
            color if color == bg => false,
            other => panic!("pixel color {other:?} is neither fg {fg:?} nor bg {bg:?}"),
        })
        .collect();
    Bitmap {
        width,
        height,
        dark,
    }
}

/// The parts of a rendered SVG that the tests check.
#[derive(Debug)]
pub struct Svg {
    pub width: String,
    pub height: String,
    pub view_box: String,
    pub shape_rendering: String,
    pub bg: String,
    pub fg: String,
    /// The path's rectangles drawn into a bitmap of the `viewBox` size.
    pub bitmap: Bitmap,
}

/// Parses an SVG as XML, failing on malformed XML, and rasterizes its path. It accepts exactly
/// the shapes the renderer writes: one background `rect` and one `path` of `M x y h w v m h -w z`
/// rectangles.
pub fn parse_svg(svg: &[u8]) -> Svg {
    let text = std::str::from_utf8(svg).expect("SVG is UTF-8");
    let mut reader = quick_xml::Reader::from_str(text);
    let mut root = None;
    let mut rect = None;
    let mut path = None;
    loop {
        match reader.read_event().expect("SVG is well-formed XML") {
            Event::Start(element) if element.name().as_ref() == "svg" => {
                root = Some(attributes(&element))
            }
            Event::Empty(element) if element.name().as_ref() == "rect" => {
                rect = Some(attributes(&element))
            }
            Event::Empty(element) if element.name().as_ref() == "path" => {
                path = Some(attributes(&element))
            }
            Event::Start(element) | Event::Empty(element) => {
                panic!("unexpected element {:?}", element.name().as_ref())
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let root = root.expect("an svg root element");
    let rect = rect.expect("a background rect");
    let path = path.expect("a path of dark modules");
    assert_eq!(root["xmlns"], "http://www.w3.org/2000/svg");

    let view_box = root["viewBox"].clone();
    let extent: Vec<usize> = view_box
        .split(' ')
        .map(|n| n.parse().expect("numeric viewBox"))
        .collect();
    assert_eq!(extent[..2], [0, 0], "viewBox starts at the origin");
    let bitmap = rasterize(&path["d"], extent[2], extent[3]);
    Svg {
        width: root["width"].clone(),
        height: root["height"].clone(),
        view_box,
        shape_rendering: root["shape-rendering"].clone(),
        bg: rect["fill"].clone(),
        fg: path["fill"].clone(),
        bitmap,
    }
}

fn attributes(element: &BytesStart<'_>) -> BTreeMap<String, String> {
    element
        .attributes()
        .map(|attribute| {
            let attribute = attribute.expect("well-formed attribute");
            let key = attribute.key.as_ref().to_owned();
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .expect("valid attribute value");
            (key, value.into_owned())
        })
        .collect()
}

/// Fills every `M x y h w v m h -w z` rectangle of a path into a bitmap.
fn rasterize(d: &str, width: usize, height: usize) -> Bitmap {
    let mut dark = vec![false; width * height];
    for rectangle in d.split('z').filter(|part| !part.is_empty()) {
        let numbers: Vec<usize> = rectangle
            .strip_prefix('M')
            .expect("each rectangle starts with M")
            .split(['h', 'v', ' '])
            .map(|n| n.trim_start_matches('-').parse().expect("a number"))
            .collect();
        let [x, y, w, h, back] = numbers[..] else {
            panic!("rectangle '{rectangle}' is not M x y h w v m h -w");
        };
        assert_eq!(w, back, "rectangle '{rectangle}' closes where it started");
        assert!(
            rectangle.contains(&format!("h-{w}")),
            "rectangle '{rectangle}' goes back left"
        );
        for row in y..y + h {
            for column in x..x + w {
                assert!(
                    !dark[row * width + column],
                    "rectangles overlap at ({column}, {row})"
                );
                dark[row * width + column] = true;
            }
        }
    }
    Bitmap {
        width,
        height,
        dark,
    }
}
