//! The server: its routes, the checks before them, and its own thread and runtime, so a
//! busy host loop never delays a page (and a page never the host).

use crate::fleet;
use crate::guard::{self, Allowed, COOKIE, Who};
use crate::live::{self, Feed, Update};
use crate::login::{self, Sessions};
use crate::published::Published;
use crate::session::{self, Ops, Said};
use crate::settings::Settings;
use ao_core::stream::{Hub, Service};
use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

const BOARD_HTML: &str = include_str!("../assets/board.html");
const LOGIN_HTML: &str = include_str!("../assets/login.html");
const BOARD_CSS: &str = include_str!("../assets/board.css");
const BOARD_JS: &str = include_str!("../assets/board.js");
const SESSION_HTML: &str = include_str!("../assets/session.html");
const SESSION_CSS: &str = include_str!("../assets/session.css");
const SESSION_JS: &str = include_str!("../assets/session.js");
const PAGES_HTML: &str = include_str!("../assets/pages.html");
const PAGES_JS: &str = include_str!("../assets/pages.js");
// xterm.js, vendored from npm (assets/vendor/README.md): versioned names, cached for good.
const XTERM_JS: &str = include_str!("../assets/vendor/xterm.js");
const XTERM_CSS: &str = include_str!("../assets/vendor/xterm.css");
const FIT_JS: &str = include_str!("../assets/vendor/addon-fit.js");

/// The policy of every page: nothing but this server's own files.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The session page's: the same, except that xterm.js's renderer writes `<style>`
/// elements (its cell sizes and colours), which `style-src 'self'` would block. Scripts
/// stay limited to this server's files.
const SESSION_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How often an idle page's stream carries a keep-alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Why the dashboard does not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be listened on.
    #[error("the dashboard cannot listen on {addr}: {source}")]
    Bind {
        /// Where.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No thread for the server.
    #[error("the dashboard cannot start its thread: {0}")]
    Thread(std::io::Error),
    /// The certificate or key of `dashboard.tls` cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

impl ServeError {
    /// What to do.
    pub fn hint(&self) -> String {
        match self {
            ServeError::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
                format!(
                    "another program listens on port {}: `ao start --port N` or `port:` in the config picks another, `--no-dashboard` runs without it",
                    addr.port()
                )
            }
            ServeError::Tls(_) => {
                "dashboard.tls names PEM files: the certificate chain (`cert`) and its private key (`key`); `ao start --no-dashboard` runs the host without it".into()
            }
            _ => "`ao start --no-dashboard` runs the host without it".into(),
        }
    }
}

/// What every handler shares.
pub(crate) struct App {
    settings: Settings,
    /// Whether it serves HTTPS (the cookie is then `Secure`).
    secure: bool,
    allowed: Allowed,
    sessions: Sessions,
    pub(crate) hubs: watch::Receiver<Option<Hub>>,
    pub(crate) ops: Ops,
    /// The panes the session pages watch, one watcher per pane.
    panes: ao_core::pane::Panes,
    /// The webhook deliveries seen lately, to drop repeats.
    seen: crate::webhook::Seen,
    /// When a refused delivery was last logged (milliseconds), so a flood logs little.
    refusal_logged: std::sync::atomic::AtomicI64,
    /// Turns to read a webhook's body.
    bodies: tokio::sync::Semaphore,
    /// What each project's scm calls itself, once asked.
    scm_names: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// The dashboard, serving; dropped, it stops and its address is withdrawn.
pub struct Running {
    published: Published,
    home: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The address to open (no token in it).
    pub fn url(&self) -> &str {
        &self.published.url
    }

