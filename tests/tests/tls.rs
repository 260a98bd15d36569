//! Built-in TLS, end to end: what it is for — a LAN name (not `localhost`)
//! that is a secure context, so the player decodes with WebCodecs — proved in
//! headless Chromium trusting the relay's own CA through an NSS database of
//! the test's; certificate files replaced on disk and served without a
//! restart, checked from a rustls client; the CA kept across restarts and
//! downloadable; the session cookie `__Host-…; Secure`; the HTTP redirect.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use sightline_relay::config::{TlsCertificate, TlsConfig};
use sightline_relay::tls::ca::LocalCa;
use sightline_relay::tls::{fingerprint, TlsName, TlsStatus};
use sightline_relay::{DemoOptions, Relay, RelayConfig, Source};
use sightline_testkit::{
    http_request, https_request, pem_certificate as der, relay_config, secured, tls_handshake,
    Browser, ALL_LIVE,
};
use tokio::sync::{watch, Mutex};

/// One at a time: the browser test encodes and decodes video on 2 cores.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// The LAN name the browser uses; `--host-resolver-rules` points it at loopback.
const LAN_NAME: &str = "cams.sightline.test";

fn names(list: &[&str]) -> Vec<TlsName> {
    list.iter().map(|n| TlsName::parse(n).unwrap()).collect()
}

fn self_signed(list: &[&str]) -> Option<TlsConfig> {
    Some(TlsConfig {
        certificate: TlsCertificate::SelfSigned { names: names(list) },
        http_redirect: None,
    })
}

/// A small demo camera: the browser test decodes it beside its encoder on 2 cores.
fn camera() -> Vec<(&'static str, Source)> {
    vec![(
        "demo",
        Source::Demo(DemoOptions {
            width: 640,
            height: 360,
            ..DemoOptions::default()
        }),
    )]
}

