//! Detection of pages that stand in for the requested one: bot-protection challenges, captchas,
//! access-denied walls and error pages. Their titles ("Just a moment...", "Access denied") must
//! never become a bookmark's title.
//!
//! The rules look at the page's structure, not at particular sites:
//! 1. A page without article metadata (a description with a date or image) whose title is
//!    exactly a known interstitial title ("Just a moment...", "Attention Required! |
//!    Cloudflare", "Access denied", "Are you a robot?").
//! 2. A thin page (few visible words and no article metadata) whose title starts with such a
//!    title, whose visible text contains a challenge, captcha or denial phrase, or whose markup
//!    contains a challenge or captcha widget.
//! 3. An HTTP status of 400 or more.
//! 4. A title made of error phrases only ("404 - Page not found"), or starting with one on a
//!    page without author and date.

use super::metadata::PageMetadata;
use super::page_text::{self, PageText};
use super::title::comparison_key;

/// Pages with at most this many visible words count as thin. Interstitials show a few
/// sentences, and the limit leaves room for block pages that explain themselves at length. The
/// value is an estimate, not a measured maximum.
const THIN_PAGE_MAX_WORDS: usize = 250;

/// Bytes of raw HTML searched for widget markers. Interstitials are small, and a marker after
/// this point belongs to a page that is not one.
const MARKER_SEARCH_BYTES: usize = 512 * 1024;

const CHALLENGE_TITLES: &[&str] = &[
    "just a moment",
    "just a second",
    "one moment, please",
    "please wait",
    "please stand by",
    "checking your browser",
    "checking your browser before accessing",
    "verifying your browser",
    "browser check",
    "security check",
    "security checkpoint",
    "attention required! | cloudflare",
    "ddos-guard",
    "ddos protection",
    "bot verification",
    "human verification",
    "verifying you are human",
    "pardon our interruption",
    "one more step",
    "client challenge",
];

const CAPTCHA_TITLES: &[&str] = &[
    "captcha",
    "captcha challenge",
    "are you a robot",
    "are you a human",
    "are you human",
    "robot check",
    "robot or human",
    "verify you are human",
    "please verify you are a human",
    "i'm not a robot",
];

const ACCESS_DENIED_TITLES: &[&str] = &[
    "access denied",
    "access blocked",
    "access to this page has been denied",
    "forbidden",
    "403 forbidden",
    "error 403",
    "403 - forbidden",
    "you have been blocked",
    "sorry, you have been blocked",
    "request blocked",
    "request rejected",
    "the request could not be satisfied",
    "error: the request could not be satisfied",
    "unauthorized access",
];

const CHALLENGE_PHRASES: &[&str] = &[
    "checking your browser before accessing",
    "checking if the site connection is secure",
    "enable javascript and cookies to continue",
    "please enable cookies",
    "please turn javascript on and reload the page",
    "your browser will redirect to your requested content shortly",
    "ddos protection by",
    "needs to review the security of your connection",
    "verifying you are human",
    "verifying your browser",
    "please enable js and disable any ad blocker",
    "please complete the security check",
    "making sure you're not a bot",
];

const CAPTCHA_PHRASES: &[&str] = &[
    "complete the captcha",
    "solve the captcha",
    "captcha below",
    "press & hold",
    "press and hold to confirm",
    "i'm not a robot",
    "verify you are a human",
    "verify you are human",
    "prove you are human",
    "prove you're human",
    "make sure you're not a robot",
    "unusual traffic from your computer network",
];

const ACCESS_DENIED_PHRASES: &[&str] = &[
    "access denied",
    "you don't have permission to access",
    "you do not have permission to access",
    "access to this page has been denied",
    "why have i been blocked",
    "this website is using a security service to protect itself",
    "the request could not be satisfied",
    "request unsuccessful. incapsula incident id",
    "your access to this site has been limited",
    "you have been blocked",
    "your ip has been blocked",
    "your request has been blocked",
];

/// Markup that bot-protection services put on their interstitials. It is only checked on thin
/// pages, because some of it can appear on ordinary pages too.
const CHALLENGE_MARKERS: &[&str] = &[
    "cf-browser-verification",
    "_cf_chl_opt",
    "cf-challenge",
    "/cdn-cgi/challenge-platform/h/",
    "challenge-form",
    "jschl-answer",
    "_incapsula_resource",
    "ddos-guard",
    "sucuri_cloudproxy_js",
];

/// Captcha pages of bot-protection services.
const CAPTCHA_WALL_MARKERS: &[&str] = &["captcha-delivery.com", "px-captcha"];

