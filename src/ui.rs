//! The web UI: the files under `static/`, embedded into the binary at build time, served
//! under Zipkin's base path (`/zipkin/`) so bookmarks and `/zipkin/traces/{id}` links made
//! for Zipkin's Lens keep working.
//!
//! `ZIPKIN_UI_BASEPATH` moves the UI: its `<base href>` names the configured path, and the
//! UI is served there. Zipkin itself only rewrites `<base href>` and keeps serving
//! `/zipkin/`, expecting a reverse proxy to map the configured path onto `/zipkin/`; so
//! the UI stays mounted at `/zipkin/` as well, and both deployments work (the API follows
//! the same two paths, see `api::query_router`).
//!
//! What this module owns, and why it is more than a file server:
//! - `index.html` is rendered once at start: its `<base href>` follows the configured base
//!   path, and every asset it references, plus every JavaScript module through an import
//!   map, gets a `?v=<content hash>` suffix. Versioned URLs are cached for a year; a new
//!   binary changes the hashes, so browsers never mix old and new modules. Unversioned
//!   requests still work and revalidate with an `ETag`.
//! - Client-side routes (`/zipkin/traces/{id}`, `/zipkin/dependency`, ...) answer
//!   `index.html`; a missing file that looks like an asset (`*.js`, `*.css`, ...) answers
//!   404 instead, so a broken reference fails loudly rather than as a MIME-type error.
//! - `/zipkin/config.json` answers Zipkin's UI configuration shape; the same JSON is inlined
//!   into `index.html` so the page can start without waiting for it.
//! - Setting `ZIPWIRE_UI_DIR` serves the folder from disk instead, without caching, for UI
//!   development (edit, reload, no rebuild).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use serde::Serialize;

/// Everything under `static/`, included in the binary by `rust-embed` (also in debug
/// builds, so tests see exactly what ships).
#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// What the UI needs to know about the server; served as `config.json`.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Where the UI lives, without a trailing slash (`/zipkin`; `""` mounts it at `/`).
    pub base_path: String,
    /// Default search lookback in milliseconds (`ZIPKIN_UI_DEFAULT_LOOKBACK`; 15 min).
    pub default_lookback_ms: u64,
    /// Default number of traces a search asks for.
    pub query_limit: usize,
    /// `SEARCH_ENABLED`: when false the UI explains that search is off.
    pub search_enabled: bool,
    /// Whether the dependency page is offered.
    pub dependency_enabled: bool,
    /// Free text shown in the header, to tell environments apart (`ZIPKIN_UI_ENVIRONMENT`).
    pub environment: String,
    /// Logs link of the trace page, `{traceId}` replaced by the UI (`ZIPKIN_UI_LOGS_URL`).
    pub logs_url: Option<String>,
    /// Help link in the header (`ZIPKIN_UI_SUPPORT_URL`).
    pub support_url: Option<String>,
    /// Where "Archive trace" POSTs a trace's spans (`ZIPKIN_UI_ARCHIVE_POST_URL`).
    pub archive_post_url: Option<String>,
    /// Where an archived trace is viewed, `{traceId}` replaced (`ZIPKIN_UI_ARCHIVE_URL`).
    pub archive_url: Option<String>,
    /// Error rate from which a dependency link gets the warning colour; above 1: never.
    pub dependency_low_error_rate: f64,
    /// Error rate from which a dependency link gets the error colour; above 1: never.
    pub dependency_high_error_rate: f64,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            base_path: "/zipkin".to_owned(),
            default_lookback_ms: 15 * 60 * 1000,
            query_limit: 10,
            search_enabled: true,
            dependency_enabled: true,
            environment: String::new(),
            logs_url: None,
            support_url: None,
            archive_post_url: None,
            archive_url: None,
            dependency_low_error_rate: 0.5,
            dependency_high_error_rate: 0.75,
        }
    }
}

/// Zipkin's fixed UI path, where the UI is also served when the base path differs.
pub const ZIPKIN_BASE_PATH: &str = "/zipkin";

/// Cache lifetimes, as Zipkin's UI configuration sets them.
const INDEX_CACHE: &str = "max-age=60";
const CONFIG_CACHE: &str = "max-age=600";
const VERSIONED_CACHE: &str = "public, max-age=31536000, immutable";
const REVALIDATE_CACHE: &str = "no-cache";