    /// Where it listens, when that is not the URL's address.
    pub fn listening_on(&self) -> Option<&str> {
        self.published.listening_on.as_deref()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.published.remove(&self.home);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Listens as `settings` say (at once, so a port in use is said before the host goes on)
/// and serves on a thread of its own, with the stream of whichever host service this
/// process runs.
pub fn start(settings: Settings, ops: Ops) -> Result<Running, ServeError> {
    let tls = settings
        .tls
        .as_ref()
        .map(crate::tls::acceptor)
        .transpose()?;
    let addr = std::net::SocketAddr::new(settings.ip, settings.port);
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Bind { addr, source })?;
    // Listening on every address, the page is opened on loopback here.
    let shown_ip = if bound.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        bound.ip()
    };
    let published = Published {
        url: format!(
            "{}://{}",
            if tls.is_some() { "https" } else { "http" },
            std::net::SocketAddr::new(shown_ip, bound.port())
        ),
        pid: std::process::id(),
        listening_on: bound.ip().is_unspecified().then(|| bound.to_string()),
    };
    let home = settings.home.clone();
    let mut settings = settings;
    settings.webhooks.retain(|r| {
        let ours = reserved(&r.path);
        if ours {
            tracing::warn!(
                "the webhook path {} of project {} is one of the dashboard's own: it receives nothing; choose another `scm.webhook.path`",
                r.path,
                r.projects.join(", ")
            );
        }
        !ours
    });
    let app = Arc::new(App {
        allowed: Allowed::for_bind(bound.ip(), bound.port(), &settings.allowed_hosts),
        settings,
        secure: tls.is_some(),
        sessions: Sessions::default(),
        hubs: Service::running(),
        ops,
        panes: session::panes(),
        seen: Default::default(),
        refusal_logged: Default::default(),
        bodies: tokio::sync::Semaphore::new(BODIES_AT_ONCE),
        scm_names: Default::default(),
    });
    for note in &app.settings.webhook_notes {
        tracing::warn!("{note}");
    }
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("ao-dashboard".into())
        .spawn(move || serve(listener, tls, app, stopped))
        .map_err(ServeError::Thread)?;
    if let Err(e) = published.write(&home) {
        tracing::warn!("the dashboard could not publish its address for `ao dashboard`: {e}");
    }
    Ok(Running {
        published,
        home,
        stop: Some(stop),
        thread: Some(thread),
    })
}

fn serve(
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<App>,
    stopped: oneshot::Receiver<()>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!("the dashboard cannot start its runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("the dashboard cannot listen: {e}");
                return;
            }
        };
        let served = async move {
            match tls {
                Some(acceptor) => match crate::tls::TlsListener::new(listener, acceptor) {
                    Ok(l) => axum::serve(l, routes(app)).await,
                    Err(e) => Err(e),
                },
                None => axum::serve(listener, routes(app)).await,
            }
        };
        // Pages stay connected (their streams never end): stopping drops them.
        tokio::select! {
            r = served => if let Err(e) = r {
                tracing::warn!("the dashboard stopped: {e}");
            },
            _ = stopped => {}
        }
    });
    rt.shutdown_background();
}

fn routes(app: Arc<App>) -> Router {
    let private = Router::new()
        .route("/api/board", get(board))
        .route("/api/events", get(events))
        .route("/api/sessions/{id}", get(session_facts))
        .route("/api/sessions/{id}/terminal", get(terminal))
        .route("/api/sessions/{id}/send", post(send))
        .route("/api/sessions/{id}/kill", post(kill))
        .route("/api/sessions/{id}/restore", post(restore))
        .route("/api/sessions/{id}/merge", post(merge))
        .route("/api/sessions/{id}/claim", post(claim))
        .route("/api/sessions/{id}/question", get(question))
        .route("/api/sessions/{id}/answer", post(answer))
        .route("/api/projects", get(fleet::projects))
        .route("/api/projects/{project}/issues", get(fleet::issues))
        .route("/api/spawn", post(fleet::spawn))
        .route("/api/log", get(fleet::log))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(app.clone(), needs_login));
    let public_routes = Router::new()
        .route("/", get(index))
        .route("/login", get(login))
        .route("/session/{id}", get(session_page))
        .route("/prs", get(fleet_page))
        .route("/issues", get(fleet_page))
        .route("/spawn", get(fleet_page))
        .route("/events", get(fleet_page))
        .route(
            "/assets/pages.js",
            get(|| async { asset("text/javascript", PAGES_JS) }),
        )
        .route(
            "/assets/session.css",
            get(|| async { asset("text/css", SESSION_CSS) }),
        )
        .route(
            "/assets/session.js",
            get(|| async { asset("text/javascript", SESSION_JS) }),
        )
        .route(
            "/assets/vendor/xterm-6.0.0.js",
            get(|| async { vendored("text/javascript", XTERM_JS) }),
        )
        .route(
            "/assets/vendor/xterm-6.0.0.css",
            get(|| async { vendored("text/css", XTERM_CSS) }),
        )
        .route(
            "/assets/vendor/addon-fit-0.11.0.js",
            get(|| async { vendored("text/javascript", FIT_JS) }),
        )
        .route(
            "/assets/board.css",
            get(|| async { asset("text/css", BOARD_CSS) }),
        )
        .route(
            "/assets/board.js",
            get(|| async { asset("text/javascript", BOARD_JS) }),
        )
        .merge(private);
    let mut router = public_routes;
    for (i, r) in app.settings.webhooks.iter().enumerate() {
        router = router.route(
            &r.path,
            post(move |State(app): State<Arc<App>>, req: Request| receive(app, i, req)),
        );
    }
    router
        .layer(middleware::from_fn_with_state(app.clone(), public))
        .with_state(app)
}

