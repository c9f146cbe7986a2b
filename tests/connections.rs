//! The connection limits of the contract (section 7), against a real server on
//! 127.0.0.1: half-sent heads and idle keep-alive connections are closed on time, a body
//! that does not arrive gets 408, and none of them keeps the server from answering others.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Live;

/// The test configuration with short limits: a head within 1 s, idle for 5 s, a body
/// within 1 s.
fn live_with_short_limits() -> Live {
    let config = format!(
        "header_timeout_s = 1\nidle_timeout_s = 5\nrequest_timeout_s = 1\n{}",
        common::CONFIG
    );
    Live::start_with(&config)
}

fn address(live: &Live) -> String {
    live.base.trim_start_matches("http://").to_string()
}

/// Whether the server has closed `stream`: a read sees the end (or a reset) at once.
fn closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut byte = [0u8; 512];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    }
}

/// `GET /healthz` on a fresh connection answers within a second.
fn healthy(live: &Live) -> bool {
    let Ok(mut stream) = TcpStream::connect(address(live)) else {
        return false;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let sent = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    sent.is_ok() && stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.1 200")
}

#[test]
fn idle_and_half_sent_connections_are_closed_on_time_and_starve_nobody() {
    let live = live_with_short_limits();
    let addr = address(&live);
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut half_sent: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    assert!(healthy(&live), "others are answered meanwhile");
    // Soon after the header limit the half-sent heads are closed; the idle ones are not.
    let by = |deadline: Duration| opened + deadline;
    let open: Vec<usize> = half_sent
        .iter_mut()
        .enumerate()
        .filter_map(|(i, s)| (!closed_by(s, by(Duration::from_millis(4_000)))).then_some(i))
        .collect();
    assert!(
        open.is_empty(),
        "half-sent heads still open: {open:?} after {:?}",
        opened.elapsed()
    );
    assert!(
        opened.elapsed() < Duration::from_millis(4_500),
        "the machine is too slow for this test's timing"
    );
    assert!(
        !closed(&mut idle[0]),
        "an idle connection lives until its own limit"
    );
    assert!(healthy(&live));
    assert!(
        idle.iter_mut()
            .all(|s| closed_by(s, by(Duration::from_millis(8_000)))),
        "idle connections closed"
    );
}

/// Whether the server closes `stream` before `deadline`.
fn closed_by(stream: &mut TcpStream, deadline: Instant) -> bool {
    loop {
        if closed(stream) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
    }
}

#[test]
fn a_keep_alive_connection_serves_again_and_is_closed_when_idle() {
    let live = live_with_short_limits();
    let mut stream = TcpStream::connect(address(&live)).unwrap();
    for _ in 0..2 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        // Longer than the header limit, shorter than the idle one: still open.
        std::thread::sleep(Duration::from_millis(1_500));
    }
    let deadline = Instant::now() + Duration::from_secs(7);
    assert!(closed_by(&mut stream, deadline), "never closed");
}

#[test]
fn a_body_that_does_not_arrive_gets_408() {
    let live = live_with_short_limits();
    let mut stream = TcpStream::connect(address(&live)).unwrap();
    stream
        .write_all(
            b"POST /v1/inspections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ana-token\r\n\
              Content-Type: application/json\r\nIdempotency-Key: k1\r\nContent-Length: 100\r\n\r\n{\"fi",
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}