/// The router for the UI: `Router<()>`, ready to be merged into the application.
pub fn router(config: UiConfig) -> Router {
    let base = config.base_path.trim_end_matches('/').to_owned();
    let source = match std::env::var_os("ZIPWIRE_UI_DIR") {
        Some(dir) if !dir.is_empty() => Source::Disk(PathBuf::from(dir)),
        _ => Source::Embedded,
    };
    let state = Arc::new(UiState::new(&base, &config, source));

    let mut router = Router::new();
    if !base.is_empty() {
        // At the root the icon is a file of the UI itself; a redirect would loop.
        router = router.route("/favicon.ico", get(favicon));
    }
    let mut mounts = vec![base.clone()];
    if base != ZIPKIN_BASE_PATH {
        mounts.push(ZIPKIN_BASE_PATH.to_owned());
    }
    for mount in &mounts {
        router = router
            .route(&format!("{mount}/"), get(index))
            .route(&format!("{mount}/index.html"), get(index))
            .route(&format!("{mount}/config.json"), get(config_json))
            .route(&format!("{mount}/{{*path}}"), get(asset_or_route));
        if !mount.is_empty() {
            let location = format!("{mount}/");
            router = router.route(mount, get(move || async move { redirect(&location) }));
        }
    }
    if !base.is_empty() {
        router = router.route("/", get(to_base));
    }
    router.with_state(state)
}

enum Source {
    Embedded,
    Disk(PathBuf),
}

struct UiState {
    base: String,
    source: Source,
    /// `index.html` as served from the embedded files, rendered once.
    index: Option<Rendered>,
    config: Rendered,
}

/// A body with its entity tag, computed once.
struct Rendered {
    body: Vec<u8>,
    etag: String,
}

impl Rendered {
    fn new(body: Vec<u8>) -> Self {
        let etag = format!("\"{}\"", short_hash(&body));
        Self { body, etag }
    }
}

/// Zipkin's `config.json` fields, in Zipkin's order; keys the UI does not use are kept so
/// Lens-aware tools reading this file see the shape they expect. Unset and empty URLs are
/// `null`, as Zipkin writes them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigJson<'a> {
    environment: &'a str,
    query_limit: usize,
    default_lookback: u64,
    search_enabled: bool,
    logs_url: Option<&'a str>,
    support_url: Option<&'a str>,
    archive_post_url: Option<&'a str>,
    archive_url: Option<&'a str>,
    dependency: DependencyJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DependencyJson {
    enabled: bool,
    low_error_rate: f64,
    high_error_rate: f64,
}

impl UiState {
    fn new(base: &str, config: &UiConfig, source: Source) -> Self {
        let config_json = ConfigJson {
            environment: &config.environment,
            query_limit: config.query_limit,
            default_lookback: config.default_lookback_ms,
            search_enabled: config.search_enabled,
            logs_url: non_empty(&config.logs_url),
            support_url: non_empty(&config.support_url),
            archive_post_url: non_empty(&config.archive_post_url),
            archive_url: non_empty(&config.archive_url),
            dependency: DependencyJson {
                enabled: config.dependency_enabled,
                low_error_rate: config.dependency_low_error_rate,
                high_error_rate: config.dependency_high_error_rate,
            },
        };
        // Serialising a struct of strings, numbers and booleans cannot fail.
        let config_body = serde_json::to_vec_pretty(&config_json).unwrap_or_default();
        let index = match source {
            Source::Embedded => Assets::get("index.html").map(|file| {
                let versions = embedded_versions();
                Rendered::new(render_index(&file.data, base, &versions, &config_body).into_bytes())
            }),
            Source::Disk(_) => None,
        };
        Self {
            base: base.to_owned(),
            source,
            index,
            config: Rendered::new(config_body),
        }
    }
}

fn non_empty(url: &Option<String>) -> Option<&str> {
    url.as_deref().map(str::trim).filter(|url| !url.is_empty())
}

/// Content hash of every embedded file, keyed by its path under `static/`.
fn embedded_versions() -> BTreeMap<String, String> {
    Assets::iter()
        .filter_map(|path| {
            let file = Assets::get(&path)?;
            let hash = hex(&file.metadata.sha256_hash()[..6]);
            Some((path.into_owned(), hash))
        })
        .collect()
}

