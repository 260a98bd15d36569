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