/// The dashboard's own paths, which no webhook may take.
/// The dashboard's own paths, and those under them, which no webhook may take.
const RESERVED: &[&str] = &[
    "/login",
    "/logout",
    "/prs",
    "/issues",
    "/spawn",
    "/events",
    "/assets",
    "/session",
    "/api/sessions",
    "/api/projects",
    "/api/board",
    "/api/events",
    "/api/log",
    "/api/spawn",
];

/// Whether `path` is the dashboard's own.
fn reserved(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.is_empty()
        || RESERVED.iter().any(|r| {
            path == *r
                || path
                    .strip_prefix(r)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// Webhook bodies read at once; more wait their turn (each is at most `maxBodyBytes`).
const BODIES_AT_ONCE: usize = 4;

/// A webhook delivery to route `i`: verified and read at once, or refused.
async fn receive(app: Arc<App>, i: usize, req: Request) -> Response {
    use crate::webhook::{Refused, Taken};
    let route = &app.settings.webhooks[i];
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let text = |status: StatusCode, t: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            t + "\n",
        )
            .into_response()
    };
    // Nothing unsigned is read, and only a few bodies at a time.
    let read = async {
        crate::webhook::precheck(route, &header)?;
        let _turn = app.bodies.acquire().await;
        axum::body::to_bytes(body, route.max_body)
            .await
            .map_err(|_| Refused::TooLarge(route.max_body))
    };
    let taken = match read.await {
        Ok(body) => {
            crate::webhook::take(route, &app.seen, &header, &body, ao_core::model::now_ms())
        }
        Err(refused) => Err(refused),
    };
    match taken {
        Ok(Taken::Nudged(n)) => {
            let what = format!("{} delivery {} on {}", n.event, n.delivery, n.repo);
            let id = n.delivery.clone();
            if ao_core::session::nudge(n) {
                app.seen.taken(&id);
                text(
                    StatusCode::OK,
                    format!("taken: the host reads what {what} names"),
                )
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{what} verified, but the host is between configs; its next poll reads it"
                    ),
                )
            }
        }
        Ok(Taken::Repeat) => text(
            StatusCode::OK,
            "a repeat of a delivery already taken".into(),
        ),
        Ok(Taken::Ignored(event)) => {
            app.seen
                .taken(&header(&route.delivery_header).unwrap_or_default());
            text(
                StatusCode::OK,
                format!("verified; a `{event}` event names no pull request ao follows"),
            )
        }
        Err(refused) => {
            let (status, why) = match &refused {
                Refused::Unverified(why) => (StatusCode::UNAUTHORIZED, (*why).to_owned()),
                Refused::TooLarge(max) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {max} bytes (`scm.webhook.maxBodyBytes`)"),
                ),
                Refused::Malformed(why) => (StatusCode::BAD_REQUEST, why.clone()),
            };
            let now = ao_core::model::now_ms();
            let last = app
                .refusal_logged
                .load(std::sync::atomic::Ordering::Relaxed);
            if now - last > 60_000 {
                app.refusal_logged
                    .store(now, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!("a webhook delivery to {} was refused: {why}", route.path);
            }
            text(status, format!("refused: {why}"))
        }
    }
}

