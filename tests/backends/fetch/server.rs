//! A raw HTTP/1.1 server on 127.0.0.1:0 for the fetcher tests. It serves one request per
//! connection with whatever the test's handler returns, including responses no well-behaved
//! server sends: trickled bodies, silence, endless compressed streams. It records every
//! connection, so a test can show that a blocked fetch never connected.

use flate2::{Compress, Compression, Crc, FlushCompress};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use url::Url;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A whole response with a `Content-Length`.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A 200 whose headers promise `body`, which then arrives one byte per `interval`.
    Trickle { body: Vec<u8>, interval: Duration },
    /// Reads the request and never responds, holding the connection open.
    Silent,
    /// A 200 HTML response whose gzip body inflates to `size` zero bytes (endless when
    /// `None`), compressed while the client reads, so the server's work follows the client's.
    GzipZeros { size: Option<u64> },
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::Full {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    pub fn html(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, "text/html", body)
    }

    pub fn redirect(status: u16, location: &str) -> Self {
        Self::new(status, "text/html", "moved").with_header("Location", location)
    }

    /// Adds a header to a [`Reply::Full`] and returns other replies unchanged.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Full { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Builds a 200 response without a `Content-Type` header.
    pub fn untyped(body: impl Into<Vec<u8>>) -> Self {
        Self::Full {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A running server, which stops accepting connections when dropped.
pub struct TestServer {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Request>>>,
    accept_task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with a port the system picks.
    pub async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a test server on 127.0.0.1");
        let address = listener.local_addr().expect("test server address");
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);

        let accept_task = tokio::spawn({
            let connections = Arc::clone(&connections);
            let requests = Arc::clone(&requests);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    let handler = Arc::clone(&handler);
                    let requests = Arc::clone(&requests);
                    tokio::spawn(serve_connection(stream, handler, requests));
                }
            }
        });
        Self {
            address,
            connections,
            requests,
            accept_task,
        }
    }

    /// Starts a server that responds to every request with a small HTML page.
    pub async fn reachable() -> Self {
        Self::start(|_| Reply::html("<title>reached</title>")).await
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> Url {
        self.url_with_host("127.0.0.1", path)
    }

    /// Builds a URL on this server's port with another host, for hosts that a test resolver maps to
    /// 127.0.0.1 and for IP literal forms.
    pub fn url_with_host(&self, host: &str, path: &str) -> Url {
        let text = format!("http://{host}:{}{path}", self.port());
        Url::parse(&text).expect("test URL parses")
    }

    /// Returns how many TCP connections the server accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests lock").clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|request| request.path)
            .collect()
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<Request>>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    requests
        .lock()
        .expect("requests lock")
        .push(request.clone());
    // Write errors mean the client went away, which several tests cause on purpose.
    let _ = match handler(&request) {
        Reply::Full {
            status,
            headers,
            body,
        } => write_full(&mut stream, status, &headers, &body).await,
        Reply::Trickle { body, interval } => write_trickle(&mut stream, &body, interval).await,
        Reply::Silent => hold_silently(&mut stream).await,
        Reply::GzipZeros { size } => write_gzip_zeros(&mut stream, size).await,
    };
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }

    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Some(Request { path, headers })
}

fn status_line(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Unknown");
    format!("HTTP/1.1 {status} {reason}\r\n")
}

async fn write_full(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = status_line(status);
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

async fn write_trickle(
    stream: &mut TcpStream,
    body: &[u8],
    interval: Duration,
) -> std::io::Result<()> {
    let head = format!(
        "{}Content-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        status_line(200),
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    let mut ticks = tokio::time::interval(interval);
    for byte in body {
        ticks.tick().await;
        stream.write_all(&[*byte]).await?;
    }
    stream.shutdown().await
}

/// Holds the connection without answering until the client closes it.
async fn hold_silently(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut buffer = [0u8; 1024];
    while stream.read(&mut buffer).await? > 0 {}
    Ok(())
}

async fn write_gzip_zeros(stream: &mut TcpStream, size: Option<u64>) -> std::io::Result<()> {
    let head = format!(
        "{}Content-Type: text/html\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n",
        status_line(200)
    );
    stream.write_all(head.as_bytes()).await?;
    // A gzip member header: magic, deflate, no flags, no time, no extra flags, unknown OS.
    stream
        .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
        .await?;

    let zeros = vec![0u8; ZERO_CHUNK];
    let mut compressor = Compress::new(Compression::fast(), false);
    let mut chunk_crc = Crc::new();
    chunk_crc.update(&zeros);
    let mut crc = Crc::new();
    // Once a window of zeros precedes it, the deflate output for one whole chunk of zeros
    // decodes to the same bytes every time, so it is compressed once and then repeated.
    // That keeps the server cheap in unoptimized test builds.
    let mut repeated_chunk: Option<Vec<u8>> = None;
    let mut remaining = size.unwrap_or(u64::MAX);
    while remaining > 0 {
        let length = ZERO_CHUNK.min(usize::try_from(remaining).unwrap_or(ZERO_CHUNK));
        match &repeated_chunk {
            Some(output) if length == ZERO_CHUNK => stream.write_all(output).await?,
            _ => {
                let output = compress_sync(&mut compressor, &zeros[..length])?;
                stream.write_all(&output).await?;
                if length == ZERO_CHUNK && compressor.total_in() > ZERO_CHUNK as u64 {
                    repeated_chunk = Some(output);
                }
            }
        }
        if length == ZERO_CHUNK {
            crc.combine(&chunk_crc);
        } else {
            crc.update(&zeros[..length]);
        }
        remaining -= length as u64;
    }

    let mut output = Vec::with_capacity(1024);
    compressor
        .compress_vec(&[], &mut output, FlushCompress::Finish)
        .map_err(std::io::Error::other)?;
    output.extend_from_slice(&crc.sum().to_le_bytes());
    output.extend_from_slice(&crc.amount().to_le_bytes());
    stream.write_all(&output).await?;
    stream.shutdown().await
}

const ZERO_CHUNK: usize = 64 * 1024;

/// Compresses `input` and flushes to a byte boundary, so the output can be sent on its own.
fn compress_sync(compressor: &mut Compress, input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut output = Vec::with_capacity(ZERO_CHUNK);
    let consumed_before = compressor.total_in();
    compressor
        .compress_vec(input, &mut output, FlushCompress::Sync)
        .map_err(std::io::Error::other)?;
    if compressor.total_in() - consumed_before != input.len() as u64 {
        return Err(std::io::Error::other(
            "the compressor output buffer is too small",
        ));
    }
    Ok(output)
}
