//! Plain HTTP on loopback, and reading the relay's `/metrics`.

use hyper_util::client::legacy::connect::HttpConnector;

/// GET over plain HTTP on loopback; the body as text. Fails on a non-200 status.
pub async fn http_get(url: &str) -> anyhow::Result<String> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    let client: Client<HttpConnector, Empty<hyper::body::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build(HttpConnector::new());
    let response = client.get(url.parse()?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    anyhow::ensure!(status.is_success(), "GET {url}: {status}: {text}");
    Ok(text)
}

/// An HTTP answer: status, headers, body as text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
    /// The body as received (images, video).
    pub bytes: hyper::body::Bytes,
}

impl Answer {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `name=value` of the first `Set-Cookie`, without its attributes.
    pub fn cookie(&self) -> Option<String> {
        let set = self.headers.get("set-cookie")?.to_str().ok()?;
        Some(set.split(';').next()?.trim().to_owned())
    }
}

/// Any request over plain HTTP on loopback, with extra headers and a body;
/// any status is an answer (the caller checks it).
pub async fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<Answer> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    let client: Client<HttpConnector, Full<hyper::body::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build(HttpConnector::new());
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(hyper::body::Bytes::from(body.to_owned())))?;
    for (name, value) in headers {
        request.headers_mut().append(
            hyper::header::HeaderName::from_bytes(name.as_bytes())?,
            value.parse()?,
        );
    }
    let response = client.request(request).await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        bytes: body,
    })
}

/// The value of one sample in Prometheus text, e.g. `metric(&text, "sightline_camera_frames_total", "cam")`.
pub fn metric(text: &str, name: &str, camera: &str) -> Option<f64> {
    sample(text, &format!("{name}{{camera=\"{camera}\"}}"))
}

/// The value of the sample `name` (with its labels, if any) in Prometheus text.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}
