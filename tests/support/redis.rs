//! A redis-server started by a test on a port of its own, for outage tests that must not
//! touch the machine's shared Redis.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const WAIT: Duration = Duration::from_secs(10);

/// A redis-server of the test's own, killed when dropped.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts redis-server on a free port, or returns `None` when it is not installed.
    pub fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut server = Self { port, child: None };
        server.restart()?;
        Some(server)
    }

    pub fn restart(&mut self) -> Option<()> {
        let port = self.port.to_string();
        let spawned = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) => {
                eprintln!("skipped: redis-server could not be started ({error})");
                return None;
            }
        };
        self.child = Some(child);

        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(())
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