/// A fresh `$HOME` whose NSS database (`.pki/nssdb`, where Chromium on Linux
/// looks) trusts `ca_pem` to identify web sites — and nothing else of ours.
fn home_trusting(ca_pem: &str) -> anyhow::Result<tempfile::TempDir> {
    let home = tempfile::Builder::new()
        .prefix("sightline-home-")
        .tempdir()?;
    let nssdb = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb)?;
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, ca_pem)?;
    let db = format!("sql:{}", nssdb.display());
    let certutil = |args: &[&str]| -> anyhow::Result<()> {
        let out = std::process::Command::new("certutil")
            .args(args)
            .output()
            .context(
                "running certutil (Debian's libnss3-tools; `cargo xtask setup` installs it)",
            )?;
        anyhow::ensure!(
            out.status.success(),
            "certutil {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    certutil(&["-N", "-d", &db, "--empty-password"])?;
    certutil(&[
        "-A",
        "-d",
        &db,
        "-t",
        "C,,",
        "-n",
        "Sightline test CA",
        "-i",
        &ca.to_string_lossy(),
    ])?;
    Ok(home)
}

/// Waits (10 s at most) for the relay's TLS status to satisfy `done`: the
/// relay says when it swapped a certificate, so nothing sleeps.
async fn until(
    status: &mut watch::Receiver<TlsStatus>,
    what: &str,
    done: impl FnMut(&TlsStatus) -> bool,
) -> anyhow::Result<TlsStatus> {
    let seen = tokio::time::timeout(Duration::from_secs(10), status.wait_for(done))
        .await
        .with_context(|| format!("{what}: not within 10 s"))??;
    Ok(seen.clone())
}

/// Replaces `path` the way renewal tools do: a new file renamed over it.
fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The relay's address as the LAN name (the rustls client connects to
/// loopback and checks the certificate for this name).
fn lan(relay: &Relay) -> (SocketAddr, String) {
    let addr = relay.local_addr();
    (addr, format!("https://{LAN_NAME}:{}", addr.port()))
}

/// The page's one player, once it is live and has painted for a second
/// (over the WebSocket of the page's scheme: `wss://` under TLS).
async fn playing(browser: &Browser) -> anyhow::Result<serde_json::Value> {
    let all = browser.run(ALL_LIVE, vec![json!(20_000)]).await?;
    let player = all
        .as_array()
        .and_then(|players| players.first())
        .with_context(|| format!("no player: {all}"))?
        .clone();
    anyhow::ensure!(player["live"] == json!(true), "never went live: {player}");
    anyhow::ensure!(
        player["paintedIn1s"].as_u64().unwrap_or(0) > 0,
        "painted nothing in 1 s: {player}"
    );
    anyhow::ensure!(player["stats"]["decodeErrors"] == json!(0), "{player}");
    Ok(player)
}

/// What WebCodecs needs: a secure context. Over HTTPS with a trusted
/// certificate a LAN name is one, and `auto` plays with WebCodecs; the same
/// name over plain HTTP is not, and `auto` falls back to the Wasm decoder.
/// And a browser that does not trust the CA gets no page at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lan_name_over_tls_plays_with_webcodecs_and_over_http_with_wasm() {
    let _serial = SERIAL.lock().await;
    let resolve = format!("--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1");

    // HTTPS, accounts on: sign in with the first start's link, as a person would.
    let mut config = relay_config(camera()).unwrap();
    config.tls = self_signed(&[LAN_NAME]);
    let (config, _data) = secured(config).unwrap();
    let relay = Relay::start(config).await.expect("relay starts");
    let (ca_pem, _) = relay.local_ca().expect("a local CA");
    let home = home_trusting(ca_pem).expect("an NSS database trusting the CA");
    let browser = Browser::launch_with_home(&[&resolve], home.path())
        .await
        .expect("browser starts");
    let (_, base) = lan(&relay);
    let link = relay.first_run_link().expect("first start").to_owned();
    let result = async {
        anyhow::ensure!(link.starts_with("https://"), "{link}");
        let (_, token) = link.split_once("/login#").context("a sign-in link")?;
        browser.goto(&format!("{base}/login#{token}")).await?;
        browser.wait_app().await?;
        let page = browser
            .run(
                r#"const done = arguments[0];
                   const nav = performance.getEntriesByType("navigation")[0];
                   done({ secure: window.isSecureContext, decoder: typeof VideoDecoder,
                          protocol: location.protocol, http: nav && nav.nextHopProtocol });"#,
                vec![],
            )
            .await?;
        println!("over TLS: {page}");
        anyhow::ensure!(
            page["secure"] == json!(true),
            "not a secure context: {page}"
        );
        anyhow::ensure!(page["decoder"] == json!("function"), "{page}");
        anyhow::ensure!(page["protocol"] == json!("https:"), "{page}");
        // Chromium speaks HTTP/2 to the relay (the sign-in's POST went over
        // it: its origin check found the host in `:authority`).
        anyhow::ensure!(page["http"] == json!("h2"), "{page}");
        let cookies = browser.client().get_all_cookies().await?;
        let session = cookies
            .iter()
            .find(|c| c.name().starts_with("__Host-"))
            .with_context(|| format!("no __Host- cookie: {cookies:?}"))?;
        anyhow::ensure!(session.secure() == Some(true), "{session:?}");
        let live = playing(&browser).await?;
        println!("over TLS: {live}");
        anyhow::ensure!(
            live["stats"]["decoder"] == json!("webcodecs"),
            "the LAN name over TLS must play with WebCodecs: {live}"
        );
        Ok(())
    }
    .await;
    let shutdown = relay.shutdown().await;
    result.expect("the LAN name over TLS plays with WebCodecs");
    shutdown.expect("the TLS relay shuts down cleanly");

    // The same name over plain HTTP, in the same browser: no secure context.
    // (Accounts are off in this relay: it answers a name only if told to.)
    let mut config = relay_config(camera()).unwrap();
    config.auth.hosts = vec![LAN_NAME.into()];
    let relay = Relay::start(config).await.expect("relay starts");
    let result = async {
        let port = relay.local_addr().port();
        browser.open(&format!("http://{LAN_NAME}:{port}/")).await?;
        let secure = browser
            .run("arguments[0](window.isSecureContext);", vec![])
            .await?;
        anyhow::ensure!(secure == json!(false), "plain HTTP is no secure context");
        let live = playing(&browser).await?;
        println!("over plain HTTP: {live}");
        anyhow::ensure!(live["stats"]["decoder"] == json!("wasm"), "{live}");
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("the LAN name over plain HTTP plays with the Wasm decoder");

    // A browser that was never told to trust the CA: the certificate is
    // refused, so it is the trust, not the name, that made the page work.
    let mut config = relay_config(vec![]).unwrap();
    config.tls = self_signed(&[LAN_NAME]);
    let data = tempfile::tempdir().unwrap();
    config.data = Some(data.path().to_owned());
    let relay = Relay::start(config).await.expect("relay starts");
    let stranger_home = tempfile::tempdir().unwrap();
    let stranger = Browser::launch_with_home(&[&resolve], stranger_home.path())
        .await
        .expect("browser starts");
    let (_, base) = lan(&relay);
    let refused = async {
        // Chromium shows its certificate error page in place of the relay's.
        stranger.goto(&format!("{base}/")).await?;
        stranger
            .run(
                r#"const done = arguments[0];
                   done({ href: location.href, title: document.title,
                          app: document.documentElement.dataset.app ?? null });"#,
                vec![],
            )
            .await
    }
    .await;
    let _ = stranger.close().await;
    relay.shutdown().await.expect("clean shutdown");
    let shown = refused.expect("the browser answers");
    println!("without the CA: {shown}");
    assert_eq!(shown["app"], json!(null), "the app must not load: {shown}");
    assert!(
        shown["href"]
            .as_str()
            .is_some_and(|h| h.starts_with("chrome-error:")),
        "a certificate error page: {shown}"
    );
}

/// `--tls-cert/--tls-key` replaced on disk: the relay serves the new
/// certificate from the next handshake on, without a restart; a replacement
/// that does not load is refused and the previous certificate stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = LocalCa::open(&dir.path().join("ca")).unwrap();
    let ca_pem = ca.certificate_pem().to_owned();
    let for_names = names(&["localhost", "127.0.0.1"]);
    let one = ca.issue(&for_names).unwrap();
    let cert = dir.path().join("relay.pem");
    let key = dir.path().join("relay.key");
    std::fs::write(&cert, &one.cert_pem).unwrap();
    std::fs::write(&key, &one.key_pem).unwrap();

    let mut config = relay_config(vec![]).unwrap();
    config.tls = Some(TlsConfig {
        certificate: TlsCertificate::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        http_redirect: None,
    });
    let relay = Relay::start(config).await.expect("relay starts");
    let addr = relay.local_addr();
    let mut status = relay.tls_status().expect("TLS");
    let result = async {
        let first = tls_handshake(addr, "localhost", &ca_pem).await?;
        anyhow::ensure!(first.chain[0] == der(&one.cert_pem), "serves the first");
        anyhow::ensure!(first.alpn.as_deref() == Some(&b"h2"[..]), "HTTP/2 by ALPN");
        anyhow::ensure!(status.borrow().certificate.sha256 == fingerprint(&first.chain[0]));

        // Renewed: key first, then the certificate, each renamed into place.
        let two = ca.issue(&for_names)?;
        let written = std::time::Instant::now();
        replace(&key, &two.key_pem)?;
        replace(&cert, &two.cert_pem)?;
        let want = fingerprint(&der(&two.cert_pem));
        let seen = until(&mut status, "the renewed certificate", |s| {
            s.certificate.sha256 == want
        })
        .await?;
        println!(
            "renewed certificate served {} ms after it was written (serial {})",
            written.elapsed().as_millis(),
            seen.certificate.serial
        );
        let second = tls_handshake(addr, "localhost", &ca_pem).await?;
        anyhow::ensure!(
            second.chain[0] == der(&two.cert_pem),
            "the renewed certificate from the next handshake on"
        );
        anyhow::ensure!(seen.reloads >= 1 && seen.last_error.is_none(), "{seen:?}");
        anyhow::ensure!(relay.local_addr() == addr, "the same relay, no restart");

        // A key of another certificate: refused, the renewed one stays.
        let three = ca.issue(&for_names)?;
        replace(&key, &three.key_pem)?;
        let seen = until(&mut status, "the refusal", |s| s.last_error.is_some()).await?;
        let why = seen.last_error.clone().unwrap_or_default();
        println!("refused: {why}");
        anyhow::ensure!(why.contains("does not belong to the certificate"), "{why}");
        anyhow::ensure!(!why.contains("PRIVATE"), "no key material: {why}");
        let still = tls_handshake(addr, "localhost", &ca_pem).await?;
        anyhow::ensure!(still.chain[0] == der(&two.cert_pem), "still the renewed one");
        // Its certificate follows: served.
        replace(&cert, &three.cert_pem)?;
        let want = fingerprint(&der(&three.cert_pem));
        until(&mut status, "the third certificate", |s| {
            s.certificate.sha256 == want && s.last_error.is_none()
        })
        .await?;
        let third = tls_handshake(addr, "localhost", &ca_pem).await?;
        anyhow::ensure!(third.chain[0] == der(&three.cert_pem));

        // The handshake's cost (TLS 1.3, ECDSA P-256, loopback, full handshakes).
        let mut took = Vec::new();
        for _ in 0..20 {
            took.push(tls_handshake(addr, "localhost", &ca_pem).await?.took.as_secs_f64() * 1e3);
        }
        let (median, min, max) = sightline_testkit::median_min_max(took);
        println!("TLS handshake (TCP connect included): median {median:.2} ms (min {min:.2}, max {max:.2}) over 20");
        Ok(())
    }
    .await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("renewed certificates are served without a restart");
}

