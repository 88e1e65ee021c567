//! Visitor facts taken from a request: whether it is a bot, its browser, OS and device type, and
//! the referring site. Nothing here keeps the client address.

use std::sync::LazyLock;

/// The longest user agent or referrer examined; longer values are cut, not rejected.
pub const MAX_HEADER_CHARS: usize = 512;
/// The longest referrer host stored.
pub const MAX_REFERRER_CHARS: usize = 255;

/// Case-insensitive markers of automated clients that woothee does not classify as crawlers:
/// link-preview unfurlers of chat and social apps, and HTTP libraries.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "slack-imgproxy",
    "slackbot",
    "discordbot",
    "twitterbot",
    "telegrambot",
    "whatsapp",
    "linkedinbot",
    "mastodon",
    "pleroma",
    "akkoma",
    "misskey",
    "friendica",
    "pinterest",
    "embedly",
    "iframely",
    "skypeuripreview",
    "microsoft teams",
    "vkshare",
    "preview",
    "headlesschrome",
    "lighthouse",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "axios/",
    "node-fetch",
    "undici",
    "libwww-perl",
    "postmanruntime",
    "insomnia",
    "httpie",
    "reqwest",
    "hyper/",
    "scrapy",
    "feedfetcher",
    "monitor",
    "uptime",
];

static PARSER: LazyLock<woothee::parser::Parser> = LazyLock::new(woothee::parser::Parser::new);

/// The kind of device a visit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Other,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Bot => "bot",
            Self::Other => "other",
        }
    }
}

/// What the user agent says about a visitor. `None` means unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub is_bot: bool,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device: Device,
}

/// Whether a user agent belongs to a bot, link previewer or HTTP library. A missing or empty
/// user agent counts as a bot: browsers always send one.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    let Some(agent) = user_agent.map(str::trim).filter(|agent| !agent.is_empty()) else {
        return true;
    };
    let agent = cut(agent).to_ascii_lowercase();
    if BOT_MARKERS.iter().any(|marker| agent.contains(marker)) {
        return true;
    }
    PARSER
        .parse(&agent)
        .is_some_and(|result| result.category == "crawler")
}

/// Classifies a user agent.
pub fn classify(user_agent: Option<&str>) -> Visitor {
    let bot = is_bot(user_agent);
    let agent = user_agent.map(cut).unwrap_or_default();
    let parsed = PARSER.parse(agent);
    let known = |value: &str| (!value.is_empty() && value != "UNKNOWN").then(|| value.to_owned());

    let browser = parsed.as_ref().and_then(|result| known(result.name));
    let os = parsed.as_ref().and_then(|result| known(result.os));
    let category = parsed
        .as_ref()
        .map(|result| result.category)
        .unwrap_or("UNKNOWN");
    let device = if bot {
        Device::Bot
    } else if agent.contains("iPad") || (agent.contains("Android") && !agent.contains("Mobile")) {
        Device::Tablet
    } else {
        match category {
            "pc" => Device::Desktop,
            "smartphone" | "mobilephone" => Device::Mobile,
            _ => Device::Other,
        }
    };
    Visitor {
        is_bot: bot,
        browser,
        os,
        device,
    }
}

/// The referring site of a `Referer` header: the host of an http(s) URL, or the package of an
/// `android-app://` referrer. `None` when there is no referrer or it cannot be read.
pub fn referrer_host(referrer: Option<&str>) -> Option<String> {
    let url = url::Url::parse(cut(referrer?.trim())).ok()?;
    let host = match url.scheme() {
        "http" | "https" => url.host_str()?.trim_end_matches('.').to_ascii_lowercase(),
        "android-app" => url.host_str()?.to_ascii_lowercase(),
        _ => return None,
    };
    let host: String = host.chars().take(MAX_REFERRER_CHARS).collect();
    (!host.is_empty()).then_some(host)
}

/// Cuts a header value to [`MAX_HEADER_CHARS`] on a character boundary.
fn cut(value: &str) -> &str {
    match value.char_indices().nth(MAX_HEADER_CHARS) {
        Some((index, _)) => &value[..index],
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0";

    #[test]
    fn browsers_are_humans() {
        for agent in [CHROME_DESKTOP, SAFARI_IPHONE, SAFARI_IPAD, FIREFOX_LINUX] {
            assert!(!is_bot(Some(agent)), "{agent}");
        }
    }

    #[test]
    fn previewers_crawlers_and_libraries_are_bots() {
        let bots = [
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Slack-ImgProxy (+https://api.slack.com/robots)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "Twitterbot/1.0",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mastodon/4.2.10 (http.rb/5.1.1; +https://mastodon.social/)",
            "TelegramBot (like TwitterBot)",
            "WhatsApp/2.23.20.0",
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.32.3",
            "Go-http-client/1.1",
            "okhttp/4.12.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
            "",
            "   ",
        ];
        for agent in bots {
            assert!(is_bot(Some(agent)), "{agent:?}");
        }
        assert!(is_bot(None));
    }

    #[test]
    fn classify_reads_browser_os_and_device() {
        let chrome = classify(Some(CHROME_DESKTOP));
        assert_eq!(chrome.browser.as_deref(), Some("Chrome"));
        assert_eq!(chrome.os.as_deref(), Some("Windows 10"));
        assert_eq!(chrome.device, Device::Desktop);

        assert_eq!(classify(Some(SAFARI_IPHONE)).device, Device::Mobile);
        assert_eq!(classify(Some(SAFARI_IPAD)).device, Device::Tablet);
        assert_eq!(classify(Some("curl/8.5.0")).device, Device::Bot);
        let unknown = classify(Some("something odd"));
        assert_eq!(unknown.browser, None);
        assert_eq!(unknown.os, None);
    }

    #[test]
    fn referrers_become_hosts() {
        let cases = [
            (
                Some("https://News.Example.com/a/b?c=d"),
                Some("news.example.com"),
            ),
            (Some("http://example.com./"), Some("example.com")),
            (Some("android-app://com.slack/"), Some("com.slack")),
            (Some("ftp://example.com/"), None),
            (Some("not a url"), None),
            (Some(""), None),
            (None, None),
        ];
        for (referrer, host) in cases {
            assert_eq!(referrer_host(referrer).as_deref(), host, "{referrer:?}");
        }
        let long = format!("https://{}.example/", "a".repeat(400));
        assert!(referrer_host(Some(&long)).expect("host").chars().count() <= MAX_REFERRER_CHARS);
    }
}
