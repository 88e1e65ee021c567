//! The paste form in headless Chromium, driven over the WebDriver HTTP protocol. The test opens
//! the home page, fills and submits the paste form and follows the redirect. It then checks the
//! highlighted view and a line anchor, and saves a screenshot to the target directory. Without
//! `chromium` and `chromedriver` on PATH it prints one line and passes.

use crate::helpers::{Db, spawn_app_with};
use crate::support::eventually;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A `chromedriver` process on 127.0.0.1, killed when dropped.
struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// One WebDriver session.
struct Session {
    client: reqwest::Client,
    url: String,
}

impl Session {
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("WebDriver request");
        let status = response.status();
        let json: Value = response.json().await.expect("WebDriver JSON");
        assert!(status.is_success(), "WebDriver {path} failed: {json}");
        json["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None).await
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        found[ELEMENT_KEY].as_str().expect("element id").to_owned()
    }

    async fn count(&self, css: &str) -> usize {
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found.as_array().map_or(0, Vec::len)
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_form_in_headless_chromium() {
    let (Some(chromium), Some(chromedriver)) =
        (find_on_path("chromium"), find_on_path("chromedriver"))
    else {
        eprintln!("skipped: browser test, chromium or chromedriver is not on PATH");
        return;
    };
    let app = spawn_app_with(Db::Sqlite, |_| {})
        .await
        .expect("application starts");

    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(20), || async {
        let status = client
            .get(format!("{}/status", driver.base))
            .send()
            .await
            .ok()?;
        let json: Value = status.json().await.ok()?;
        json["value"]["ready"].as_bool().filter(|ready| *ready)
    })
    .await;
    assert!(ready.is_some(), "chromedriver did not become ready");

    let capabilities = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage",
                     "--window-size=1200,900"],
        },
    }}});
    let created = client
        .post(format!("{}/session", driver.base))
        .json(&capabilities)
        .send()
        .await
        .expect("new session");
    let created: Value = created.json().await.expect("session JSON");
    let session_id = created["value"]["sessionId"].as_str().expect("session id");
    let session = Session {
        client: client.clone(),
        url: format!("{}/session/{session_id}", driver.base),
    };

    // Fill and submit the paste form on the home page.
    session.post("/url", json!({ "url": app.url("/") })).await;
    let source = "fn main() {\n    let answer = 42;\n    println!(\"{answer}\");\n}\n";
    session.type_into("textarea[name=content]", source).await;
    session.type_into("input[name=title]", "answer.rs").await;
    let submit = session.find("form[action='/p'] button[type=submit]").await;
    session
        .post(&format!("/element/{submit}/click"), json!({}))
        .await;

    let page_url = eventually(Duration::from_secs(10), || async {
        let url = session.get("/url").await;
        url.as_str()
            .filter(|url| url.contains("/p/"))
            .map(str::to_owned)
    })
    .await
    .expect("the form redirects to the paste page");
    let id = page_url.rsplit('/').next().expect("id").to_owned();
    let raw = app
        .get(&format!("/p/{id}/raw"), None)
        .await
        .text()
        .await
        .expect("raw");
    assert_eq!(raw, source, "the browser's CRLF became LF");

    // The view is highlighted, and #L3 targets the third line.
    assert!(
        session.count("span[class^='hl-']").await > 0,
        "no highlighted spans"
    );
    assert!(session.count("tr#L3").await == 1, "no line 3 row");
    session
        .post("/url", json!({ "url": format!("{page_url}#L3") }))
        .await;
    let target = session.find(":target").await;
    let target_id = session
        .get(&format!("/element/{target}/attribute/id"))
        .await;
    assert_eq!(target_id, "L3");

    let screenshot = session.get("/screenshot").await;
    let png = decode_base64(screenshot.as_str().expect("base64 PNG"));
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("paste-page.png");
    std::fs::write(&path, &png).expect("write the screenshot");
    eprintln!("screenshot: {}", path.display());

    session.command(reqwest::Method::DELETE, "", None).await;
    drop(driver);
    app.shutdown().await;
}

/// Decodes standard base64, which is how WebDriver returns screenshots.
pub fn decode_base64(text: &str) -> Vec<u8> {
    let value = |byte: u8| -> Option<u32> {
        match byte {
            b'A'..=b'Z' => Some(u32::from(byte - b'A')),
            b'a'..=b'z' => Some(u32::from(byte - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(byte - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let sextets: Vec<u32> = text.bytes().filter_map(value).collect();
    let mut bytes = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let joined = chunk.iter().enumerate().fold(0u32, |acc, (index, sextet)| {
            acc | sextet << (18 - 6 * index)
        });
        for index in 0..chunk.len().saturating_sub(1) {
            bytes.push((joined >> (16 - 8 * index)) as u8);
        }
    }
    bytes
}