/// `--tls self-signed`: the CA is downloadable and explained, made once and
/// kept across restarts (same leaf for the same names, a new leaf from the
/// same CA for new names); the first start's link is `https://` and its
/// session cookie `__Host-…; Secure`; `--http-redirect` sends to HTTPS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_ca_is_kept_downloadable_and_the_cookie_is_secure() {
    let mut config = relay_config(vec![]).unwrap();
    config.tls = Some(TlsConfig {
        certificate: TlsCertificate::SelfSigned {
            names: names(&[LAN_NAME, "localhost"]),
        },
        http_redirect: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
    });
    let (config, data): (RelayConfig, _) = secured(config).unwrap();
    let relay = Relay::start(config.clone()).await.expect("relay starts");
    let addr = relay.local_addr();
    let ca_on_disk = std::fs::read_to_string(data.path().join("tls/ca.pem")).unwrap();
    let result = async {
        let (ca_pem, ca_fingerprint) = relay.local_ca().context("a local CA")?;
        anyhow::ensure!(ca_pem == ca_on_disk, "the CA served is the one on disk");
        let download = https_request(addr, LAN_NAME, ca_pem, "GET", "/ca.crt", &[], "").await?;
        anyhow::ensure!(download.status == 200, "{download:?}");
        anyhow::ensure!(download.body == ca_on_disk, "/ca.crt is the CA");
        anyhow::ensure!(
            download.headers["content-type"] == "application/x-x509-ca-cert",
            "{download:?}"
        );
        let page = https_request(addr, LAN_NAME, ca_pem, "GET", "/ca", &[], "").await?;
        anyhow::ensure!(page.status == 200, "{page:?}");
        anyhow::ensure!(
            page.body.contains(ca_fingerprint),
            "the page shows the fingerprint"
        );
        anyhow::ensure!(page.body.contains("iPhone") && page.body.contains("Android"));

        // The first start's link, and the cookie it earns.
        let link = relay.first_run_link().context("first start")?;
        anyhow::ensure!(
            link.starts_with(&format!("https://{addr}/login#token=")),
            "{link}"
        );
        let token = link.split_once("#token=").context("a token")?.1;
        let login = https_request(
            addr,
            LAN_NAME,
            ca_pem,
            "POST",
            "/api/login",
            &[("content-type", "application/json")],
            &json!({ "token": token }).to_string(),
        )
        .await?;
        anyhow::ensure!(login.status == 200, "{login:?}");
        let set_cookie = login.headers["set-cookie"].to_str()?;
        anyhow::ensure!(
            set_cookie.starts_with("__Host-") && set_cookie.contains("; Secure"),
            "{set_cookie}"
        );

        // Plain HTTP on the redirect address: sent to the same place over HTTPS.
        let redirect = relay.redirect_addr().context("a redirect listener")?;
        let answer = http_request(
            "GET",
            &format!("http://{redirect}/kiosk?cams=a,b"),
            &[("host", &format!("{LAN_NAME}:{}", redirect.port()))],
            "",
        )
        .await?;
        anyhow::ensure!(answer.status == 307, "{answer:?}");
        anyhow::ensure!(
            answer.headers["location"]
                == format!("https://{LAN_NAME}:{}/kiosk?cams=a,b", addr.port()),
            "{answer:?}"
        );
        tls_handshake(addr, LAN_NAME, ca_pem).await
    }
    .await;
    relay.shutdown().await.expect("clean shutdown");
    let first_leaf = result.expect("the local CA is served").chain[0].clone();

    // A second start: the same CA and the same leaf.
    let relay = Relay::start(config.clone()).await.expect("relay restarts");
    let again = async {
        let (ca_pem, _) = relay.local_ca().context("a local CA")?;
        anyhow::ensure!(ca_pem == ca_on_disk, "the same CA on the second start");
        tls_handshake(relay.local_addr(), LAN_NAME, ca_pem).await
    }
    .await;
    relay.shutdown().await.expect("clean shutdown");
    assert_eq!(
        again.expect("the second start serves").chain[0],
        first_leaf,
        "the same names: the same leaf"
    );

    // New names: a new leaf, from the same CA (devices keep trusting it).
    let mut renamed = config.clone();
    renamed.tls = Some(TlsConfig {
        certificate: TlsCertificate::SelfSigned {
            names: names(&[LAN_NAME, "localhost", "nvr.sightline.test"]),
        },
        http_redirect: None,
    });
    let relay = Relay::start(renamed).await.expect("relay restarts");
    let renamed = async {
        let (ca_pem, _) = relay.local_ca().context("a local CA")?;
        anyhow::ensure!(ca_pem == ca_on_disk, "the same CA with new names");
        tls_handshake(relay.local_addr(), "nvr.sightline.test", ca_pem).await
    }
    .await;
    relay.shutdown().await.expect("clean shutdown");
    let leaf = renamed
        .expect("the new name verifies with the same CA")
        .chain[0]
        .clone();
    assert_ne!(leaf, first_leaf, "new names: a new leaf");

    // Without TLS there is no CA to download.
    let relay = Relay::start(relay_config(vec![]).unwrap())
        .await
        .expect("relay starts");
    let answer = http_request(
        "GET",
        &format!("http://{}/ca.crt", relay.local_addr()),
        &[],
        "",
    )
    .await;
    relay.shutdown().await.expect("clean shutdown");
    assert_eq!(answer.expect("answers").status, 404);
}