/// Points `<base href>` at the base path, versions asset references (see the module doc)
/// and inlines `config.json`, which saves the page a request before it can draw anything.
fn render_index(
    html: &[u8],
    base: &str,
    versions: &BTreeMap<String, String>,
    config: &[u8],
) -> String {
    let mut html = String::from_utf8_lossy(html).replace(
        "<base href=\"/zipkin/\">",
        &format!("<base href=\"{base}/\">"),
    );
    for (path, hash) in versions {
        for attr in ["src", "href"] {
            html = html.replace(
                &format!("{attr}=\"{path}\""),
                &format!("{attr}=\"{path}?v={hash}\""),
            );
        }
    }
    let imports: BTreeMap<String, String> = versions
        .iter()
        .filter(|(path, _)| path.ends_with(".js"))
        .map(|(path, hash)| (format!("{base}/{path}"), format!("{base}/{path}?v={hash}")))
        .collect();
    let map = serde_json::json!({ "imports": imports });
    // `</` cannot end the script element early once written as the JSON escape `<\/`.
    let config = String::from_utf8_lossy(config).replace("</", "<\\/");
    html.replace(
        "<!-- importmap -->",
        &format!(
            "<script type=\"importmap\">{map}</script>\n  \
             <script id=\"zipwire-config\" type=\"application/json\">{config}</script>"
        ),
    )
}

/// `GET /`: Zipkin answers 302 with a relative location, which survives reverse proxies.
/// (`GET /zipkin` and `GET <base>` redirect to themselves with a slash.)
async fn to_base(State(state): State<Arc<UiState>>) -> Response {
    redirect(&format!("{}/", state.base))
}

