//! SOAP 1.2 over HTTP POST, with HTTP Digest where the camera wants it.
//!
//! hyper-util's pooled HTTP/1.1 client (already in the workspace; a long poll
//! keeps one connection busy, the pool opens another for a concurrent request).
//! Plain `http://` only: cameras serve ONVIF over HTTP almost always, and their
//! HTTPS certificates are self-signed, so TLS would add a trust setting first.
//!
//! HTTP Digest (RFC 7616/2617: MD5, SHA-256, `qop=auth`) comes from the
//! `http-auth` crate. Most cameras authenticate ONVIF with the WS-Security token
//! in the envelope, but some (Hikvision with "digest" ONVIF auth, several NVRs)
//! answer 401 with `WWW-Authenticate: Digest` first. The challenge is kept and
//! answered up front on later requests (its nonce count rising), so a digest
//! camera costs one extra round trip per camera, not per request; a 401 marked
//! `stale=true` (the camera rotated its nonce) is answered once more with the
//! new nonce. A second 401 means the credentials are wrong.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_auth::{PasswordClient, PasswordParams};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{ClientError, Password};
use crate::requests::Request;

/// Replies larger than this are refused: the largest real PullMessages answer
/// (a message limit of 64 with vendor metadata) is tens of KiB.
const MAX_REPLY: usize = 1 << 20;

/// An HTTP answer: its status and body, for the SOAP parsers to judge.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: String,
}

pub(crate) struct Transport {
    http: Client<HttpConnector, Full<Bytes>>,
    username: String,
    password: Password,
    /// The last Digest challenge, answered up front on every request.
    digest: Mutex<Option<PasswordClient>>,
}

impl Transport {
    pub fn new(username: &str, password: Password, connect_timeout: Duration) -> Transport {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            // Cameras drop idle connections after 10–60 s; do not reuse older ones.
            .pool_idle_timeout(Duration::from_secs(8))
            .pool_max_idle_per_host(2)
            .build(connector);
        Transport {
            http,
            username: username.to_owned(),
            password,
            digest: Mutex::new(None),
        }
    }

    /// Whether a Digest challenge has been received (for tests and status).
    pub fn uses_http_digest(&self) -> bool {
        self.digest.lock().map(|d| d.is_some()).unwrap_or(false)
    }

    fn authorization(&self, path: &str) -> Result<Option<String>, ClientError> {
        let mut digest = self
            .digest
            .lock()
            .map_err(|_| ClientError::Internal("the digest state was poisoned"))?;
        let Some(client) = digest.as_mut() else {
            return Ok(None);
        };
        client
            .respond(&PasswordParams {
                username: &self.username,
                password: self.password.expose(),
                uri: path,
                method: "POST",
                body: None,
            })
            .map(Some)
            .map_err(|reason| ClientError::HttpAuthScheme { reason })
    }

    /// POSTs `request` to `url`, the whole exchange within `timeout`.
    pub async fn post(
        &self,
        url: &str,
        request: &Request,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        match tokio::time::timeout(timeout, self.post_inner(url, request)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                url: url.to_owned(),
                after: timeout,
            }),
        }
    }

    async fn post_inner(&self, url: &str, request: &Request) -> Result<Reply, ClientError> {
        let uri: Uri = url.parse().map_err(|_| ClientError::InvalidUrl {
            url: url.to_owned(),
        })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(ClientError::Https {
                    url: url.to_owned(),
                })
            }
            _ => {
                return Err(ClientError::InvalidUrl {
                    url: url.to_owned(),
                })
            }
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let body = Bytes::from(request.body.clone());
        let mut answered_challenge = false;
        loop {
            let authorization = self.authorization(&path)?;
            let sent_authorization = authorization.is_some();
            let mut builder =
                hyper::Request::post(uri.clone()).header(CONTENT_TYPE, request.content_type());
            if let Some(value) = authorization {
                builder = builder.header(hyper::header::AUTHORIZATION, value);
            }
            let http_request =
                builder
                    .body(Full::new(body.clone()))
                    .map_err(|_| ClientError::InvalidUrl {
                        url: url.to_owned(),
                    })?;
            let response =
                self.http
                    .request(http_request)
                    .await
                    .map_err(|e| ClientError::Unreachable {
                        url: url.to_owned(),
                        reason: error_chain(&e),
                    })?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                let mut builder = PasswordClient::builder();
                for value in response.headers().get_all(WWW_AUTHENTICATE) {
                    if let Ok(value) = value.to_str() {
                        builder = builder.challenges(value);
                    }
                }
                match builder.build() {
                    Ok(client) => {
                        let stale = match &client {
                            PasswordClient::Digest(d) => d.stale(),
                            _ => false,
                        };
                        if let Ok(mut digest) = self.digest.lock() {
                            *digest = Some(client);
                        }
                        // First challenge, or a rotated nonce: answer once.
                        if !answered_challenge && (!sent_authorization || stale) {
                            answered_challenge = true;
                            continue;
                        }
                        return Err(ClientError::HttpUnauthorized {
                            url: url.to_owned(),
                        });
                    }
                    // No Digest challenge: a WS-Security refusal sent with 401
                    // (a SOAP fault in the body, judged by the caller), or an
                    // auth scheme Sightline does not answer.
                    Err(reason) if response.headers().contains_key(WWW_AUTHENTICATE) => {
                        let body = read_body(url, response).await?;
                        if body.contains("Envelope") {
                            return Ok(Reply { status, body });
                        }
                        return Err(ClientError::HttpAuthScheme { reason });
                    }
                    Err(_) => {}
                }
            }
            let body = read_body(url, response).await?;
            return Ok(Reply { status, body });
        }
    }
}

async fn read_body(
    url: &str,
    response: hyper::Response<hyper::body::Incoming>,
) -> Result<String, ClientError> {
    let collected = Limited::new(response.into_body(), MAX_REPLY)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ClientError::TooLarge {
                    url: url.to_owned(),
                    limit: MAX_REPLY,
                }
            } else {
                ClientError::Unreachable {
                    url: url.to_owned(),
                    reason: e.to_string(),
                }
            }
        })?;
    // Cameras send UTF-8 (ONVIF requires it); a stray byte becomes U+FFFD and
    // the XML parser judges the rest.
    Ok(String::from_utf8_lossy(&collected.to_bytes()).into_owned())
}

/// An error and its sources, as one line ("client error (Connect): tcp connect
/// error: Connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
