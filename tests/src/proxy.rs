//! A TCP proxy on loopback that a test cuts and restores on the same port: an RPC node that goes
//! away and comes back (the EVM follower's outage and fault tests).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Forwards every connection to `target` while up.
pub struct Proxy {
    /// Where clients connect (kept across `down`/`up`).
    pub addr: SocketAddr,
    target: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = l.local_addr().expect("proxy addr");
        let mut p = Proxy {
            addr,
            target,
            task: None,
        };
        p.serve(l);
        p
    }

    fn serve(&mut self, l: TcpListener) {
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every open connection.
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = l.accept().await {
                conns.spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    /// Refuses connections and cuts the open ones.
    pub async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        let sock = TcpSocket::new_v4().expect("socket");
        sock.set_reuseaddr(true).expect("reuseaddr");
        sock.bind(self.addr).expect("rebind the proxy port");
        self.serve(sock.listen(64).expect("listen"));
    }
}
