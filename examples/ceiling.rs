//! The load generator behind `make bench`: measures a Vault server's raw ceiling (concurrent GETs
//! or PUTs on one KV-v2 path for a few seconds, keep-alive connections) and seeds or rewrites N
//! KV-v2 secrets quickly. Not part of the tool.
//!
//!   ceiling get  ADDR TOKEN SECONDS CONCURRENCY      prints requests per second
//!   ceiling put  ADDR TOKEN SECONDS CONCURRENCY
//!   ceiling seed ADDR TOKEN COUNT STEP VALUE         writes secret/f{i/10}/s{i} for i in 0..COUNT by STEP

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

fn arg(n: usize) -> String {
    std::env::args().nth(n).unwrap_or_else(|| {
        eprintln!("usage: ceiling get|put ADDR TOKEN SECONDS CONCURRENCY | seed ADDR TOKEN COUNT STEP VALUE");
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
            let count: usize = arg(4).parse().unwrap();
            let step: usize = arg(5).parse().unwrap();
            let value = arg(6);
            let sem = Arc::new(tokio::sync::Semaphore::new(64));
            let mut tasks = Vec::new();
            for i in (0..count).step_by(step.max(1)) {
                let permit = sem.clone().acquire_owned().await.unwrap();
                let (http, token) = (http.clone(), token.clone());
                let url = format!("{addr}/v1/secret/data/f{:04}/s{i:06}", i / 10);
                let body =
                    json!({"data": {"user": format!("u{i}"), "password": format!("{value}-{i}")}});
                tasks.push(tokio::spawn(async move {
                    send(&http, true, &url, &token, &body).await;
                    drop(permit);
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
}
