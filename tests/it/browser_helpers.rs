//! An in-process browser for page flows: keeps cookies, sends forms, reads hidden fields.
//! Redirects are not followed, so tests can look at each step.

use std::collections::HashMap;

use actix_web::test::TestRequest;

use portcullis::state::AppState;

use crate::helpers::{Response, TestApp};

pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: HashMap<String, String>,
    /// Another node to send to instead of the app's own.
    pub node: Option<AppState>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            cookies: HashMap::new(),
            node: None,
        }
    }

    /// Sends what follows to `node` (another node over the same database).
    #[allow(dead_code)] // used by `tests/env/nodes.rs`
    pub fn switch_to(&mut self, node: &AppState) {
        self.node = Some(node.clone());
    }

    async fn send(&self, req: TestRequest) -> Response {
        match &self.node {
            Some(node) => crate::helpers::send_to(node, req).await,
            None => self.app.send(req).await,
        }
    }

    fn with_cookies(&self, mut req: TestRequest) -> TestRequest {
        if !self.cookies.is_empty() {
            let header = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req = req.insert_header(("Cookie", header));
        }
        req
    }

    fn keep_cookies(&mut self, res: &Response) {
        for v in res.headers.get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = value.is_empty() || text.to_ascii_lowercase().contains("max-age=0");
            if removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let req = self.with_cookies(TestRequest::get().uri(path));
        let res = self.send(req).await;
        self.keep_cookies(&res);
        res
    }

    pub async fn post(&mut self, path: &str, params: &[(&str, &str)]) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let req = self.with_cookies(
            TestRequest::post()
                .uri(path)
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(body),
        );
        let res = self.send(req).await;
        self.keep_cookies(&res);
        res
    }

    /// Posts JSON (what the passkey script sends), with the browser's cookies.
    pub async fn post_json(&mut self, path: &str, body: serde_json::Value) -> Response {
        let req = self.with_cookies(TestRequest::post().uri(path).set_json(body));
        let res = self.send(req).await;
        self.keep_cookies(&res);
        res
    }

    /// Signs in through the page; returns the response of the form post.
    pub async fn sign_in(&mut self, login: &str, password: &str, return_to: &str) -> Response {
        let page = self
            .get(&format!("/signin?return_to={}", enc(return_to)))
            .await;
        let csrf = hidden(&page.text(), "csrf");
        self.post(
            "/signin",
            &[
                ("csrf", &csrf),
                ("login", login),
                ("password", password),
                ("return_to", return_to),
            ],
        )
        .await
    }
}

/// A relative location (path and query) of a redirect.
pub fn location(res: &Response) -> String {
    assert!(
        res.status.is_redirection(),
        "expected a redirect, got {}: {}",
        res.status,
        res.text()
    );
    res.header("location").unwrap().to_owned()
}

/// The query parameters of a URL or path.
pub fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|x| x.1).unwrap_or("");
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The value of a hidden input in a page (HTML entities decoded).
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}
