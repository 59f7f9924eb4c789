//! The server: its routes, the checks before them, and its own thread and runtime, so a
//! busy host loop never delays a page (and a page never the host).

use crate::guard::{self, Allowed, COOKIE, Who};
use crate::live::{self, Feed, Update};
use crate::login::{self, Sessions};
use crate::published::Published;
use crate::settings::Settings;
use ao_core::stream::{Hub, Service};
use axum::Router;
use axum::extract::{Request, State};
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
struct App {
    settings: Settings,
    /// Whether it serves HTTPS (the cookie is then `Secure`).
    secure: bool,
    allowed: Allowed,
    sessions: Sessions,
    hubs: watch::Receiver<Option<Hub>>,
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
pub fn start(settings: Settings) -> Result<Running, ServeError> {
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
    let app = Arc::new(App {
        allowed: Allowed::for_bind(bound.ip(), bound.port(), &settings.allowed_hosts),
        settings,
        secure: tls.is_some(),
        sessions: Sessions::default(),
        hubs: Service::running(),
    });
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
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(app.clone(), needs_login));
    Router::new()
        .route("/", get(index))
        .route("/login", get(login))
        .route(
            "/assets/board.css",
            get(|| async { asset("text/css", BOARD_CSS) }),
        )
        .route(
            "/assets/board.js",
            get(|| async { asset("text/javascript", BOARD_JS) }),
        )
        .merge(private)
        .layer(middleware::from_fn_with_state(app.clone(), public))
        .with_state(app)
}

/// Host and Origin, for every route; and the headers every answer carries.
async fn public(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let checked = check(&app, req.method(), req.headers(), false);
    let mut res = match checked {
        Ok(who) => {
            let mut req = req;
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        Err(r) => refuse(r),
    };
    let h = res.headers_mut();
    for (k, v) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
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

fn no_stream() -> Response {
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
