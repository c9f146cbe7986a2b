//! Taking connections: each is served by hyper's HTTP/1 under the contract's limits — a
//! request head must arrive whole within `header_timeout_s` of its first byte, a
//! keep-alive connection idle for `idle_timeout_s` is closed — so slow or idle clients
//! never hold the server's sockets; and a graceful stop: on the signal no connection is
//! taken, the requests in flight are answered (for at most `request_timeout_s`), then
//! `serve_until` returns.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long a client may take: see the module's comment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header: Duration,
    pub idle: Duration,
    pub request: Duration,
}

/// Serves `router` on `listener` until `stop` completes, then lets the requests in flight
/// finish (at most `limits.request`) and returns.
pub async fn serve_until(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, router.clone(), limits, stopped.clone()));
                }
                // Out of file descriptors, say: wait for connections to close, never spin.
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut stop => break,
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stopping.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(limits.request + Duration::from_secs(1), drained).await;
}

/// One connection, until the client closes it, a limit runs out, or the server stops.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        tower_service_fn(move |request| {
            let activity = activity.clone();
            let router = router.clone();
            async move {
                activity.request_began();
                let response = tower_service::Service::call(&mut router.clone(), request).await;
                activity.request_ended();
                response
            }
        })
    };
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        // Dropping the connection closes its socket.
        () = activity.overdue(limits) => {}
        _ = stopped.changed() => {
            served.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.request, served).await;
        }
    }
}

/// A `tower::service_fn` of our own: the router's service per request.
fn tower_service_fn<F, Fut>(f: F) -> ServiceFn<F>
where
    F: Fn(axum::extract::Request<hyper::body::Incoming>) -> Fut,
{
    ServiceFn(f)
}

#[derive(Clone)]
struct ServiceFn<F>(F);

impl<F, Fut, R, E> tower_service::Service<axum::extract::Request<hyper::body::Incoming>>
    for ServiceFn<F>
where
    F: Fn(axum::extract::Request<hyper::body::Incoming>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    type Response = R;
    type Error = E;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request<hyper::body::Incoming>) -> Fut {
        (self.0)(request)
    }
}

/// What a connection is doing, for its limits: when bytes last came, when the head of
/// the next request began, and how many requests are being answered.
struct Activity {
    born: Instant,
    /// Milliseconds since `born`.
    last_read: AtomicU64,
    /// Milliseconds since `born` + 1 when a request head began and is not complete; 0 none.
    head_began: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            born: Instant::now(),
            last_read: AtomicU64::new(0),
            head_began: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    fn read_some(&self) {
        let now = self.now();
        self.last_read.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ =
                self.head_began
                    .compare_exchange(0, now + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn request_began(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_began.store(0, Ordering::Relaxed);
    }

    fn request_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.last_read.store(self.now(), Ordering::Relaxed);
    }

    /// Completes when the connection has outstayed a limit: a head begun and not finished
    /// within `header`, or nothing asked for `idle`. A request being answered keeps it.
    async fn overdue(&self, limits: Limits) {
        let every = (limits.header.min(limits.idle) / 4).max(Duration::from_millis(50));
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                continue;
            }
            let now = self.now();
            let began = self.head_began.load(Ordering::Relaxed);
            let late = if began > 0 {
                now.saturating_sub(began - 1) > limits.header.as_millis() as u64
            } else {
                now.saturating_sub(self.last_read.load(Ordering::Relaxed))
                    > limits.idle.as_millis() as u64
            };
            if late {
                return;
            }
        }
    }
}

/// The connection's socket, noting every read.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
