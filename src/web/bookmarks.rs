//! The bookmarks pages: sign-in with an API key, and `/bookmarks`, which adds, lists, filters
//! by tag and searches the signed-in user's bookmarks.
//!
//! Every form that changes something carries the session's CSRF token in the `csrf` field.

use super::format::time_element;
use super::layout::{Page, Section};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// One bookmark of the list.
#[derive(Debug, Clone)]
pub struct BookmarkItem {
    pub url: String,
    pub title: Option<String>,
    pub site_name: Option<String>,
    /// The local URL of the stored favicon.
    pub favicon_url: Option<String>,
    pub tags: Vec<String>,
    pub status: String,
    pub error: Option<String>,
    pub unread: bool,
    pub created_at: DateTime<Utc>,
}

/// The values of the add form, kept after a rejected post.
#[derive(Debug, Clone, Default)]
pub struct AddFormValues {
    pub url: String,
    pub title: String,
    /// Comma-separated.
    pub tags: String,
}

/// The content of `/bookmarks`.
#[derive(Debug, Clone, Default)]
pub struct BookmarksPageView {
    pub email: String,
    pub csrf: String,
    pub items: Vec<BookmarkItem>,
    /// The search query shown in the search box.
    pub query: String,
    /// The tag the list is filtered by.
    pub tag: String,
    /// The link to the next page of the list or search.
    pub next_href: Option<String>,
    pub form: AddFormValues,
    pub error: Option<String>,
    /// A confirmation after a successful post.
    pub notice: Option<String>,
}

/// Renders `/bookmarks`.
pub fn bookmarks_page(view: &BookmarksPageView) -> Markup {
    let main = html! {
        h1 { "Bookmarks" }
        p {
            "Signed in as " strong { (view.email) } ". "
            form.inline method="post" action="/signout" {
                input type="hidden" name="csrf" value=(view.csrf);
                button type="submit" { "Sign out" }
            }
        }
        @if let Some(error) = &view.error {
            p.notice.error role="alert" { strong { "Error: " } (error) }
        }
        @if let Some(notice) = &view.notice {
            p.notice role="status" { (notice) }
        }
        (add_form(view))
        (search_form(view))
        (bookmark_list(view))
    };
    Page::new("Bookmarks")
        .in_section(Section::Bookmarks)
        .render(main)
}

fn add_form(view: &BookmarksPageView) -> Markup {
    let values = &view.form;
    html! {
        section aria-labelledby="add-heading" {
            h2 #add-heading { "Save a page" }
            form.stacked method="post" action="/bookmarks" {
                input type="hidden" name="csrf" value=(view.csrf);
                label {
                    "URL"
                    input type="url" name="url" required value=(values.url)
                        placeholder="https://example.com/article";
                }
                label {
                    "Title"
                    span.hint { "Optional. Empty means the page's own title." }
                    input type="text" name="title" value=(values.title);
                }
                label {
                    "Tags"
                    span.hint { "Optional, separated by commas." }
                    input type="text" name="tags" value=(values.tags) autocomplete="off";
                }
                button.primary type="submit" { "Save" }
            }
        }
    }
}

fn search_form(view: &BookmarksPageView) -> Markup {
    html! {
        section aria-labelledby="search-heading" {
            h2 #search-heading { "Find" }
            form.stacked method="get" action="/bookmarks" role="search" {
                label {
                    "Search"
                    span.hint {
                        "Words, \"phrases\", #tag, site:example.com, is:unread, status:failed, "
                        "before:2025-01-31, after:2025-01-01."
                    }
                    input type="search" name="q" value=(view.query);
                }
                label {
                    "Tag"
                    input type="text" name="tag" value=(view.tag) autocomplete="off";
                }
                button type="submit" { "Find" }
                " "
                a href="/bookmarks" { "Show all" }
            }
        }
    }
}

fn bookmark_list(view: &BookmarksPageView) -> Markup {
    html! {
        section aria-labelledby="list-heading" {
            h2 #list-heading { "Saved" }
            @if view.items.is_empty() {
                p { "No bookmarks here yet." }
            }
            ul.bookmarks {
                @for item in &view.items {
                    li { (bookmark_item(item)) }
                }
            }
            @if let Some(next) = &view.next_href {
                p { a href=(next) rel="next" { "Older bookmarks" } }
            }
        }
    }
}

fn bookmark_item(item: &BookmarkItem) -> Markup {
    let title = item.title.as_deref().unwrap_or(&item.url);
    html! {
        @if let Some(favicon) = &item.favicon_url {
            img src=(favicon) alt="" width="16" height="16" loading="lazy";
            " "
        }
        // The links leave this site, so they carry no referrer and no opener.
        a href=(item.url) rel="noreferrer noopener" { (title) }
        @if let Some(site) = &item.site_name {
            " · " span.hint { (site) }
        }
        " · " (time_element(&item.created_at))
        @if item.unread {
            " · " strong { "unread" }
        }
        @if item.status != "active" {
            " · " span.hint { (item.status) }
        }
        @if let Some(error) = &item.error {
            " · " span.hint { (error) }
        }
        @for tag in &item.tags {
            " " a href=(format!("/bookmarks?tag={}", encode_query(tag))) { "#" (tag) }
        }
    }
}

/// Renders the sign-in page, which takes an API key.
pub fn signin_page(error: Option<&str>) -> Markup {
    let main = html! {
        h1 { "Sign in" }
        @if let Some(error) = error {
            p.notice.error role="alert" { strong { "Error: " } (error) }
        }
        form.stacked method="post" action="/signin" {
            label {
                "API key"
                span.hint { "Create one with " code { "linkyard user create --email E" } "." }
                input type="password" name="key" required autocomplete="current-password";
            }
            button.primary type="submit" { "Sign in" }
        }
    };
    Page::new("Sign in")
        .in_section(Section::Bookmarks)
        .render(main)
}

/// Percent-encodes a query parameter value.
pub fn encode_query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_support::{assert_csp_compatible, parse, select};

    #[test]
    fn page_lists_bookmarks_and_carries_csrf() {
        let view = BookmarksPageView {
            email: "a@example.com".to_owned(),
            csrf: "token123".to_owned(),
            items: vec![BookmarkItem {
                url: "https://example.com/".to_owned(),
                title: Some("<Example>".to_owned()),
                site_name: None,
                favicon_url: Some("/favicons/abc".to_owned()),
                tags: vec!["a b".to_owned()],
                status: "active".to_owned(),
                error: None,
                unread: true,
                created_at: Utc::now(),
            }],
            ..Default::default()
        };
        let html = bookmarks_page(&view).into_string();
        assert_csp_compatible(&html);
        let document = parse(&html);
        let csrf = select(&document, "input[name=csrf]");
        assert_eq!(csrf.len(), 2, "add and sign-out forms");
        assert!(
            csrf.iter()
                .all(|input| input.value().attr("value") == Some("token123"))
        );
        assert!(html.contains("&lt;Example&gt;"));
        assert!(html.contains("/bookmarks?tag=a+b"));
        assert_eq!(select(&document, "img[src='/favicons/abc']").len(), 1);
    }

    #[test]
    fn signin_page_shows_error() {
        let html = signin_page(Some("bad key")).into_string();
        assert_csp_compatible(&html);
        assert!(html.contains("bad key"));
    }
}
