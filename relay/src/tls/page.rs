//! `GET /ca.crt` (the local CA's certificate) and `GET /ca` (how to trust
//! it on a phone or a desktop), for `--tls self-signed`. Public: a CA
//! certificate is no secret, and a device needs it before it can sign in
//! without a warning. Without a local CA both answer 404.

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::error::{Error, ErrorKind};

/// The local CA as the pages show it (the app layers it in as an extension).
#[derive(Debug)]
pub(crate) struct CaDownload {
    /// The certificate, PEM.
    pub pem: String,
    /// SHA-256, `AB:CD:…`.
    pub fingerprint: String,
    /// Its common name, as a device lists it once trusted.
    pub name: String,
}

fn no_local_ca() -> Error {
    Error::new(
        ErrorKind::NotFound,
        "this relay has no local CA: it serves plain HTTP, or a certificate of the operator's own (--tls-cert)",
    )
}

/// `GET /ca.crt`: the CA's certificate, PEM, as a file to open.
pub(crate) async fn ca_certificate(ca: Option<Extension<Arc<CaDownload>>>) -> Response {
    let Some(Extension(ca)) = ca else {
        return no_local_ca().into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sightline-ca.crt\"",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        ca.pem.clone(),
    )
        .into_response()
}

/// `GET /ca`: what the CA is, its fingerprint, and how to trust it.
pub(crate) async fn ca_page(ca: Option<Extension<Arc<CaDownload>>>) -> Response {
    let Some(Extension(ca)) = ca else {
        return no_local_ca().into_response();
    };
    let html = PAGE
        .replace("{NAME}", &escape(&ca.name))
        .replace("{FINGERPRINT}", &escape(&ca.fingerprint));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trust this Sightline relay</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2430; }
  code, .fp { font-family: ui-monospace, monospace; font-size: .9em; background: #eef1f5; padding: .1em .3em; border-radius: 3px; }
  .fp { display: block; padding: .6em; word-break: break-all; }
  a.button { display: inline-block; padding: .6em 1.2em; background: #2457c5; color: #fff; border-radius: 6px; text-decoration: none; }
  h2 { margin-top: 1.6em; font-size: 1.1em; }
  li { margin: .3em 0; }
</style>
</head>
<body>
<h1>Trust this Sightline relay</h1>
<p>This relay encrypts its pages and video with a certificate from its own small
certificate authority (CA), made on the relay itself. Once a device trusts that CA,
the relay's address opens without a warning, and the player can decode video with
the device's hardware (WebCodecs, which browsers offer to secure pages only).</p>
<p><a class="button" href="/ca.crt">Download the CA certificate</a></p>
<p>Before trusting it, check that the fingerprint (SHA-256) your device shows is
this one, which the relay also printed when it started:</p>
<p class="fp">{FINGERPRINT}</p>
<p>It is listed on the device as <b>{NAME}</b>. Trust it only on devices of people
who use this relay: the relay's owner holds its key.</p>

<h2>iPhone and iPad</h2>
<ol>
  <li>Open this page in Safari and tap <i>Download the CA certificate</i>; allow the profile download.</li>
  <li>Settings → <i>Profile Downloaded</i> → Install (enter the passcode).</li>
  <li>Settings → General → About → Certificate Trust Settings: turn on full trust for <b>{NAME}</b>.</li>
</ol>

<h2>Android</h2>
<ol>
  <li>Tap <i>Download the CA certificate</i>.</li>
  <li>Settings → Security (or Security &amp; privacy) → More security settings → Encryption &amp; credentials →
      Install a certificate → <i>CA certificate</i> → Install anyway, and pick <code>sightline-ca.crt</code>.</li>
  <li>Chrome trusts it from then on; reopen the relay's page.</li>
</ol>

<h2>Windows</h2>
<ol>
  <li>Download the certificate and open it → Install Certificate → Current User.</li>
  <li>Choose <i>Place all certificates in the following store</i> → Browse → <i>Trusted Root Certification Authorities</i> → Finish, and confirm.</li>
  <li>Chrome and Edge trust it at once; restart Firefox, or import it there as below.</li>
</ol>

<h2>macOS</h2>
<ol>
  <li>Download the certificate and open it: Keychain Access adds it to the <i>login</i> keychain.</li>
  <li>Double-click <b>{NAME}</b> → Trust → <i>When using this certificate: Always Trust</i>, and close (enter your password).</li>
</ol>

<h2>Linux</h2>
<ul>
  <li>Chrome and Chromium: <code>certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n sightline -i sightline-ca.crt</code>
      (Debian's <code>libnss3-tools</code>), or Settings → Privacy and security → Security → Manage certificates → Authorities → Import.</li>
  <li>The whole system (curl, most programs): <code>sudo cp sightline-ca.crt /usr/local/share/ca-certificates/ &amp;&amp; sudo update-ca-certificates</code>.</li>
</ul>

<h2>Firefox (any system)</h2>
<p>Settings → Privacy &amp; Security → Certificates → View Certificates → Authorities → Import, and tick
<i>Trust this CA to identify websites</i>.</p>

<p>To stop trusting the relay, remove <b>{NAME}</b> where you added it.</p>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pages_show_the_ca_and_answer_404_without_one() {
        let ca = Arc::new(CaDownload {
            pem: "-----BEGIN CERTIFICATE-----\nMII…\n-----END CERTIFICATE-----\n".into(),
            fingerprint: "AB:CD".into(),
            name: "Sightline local CA <nvr> 1a2b".into(),
        });
        let response = ca_certificate(Some(Extension(ca.clone()))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/x-x509-ca-cert"
        );
        let response = ca_page(Some(Extension(ca))).await;
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("AB:CD"));
        assert!(body.contains("Sightline local CA &lt;nvr&gt; 1a2b"));
        assert!(!body.contains("{NAME}"));
        assert_eq!(ca_certificate(None).await.status(), 404);
        assert_eq!(ca_page(None).await.status(), 404);
    }
}