/// Host and Origin, for every route; and the headers every answer carries.
async fn public(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    // A webhook's signature is its authentication: it comes through a tunnel, with the
    // tunnel's Host, and carries nothing a browser could read.
    let hook = req.method() == Method::POST
        && app
            .settings
            .webhooks
            .iter()
            .any(|r| r.path == req.uri().path());
    let checked = if hook {
        Ok(Who::Anonymous)
    } else {
        check(&app, req.method(), req.headers(), false)
    };
    let mut res = match checked {
        Ok(who) => {
            let mut req = req;
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        Err(r) => refuse(r),
    };
    let h = res.headers_mut();
    // A page with a policy of its own keeps it.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    for (k, v) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    res
}

/// The login, for the routes that read or act on the fleet.
async fn needs_login(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    match check(&app, req.method(), req.headers(), true) {
        Ok(_) => next.run(req).await,
        Err(r) => refuse(r),
    }
}

fn check(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    login: bool,
) -> Result<Who, guard::Refusal> {
    guard::check(
        method,
        headers,
        &app.allowed,
        &app.sessions,
        app.settings.token.as_ref(),
        login,
    )
}

fn refuse(r: guard::Refusal) -> Response {
    let (status, text) = r.answer();
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A vendored file: its name carries its version, so it is cached for good.
fn vendored(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

fn html(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The board for a logged-in browser, else how to log in.
async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let logged_in = guard::cookie(&headers).is_some_and(|c| app.sessions.knows(c));
    html(if logged_in { BOARD_HTML } else { LOGIN_HTML })
}

/// `GET /login?token=...`: a one-time token from `ao dashboard` becomes a session cookie.
async fn login(State(app): State<Arc<App>>, req: Request) -> Response {
    let token = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .unwrap_or("");
    if !login::take_login(&app.settings.home, token) {
        tracing::info!("dashboard: a login link was refused (used, expired or never issued)");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "this login link was used already, has expired, or is not one ao issued: run `ao dashboard` for a new one\n",
        )
            .into_response();
    }
    let cookie = match app.sessions.open() {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot log in: {e}\n"),
            )
                .into_response();
        }
    };
    tracing::info!("dashboard: a browser logged in");
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_owned()),
            (
                header::SET_COOKIE,
                format!(
                    "{COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/{}",
                    if app.secure { "; Secure" } else { "" }
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// `POST /logout`: the session ends.
async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(c) = guard::cookie(&headers) {
        app.sessions.close(c);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/"),
            (
                header::SET_COOKIE,
                "ao_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
            ),
        ],
    )
        .into_response()
}

/// `GET /api/board`: every card now.
async fn board(State(app): State<Arc<App>>) -> Response {
    let mut hubs = app.hubs.clone();
    match live::snapshot(&mut hubs, app.settings.zones).await {
        Some(b) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            serde_json::to_string(&b).unwrap_or_default(),
        )
            .into_response(),
        None => no_stream(),
    }
}

pub(crate) fn no_stream() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the host's stream of changes is not running; its log says why\n",
    )
        .into_response()
}

