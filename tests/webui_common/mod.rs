//! Shared helpers of the browser tests (`webui_browser.rs`, `webui_config.rs`): finding
//! chromedriver, a headless Chromium session, and a small page driver with screenshots.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

pub async fn browser(port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/usr/bin/chromium");
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with chromium")
}

pub struct Ui {
    pub c: Client,
    pub base: String,
    pub shots: PathBuf,
}

impl Ui {
    pub async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        e.clear().await.ok();
        e.send_keys(text).await.unwrap();
    }
    pub async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }
    /// The page's text; empty while a navigation replaces the page (a stale element).
    pub async fn text(&self) -> String {
        match self.c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
    pub async fn wait_text(&self, needle: &str) -> String {
        for _ in 0..100 {
            let t = self.text().await;
            if t.contains(needle) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("page never showed {needle:?}:\n{}", self.text().await);
    }
    pub async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}