/// `GET /favicon.ico`: browsers ask at the root; the icon lives with the UI.
async fn favicon(State(state): State<Arc<UiState>>) -> Response {
    redirect(&format!("{}/favicon.ico", state.base))
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /zipkin/`, `/zipkin/index.html` and every client-side route.
async fn index(State(state): State<Arc<UiState>>, headers: HeaderMap) -> Response {
    match (&state.source, &state.index) {
        (Source::Embedded, Some(index)) => {
            cached(&headers, index, "text/html; charset=utf-8", INDEX_CACHE)
        }
        (Source::Embedded, None) => StatusCode::NOT_FOUND.into_response(),
        (Source::Disk(dir), _) => match read_disk(dir, "index.html") {
            Some(bytes) => {
                let html = render_index(&bytes, &state.base, &BTreeMap::new(), &state.config.body);
                uncached(html.into_bytes(), "text/html; charset=utf-8")
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
    }
}

/// `GET /zipkin/config.json`.
async fn config_json(State(state): State<Arc<UiState>>, headers: HeaderMap) -> Response {
    cached(&headers, &state.config, "application/json", CONFIG_CACHE)
}

/// Any other path under the base: a file if there is one, else the SPA's `index.html`.
async fn asset_or_route(
    State(state): State<Arc<UiState>>,
    UrlPath(path): UrlPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let content_type = content_type(&path);
    match &state.source {
        Source::Embedded => {
            if let Some(file) = Assets::get(&path) {
                let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..6]));
                let versioned = query
                    .as_deref()
                    .and_then(|q| q.strip_prefix("v="))
                    .is_some_and(|v| etag.trim_matches('"') == v);
                let cache = if versioned {
                    VERSIONED_CACHE
                } else {
                    REVALIDATE_CACHE
                };
                if if_none_match(&headers, &etag) {
                    return not_modified(&etag, cache);
                }
                return file_response(file.data.into_owned(), content_type, cache, Some(&etag));
            }
        }
        Source::Disk(dir) => {
            if let Some(bytes) = read_disk(dir, &path) {
                return uncached(bytes, content_type);
            }
        }
    }
    if looks_like_asset(&path) {
        return StatusCode::NOT_FOUND.into_response();
    }
    index(State(state), headers).await
}

/// True for paths whose last segment has a file extension: those are never SPA routes
/// (trace ids and page names have no dots).
fn looks_like_asset(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    last.contains('.') || path.starts_with("api/")
}

/// Reads `path` under `dir`, refusing anything that could climb out of it.
fn read_disk(dir: &Path, path: &str) -> Option<Vec<u8>> {
    let relative = Path::new(path);
    if !relative
        .components()
        .all(|part| matches!(part, Component::Normal(_)))
    {
        return None;
    }
    let full = dir.join(relative);
    if !full.is_file() {
        return None;
    }
    std::fs::read(full).ok()
}

fn cached(headers: &HeaderMap, rendered: &Rendered, content_type: &str, cache: &str) -> Response {
    if if_none_match(headers, &rendered.etag) {
        return not_modified(&rendered.etag, cache);
    }
    file_response(
        rendered.body.clone(),
        content_type,
        cache,
        Some(&rendered.etag),
    )
}

fn uncached(body: Vec<u8>, content_type: &str) -> Response {
    file_response(body, content_type, REVALIDATE_CACHE, None)
}

fn file_response(body: Vec<u8>, content_type: &str, cache: &str, etag: Option<&str>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(cache).unwrap_or(HeaderValue::from_static("no-cache")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(value) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        headers.insert(header::ETAG, value);
    }
    response
}

fn not_modified(etag: &str, cache: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(cache) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    response
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
}

/// Content types for the kinds of files the UI ships; browsers refuse modules served with
/// anything but a JavaScript type.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ if !path.rsplit('/').next().unwrap_or("").contains('.') => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn short_hash(bytes: &[u8]) -> String {
    // FNV-1a over the body: the rendered files are small and only need a change detector.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_path(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router(UiConfig::default())
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[track_caller]
    fn header<'a>(response: &'a Response, name: &str) -> &'a str {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name}"))
            .to_str()
            .unwrap()
    }

    #[tokio::test]
    async fn root_and_bare_base_redirect_to_the_base_with_a_slash() {
        for path in ["/", "/zipkin"] {
            let response = get_path(path, &[]).await;
            assert_eq!(response.status(), StatusCode::FOUND, "{path}");
            assert_eq!(header(&response, "location"), "/zipkin/", "{path}");
        }
    }

    #[tokio::test]
    async fn favicon_at_the_root_redirects_into_the_ui() {
        let response = get_path("/favicon.ico", &[]).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(header(&response, "location"), "/zipkin/favicon.ico");
        let icon = get_path("/zipkin/favicon.ico", &[]).await;
        assert_eq!(icon.status(), StatusCode::OK);
        assert_eq!(header(&icon, "content-type"), "image/x-icon");
    }

    #[tokio::test]
    async fn index_is_html_with_a_short_cache_and_versioned_assets() {
        for path in ["/zipkin/", "/zipkin/index.html"] {
            let response = get_path(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header(&response, "content-type"),
                "text/html; charset=utf-8"
            );
            assert_eq!(header(&response, "cache-control"), "max-age=60");
            let html = body_text(response).await;
            assert!(html.contains("<base href=\"/zipkin/\">"));
            assert!(html.contains("<script type=\"importmap\">"));
            assert!(html.contains("js/main.js?v="), "entry module is versioned");
            assert!(html.contains("css/app.css?v="), "stylesheet is versioned");
        }
    }

    #[tokio::test]
    async fn index_inlines_the_configuration_safely() {
        let config = UiConfig {
            environment: "</script><b>".to_owned(),
            ..UiConfig::default()
        };
        let response = router(config)
            .oneshot(Request::get("/zipkin/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let html = body_text(response).await;
        let start = html.find("<script id=\"zipwire-config\"").unwrap();
        let json_start = start + html[start..].find('>').unwrap() + 1;
        let json_end = json_start + html[json_start..].find("</script>").unwrap();
        let json: serde_json::Value = serde_json::from_str(&html[json_start..json_end]).unwrap();
        assert_eq!(json["environment"], "</script><b>");
        assert_eq!(json["queryLimit"], 10);
    }

    #[tokio::test]
    async fn client_side_routes_answer_the_index() {
        for path in [
            "/zipkin/traces/463ac35c9f6413ad",
            "/zipkin/dependency",
            "/zipkin/traceViewer",
            "/zipkin/some/deep/route",
        ] {
            let response = get_path(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header(&response, "content-type"),
                "text/html; charset=utf-8"
            );
            assert!(body_text(response)
                .await
                .contains("<base href=\"/zipkin/\">"));
        }
    }

    #[tokio::test]
    async fn missing_assets_are_404_not_the_index() {
        for path in [
            "/zipkin/js/nope.js",
            "/zipkin/css/nope.css",
            "/zipkin/api/v2/nope",
        ] {
            let response = get_path(path, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[tokio::test]
    async fn assets_have_their_content_types() {
        let cases = [
            ("/zipkin/js/main.js", "text/javascript; charset=utf-8"),
            ("/zipkin/css/app.css", "text/css; charset=utf-8"),
            (
                "/zipkin/vendor/dagre/dagre.esm.js",
                "text/javascript; charset=utf-8",
            ),
            ("/zipkin/vendor/dagre/LICENSE", "text/plain; charset=utf-8"),
            ("/zipkin/favicon.svg", "image/svg+xml"),
        ];
        for (path, expected) in cases {
            let response = get_path(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&response, "content-type"), expected, "{path}");
            assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        }
    }

    #[tokio::test]
    async fn versioned_assets_are_cached_for_a_year_and_others_revalidate() {
        let plain = get_path("/zipkin/js/main.js", &[]).await;
        assert_eq!(header(&plain, "cache-control"), "no-cache");
        let etag = header(&plain, "etag").to_owned();
        let version = etag.trim_matches('"');

        let versioned = get_path(&format!("/zipkin/js/main.js?v={version}"), &[]).await;
        assert_eq!(
            header(&versioned, "cache-control"),
            "public, max-age=31536000, immutable"
        );

        let stale = get_path("/zipkin/js/main.js?v=000000000000", &[]).await;
        assert_eq!(header(&stale, "cache-control"), "no-cache");
    }

    #[tokio::test]
    async fn matching_etag_answers_not_modified() {
        let first = get_path("/zipkin/css/app.css", &[]).await;
        let etag = header(&first, "etag").to_owned();
        let second = get_path("/zipkin/css/app.css", &[("if-none-match", &etag)]).await;
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        assert!(body_text(second).await.is_empty());
    }

    #[tokio::test]
    async fn config_json_has_zipkins_shape_and_cache() {
        let response = get_path("/zipkin/config.json", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(header(&response, "cache-control"), "max-age=600");
        assert!(response.headers().contains_key("etag"));
        let json: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "environment": "",
                "queryLimit": 10,
                "defaultLookback": 900000,
                "searchEnabled": true,
                "logsUrl": null,
                "supportUrl": null,
                "archivePostUrl": null,
                "archiveUrl": null,
                "dependency": {"enabled": true, "lowErrorRate": 0.5, "highErrorRate": 0.75}
            })
        );
    }

    #[tokio::test]
    async fn config_json_reflects_the_server_settings() {
        let config = UiConfig {
            query_limit: 25,
            default_lookback_ms: 3_600_000,
            search_enabled: false,
            dependency_enabled: false,
            environment: "staging".to_owned(),
            ..UiConfig::default()
        };
        let response = router(config)
            .oneshot(
                Request::get("/zipkin/config.json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(json["queryLimit"], 25);
        assert_eq!(json["defaultLookback"], 3_600_000);
        assert_eq!(json["searchEnabled"], false);
        assert_eq!(json["dependency"]["enabled"], false);
        assert_eq!(json["environment"], "staging");
    }

    #[tokio::test]
    async fn another_base_path_rewrites_base_href_and_redirects() {
        let config = UiConfig {
            base_path: "/tracing/ui".to_owned(),
            ..UiConfig::default()
        };
        let app = router(config);
        let redirect = app
            .clone()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(header(&redirect, "location"), "/tracing/ui/");
        let index = app
            .oneshot(
                Request::get("/tracing/ui/traces/abc")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let html = body_text(index).await;
        assert!(html.contains("<base href=\"/tracing/ui/\">"));
        assert!(
            html.contains("\"/tracing/ui/js/main.js\""),
            "import map uses the base"
        );
    }

    async fn get_with(config: UiConfig, path: &str) -> Response {
        router(config)
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn configured() -> UiConfig {
        UiConfig {
            environment: "staging".to_owned(),
            logs_url: Some("https://logs.example/?q={traceId}".to_owned()),
            support_url: Some("https://help.example/".to_owned()),
            archive_post_url: Some("http://archive:9411/api/v2/spans".to_owned()),
            archive_url: Some("http://archive:9411/zipkin/traces/{traceId}".to_owned()),
            dependency_low_error_rate: 0.3,
            dependency_high_error_rate: 2.0,
            ..UiConfig::default()
        }
    }

    #[tokio::test]
    async fn config_json_carries_the_urls_and_error_rates_in_zipkins_order() {
        let text = body_text(get_with(configured(), "/zipkin/config.json").await).await;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "environment": "staging",
                "queryLimit": 10,
                "defaultLookback": 900000,
                "searchEnabled": true,
                "logsUrl": "https://logs.example/?q={traceId}",
                "supportUrl": "https://help.example/",
                "archivePostUrl": "http://archive:9411/api/v2/spans",
                "archiveUrl": "http://archive:9411/zipkin/traces/{traceId}",
                "dependency": {"enabled": true, "lowErrorRate": 0.3, "highErrorRate": 2.0}
            })
        );
        let keys = [
            "\"environment\"",
            "\"queryLimit\"",
            "\"defaultLookback\"",
            "\"searchEnabled\"",
            "\"logsUrl\"",
            "\"supportUrl\"",
            "\"archivePostUrl\"",
            "\"archiveUrl\"",
            "\"dependency\"",
            "\"enabled\"",
            "\"lowErrorRate\"",
            "\"highErrorRate\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[tokio::test]
    async fn empty_urls_are_null_as_in_zipkin() {
        let config = UiConfig {
            logs_url: Some(String::new()),
            support_url: Some("  ".to_owned()),
            ..UiConfig::default()
        };
        let json: serde_json::Value =
            serde_json::from_str(&body_text(get_with(config, "/zipkin/config.json").await).await)
                .unwrap();
        assert_eq!(json["logsUrl"], serde_json::Value::Null);
        assert_eq!(json["supportUrl"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn another_base_path_keeps_the_ui_at_zipkin_too() {
        // A reverse proxy mapping /tracing/ onto /zipkin/ (Zipkin's setup) still gets a
        // page whose links point at /tracing/.
        let config = || UiConfig {
            base_path: "/tracing".to_owned(),
            ..configured()
        };
        for path in ["/tracing/", "/zipkin/", "/zipkin/traces/abc"] {
            let response = get_with(config(), path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let html = body_text(response).await;
            assert!(html.contains("<base href=\"/tracing/\">"), "{path}");
        }
        for (path, location) in [
            ("/", "/tracing/"),
            ("/tracing", "/tracing/"),
            ("/zipkin", "/zipkin/"),
            ("/favicon.ico", "/tracing/favicon.ico"),
        ] {
            let response = get_with(config(), path).await;
            assert_eq!(response.status(), StatusCode::FOUND, "{path}");
            assert_eq!(header(&response, "location"), location, "{path}");
        }
        let json = body_text(get_with(config(), "/tracing/config.json").await).await;
        assert!(json.contains("\"staging\""), "{json}");
    }

    #[tokio::test]
    async fn a_root_base_path_serves_the_ui_at_the_root() {
        let config = || UiConfig {
            base_path: String::new(),
            ..UiConfig::default()
        };
        let index = get_with(config(), "/").await;
        assert_eq!(index.status(), StatusCode::OK);
        assert!(body_text(index).await.contains("<base href=\"/\">"));
        let icon = get_with(config(), "/favicon.ico").await;
        assert_eq!(
            icon.status(),
            StatusCode::OK,
            "served, not redirected to itself"
        );
        let route = get_with(config(), "/traces/abc").await;
        assert_eq!(route.status(), StatusCode::OK);
        let zipkin = get_with(config(), "/zipkin/").await;
        assert!(body_text(zipkin).await.contains("<base href=\"/\">"));
    }

    #[test]
    fn disk_reads_refuse_to_leave_the_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        assert!(read_disk(&dir, "index.html").is_some());
        assert!(read_disk(&dir, "../Cargo.toml").is_none());
        assert!(read_disk(&dir, "/etc/passwd").is_none());
        assert!(read_disk(&dir, "js").is_none(), "folders are not files");
    }
}