/// `GET /api/events`: the board as server-sent events, resumed from `Last-Event-ID`.
async fn events(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(live::resume_point);
    let mut hubs = app.hubs.clone();
    if live::hub(&mut hubs).await.is_none() {
        return no_stream();
    }
    let feed = Feed::new(hubs, app.settings.zones, resume);
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let sent = feed.next().await?;
        let (name, data) = match &sent.update {
            Update::Snapshot(b) => ("snapshot", serde_json::to_string(b)),
            Update::Card(c) => ("card", serde_json::to_string(c)),
            Update::Gone(id) => (
                "gone",
                serde_json::to_string(&serde_json::json!({ "id": id })),
            ),
            Update::Event(e) => ("event", serde_json::to_string(e)),
        };
        let event = Event::default()
            .event(name)
            .id(sent.id)
            .data(data.unwrap_or_default())
            .retry(Duration::from_secs(1));
        Some((Ok::<_, Infallible>(event), feed))
    });
    let mut res = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /prs`, `/issues`, `/spawn`, `/events`: the fleet's pages (one page, drawn by
/// its path) for a logged-in browser, else how to log in.
async fn fleet_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let logged_in = guard::cookie(&headers).is_some_and(|c| app.sessions.knows(c));
    html(if logged_in { PAGES_HTML } else { LOGIN_HTML })
}

/// `GET /session/<id>`: the session's page for a logged-in browser, else how to log in.
async fn session_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let logged_in = guard::cookie(&headers).is_some_and(|c| app.sessions.knows(c));
    if !logged_in {
        return html(LOGIN_HTML);
    }
    let mut res = html(SESSION_HTML);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SESSION_CSP),
    );
    res
}

pub(crate) fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string(body).unwrap_or_default(),
    )
        .into_response()
}

/// `GET /api/sessions/<id>`: what the page shows beside the terminal.
async fn session_facts(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let mut hubs = app.hubs.clone();
    let Some(hub) = live::hub(&mut hubs).await else {
        return no_stream();
    };
    // The scm's name for the words "does not consider it mergeable"; a config that
    // builds no manager just now still shows the facts.
    let project = id
        .parse::<ao_core::model::SessionId>()
        .ok()
        .and_then(|sid| hub.state().session(&sid).map(|s| s.session.project.clone()));
    let scm_name = match project {
        Some(p) => scm_name(&app, p).await,
        None => "the scm".to_owned(),
    };
    match session::facts(&hub.state(), &id, app.settings.zones, &scm_name) {
        Some(f) => json(StatusCode::OK, &f),
        None => json(
            StatusCode::NOT_FOUND,
            &Said {
                ok: false,
                message: format!("no live session {id}"),
                hint: Some("`ao status` lists the sessions; an archived one is not shown".into()),
            },
        ),
    }
}

/// What project `project`'s scm calls itself: asked of a manager once (off the
/// server's thread: building one reads the config), then kept.
async fn scm_name(app: &Arc<App>, project: String) -> String {
    if let Some(name) = app
        .scm_names
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&project)
    {
        return name.clone();
    }
    let ask = app.clone();
    let key = project.clone();
    let name = tokio::task::spawn_blocking(move || match (ask.ops.manager)() {
        Ok(m) => Some(m.scm_name(&key)),
        Err(_) => None,
    })
    .await
    .ok()
    .flatten();
    match name {
        Some(name) => {
            app.scm_names
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(project, name.clone());
            name
        }
        None => "the scm".to_owned(),
    }
}

/// A manager for one request, or the answer saying why there is none.
pub(crate) fn manager(app: &App) -> Result<Arc<ao_core::session::Manager>, Box<Response>> {
    (app.ops.manager)().map_err(|e| {
        Box::new(json(
            StatusCode::SERVICE_UNAVAILABLE,
            &Said {
                ok: false,
                message: e,
                hint: Some("the host's log says more".into()),
            },
        ))
    })
}

/// The answer to an action: done, or the CLI's refusal.
fn acted<T>(app: &App, r: Result<T, ao_core::session::ManagerError>, done: String) -> Response {
    match r {
        Ok(_) => json(StatusCode::OK, &Said::done(done)),
        Err(e) => json(StatusCode::CONFLICT, &Said::refused(&app.ops, &e)),
    }
}

/// `POST /api/sessions/<id>/send` with `{"text": ...}`: `ao send`.
async fn send(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct Line {
        text: String,
    }
    let line = match serde_json::from_slice::<Line>(&body) {
        Ok(l) if !l.text.trim().is_empty() => l,
        _ => {
            return json(
                StatusCode::BAD_REQUEST,
                &Said {
                    ok: false,
                    message: "nothing to send: the body is {\"text\": \"...\"} with some text"
                        .into(),
                    hint: None,
                },
            );
        }
    };
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let r = m.send(&id, &line.text).await;
    acted(&app, r, format!("sent to {id}"))
}

/// `POST /api/sessions/<id>/kill`: `ao session kill`, refused over unsaved work.
async fn kill(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let r = m.kill(&id, Default::default()).await;
    acted(&app, r, format!("{id} killed"))
}

/// `POST /api/sessions/<id>/restore`: `ao session restore`.
async fn restore(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let r = m.restore(&id).await;
    acted(&app, r, format!("{id} restored"))
}

/// A JSON body's fields, or the answer saying what it should have been.
fn body_of<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, Box<Response>> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        Box::new(json(
            StatusCode::BAD_REQUEST,
            &Said {
                ok: false,
                message: format!("the body is not {shape}: {e}"),
                hint: None,
            },
        ))
    })
}

/// `POST /api/sessions/<id>/merge`, optionally with `{"method": "merge"|"squash"|"rebase"}`:
/// `ao session merge`: reads the PR now and merges the head it read, or says what blocks it.
async fn merge(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct How {
        #[serde(default)]
        method: Option<ao_core::plugin::MergeMethod>,
    }
    let how = match body_of::<How>(&body, r#"{"method": "merge" | "squash" | "rebase"}"#) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let method = how.method.unwrap_or(ao_core::plugin::MergeMethod::Merge);
    match m.merge(&id, method, false).await {
        Ok(pr) => {
            let head: String = pr.head_sha.chars().take(12).collect();
            let message = format!("{id}: merged pull request #{} at {head}", pr.pr.number);
            json(StatusCode::OK, &Said::done(message))
        }
        Err(e) => json(StatusCode::CONFLICT, &Said::refused(&app.ops, &e)),
    }
}

/// `POST /api/sessions/<id>/claim` with `{"pr": "12"}` (a number, `#12` or its address):
/// `ao session claim-pr`.
async fn claim(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct Which {
        pr: String,
    }
    let which = match body_of::<Which>(&body, r#"{"pr": "<number, #number or address>"}"#) {
        Ok(w) if !w.pr.trim().is_empty() => w,
        Ok(_) => {
            return json(
                StatusCode::BAD_REQUEST,
                &Said {
                    ok: false,
                    message: "which pull request? the body is {\"pr\": \"12\"}".into(),
                    hint: None,
                },
            );
        }
        Err(r) => return *r,
    };
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    match m.claim_pr(&id, which.pr.trim()).await {
        Ok(c) => {
            let mut message = format!("{id} now owns pull request #{}", c.status.pr.number);
            if let Some(from) = &c.switched_from {
                message.push_str(&format!(
                    "; its checkout moved from {from} to {}",
                    c.status.head_branch
                ));
            }
            for other in &c.taken_from {
                message.push_str(&format!("; {other} no longer has it"));
            }
            json(StatusCode::OK, &Said::done(message))
        }
        Err(e) => json(StatusCode::CONFLICT, &Said::refused(&app.ops, &e)),
    }
}

