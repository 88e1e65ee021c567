//! The HTML error page, for errors on the web UI's routes. The JSON API keeps its JSON errors.

use super::layout::Page;
use http::StatusCode;
use maud::{Markup, html};

/// Renders the error page for `status`. `detail` is a message for the user, such as the
/// error's message; it must not carry internal causes, which belong in the log.
pub fn error_page(status: StatusCode, detail: Option<&str>) -> Markup {
    let (title, explanation) = describe(status);
    let main = html! {
        p.error-status { (status.as_u16()) }
        h1 { (title) }
        p { (explanation) }
        @if let Some(detail) = detail {
            p.notice { (detail) }
        }
        p { a href="/" { "Go to the home page" } }
    };
    Page::new(title).render(main)
}

/// Returns the title and explanation of a status.
fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "Bad request",
            "The request could not be understood. Check the form fields and try again.",
        ),
        StatusCode::FORBIDDEN => ("Forbidden", "You are not allowed to do this."),
        StatusCode::NOT_FOUND => (
            "Not found",
            "Nothing is here. Pastes and links can expire or be deleted, and addresses are \
             case-sensitive.",
        ),
        StatusCode::GONE => (
            "Gone",
            "This paste has expired, was deleted, or was a burn-after-reading paste that has \
             been read.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Too large",
            "The content is over the size limit of this service. Shorten it and try again.",
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            "Too many requests",
            "Too many requests came from you in a short time. Wait a moment and try again.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Temporarily unavailable",
            "A part of this service is unavailable. Try again shortly.",
        ),
        _ if status.is_server_error() => (
            "Something went wrong",
            "The server failed to handle this request. Try again later.",
        ),
        _ => (
            status.canonical_reason().unwrap_or("Error"),
            "The request could not be completed.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_support::{assert_csp_compatible, parse, select_one};

    fn text(html: &str, selector: &str) -> String {
        select_one(&parse(html), selector).text().collect()
    }

    #[test]
    fn statuses_get_titles() {
        for (status, title) in [
            (StatusCode::NOT_FOUND, "Not found"),
            (StatusCode::GONE, "Gone"),
            (StatusCode::PAYLOAD_TOO_LARGE, "Too large"),
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
            (StatusCode::BAD_GATEWAY, "Something went wrong"),
            (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
        ] {
            let html = error_page(status, None).into_string();
            assert_eq!(text(&html, "h1"), title, "status {status}");
            assert_eq!(
                text(&html, "p.error-status"),
                status.as_str(),
                "status {status}"
            );
            assert!(text(&html, "title").starts_with(title), "status {status}");
            assert!(!html.contains("style="));
            assert!(!html.contains("<script"));
            assert_csp_compatible(&html);
        }
    }

    #[test]
    fn detail_is_escaped() {
        let html =
            error_page(StatusCode::NOT_FOUND, Some("paste '<script>' not found")).into_string();
        assert!(!html.contains("<script"));
        assert_eq!(text(&html, "p.notice"), "paste '<script>' not found");
    }
}
