//! What a client's writes wait for, attempt by attempt: a `WriteGate` an import holds open while
//! its lease is held and the cluster is not promoted. The client asks it before every attempt of
//! a write (retries included), so a retry never goes out once the run was stopped.

use async_trait::async_trait;

/// A run's permission to send a write.
#[async_trait]
pub trait WriteGate: Send + Sync {
    /// Waits until an attempt may be sent; false once the run was stopped (send nothing).
    async fn ready(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use serde_json::json;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::vault::{Auth, RetryPolicy, Tls, Token, VaultClient, VaultConfig};

    /// A peer on loopback that takes connections and reads what comes, answering nothing (a
    /// stalled network); counts the bytes it received.
    async fn silent_peer() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(AtomicUsize::new(0));
        let counted = received.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        counted.fetch_add(n, Ordering::SeqCst);
                    }
                });
            }
        });
        (addr, received)
    }

    fn client(addr: &str) -> VaultClient {
        let cfg = VaultConfig {
            addr: addr.into(),
            auth: Auth::Token(Token::new("t".into())),
            namespace: None,
            tls: Tls::default(),
            concurrency: 2,
            retry: RetryPolicy {
                max_retries: 5,
                max_wait: Duration::from_secs(30),
            },
            timeout: Duration::from_secs(10),
            rate_limit: None,
            proxy: None,
        };
        VaultClient::new(&cfg, Token::new("t".into())).unwrap()
    }

    struct Closed;

    #[async_trait]
    impl WriteGate for Closed {
        async fn ready(&self) -> bool {
            false
        }
    }

    #[tokio::test]
    async fn a_request_never_outlives_its_budget_however_long_its_retries_could_take() {
        let (addr, _) = silent_peer().await;
        let c = client(&addr).with_budget(Duration::from_millis(400));
        let started = Instant::now();
        let e = c.write("secret/data/x", &json!({"data": {}})).await;
        let took = started.elapsed();
        let e = e.unwrap_err().to_string();
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(e.contains("no answer within 0.4s"), "{e}");
    }

    #[tokio::test]
    async fn a_closed_gate_sends_no_write_but_lets_reads_through_to_the_server() {
        let (addr, received) = silent_peer().await;
        let c = client(&addr)
            .with_budget(Duration::from_millis(300))
            .gated(Arc::new(Closed));
        let e = c.write("secret/data/x", &json!({"data": {}})).await;
        assert!(e.unwrap_err().to_string().contains("not sent"));
        assert!(c.delete("secret/data/x").await.is_err());
        assert_eq!(c.counters().writes.load(Ordering::SeqCst), 0);
        assert_eq!(
            received.load(Ordering::SeqCst),
            0,
            "a byte of a write went out"
        );
        // Reads are not the gate's business (they only end within the budget).
        assert!(c.read("secret/data/x").await.is_err());
        assert!(received.load(Ordering::SeqCst) > 0);
    }

    #[tokio::test]
    async fn dot_segments_are_never_sent() {
        let (addr, received) = silent_peer().await;
        let c = client(&addr);
        let e = c
            .write("secret/data/app/../../../kv2/data/app", &json!({}))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("`..` segment"), "{e}");
        assert_eq!(received.load(Ordering::SeqCst), 0);
    }
}
