//! `GET /`: the dashboard, one self-contained HTML page.
//!
//! The page is written for an operator woken at 3 a.m.: a tile per fuse with
//! its state as a big word and a colour, its ask rates and a two-minute
//! sparkline, a tile per valve, the active alarms, the Fusebox's URL and the
//! time of the last update. It has no build step and loads nothing from the
//! network: the HTML, CSS and JavaScript in `src/dashboard/` are compiled into
//! the binary and served as one document, and a Content-Security-Policy keeps
//! it that way (no script, style, font or image from anywhere else; fetches
//! only to the admin server itself). It works offline and behind any proxy
//! that passes the admin routes.
//!
//! Live updates: the page follows `/events` with an `EventSource` and fetches
//! `/api/snapshot` on each event and once a second (the rates are deltas of
//! counters between snapshots, timed on the Fusebox's own clock). When the
//! stream drops, the browser reconnects by itself and the page says
//! "reconnecting" until it does; the once-a-second refresh carries on.
//!
//! The process tile (`dashboard/runtime.js`) fetches `/api/runtime` once a
//! second on its own: memory, CPU, threads, descriptors, tasks, workers.
//!
//! The keyed families (`dashboard/keyed.js`) come with each snapshot: a tile
//! per family with its keys by state, its totals and a table of its top
//! keys (at most ten; a family's keys are never all listed).
//!
//! All URLs in the page are relative to where it is served, so the router
//! works nested under a prefix (`/admin` or `/admin/`) as well as at `/`.

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

/// The whole page, CSS and script inlined at compile time.
const PAGE: &str = concat!(
    include_str!("dashboard/head.html"),
    "<style>\n",
    include_str!("dashboard/dashboard.css"),
    "</style>\n",
    include_str!("dashboard/body.html"),
    "<script>\n",
    include_str!("dashboard/dashboard.js"),
    include_str!("dashboard/runtime.js"),
    include_str!("dashboard/keyed.js"),
    "</script>\n</body>\n</html>\n",
);

/// Inline script and style only; network access to this origin only.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub(crate) async fn page() -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Html(PAGE),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::PAGE;

    #[test]
    fn the_page_is_self_contained() {
        assert!(PAGE.starts_with("<!doctype html>"));
        assert!(PAGE.contains("new EventSource("));
        // No external resources: nothing fetched from another origin.
        for bad in ["http://", "https://", "//cdn", "@import", "url("] {
            assert!(!PAGE.contains(bad), "the page mentions {bad:?}");
        }
    }
}
