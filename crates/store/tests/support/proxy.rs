//! A TCP proxy on loopback between a store and its Postgres server, for the network's part in a
//! test: it can hold the server's replies back for a while (a slow database, a reply read before
//! a change and delivered after it) and cut every connection (the database went away).
//!
//! Bytes pass unchanged, in order; only their timing and the connections' life are controlled.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running proxy; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    target: SocketAddr,
    /// How long each chunk the server sends is held back, in milliseconds.
    reply_delay_ms: AtomicU64,
    /// While set, connections are cut and new ones closed at once.
    down: AtomicBool,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy to `target`, listening on a free loopback port.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            target,
            reply_delay_ms: AtomicU64::new(0),
            down: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if shared.down.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let task = tokio::spawn(relay(client, shared.clone()));
                    shared.connections.lock().unwrap().push(task);
                }
            })
        };
        Proxy {
            addr,
            shared,
            accept,
        }
    }

    /// A proxy to the Postgres server of the database URL `url`.
    pub async fn to_database(url: &str) -> Proxy {
        let parsed = url::Url::parse(url).expect("a database URL");
        let host = parsed.host_str().expect("a host");
        let port = parsed.port().unwrap_or(5432);
        let target = tokio::net::lookup_host((host, port))
            .await
            .unwrap()
            .next()
            .expect("the database's address");
        Proxy::start(target).await
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_through(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("a database URL");
        parsed.set_host(Some("127.0.0.1")).unwrap();
        parsed.set_port(Some(self.addr.port())).unwrap();
        parsed.to_string()
    }

    /// From now on, every chunk the server sends reaches the client `delay` after it arrived.
    pub fn set_reply_delay(&self, delay: Duration) {
        self.shared
            .reply_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Cuts every connection, and closes new ones at once, until [`Proxy::restore`].
    pub fn cut(&self) {
        self.shared.down.store(true, Ordering::SeqCst);
        for task in self.shared.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.shared.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Relays one connection: the client's bytes at once, the server's after the reply delay.
async fn relay(client: TcpStream, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(shared.target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    // Chunks from the server, stamped with their arrival, delivered in order after the delay.
    let (send, mut chunks) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match server_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let delay = shared.reply_delay_ms.load(Ordering::SeqCst);
                        let due = Instant::now() + Duration::from_millis(delay);
                        if send.send((due, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        })
    };
    // Aborting this task (a cut) drops the guard, which ends the helpers and their sockets.
    let _helpers = AbortOnDrop(vec![upstream, reader]);
    while let Some((due, chunk)) = chunks.recv().await {
        tokio::time::sleep_until(due).await;
        if client_write.write_all(&chunk).await.is_err() {
            break;
        }
    }
}

/// Aborts the helper tasks when the relay task ends or is aborted.
struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