/// Captcha widgets, which ordinary login and comment forms embed too.
const CAPTCHA_WIDGET_MARKERS: &[&str] = &[
    "g-recaptcha",
    "google.com/recaptcha",
    "recaptcha.net/recaptcha",
    "h-captcha",
    "hcaptcha.com/1/api.js",
    "cf-turnstile",
    "challenges.cloudflare.com/turnstile",
    "funcaptcha",
    "arkoselabs",
];

/// Phrases that make a title an error page's title.
const ERROR_TITLE_PHRASES: &[&str] = &[
    "error",
    "an error occurred",
    "not found",
    "page not found",
    "file not found",
    "404 not found",
    "error 404",
    "404 error",
    "page does not exist",
    "this page does not exist",
    "page could not be found",
    "this page could not be found",
    "page unavailable",
    "nothing found",
    "410 gone",
    "internal server error",
    "500 internal server error",
    "server error",
    "bad gateway",
    "502 bad gateway",
    "service unavailable",
    "503 service unavailable",
    "service temporarily unavailable",
    "temporarily unavailable",
    "gateway timeout",
    "504 gateway timeout",
    "site maintenance",
    "under maintenance",
];

/// Separators between title segments ("404 - Page not found | Site").
const TITLE_SEPARATORS: &[&str] = &[" | ", " - ", " – ", " — ", " · ", ": "];

/// Reason that a fetched page is not the requested content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockReason {
    /// A bot-protection interstitial that makes the client wait or run a script.
    #[error(
        "the site returned a bot-protection challenge instead of the page (matched '{marker}')"
    )]
    Challenge { marker: &'static str },
    /// A page that requires the client to solve a captcha.
    #[error("the site asked for a captcha instead of returning the page (matched '{marker}')")]
    Captcha { marker: &'static str },
    /// A firewall or bot manager refused the client.
    #[error("the site denied access to the page (matched '{marker}')")]
    AccessDenied { marker: &'static str },
    /// A response with status 400 or more.
    #[error("the site responded with HTTP status {status}")]
    HttpError { status: u16 },
    /// An error page sent with a success status, such as "Page not found" with 200.
    #[error("the site returned an error page (matched '{marker}')")]
    ErrorPage { marker: &'static str },
}

impl BlockReason {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Challenge { .. } => "bot_challenge",
            Self::Captcha { .. } => "captcha",
            Self::AccessDenied { .. } => "access_denied",
            Self::HttpError { .. } => "http_error",
            Self::ErrorPage { .. } => "error_page",
        }
    }

    /// Returns whether a later fetch may get the real page. Bot walls lift, and 403, 408, 425,
    /// 429 and 5xx are often temporary. Other 4xx statuses and error pages are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Challenge { .. } | Self::Captcha { .. } | Self::AccessDenied { .. } => true,
            Self::HttpError { status } => matches!(status, 403 | 408 | 425 | 429 | 500..=599),
            Self::ErrorPage { .. } => false,
        }
    }
}

/// Returns why the page is not the requested content, or `None` when it looks like real
/// content. `status` is the final HTTP status, `html` the decoded body and `metadata` what
/// [`super::extract`] found in it.
pub fn detect_block_page(status: u16, html: &str, metadata: &PageMetadata) -> Option<BlockReason> {
    let page = page_text::scan(html, THIN_PAGE_MAX_WORDS);
    let metadata_title = metadata.title.as_deref().map(page_text::normalize);
    let titles: Vec<&str> = page
        .title
        .iter()
        .chain(metadata_title.iter())
        .map(String::as_str)
        .collect();

    // Interstitials carry no description with a date or image, so a page with them is content
    // even when its title or text sounds like a wall ("Forbidden", a film review).
    let described = has_article_metadata(metadata);
    let interstitial = titles.iter().find_map(|title| interstitial_title(title));
    if !described && interstitial.is_some() {
        return interstitial;
    }
    let thin = page.words <= THIN_PAGE_MAX_WORDS && !described;
    if thin && let Some(reason) = thin_page_reason(&page, &titles, html, metadata) {
        return Some(reason);
    }
    if status >= 400 {
        return Some(BlockReason::HttpError { status });
    }
    titles.iter().find_map(|title| error_title(title, metadata))
}

/// Returns whether the page describes itself as real pages do, even short ones, and
/// interstitials do not.
fn has_article_metadata(metadata: &PageMetadata) -> bool {
    let described = metadata.description.is_some();
    let dated_or_illustrated = metadata.published_at.is_some() || metadata.image_url.is_some();
    described && dated_or_illustrated
}

