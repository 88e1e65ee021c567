//! Favicon candidates from `<link rel>` tags, ranked best first, with the conventional
//! `/favicon.ico` of the page's origin last.
//!
//! Ranking, from most to least important:
//! 1. `mask-icon` (a one-colour Safari pinned-tab SVG) goes after every other kind.
//! 2. Size class: square 32–64 px or scalable (`sizes="any"`, SVG), then square above 64 px
//!    (smallest first), then undeclared sizes, then square below 32 px (largest first), then
//!    non-square sizes.
//! 3. Inside the 32–64 px class: `icon` before the Apple kinds (which are home-screen tiles,
//!    often with an opaque background), then the format (PNG, ICO, SVG, other images, unknown),
//!    then the larger size. In the other classes: the size as above, then the format, then
//!    `icon` first.
//! 4. Document order.

use super::signals::{LinkTag, has_token};
use super::urls::resolve_http_url;
use serde::{Deserialize, Serialize};
use url::Url;

/// Preferred icon edge in px. Favicons are shown at 16–32 CSS px, which is 32–64 device px at
/// 2x pixel density.
const PREFERRED_MIN_PX: u32 = 32;
const PREFERRED_MAX_PX: u32 = 64;

/// A favicon the page offers, or the conventional `/favicon.ico`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IconCandidate {
    pub url: Url,
    /// Sizes from the `sizes` attribute, empty when the page declares none.
    pub sizes: Vec<IconSize>,
    /// The declared `type`, else the type implied by the file extension.
    pub mime_type: Option<String>,
    pub rel: IconRel,
}

/// One entry of a `sizes` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IconSize {
    /// `any`: a scalable icon.
    Any,
    Pixels {
        width: u32,
        height: u32,
    },
}

/// The kind of `<link rel>` that offered an icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IconRel {
    /// `icon`, including the legacy `shortcut icon`.
    Icon,
    AppleTouchIcon,
    AppleTouchIconPrecomposed,
    /// Safari's pinned-tab icon: a one-colour SVG mask.
    MaskIcon,
    /// Not declared: `/favicon.ico` at the page's origin, which browsers request by default.
    Default,
}

impl IconRel {
    fn from_rel(rel: &str) -> Option<Self> {
        let rel = Some(rel);
        if has_token(rel, "mask-icon") {
            Some(Self::MaskIcon)
        } else if has_token(rel, "apple-touch-icon-precomposed") {
            Some(Self::AppleTouchIconPrecomposed)
        } else if has_token(rel, "apple-touch-icon") {
            Some(Self::AppleTouchIcon)
        } else if has_token(rel, "icon") {
            Some(Self::Icon)
        } else {
            None
        }
    }
}

/// Builds the ranked candidate list from the page's link tags. Relative `href`s resolve against
/// `base` (the `<base href>` or the page URL). `/favicon.ico` resolves against the page URL, as
/// browsers do.
pub(crate) fn rank_icons(links: &[LinkTag], base: &Url, page_url: &Url) -> Vec<IconCandidate> {
    let mut ranked: Vec<(RankKey, IconCandidate)> = links
        .iter()
        .enumerate()
        .filter_map(|(position, link)| {
            candidate(link, base).map(|icon| (rank(&icon, position), icon))
        })
        .collect();
    ranked.sort_by_key(|(key, _)| *key);

    let mut icons: Vec<IconCandidate> = Vec::with_capacity(ranked.len() + 1);
    for (_, icon) in ranked {
        if !icons.iter().any(|known| known.url == icon.url) {
            icons.push(icon);
        }
    }
    if let Some(fallback) = default_favicon(page_url)
        && !icons.iter().any(|known| known.url == fallback.url)
    {
        icons.push(fallback);
    }
    icons
}

fn candidate(link: &LinkTag, base: &Url) -> Option<IconCandidate> {
    let rel = IconRel::from_rel(&link.rel)?;
    let url = resolve_http_url(&link.href, base)?;
    let declared = link.mime_type.as_deref().and_then(mime_essence);
    let mime_type = declared.or_else(|| mime_from_extension(&url));
    let sizes = link.sizes.as_deref().map(parse_sizes).unwrap_or_default();
    Some(IconCandidate {
        url,
        sizes,
        mime_type,
        rel,
    })
}

