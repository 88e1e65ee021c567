//! A TCP proxy in front of a backend server, which a test can cut off and restore: the way to
//! take the machine's shared RabbitMQ or an S3 server away from one test without stopping it
//! for everyone else.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

pub struct CuttableProxy {
    pub address: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    task: JoinHandle<()>,
}

struct ProxyState {
    open: bool,
    connections: Vec<AbortHandle>,
}

impl CuttableProxy {
    /// Starts forwarding connections on a free local port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let state = Arc::new(Mutex::new(ProxyState {
            open: true,
            connections: Vec::new(),
        }));
        let task = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let mut state = state.lock().expect("proxy state");
                    if !state.open {
                        // Dropping the accepted stream closes it: the backend looks down.
                        continue;
                    }
                    state.connections.retain(|handle| !handle.is_finished());
                    let forwarding = tokio::spawn(forward(client, upstream));
                    state.connections.push(forwarding.abort_handle());
                }
            }
        });
        Self {
            address,
            state,
            task,
        }
    }

    /// Closes every open connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        let mut state = self.state.lock().expect("proxy state");
        state.open = false;
        for connection in state.connections.drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.state.lock().expect("proxy state").open = true;
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}