fn interstitial_title(title: &str) -> Option<BlockReason> {
    let title = trim_title(title);
    title_reason(title)
}

fn title_reason(title: &str) -> Option<BlockReason> {
    if let Some(marker) = find_exact(CHALLENGE_TITLES, title) {
        return Some(BlockReason::Challenge { marker });
    }
    if let Some(marker) = find_exact(CAPTCHA_TITLES, title) {
        return Some(BlockReason::Captcha { marker });
    }
    find_exact(ACCESS_DENIED_TITLES, title).map(|marker| BlockReason::AccessDenied { marker })
}

fn thin_page_reason(
    page: &PageText,
    titles: &[&str],
    html: &str,
    metadata: &PageMetadata,
) -> Option<BlockReason> {
    let first_segment_reason = titles.iter().find_map(|title| {
        title_segments(title)
            .first()
            .and_then(|segment| title_reason(segment))
    });
    if first_segment_reason.is_some() {
        return first_segment_reason;
    }

    let markup = lowercase_prefix(html, MARKER_SEARCH_BYTES);
    if let Some(marker) = find_contained(CHALLENGE_MARKERS, &markup) {
        return Some(BlockReason::Challenge { marker });
    }
    if let Some(marker) = find_contained(CAPTCHA_WALL_MARKERS, &markup) {
        return Some(BlockReason::Captcha { marker });
    }
    if let Some(marker) = find_contained(CAPTCHA_PHRASES, &page.text) {
        return Some(BlockReason::Captcha { marker });
    }
    if let Some(marker) = find_contained(CHALLENGE_PHRASES, &page.text) {
        return Some(BlockReason::Challenge { marker });
    }
    if let Some(marker) = find_contained(ACCESS_DENIED_PHRASES, &page.text) {
        return Some(BlockReason::AccessDenied { marker });
    }
    // A captcha widget alone may sit in a sign-in form, so it marks a wall only on a page
    // without a description.
    let widget = find_contained(CAPTCHA_WIDGET_MARKERS, &markup);
    widget
        .filter(|_| metadata.description.is_none())
        .map(|marker| BlockReason::Captcha { marker })
}

/// Matches a title made of error phrases and status codes only, or one that starts with an
/// error phrase on a page without author and date (articles about errors have both).
fn error_title(title: &str, metadata: &PageMetadata) -> Option<BlockReason> {
    let segments = title_segments(title);
    let site_key = metadata.site_name.as_deref().map(comparison_key);
    let is_site = |segment: &str| {
        site_key
            .as_deref()
            .is_some_and(|key| comparison_key(segment) == key)
    };

    let first = segments.first()?;
    let marker = error_phrase(first)?;
    let all_error_or_site = segments
        .iter()
        .all(|segment| error_phrase(segment).is_some() || is_site(segment));
    let undated = metadata.author.is_none() && metadata.published_at.is_none();
    (all_error_or_site || undated).then_some(BlockReason::ErrorPage { marker })
}

/// Returns the matched phrase, or "http status" for a bare 4xx or 5xx code.
fn error_phrase(segment: &str) -> Option<&'static str> {
    let segment = trim_title(segment);
    if let Some(phrase) = find_exact(ERROR_TITLE_PHRASES, segment) {
        return Some(phrase);
    }
    let code: Option<u16> = segment.parse().ok();
    code.filter(|code| (400..=599).contains(code))
        .map(|_| "http status")
}

fn title_segments(title: &str) -> Vec<&str> {
    let mut segments = vec![title];
    for separator in TITLE_SEPARATORS {
        segments = segments
            .iter()
            .flat_map(|segment| segment.split(separator))
            .collect();
    }
    segments
        .into_iter()
        .map(trim_title)
        .filter(|segment| !segment.is_empty())
        .collect()
}

/// Drops surrounding spaces and trailing dots, ellipses, exclamation and question marks.
fn trim_title(title: &str) -> &str {
    title
        .trim()
        .trim_end_matches(['.', '…', '!', '?', ' '])
        .trim()
}

fn find_exact(phrases: &[&'static str], text: &str) -> Option<&'static str> {
    phrases
        .iter()
        .copied()
        .find(|phrase| trim_title(phrase) == text)
}

fn find_contained(phrases: &[&'static str], text: &str) -> Option<&'static str> {
    phrases.iter().copied().find(|phrase| text.contains(phrase))
}

fn lowercase_prefix(html: &str, max_bytes: usize) -> String {
    let mut cut = html.len().min(max_bytes);
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    html[..cut].to_ascii_lowercase()
}
