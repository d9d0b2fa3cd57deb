//! The Admin UI's files (`@socket.io/admin-ui` `ui/dist`, embedded by `build.rs`) at
//! `/admin-ui/`. The files are public like the monitor page's; what they show comes over
//! the `/admin` namespace, which signs the admin in.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

include!(concat!(env!("OUT_DIR"), "/admin_ui.rs"));

/// `GET /admin-ui` → `/admin-ui/` (the UI loads its files relative to the page).
pub async fn redirect() -> Redirect {
    Redirect::permanent("/admin-ui/")
}

/// `GET /admin-ui/`.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /admin-ui/{*file}`.
pub async fn file(Path(file): Path<String>) -> Response {
    serve(if file.is_empty() { "index.html" } else { &file })
}

fn serve(path: &str) -> Response {
    if ADMIN_UI.is_empty() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the Admin UI was not available at build time (run `npm ci --prefix e2e` and rebuild)",
        )
            .into_response();
    }
    let Some((_, body)) = ADMIN_UI.iter().find(|(p, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let kind = match path.rsplit_once('.').map(|(_, x)| x) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "application/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        _ => "application/octet-stream",
    };
    // The hashed asset names never change content; the index may (a new build).
    let cache = if path == "index.html" {
        "no-cache"
    } else {
        "public, max-age=86400"
    };
    // The UI signs in again by itself from its stored session: no other site may frame
    // it (clickjacking its buttons).
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, cache),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response()
}
