//! A loopback TCP proxy that injects network faults between the tool and one server: it passes
//! bytes through, stalls every connection (holds the bytes each way, and drops what it holds if
//! the peer gives up and closes), or, connection by connection, answers 503, drops the
//! connection before forwarding anything, or forwards the request and loses the answer (the
//! write landed; the client never hears of it). Faults hit new connections and, for a stall,
//! the open ones too.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass both ways.
    Pass = 0,
    /// Nothing passes either way: bytes are held while the stall lasts and forwarded when it
    /// heals, unless the side that sent them closed its connection meanwhile.
    Stall = 1,
    /// Every `FLAKY_EVERY`-th new connection gets one of three faults in turn: a 503 answer to
    /// its first request, a close before anything is forwarded, or its first request forwarded
    /// and the answer lost (the connection closed instead).
    Flaky = 2,
}

/// One connection in three is faulty in `Fault::Flaky`.
pub const FLAKY_EVERY: usize = 3;

pub struct FaultProxy {
    pub addr: String,
    state: Arc<Shared>,
}

struct Shared {
    fault: AtomicU8,
    upstream: String,
    connections: AtomicUsize,
    /// Faults injected so far (Flaky).
    injected: AtomicUsize,
    closed: AtomicBool,
}

impl Shared {
    fn fault(&self) -> Fault {
        match self.fault.load(Ordering::SeqCst) {
            1 => Fault::Stall,
            2 => Fault::Flaky,
            _ => Fault::Pass,
        }
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let state = Arc::new(Shared {
            fault: AtomicU8::new(Fault::Pass as u8),
            upstream,
            connections: AtomicUsize::new(0),
            injected: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.closed.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(client, &shared));
            }
        });
        FaultProxy { addr, state }
    }

    pub fn set(&self, fault: Fault) {
        self.state.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// Faults injected so far in `Fault::Flaky`.
    pub fn injected(&self) -> usize {
        self.state.injected.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.set(Fault::Pass);
        // Wake the accept loop so that it sees `closed`.
        let _ = TcpStream::connect(self.addr.trim_start_matches("http://"));
    }
}

fn serve(client: TcpStream, shared: &Arc<Shared>) {
    let n = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
    if shared.fault() == Fault::Flaky && n.is_multiple_of(FLAKY_EVERY) {
        shared.injected.fetch_add(1, Ordering::SeqCst);
        return flaky(client, &shared.upstream, (n / FLAKY_EVERY) % 3);
    }
    let Ok(server) = TcpStream::connect(&shared.upstream) else {
        return;
    };
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = {
        let shared = shared.clone();
        std::thread::spawn(move || pump(client, server, &shared))
    };
    pump(s2, c2, shared);
    let _ = up.join();
}

/// Copies `from` into `to` until `from` closes, holding bytes while the proxy is stalled; what
/// is held when `from` closes is dropped.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    from.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut held: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if shared.fault() != Fault::Stall && !held.is_empty() {
            if to.write_all(&held).is_err() {
                break;
            }
            held.clear();
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if shared.fault() == Fault::Stall => held.extend_from_slice(&buf[..n]),
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// One faulty connection: `which` 0 answers 503, 1 closes at once, 2 forwards the first
/// request and closes instead of answering.
fn flaky(mut client: TcpStream, upstream: &str, which: usize) {
    if which == 1 {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Some(request) = read_request(&mut client) else {
        return;
    };
    if which == 0 {
        let body = br#"{"errors":["injected: service unavailable"]}"#;
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = client.write_all(head.as_bytes());
        let _ = client.write_all(body);
    } else if let Ok(mut server) = TcpStream::connect(upstream) {
        // The request lands; its answer is read and thrown away.
        let _ = server.write_all(&request);
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = [0u8; 4096];
        let _ = server.read(&mut answer);
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// One HTTP/1.1 request (head and a `Content-Length` body) as its bytes.
fn read_request(client: &mut TcpStream) -> Option<Vec<u8>> {
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = client.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    }
    Some(data)
}