/// `GET /api/sessions/<id>/question`: what the agent asks now, read afresh, and the
/// answers it offers (`{"asking": false}` when it asks nothing).
async fn question(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    match m.question(&id).await {
        Ok(Some(asked)) => json(
            StatusCode::OK,
            &serde_json::json!({
                "asking": true,
                "question": asked.question,
                "choices": asked.choices,
                "fingerprint": asked.fingerprint(),
            }),
        ),
        Ok(None) => json(StatusCode::OK, &serde_json::json!({ "asking": false })),
        Err(e) => json(StatusCode::CONFLICT, &Said::refused(&app.ops, &e)),
    }
}

/// `POST /api/sessions/<id>/answer` with `{"keys": "1", "fingerprint": "..."}` (as
/// `/question` gave them): types that answer once the agent, read again, still asks the
/// same question (another one, even with the same answers, is not answered blind).
async fn answer(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct Keys {
        keys: String,
        fingerprint: String,
    }
    let (keys, fingerprint) =
        match body_of::<Keys>(&body, r#"{"keys": "1", "fingerprint": "<from /question>"}"#) {
            Ok(k) => (k.keys, k.fingerprint),
            Err(r) => return *r,
        };
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let refused = |message: String| {
        json(
            StatusCode::CONFLICT,
            &Said {
                ok: false,
                message,
                hint: Some("the page shows what it asks now; its terminal takes any keys".into()),
            },
        )
    };
    let asked = match m.question(&id).await {
        Ok(Some(a)) => a,
        Ok(None) => return refused(format!("{id} asks nothing now")),
        Err(e) => return json(StatusCode::CONFLICT, &Said::refused(&app.ops, &e)),
    };
    if asked.fingerprint() != fingerprint {
        return refused(format!(
            "{id} asks another question now{}",
            asked
                .question
                .as_deref()
                .map(|q| format!(": {q}"))
                .unwrap_or_default()
        ));
    }
    let Some(choice) = asked.choices.iter().find(|c| c.keys == keys) else {
        return refused(format!("{id} does not offer that answer now"));
    };
    let r = m.type_keys(&id, &choice.keys).await;
    acted(&app, r, format!("answered {id}: {}", choice.label))
}

/// `GET /api/sessions/<id>/terminal`: the live terminal's WebSocket. A browser's must
/// carry this server's origin (the guard refused any other), as a mutating request's:
/// the socket types into the agent.
async fn terminal(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if who != Who::Script && !headers.contains_key(header::ORIGIN) {
        return refuse(guard::Refusal::Origin);
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let view = match m.watch_pane(&app.panes, &id).await {
        Ok(v) => v,
        Err(e) => return json(StatusCode::CONFLICT, &Said::refused(&app.ops, &e)),
    };
    let ops = app.ops.clone();
    ws.on_upgrade(move |socket| session::bridge(socket, view, m, ops, id))
}

#[cfg(test)]
mod tests {
    use super::reserved;

    #[test]
    fn a_webhook_cannot_take_the_dashboards_own_paths() {
        for ours in [
            "/",
            "/login",
            "/api/spawn",
            "/api/projects",
            "/api/projects/app/issues",
            "/assets/board.js",
            "/session/app-1",
            "/events/",
        ] {
            assert!(reserved(ours), "{ours}");
        }
        for free in [
            "/api/webhooks/github",
            "/hooks/gh",
            "/api/spawner",
            "/eventsx",
        ] {
            assert!(!reserved(free), "{free}");
        }
    }
}
