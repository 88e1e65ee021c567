//! Title clean-up: removal of a trailing site name ("Story title | Site"), and the site name that
//! such a suffix reveals when the page does not declare one.

use url::Url;

/// Separators that sites put between the page title and the site name, with their spaces.
const SEPARATORS: &[&str] = &[
    " | ", " - ", " – ", " — ", " · ", " • ", " :: ", " » ", " // ",
];

/// A title with a trailing site name removed, and that site name when one was removed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CleanTitle {
    pub title: String,
    pub site_suffix: Option<String>,
}

/// Removes a trailing " | Site", " - Site", " — Site" (and similar separators) when "Site"
/// matches `site_name` or the page's host name ("TechCrunch" for techcrunch.com), ignoring case,
/// spaces and punctuation. The title is kept whole when nothing would remain.
pub(crate) fn strip_site_suffix(
    title: &str,
    site_name: Option<&str>,
    page_url: &Url,
) -> CleanTitle {
    let unchanged = || CleanTitle {
        title: title.to_owned(),
        site_suffix: None,
    };
    let Some((head, suffix)) = split_last_segment(title) else {
        return unchanged();
    };
    if head.is_empty() || !names_site(suffix, site_name, page_url) {
        return unchanged();
    }
    CleanTitle {
        title: head.to_owned(),
        site_suffix: Some(suffix.to_owned()),
    }
}

/// Splits at the rightmost separator of any kind.
fn split_last_segment(title: &str) -> Option<(&str, &str)> {
    let (position, separator) = SEPARATORS
        .iter()
        .filter_map(|separator| {
            title
                .rfind(separator)
                .map(|position| (position, *separator))
        })
        .max_by_key(|(position, _)| *position)?;
    let head = title[..position].trim();
    let suffix = title[position + separator.len()..].trim();
    Some((head, suffix))
}

fn names_site(suffix: &str, site_name: Option<&str>, page_url: &Url) -> bool {
    let suffix = comparison_key(suffix);
    if suffix.is_empty() {
        return false;
    }
    if site_name.is_some_and(|site| comparison_key(site) == suffix) {
        return true;
    }
    host_keys(page_url).contains(&suffix)
}

/// Lower-case letters and digits only, so "Ars Technica" matches "ars-technica" and "ArsTechnica".
pub(crate) fn comparison_key(text: &str) -> String {
    text.chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Returns the comparison keys of the page's host: "www.bbc.co.uk" gives "bbccouk" and "bbc".
fn host_keys(page_url: &Url) -> Vec<String> {
    let Some(host) = page_url.host_str() else {
        return Vec::new();
    };
    let host = host.strip_prefix("www.").unwrap_or(host);
    let mut labels: Vec<&str> = host.split('.').filter(|label| !label.is_empty()).collect();
    let mut keys = vec![comparison_key(host)];

    // Drop the top-level domain and a short second-level one such as "co" in "bbc.co.uk".
    labels.pop();
    if labels.len() >= 2 && labels.last().is_some_and(|label| label.len() <= 3) {
        labels.pop();
    }
    if let Some(label) = labels.last() {
        keys.push(comparison_key(label));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("valid test URL")
    }

    fn strip(title: &str, site: Option<&str>) -> CleanTitle {
        strip_site_suffix(title, site, &url("https://www.example.com/a"))
    }

    #[test]
    fn strip_suffix_matching_site_name() {
        let clean = strip("Big news | Daily Planet", Some("Daily Planet"));
        assert_eq!(clean.title, "Big news");
        assert_eq!(clean.site_suffix.as_deref(), Some("Daily Planet"));
        assert_eq!(
            strip("Big news - daily planet", Some("Daily Planet")).title,
            "Big news"
        );
        assert_eq!(
            strip("Big news — Daily Planet", Some("Daily Planet")).title,
            "Big news"
        );
        assert_eq!(
            strip("Big news – Daily Planet", Some("Daily Planet")).title,
            "Big news"
        );
    }

    #[test]
    fn strip_only_last_segment() {
        let clean = strip("Part one - part two | Daily Planet", Some("Daily Planet"));
        assert_eq!(clean.title, "Part one - part two");
    }

    #[test]
    fn keep_suffix_that_is_not_site() {
        let clean = strip("Rust - a language", Some("Daily Planet"));
        assert_eq!(clean.title, "Rust - a language");
        assert_eq!(clean.site_suffix, None);
    }

    #[test]
    fn keep_title_without_separator() {
        assert_eq!(
            strip("Daily Planet", Some("Daily Planet")).title,
            "Daily Planet"
        );
        assert_eq!(
            strip("Daily Planet|Daily Planet", Some("Daily Planet")).title,
            "Daily Planet|Daily Planet"
        );
    }

    #[test]
    fn keep_title_that_would_be_empty() {
        assert_eq!(
            strip(" | Daily Planet", Some("Daily Planet")).title,
            " | Daily Planet"
        );
    }

    #[test]
    fn strip_suffix_matching_host() {
        let page = url("https://techcrunch.com/2016/01/12/story/");
        let clean = strip_site_suffix("Story | TechCrunch", None, &page);
        assert_eq!(clean.title, "Story");
        assert_eq!(clean.site_suffix.as_deref(), Some("TechCrunch"));

        let page = url("https://www.bbc.co.uk/news/1");
        assert_eq!(strip_site_suffix("Story - BBC", None, &page).title, "Story");
        let page = url("https://en.wikipedia.org/wiki/Bob_Dylan");
        assert_eq!(
            strip_site_suffix("Bob Dylan - Wikipedia", None, &page).title,
            "Bob Dylan"
        );
    }
}