// NOTE: icons listed only in a web app manifest (`<link rel="manifest">`) are not candidates,
// because reading them needs another fetch.
fn default_favicon(page_url: &Url) -> Option<IconCandidate> {
    if !matches!(page_url.scheme(), "http" | "https") {
        return None;
    }
    let url = page_url.join("/favicon.ico").ok()?;
    Some(IconCandidate {
        url,
        sizes: Vec::new(),
        mime_type: Some("image/x-icon".to_owned()),
        rel: IconRel::Default,
    })
}

/// Parses `sizes`: space-separated `WxH` entries (either `x` case) or `any`. Other entries are
/// skipped.
fn parse_sizes(sizes: &str) -> Vec<IconSize> {
    sizes
        .split_ascii_whitespace()
        .filter_map(|entry| {
            if entry.eq_ignore_ascii_case("any") {
                return Some(IconSize::Any);
            }
            let (width, height) = entry.split_once(['x', 'X'])?;
            let width = width.parse().ok().filter(|width| *width > 0)?;
            let height = height.parse().ok().filter(|height| *height > 0)?;
            Some(IconSize::Pixels { width, height })
        })
        .collect()
}

fn mime_essence(declared: &str) -> Option<String> {
    let essence = declared.split(';').next()?.trim().to_ascii_lowercase();
    let essence = match essence.as_str() {
        "image/vnd.microsoft.icon" | "image/ico" | "image/icon" => "image/x-icon".to_owned(),
        _ => essence,
    };
    (!essence.is_empty()).then_some(essence)
}

fn mime_from_extension(url: &Url) -> Option<String> {
    let file = url.path_segments()?.next_back()?;
    let (_, extension) = file.rsplit_once('.')?;
    let mime = match extension.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "ico" => "image/x-icon",
        "svg" => "image/svg+xml",
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        _ => return None,
    };
    Some(mime.to_owned())
}

/// Sort key; smaller is better: (kind, size class, primary, secondary, tertiary, document order).
type RankKey = (u8, u8, u32, u32, u32, usize);

fn rank(icon: &IconCandidate, position: usize) -> RankKey {
    let kind = u8::from(icon.rel == IconRel::MaskIcon);
    let format = format_rank(icon.mime_type.as_deref());
    let rel = u32::from(icon.rel != IconRel::Icon);
    let (class, edge) = size_class(icon);

    // Inside the preferred class the kind and format decide first; elsewhere the size does.
    let (primary, secondary, tertiary) = match class {
        0 => (rel, format, PREFERRED_MAX_PX.saturating_sub(edge)),
        1 => (edge, format, rel),
        3 => (PREFERRED_MIN_PX.saturating_sub(edge), format, rel),
        _ => (format, rel, 0),
    };
    (kind, class, primary, secondary, tertiary, position)
}

/// Returns the size class (0 best) and the edge in px of the icon's best declared size.
fn size_class(icon: &IconCandidate) -> (u8, u32) {
    if icon.mime_type.as_deref() == Some("image/svg+xml") && icon.sizes.is_empty() {
        return (0, PREFERRED_MAX_PX);
    }
    icon.sizes
        .iter()
        .map(|size| match *size {
            IconSize::Any => (0, PREFERRED_MAX_PX),
            IconSize::Pixels { width, height } if width != height => (4, width.max(height)),
            IconSize::Pixels { width, .. } if width < PREFERRED_MIN_PX => (3, width),
            IconSize::Pixels { width, .. } if width <= PREFERRED_MAX_PX => (0, width),
            IconSize::Pixels { width, .. } => (1, width),
        })
        .min_by_key(|(class, edge)| (*class, distance_from_preferred(*edge)))
        .unwrap_or((2, 0))
}

fn distance_from_preferred(edge: u32) -> u32 {
    if edge < PREFERRED_MIN_PX {
        PREFERRED_MIN_PX - edge
    } else {
        edge.saturating_sub(PREFERRED_MAX_PX)
    }
}

fn format_rank(mime_type: Option<&str>) -> u32 {
    match mime_type {
        Some("image/png") => 0,
        Some("image/x-icon") => 1,
        Some("image/svg+xml") => 2,
        Some(other) if other.starts_with("image/") => 3,
        _ => 4,
    }
}
