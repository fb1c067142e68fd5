//! The page shell every dashboard page shares: landmarks, skip link, navigation by role, the
//! sign-out form, and small formatting helpers. One place decides how a page is framed.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{DOCTYPE, Markup, html};

use crate::domain::Role;

/// The stylesheet, embedded in the binary.
pub const CSS: &str = include_str!("../../../assets/app/app.css");

/// `/app/assets/app.css?v=<hash>`: the hash changes with the file, so it may be cached forever.
pub static CSS_HREF: LazyLock<String> = LazyLock::new(|| {
    let hash = crate::auth::secrets::sha256_hex(CSS);
    format!("/app/assets/app.css?v={}", &hash[..12])
});

/// Who is looking at a page: decides the navigation and carries the forms' CSRF token.
pub struct Viewer {
    pub role: Role,
    pub csrf: String,
    /// Stripe billing is configured (a draft is paid for before it launches).
    pub billing: bool,
}

fn nav_items(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Business => &[
            ("/app/studies", "Studies"),
            ("/app/notifications", "Notifications"),
            ("/app/settings", "Settings"),
        ],
        Role::Tester => &[
            ("/app/tester", "Offers and sessions"),
            ("/app/notifications", "Notifications"),
            ("/app/settings", "Settings"),
        ],
        Role::Admin => &[
            ("/app/studies", "Studies"),
            ("/app/admin/testers", "Testers"),
            ("/app/admin/quiz", "Quiz"),
            ("/app/admin/audit", "Audit log"),
            ("/app/notifications", "Notifications"),
            ("/app/settings", "Settings"),
        ],
    }
}

fn shell(title: &str, viewer: Option<&Viewer>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · OpenScouter" }
                link rel="stylesheet" href=(CSS_HREF.as_str());
            }
            body {
                a.skip href="#main" { "Skip to main content" }
                header.site {
                    div.bar {
                        a.brand href="/app" { "OpenScouter" }
                        @if let Some(v) = viewer {
                            nav.main aria-label="Main" {
                                ul {
                                    @for (href, label) in nav_items(v.role) {
                                        li {
                                            @if current.starts_with(href) {
                                                a href=(href) aria-current="page" { (label) }
                                            } @else {
                                                a href=(href) { (label) }
                                            }
                                        }
                                    }
                                }
                            }
                            form method="post" action="/app/signout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button.secondary type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
                footer.site { p { "OpenScouter — usability testing with neurodivergent testers. Every page works without script." } }
            }
        }
    }
}

/// A page for a signed-in viewer. `current` is the path the navigation marks as current.
pub fn page(title: &str, viewer: &Viewer, current: &str, body: Markup) -> Response {
    html_response(StatusCode::OK, shell(title, Some(viewer), current, body))
}

/// A page without a signed-in viewer (sign-in form, errors).
pub fn public(status: StatusCode, title: &str, body: Markup) -> Response {
    html_response(status, shell(title, None, "", body))
}

/// The error page (status and message from the one error mapping).
pub fn error(status: StatusCode, message: &str) -> Response {
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
    public(
        status,
        &title,
        html! {
            h1 { (title) }
            div.error role="alert" { p { (message) } }
            p { a href="/app" { "Back to the dashboard" } " · " a href="/app/signin" { "Sign in" } }
        },
    )
}

/// `2026-11-30 09:16 UTC` from epoch milliseconds.
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// `42 %` from a share in 0..1.
pub fn pct(v: f64) -> String {
    format!("{:.0} %", (v * 100.0).clamp(0.0, 100.0))
}

/// A serde-spelled word (`rage_click`) as words (`rage click`).
pub fn words<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default()
}

/// Previous/next links of a paged list.
pub fn pager(base: &str, page: u32, limit: u32, total: u64) -> Markup {
    let pages = total.div_ceil(u64::from(limit.max(1))).max(1);
    html! {
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                ul {
                    @if page > 1 { li { a href={(base) "?page=" (page - 1) "&limit=" (limit)} rel="prev" { "Previous page" } } }
                    li { "Page " (page) " of " (pages) }
                    @if u64::from(page) < pages { li { a href={(base) "?page=" (page + 1) "&limit=" (limit)} rel="next" { "Next page" } } }
                }
            }
        }
    }
}

/// An HTML response.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    use axum::response::IntoResponse;
    (status, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string())
        .into_response()
}

/// A study's status in words (`in_progress` → "In progress").
pub fn study_words(s: crate::domain::StudyStatus) -> &'static str {
    use crate::domain::StudyStatus;
    match s {
        StudyStatus::Draft => "Draft",
        StudyStatus::Open => "Open",
        StudyStatus::InProgress => "In progress",
        StudyStatus::Completed => "Completed",
        StudyStatus::Closed => "Closed",
    }
}

/// A session's status in words, as the tester and the business read it.
pub fn session_words(s: crate::domain::SessionStatus) -> &'static str {
    use crate::domain::SessionStatus;
    match s {
        SessionStatus::Active => "Running",
        SessionStatus::Paused => "Paused",
        SessionStatus::Completed => "Completed, being analysed",
        SessionStatus::Analyzed => "Awaiting the tester's decision",
        SessionStatus::Confirmed => "Confirmed",
        SessionStatus::Abandoned => "Abandoned",
    }
}
