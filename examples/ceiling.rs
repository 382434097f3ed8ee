//! The load generator behind `make bench`: measures a Vault server's raw ceiling (concurrent GETs
//! or PUTs on one KV-v2 path for a few seconds, keep-alive connections) and seeds or rewrites N
//! KV-v2 secrets quickly. Not part of the tool.
//!
//!   ceiling get  ADDR TOKEN SECONDS CONCURRENCY      prints requests per second
//!   ceiling put  ADDR TOKEN SECONDS CONCURRENCY
//!   ceiling seed ADDR TOKEN VALUE NOTE_MIN NOTE_MAX  reads lines `I PATH` on stdin and writes
//!                                                    {"user": "u<I>", "password": "<VALUE>-<I>"}
//!                                                    to /v1/<PATH> (a KV-v2 data path, a namespace
//!                                                    as its prefix), with a `note` of NOTE_MIN to
//!                                                    NOTE_MAX characters (chosen by I) unless
//!                                                    NOTE_MAX is 0

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

fn arg(n: usize) -> String {
    std::env::args().nth(n).unwrap_or_else(|| {
        eprintln!("usage: ceiling get|put ADDR TOKEN SECONDS CONCURRENCY | seed ADDR TOKEN VALUE NOTE_MIN NOTE_MAX");
        std::process::exit(2)
    })
}

async fn send(http: &reqwest::Client, put: bool, url: &str, token: &str, body: &serde_json::Value) {
    let req = if put {
        http.post(url).json(body)
    } else {
        http.get(url)
    };
    let resp = req
        .header("X-Vault-Token", token)
        .send()
        .await
        .expect("request");
    assert!(resp.status().is_success(), "{url}: HTTP {}", resp.status());
    let _ = resp.bytes().await;
}

#[tokio::main]
async fn main() {
    let (mode, addr, token) = (arg(1), arg(2), arg(3));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    match mode.as_str() {
        "get" | "put" => {
            let put = mode == "put";
            let seconds: f64 = arg(4).parse().unwrap();
            let concurrency: usize = arg(5).parse().unwrap();
            let url = format!("{addr}/v1/secret/data/ceiling");
            let body = json!({"data": {"v": "x"}});
            send(&http, true, &url, &token, &body).await;
            let done = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let end = start + Duration::from_secs_f64(seconds);
            let workers: Vec<_> = (0..concurrency)
                .map(|_| {
                    let (http, url, token, body, done) = (
                        http.clone(),
                        url.clone(),
                        token.clone(),
                        body.clone(),
                        done.clone(),
                    );
                    tokio::spawn(async move {
                        while Instant::now() < end {
                            send(&http, put, &url, &token, &body).await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.unwrap();
            }
            let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
            println!("{rate:.0}");
        }
        "seed" => {
            let value = arg(4);
            let note: (u64, u64) = (arg(5).parse().unwrap(), arg(6).parse().unwrap());
            let sem = Arc::new(tokio::sync::Semaphore::new(64));
            let mut tasks = tokio::task::JoinSet::new();
            for line in std::io::stdin().lock().lines() {
                let line = line.expect("stdin");
                let (i, path) = line.split_once(' ').expect("a line `I PATH`");
                let i: u64 = i.parse().expect("I");
                let permit = sem.clone().acquire_owned().await.unwrap();
                let (http, token) = (http.clone(), token.clone());
                let url = format!("{addr}/v1/{path}");
                let mut data = json!({"user": format!("u{i}"), "password": format!("{value}-{i}")});
                if note.1 > 0 {
                    data["note"] = json!(filler(i, note));
                }
                tasks.spawn(async move {
                    send(&http, true, &url, &token, &json!({ "data": data })).await;
                    drop(permit);
                });
                // Reaped as they finish, so that a million tasks do not stay allocated.
                while let Some(done) = tasks.try_join_next() {
                    done.unwrap();
                }
            }
            while let Some(done) = tasks.join_next().await {
                done.unwrap();
            }
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
}

/// NOTE_MIN..=NOTE_MAX pseudo-random base64 characters, the same for the same `i`: incompressible
/// (each secret's stream starts at a scrambled point), so that the snapshot's size is a real one.
fn filler(i: u64, (min, max): (u64, u64)) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // splitmix64
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut state = mix(i.wrapping_add(0x5EED));
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(state)
    };
    let len = min + next() % (max.max(min) - min + 1);
    (0..len)
        .map(|_| CHARS[(next() % 64) as usize] as char)
        .collect()
}
