//! The demo dashboard and the monitor page: static files embedded in the binary. They use
//! the `socket.io-client` bundle served at `/socket.io/socket.io.js` and the HTTP API.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// (name, content type, bytes) of every embedded file.
const FILES: &[(&str, &str, &str)] = &[
    (
        "demo.html",
        "text/html; charset=utf-8",
        include_str!("../../web/demo.html"),
    ),
    (
        "monitor.html",
        "text/html; charset=utf-8",
        include_str!("../../web/monitor.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../web/app.css"),
    ),
    (
        "demo.js",
        "application/javascript; charset=utf-8",
        include_str!("../../web/demo.js"),
    ),
    (
        "monitor.js",
        "application/javascript; charset=utf-8",
        include_str!("../../web/monitor.js"),
    ),
];

fn serve(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => (
            [
                (header::CONTENT_TYPE, *ct),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `GET /demo` (and `/` with `--demo`).
pub async fn demo() -> Response {
    serve("demo.html")
}

/// `GET /monitor`.
pub async fn monitor() -> Response {
    serve("monitor.html")
}

/// `GET /static/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    serve(&file)
}
