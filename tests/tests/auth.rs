//! Who may come in, against the real relay on loopback with a real SQLite file:
//! every route refuses an anonymous caller (walking the relay's own route
//! table), sign-in by password and by the first start's one-time link, cookie
//! flags, CSRF, cross-site WebSocket hijacking, per-camera grants on every
//! path, login rate limits, and revocation reaching an open socket.
//!
//! One relay per test (two small demo cameras, `a` and `b`); users are written
//! straight into its database file, as `sightline-relay user …` would.

use std::path::Path;

use sightline_relay::{DemoOptions, Need, Relay, RelayConfig, Source, ROUTES};
use sightline_store::{CameraGrant, Role, Store};
use sightline_testkit::{
    bare_config, http_request, secured, sign_in, tiny_demo, Answer, RelayClient,
};
use sightline_wire::ErrorCode;

const PASSWORD: &str = "correct horse battery";

struct Secured {
    relay: Relay,
    store: Store,
    _data: tempfile::TempDir,
}

impl Secured {
    async fn start() -> Secured {
        Secured::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut RelayConfig)) -> Secured {
        let (config, data) = secured(bare_config(vec![
            ("a", Source::Demo(tiny_demo())),
            ("b", Source::Demo(tiny_demo())),
        ]))
        .expect("data directory");
        let mut config = config;
        adjust(&mut config);
        let relay = Relay::start(config).await.expect("relay starts");
        let store = Store::open(&data.path().join("sightline.db")).expect("the relay's database");
        Secured {
            relay,
            store,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.relay.local_addr())
    }

    fn origin(&self) -> String {
        format!("http://{}", self.relay.local_addr())
    }

    fn add(&self, name: &str, role: Role, cameras: &str) {
        self.store
            .add_user(name, role, &CameraGrant::parse(cameras).unwrap(), PASSWORD)
            .expect("user added");
    }

    async fn login(&self, user: &str, password: &str) -> Answer {
        let body = serde_json::json!({ "user": user, "password": password }).to_string();
        http_request(
            "POST",
            &self.url("/api/login"),
            &[("content-type", "application/json")],
            &body,
        )
        .await
        .expect("login answers")
    }

    /// Signs in: the cookie (`name=value`) and the CSRF token.
    async fn session(&self, user: &str) -> (String, String) {
        sign_in(self.relay.local_addr(), user, PASSWORD)
            .await
            .expect("signed in")
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        http_request("GET", &self.url(path), headers, "")
            .await
            .expect("answers")
    }

    /// A WebSocket from the relay's own page with this cookie.
    async fn socket(&self, cookie: &str) -> anyhow::Result<RelayClient> {
        RelayClient::open_with(
            self.relay.local_addr(),
            None,
            &[("origin", &self.origin()), ("cookie", cookie)],
        )
        .await
    }
}

impl Secured {
    /// `POST /api/tickets` with a bearer token; the answer.
    async fn mint(&self, bearer: &str, body: serde_json::Value) -> Answer {
        let auth = format!("Bearer {bearer}");
        http_request(
            "POST",
            &self.url("/api/tickets"),
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            &body.to_string(),
        )
        .await
        .expect("answers")
    }

    /// A ticket from `bearer` (which must be granted one).
    async fn ticket(&self, bearer: &str, body: serde_json::Value) -> String {
        let answer = self.mint(bearer, body).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.json()["ticket"]
            .as_str()
            .expect("a ticket")
            .to_owned()
    }

    /// A socket (with this Origin, if any) that says hello with `ticket`.
    async fn hello_with(
        &self,
        origin: Option<&str>,
        ticket: &str,
    ) -> (
        RelayClient,
        Result<Vec<String>, sightline_testkit::client::WireError>,
    ) {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let mut client = RelayClient::open_with(self.relay.local_addr(), None, &headers)
            .await
            .expect("upgrade accepted");
        let welcome = client.hello_with_ticket(ticket).await.expect("an answer");
        let cameras = welcome.map(|(_, cameras)| cameras.into_iter().map(|c| c.id).collect());
        (client, cameras)
    }

    /// An admin's API key (`slk_…`).
    fn api_key(&self) -> (i64, String) {
        let admin = self.store.user_by_name("admin").unwrap().unwrap();
        let (key, token) = self
            .store
            .create_api_key(
                "backend",
                Role::Operator,
                &CameraGrant::All,
                admin.id,
                sightline_store::unix_now(),
            )
            .unwrap();
        (key.id, token.expose().to_owned())
    }
}

/// A page served from `http://HOST` (the `Host` and `Origin` its browser
/// sends) opens the socket and says hello, with no credentials: the welcome
/// or the refusal.
async fn hello_from_page(
    relay: std::net::SocketAddr,
    host: &str,
) -> anyhow::Result<Result<(), sightline_testkit::WireError>> {
    let origin = format!("http://{host}");
    let mut client =
        RelayClient::open_with(relay, None, &[("host", host), ("origin", &origin)]).await?;
    client.send_hello(sightline_wire::PROTOCOL_VERSION).await?;
    Ok(client.welcome().await?.map(|_| ()))
}

/// Subscribes to `camera`: `Ok` if the relay answers `subscribed`, else the error code.
async fn try_subscribe(client: &mut RelayClient, camera: &str) -> Result<(), ErrorCode> {
    client.subscribe(camera).await.unwrap();
    loop {
        match client.next_control().await.unwrap() {
            sightline_wire::ServerMessage::Subscribed { .. } => return Ok(()),
            sightline_wire::ServerMessage::Error { code, .. } => return Err(code),
            // News of cameras subscribed before.
            sightline_wire::ServerMessage::CameraStatus { .. }
            | sightline_wire::ServerMessage::Config { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn database(data: &Path) -> Store {
    Store::open(&data.join("sightline.db")).unwrap()
}

#[tokio::test]
async fn every_route_refuses_an_anonymous_caller() {
    let relay = Secured::start().await;
    let mut public = Vec::new();
    for route in ROUTES {
        let headers = [("content-type", "application/json")];
        // A path parameter filled in: `/api/users/{name}` → `/api/users/x`.
        let path = route
            .path
            .replace("{name}", "x")
            .replace("{id}", "1")
            .replace("{kid}", "x");
        let answer = http_request(route.method, &relay.url(&path), &headers, "{}")
            .await
            .expect("answers");
        match route.need {
            Need::Public => public.push(format!("{} {}", route.method, route.path)),
            // The upgrade itself is checked by the WebSocket tests below.
            Need::WebSocket => {}
            Need::Signed | Need::Admin | Need::Metrics | Need::SignedOrToken => {
                assert_eq!(
                    answer.status, 401,
                    "{} {}: {answer:?}",
                    route.method, route.path
                );
                assert_eq!(answer.json()["error"], "unauthenticated", "{answer:?}");
            }
        }
    }
    // The only doors open to strangers, each for a reason: the sign-in
    // (page and API), pages that hold no data and sign in by themselves
    // (admin: the session; kiosk and share: their tokens), and the health
    // check. A new public route must be added here on purpose.
    public.sort();
    assert_eq!(
        public,
        [
            "GET /admin",
            "GET /ca",
            "GET /ca.crt",
            "GET /healthz",
            "GET /kiosk",
            "GET /login",
            "GET /share",
            "POST /api/login"
        ]
    );
    // And the socket: an anonymous hello is refused and the socket closed.
    let mut client = RelayClient::open(relay.relay.local_addr(), None)
        .await
        .unwrap();
    client
        .send_hello(sightline_wire::PROTOCOL_VERSION)
        .await
        .unwrap();
    let refusal = client.expect_error().await.unwrap();
    assert_eq!(refusal.code, ErrorCode::Unauthenticated, "{refusal:?}");
    client.expect_closed().await.unwrap();
}

#[tokio::test]
async fn the_first_start_link_signs_in_as_admin_once() {
    let relay = Secured::start().await;
    let link = relay
        .relay
        .first_run_link()
        .expect("an empty database prints a link");
    let (base, token) = link
        .split_once("/login#token=")
        .expect("token in the fragment");
    assert_eq!(base, relay.origin());
    let body = serde_json::json!({ "token": token }).to_string();
    let json = [("content-type", "application/json")];
    let answer = http_request("POST", &relay.url("/api/login"), &json, &body)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["user"]["name"], "admin");
    assert_eq!(answer.json()["user"]["role"], "admin");
    let cookie = answer.cookie().unwrap();
    let me = relay.get("/api/me", &[("cookie", &cookie)]).await;
    assert_eq!(me.json()["user"]["name"], "admin", "{me:?}");
    // Single use.
    let again = http_request("POST", &relay.url("/api/login"), &json, &body)
        .await
        .unwrap();
    assert_eq!(again.status, 401, "{again:?}");
    // A second start of the same database prints nothing.
    let data = relay._data.path().to_owned();
    relay.relay.shutdown().await.unwrap();
    let (mut config, _unused) = secured(bare_config(vec![])).unwrap();
    config.data = Some(data.clone());
    let second = Relay::start(config).await.unwrap();
    assert!(second.first_run_link().is_none());
    assert_eq!(database(&data).user_count().unwrap(), 1);
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn password_sign_in_sets_a_safe_cookie_and_sign_out_needs_the_csrf_token() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "a");
    // A wrong password and an unknown user are told apart by nothing.
    let wrong = relay.login("alice", "not her password").await;
    let unknown = relay.login("mallory", PASSWORD).await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.cookie().is_none());

    let answer = relay.login("alice", PASSWORD).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    let cookie = answer.cookie().unwrap();
    assert!(!cookie.contains(PASSWORD));
    let csrf = answer.json()["csrf"].as_str().unwrap().to_owned();
    let me = relay.get("/api/me", &[("cookie", &cookie)]).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["user"]["role"], "viewer");
    assert_eq!(me.json()["user"]["cameras"], serde_json::json!(["a"]));
    assert_eq!(me.json()["csrf"], csrf.as_str());

    // CSRF: a cross-site form post, a missing token, a wrong token, a foreign
    // Origin with the right token: all refused, and the session lives on.
    let logout = |headers: Vec<(&'static str, String)>, body: &'static str| {
        let url = relay.url("/api/logout");
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            http_request("POST", &url, &headers, body).await.unwrap()
        }
    };
    let c = || ("cookie", cookie.clone());
    let json = || ("content-type", "application/json".to_owned());
    for (attempt, headers, body) in [
        (
            "form post",
            vec![
                c(),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            "a=1",
        ),
        ("no token", vec![c(), json()], "{}"),
        (
            "wrong token",
            vec![c(), json(), ("x-csrf-token", "0".repeat(43))],
            "{}",
        ),
        (
            "foreign origin",
            vec![
                c(),
                json(),
                ("x-csrf-token", csrf.clone()),
                ("origin", "http://evil.example".into()),
            ],
            "{}",
        ),
    ] {
        let answer = logout(headers, body).await;
        assert!(matches!(answer.status, 400 | 403), "{attempt}: {answer:?}");
        assert_eq!(
            relay.get("/api/me", &[("cookie", &cookie)]).await.status,
            200,
            "{attempt}"
        );
    }
    let answer = logout(vec![c(), json(), ("x-csrf-token", csrf.clone())], "{}").await;
    assert_eq!(answer.status, 204, "{answer:?}");
    assert_eq!(
        relay.get("/api/me", &[("cookie", &cookie)]).await.status,
        401
    );
}

#[tokio::test]
async fn a_viewer_of_camera_a_cannot_learn_of_or_receive_camera_b() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "a");
    let (cookie, _) = relay.session("alice").await;
    let with = [("cookie", cookie.as_str())];
    // /api/cameras
    let cameras = relay.get("/api/cameras", &with).await;
    let listed = cameras.json();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a"], "{cameras:?}");
    // /metrics names every camera: admins (or a scraper's token) only.
    let metrics = relay.get("/metrics", &with).await;
    assert_eq!(metrics.status, 403, "{metrics:?}");
    assert!(!metrics.body.contains("\"b\""));
    // welcome
    let mut client = relay.socket(&cookie).await.unwrap();
    client
        .send_hello(sightline_wire::PROTOCOL_VERSION)
        .await
        .unwrap();
    let (user, cameras) = client.welcome().await.unwrap().expect("welcomed");
    assert_eq!(user.unwrap().name, "alice");
    assert_eq!(
        cameras.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    // subscribe: camera b answers exactly like a camera that does not exist.
    client.subscribe_as(1, "b").await.unwrap();
    let forbidden = client.expect_error().await.unwrap();
    client.subscribe_as(2, "zz").await.unwrap();
    let unknown = client.expect_error().await.unwrap();
    assert_eq!(forbidden.code, ErrorCode::UnknownCamera);
    assert_eq!(forbidden.code, unknown.code);
    assert_eq!(
        forbidden.message.replace("\"b\"", "X"),
        unknown.message.replace("\"zz\"", "X")
    );
    // …and camera a plays.
    client.subscribe_as(3, "a").await.unwrap();
    client.expect_subscribed("a").await.unwrap();
    // An admin sees both, and the metrics.
    relay.add("root", Role::Admin, "*");
    let (admin, _) = relay.session("root").await;
    let metrics = relay.get("/metrics", &[("cookie", &admin)]).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("camera=\"b\""));
}

#[tokio::test]
async fn ptz_messages_need_the_cameras_grant_and_the_operator_role() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "a");
    relay.add("olga", Role::Operator, "a");
    let ptz = |id: u32, camera: &str| sightline_wire::ClientMessage::Ptz {
        id,
        camera: camera.into(),
        action: sightline_wire::PtzAction::Move {
            pan: 0.5,
            tilt: 0.0,
            zoom: 0.0,
        },
    };
    let mut answers = Vec::new();
    for user in ["alice", "olga"] {
        let (cookie, _) = relay.session(user).await;
        let mut client = relay.socket(&cookie).await.unwrap();
        client
            .send_hello(sightline_wire::PROTOCOL_VERSION)
            .await
            .unwrap();
        client.welcome().await.unwrap().expect("welcomed");
        for (id, camera) in [(1, "a"), (2, "b"), (3, "zz")] {
            client.send(&ptz(id, camera)).await.unwrap();
            let error = client.expect_error().await.unwrap();
            assert_eq!(error.request, Some(id));
            answers.push((user, camera, error.code, error.message));
        }
    }
    let code = |user: &str, camera: &str| {
        answers
            .iter()
            .find(|a| a.0 == user && a.1 == camera)
            .map(|a| (a.2, a.3.clone()))
            .unwrap()
    };
    // A viewer may not steer the camera it watches.
    assert_eq!(code("alice", "a").0, ErrorCode::Forbidden, "{answers:?}");
    // A camera without the grant answers exactly like one that does not exist.
    for user in ["alice", "olga"] {
        let (b, zz) = (code(user, "b"), code(user, "zz"));
        assert_eq!(b.0, ErrorCode::UnknownCamera);
        assert_eq!(b.0, zz.0);
        assert_eq!(b.1.replace("\"b\"", "X"), zz.1.replace("\"zz\"", "X"));
    }
    // An operator with the grant gets past both checks, to the camera's own
    // answer: the demo camera has no PTZ the relay can drive (yet).
    let (olga, message) = code("olga", "a");
    assert_eq!(olga, ErrorCode::Unavailable, "{message}");
    assert!(message.contains("no PTZ"), "{message}");
}

#[tokio::test]
async fn cross_site_websocket_hijacking_is_refused() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Admin, "*");
    let (cookie, _) = relay.session("alice").await;
    let addr = relay.relay.local_addr();
    let other_port = format!("http://127.0.0.1:{}", addr.port().wrapping_add(1));
    let https = format!("https://{addr}");
    for origin in [
        "http://evil.example",
        other_port.as_str(),
        https.as_str(),
        "null",
    ] {
        let refused =
            RelayClient::open_with(addr, None, &[("origin", origin), ("cookie", &cookie)])
                .await
                .err()
                .unwrap_or_else(|| panic!("{origin}: the upgrade was accepted"));
        assert!(
            format!("{refused:#}").contains("403"),
            "{origin}: {refused:#}"
        );
    }
    // Without an Origin (not a browser) the cookie is not enough: a ticket is.
    let mut client = RelayClient::open_with(addr, None, &[("cookie", &cookie)])
        .await
        .unwrap();
    client
        .send_hello(sightline_wire::PROTOCOL_VERSION)
        .await
        .unwrap();
    let refusal = client
        .welcome()
        .await
        .unwrap()
        .expect_err("cookie without Origin");
    assert_eq!(refusal.code, ErrorCode::Unauthenticated);
    // DNS rebinding with accounts on: the rebound page's requests carry no
    // cookie (the browser keeps the relay's for the relay's name), so the
    // relay may answer any name (reverse proxies) and still gives nothing.
    let rebound = format!("evil.example:{}", addr.port());
    let refusal = hello_from_page(addr, &rebound)
        .await
        .unwrap()
        .expect_err("no credentials");
    assert_eq!(refusal.code, ErrorCode::Unauthenticated);
    // The relay's own page is welcome.
    let mut client = relay.socket(&cookie).await.unwrap();
    client
        .send_hello(sightline_wire::PROTOCOL_VERSION)
        .await
        .unwrap();
    assert!(client.welcome().await.unwrap().is_ok());
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_address() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "*");
    let mut limited = None;
    for attempt in 0..20 {
        // X-Forwarded-For is not believed from an untrusted peer.
        let body = serde_json::json!({ "user": "alice", "password": format!("guess {attempt}") })
            .to_string();
        let fake = format!("198.51.100.{attempt}");
        let answer = http_request(
            "POST",
            &relay.url("/api/login"),
            &[
                ("content-type", "application/json"),
                ("x-forwarded-for", &fake),
            ],
            &body,
        )
        .await
        .unwrap();
        if answer.status == 429 {
            limited = Some((attempt, answer));
            break;
        }
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    let (attempt, answer) = limited.expect("rate limited within 20 attempts");
    assert_eq!(
        attempt, 10,
        "ten attempts at once, then one every few seconds"
    );
    assert_eq!(answer.json()["error"], "rate_limited");
    let wait: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    // Even the right password waits.
    assert_eq!(relay.login("alice", PASSWORD).await.status, 429);
}

#[tokio::test]
async fn revoking_a_user_closes_their_open_socket() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "a,b");
    relay.add("bob", Role::Viewer, "a");
    let (alice_cookie, _) = relay.session("alice").await;
    let (bob_cookie, _) = relay.session("bob").await;
    let mut alice = relay.socket(&alice_cookie).await.unwrap();
    alice
        .send_hello(sightline_wire::PROTOCOL_VERSION)
        .await
        .unwrap();
    alice.welcome().await.unwrap().unwrap();
    alice.subscribe("a").await.unwrap();
    let mut bob = relay.socket(&bob_cookie).await.unwrap();
    bob.send_hello(sightline_wire::PROTOCOL_VERSION)
        .await
        .unwrap();
    bob.welcome().await.unwrap().unwrap();
    // Narrowing alice's cameras (as an admin or the CLI would) ends her
    // session and closes her socket within seconds; bob's stays.
    relay
        .store
        .set_cameras("alice", &CameraGrant::parse("b").unwrap())
        .unwrap();
    let refusal = loop {
        match alice.next().await.unwrap() {
            sightline_testkit::Received::Control(sightline_wire::ServerMessage::Error {
                code,
                ..
            }) => break code,
            _ => continue,
        }
    };
    assert_eq!(refusal, ErrorCode::Unauthenticated);
    alice.expect_closed().await.unwrap();
    assert_eq!(
        relay
            .get("/api/me", &[("cookie", &alice_cookie)])
            .await
            .status,
        401
    );
    bob.subscribe("a").await.unwrap();
    bob.expect_subscribed("a").await.unwrap();
    // Removing bob closes his.
    relay.store.remove_user("bob").unwrap();
    bob.expect_closed().await.unwrap();
}

#[tokio::test]
async fn tickets_open_what_they_say_for_as_long_as_their_issuer_may() {
    const EMBED: &str = "http://shop.example:8000";
    let relay = Secured::start_with(|config| config.auth.embed_origins = vec![EMBED.into()]).await;
    let (key_id, key) = relay.api_key();
    // A backend mints a ticket for camera a, for pages of the shop.
    let ticket = relay
        .ticket(
            &key,
            serde_json::json!({"cameras": ["a"], "audience": EMBED, "ttl": 60}),
        )
        .await;
    assert!(ticket.starts_with("st1."));
    let (mut shop, cameras) = relay.hello_with(Some(EMBED), &ticket).await;
    assert_eq!(cameras.unwrap(), ["a"]);
    assert_eq!(try_subscribe(&mut shop, "a").await, Ok(()));
    assert_eq!(
        try_subscribe(&mut shop, "b").await,
        Err(ErrorCode::UnknownCamera)
    );
    // A client without Origin (not a browser) may use it too.
    let (_, cameras) = relay.hello_with(None, &ticket).await;
    assert_eq!(cameras.unwrap(), ["a"]);

    // Refused: another audience, tampering, another key, expiry, garbage.
    let own = relay
        .ticket(&key, serde_json::json!({"cameras": "*"}))
        .await;
    let refused = |result: Result<Vec<String>, sightline_testkit::client::WireError>,
                   what: &str| {
        let error = result.expect_err(what);
        assert_eq!(error.code, ErrorCode::Unauthenticated, "{what}: {error:?}");
        error.message
    };
    let message = refused(
        relay.hello_with(Some(EMBED), &own).await.1,
        "wrong audience",
    );
    assert!(message.contains("audience"), "{message}");
    let mut tampered = ticket.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    refused(
        relay
            .hello_with(Some(EMBED), &String::from_utf8(tampered).unwrap())
            .await
            .1,
        "tampered",
    );
    let kid = sightline_ticket::kid_of(&ticket).unwrap().to_owned();
    let now = sightline_store::unix_now();
    let claims = |iat: i64, ttl: i64| {
        sightline_ticket::Claims::new(
            format!("key:{key_id}"),
            vec!["a".into()],
            EMBED,
            iat,
            [7; 16],
        )
        .with_ttl(ttl)
    };
    let forged = sightline_ticket::sign(&kid, &[9; 32], &claims(now, 60)).unwrap();
    let message = refused(
        relay.hello_with(Some(EMBED), &forged).await.1,
        "wrong signature",
    );
    assert!(!message.contains(&forged), "a ticket is never echoed");
    let key_secret = relay.store.signing_key_by_id(&kid).unwrap().unwrap().secret;
    let expired = sightline_ticket::sign(&kid, &key_secret, &claims(now - 120, 60)).unwrap();
    let message = refused(relay.hello_with(Some(EMBED), &expired).await.1, "expired");
    assert!(message.contains("expired"), "{message}");
    let fresh = sightline_ticket::sign(&kid, &key_secret, &claims(now, 60)).unwrap();
    assert!(
        relay.hello_with(Some(EMBED), &fresh).await.1.is_ok(),
        "a fresh one plays"
    );
    refused(relay.hello_with(Some(EMBED), "st1.nope").await.1, "garbage");
    // A page of an origin not in embed_origins cannot even open the socket.
    assert!(RelayClient::open_with(
        relay.relay.local_addr(),
        None,
        &[("origin", "http://evil.example")]
    )
    .await
    .is_err());

    // Revoking the API key ends its tickets, and the sockets they opened.
    relay
        .store
        .revoke_api_key(key_id, sightline_store::unix_now())
        .unwrap();
    shop.expect_closed().await.unwrap();
    refused(
        relay.hello_with(Some(EMBED), &ticket).await.1,
        "revoked key",
    );
    assert_eq!(relay.mint(&key, serde_json::json!({})).await.status, 401);
}

#[tokio::test]
async fn a_revoked_signing_key_ends_its_tickets() {
    let relay = Secured::start().await;
    let (_, key) = relay.api_key();
    let ticket = relay.ticket(&key, serde_json::json!({})).await;
    let (mut client, cameras) = relay.hello_with(None, &ticket).await;
    assert_eq!(cameras.unwrap(), ["a", "b"]);
    let kid = sightline_ticket::kid_of(&ticket).unwrap();
    relay
        .store
        .revoke_signing_key(kid, sightline_store::unix_now())
        .unwrap();
    client.expect_closed().await.unwrap();
    assert!(relay.hello_with(None, &ticket).await.1.is_err());
    // The next ticket is signed with a new key and works.
    let next = relay.ticket(&key, serde_json::json!({})).await;
    assert_ne!(sightline_ticket::kid_of(&next).unwrap(), kid);
    assert!(relay.hello_with(None, &next).await.1.is_ok());
}

#[tokio::test]
async fn kiosk_devices_and_share_links_see_their_cameras_until_revoked() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "a,b");
    let alice = relay.store.user_by_name("alice").unwrap().unwrap();
    let admin = relay.store.user_by_name("admin").unwrap().unwrap();
    let now = sightline_store::unix_now();
    // A kiosk device for camera b.
    let (device, device_token) = relay
        .store
        .create_device("lobby", &CameraGrant::parse("b").unwrap(), admin.id, now)
        .unwrap();
    let ticket = relay
        .ticket(device_token.expose(), serde_json::json!({"cameras": "*"}))
        .await;
    let (mut kiosk, cameras) = relay.hello_with(Some(&relay.origin()), &ticket).await;
    assert_eq!(
        cameras.unwrap(),
        ["b"],
        "a device sees its cameras, whatever it asks"
    );
    // A device cannot mint more than viewing.
    let answer = relay
        .mint(
            device_token.expose(),
            serde_json::json!({"role": "operate"}),
        )
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    // alice shares camera a.
    let (share, share_token) = relay
        .store
        .create_share("a", alice.id, now, now + 3600)
        .unwrap();
    let ticket = relay
        .ticket(share_token.expose(), serde_json::json!({}))
        .await;
    let (mut guest, cameras) = relay.hello_with(Some(&relay.origin()), &ticket).await;
    assert_eq!(cameras.unwrap(), ["a"]);
    assert_eq!(
        try_subscribe(&mut guest, "b").await,
        Err(ErrorCode::UnknownCamera)
    );

    // Revoking the device blanks the kiosk; the guest plays on.
    relay
        .store
        .revoke_device(device.id, sightline_store::unix_now())
        .unwrap();
    kiosk.expect_closed().await.unwrap();
    assert_eq!(try_subscribe(&mut guest, "a").await, Ok(()));
    // alice losing camera a ends her share link too.
    relay
        .store
        .set_cameras("alice", &CameraGrant::parse("b").unwrap())
        .unwrap();
    guest.expect_closed().await.unwrap();
    assert_eq!(
        relay
            .mint(share_token.expose(), serde_json::json!({}))
            .await
            .status,
        401
    );
    let _ = share;
}

#[tokio::test]
async fn a_signed_in_user_mints_tickets_within_their_own_rights() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "a");
    let (cookie, csrf) = relay.session("alice").await;
    let mint = |body: serde_json::Value, csrf: &str| {
        let headers = [
            ("content-type", "application/json"),
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf),
        ];
        let url = relay.url("/api/tickets");
        let body = body.to_string();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            http_request("POST", &url, &headers, &body).await.unwrap()
        }
    };
    assert_eq!(
        mint(serde_json::json!({}), "wrong").await.status,
        403,
        "CSRF applies"
    );
    let answer = mint(serde_json::json!({"cameras": "*"}), &csrf).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json()["cameras"],
        serde_json::json!(["a"]),
        "capped by her grant"
    );
    let ticket = answer.json()["ticket"].as_str().unwrap().to_owned();
    let (_, cameras) = relay.hello_with(Some(&relay.origin()), &ticket).await;
    assert_eq!(cameras.unwrap(), ["a"]);
    assert_eq!(
        mint(serde_json::json!({"role": "operate"}), &csrf)
            .await
            .status,
        403
    );
    assert_eq!(
        mint(serde_json::json!({"cameras": ["b"]}), &csrf)
            .await
            .status,
        403
    );
    let answer = mint(
        serde_json::json!({"audience": "https://elsewhere.example"}),
        &csrf,
    )
    .await;
    assert_eq!(
        answer.status, 400,
        "an audience that could never use it: {answer:?}"
    );
    assert_eq!(
        mint(serde_json::json!({"ttl": 7200}), &csrf).await.status,
        400
    );
}

impl Secured {
    /// A signed-in user's request with the CSRF token; `body` JSON.
    async fn as_user(
        &self,
        session: &(String, String),
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Answer {
        let (cookie, csrf) = session;
        http_request(
            method,
            &self.url(path),
            &[
                ("content-type", "application/json"),
                ("cookie", cookie),
                ("x-csrf-token", csrf),
            ],
            &body.to_string(),
        )
        .await
        .expect("answers")
    }
}

#[tokio::test]
async fn the_admin_api_is_for_admins_and_every_change_is_audited() {
    let relay = Secured::start().await;
    relay.add("root", Role::Admin, "*");
    relay.add("alice", Role::Viewer, "a");
    let root = relay.session("root").await;
    let alice = relay.session("alice").await;
    // A viewer is refused every admin route.
    for (method, path) in [
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("POST", "/api/users/alice"),
        ("DELETE", "/api/users/root"),
        ("GET", "/api/keys"),
        ("POST", "/api/devices"),
        ("GET", "/api/audit"),
        ("POST", "/api/signing-keys/rotate"),
    ] {
        let answer = relay
            .as_user(&alice, method, path, serde_json::json!({}))
            .await;
        assert_eq!(answer.status, 403, "{method} {path}: {answer:?}");
    }
    // The admin adds bob with a generated password, shown once.
    let answer = relay
        .as_user(
            &root,
            "POST",
            "/api/users",
            serde_json::json!({"name": "bob", "role": "operator", "cameras": ["b"]}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let password = answer.json()["password"].as_str().unwrap().to_owned();
    assert_eq!(relay.login("bob", &password).await.status, 200);
    let users = relay
        .as_user(&root, "GET", "/api/users", serde_json::json!({}))
        .await;
    assert!(
        !users.body.contains(&password) && !users.body.contains("argon2"),
        "{users:?}"
    );
    // Changing alice's cameras ends her session.
    let answer = relay
        .as_user(
            &root,
            "POST",
            "/api/users/alice",
            serde_json::json!({"cameras": "*"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        relay.get("/api/me", &[("cookie", &alice.0)]).await.status,
        401
    );
    // The last admin cannot be removed… (root and the first-run admin: two)
    assert_eq!(
        relay
            .as_user(&root, "DELETE", "/api/users/admin", serde_json::json!({}))
            .await
            .status,
        204
    );
    let last = relay
        .as_user(&root, "DELETE", "/api/users/root", serde_json::json!({}))
        .await;
    assert_eq!(last.status, 409, "{last:?}");
    // A device, a key; both listed without their tokens.
    let device = relay
        .as_user(
            &root,
            "POST",
            "/api/devices",
            serde_json::json!({"name": "lobby", "cameras": ["a"]}),
        )
        .await;
    let token = device.json()["token"].as_str().unwrap().to_owned();
    assert!(device.json()["link"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/kiosk#device={token}")));
    let listed = relay
        .as_user(&root, "GET", "/api/devices", serde_json::json!({}))
        .await;
    assert!(!listed.body.contains(&token));
    // An API key scoped to viewing camera a: its backend mints no more.
    let key = relay
        .as_user(
            &root,
            "POST",
            "/api/keys",
            serde_json::json!({"name": "shop", "role": "viewer", "cameras": "a"}),
        )
        .await;
    assert_eq!(key.status, 200, "{key:?}");
    let key_token = key.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(key.json()["key"]["role"], "viewer");
    let minted = relay.mint(&key_token, serde_json::json!({})).await;
    assert_eq!(
        minted.json()["cameras"],
        serde_json::json!(["a"]),
        "{minted:?}"
    );
    for beyond in [
        serde_json::json!({"cameras": ["b"]}),
        serde_json::json!({"role": "operate"}),
    ] {
        let answer = relay.mint(&key_token, beyond.clone()).await;
        assert_eq!(answer.status, 403, "{beyond}: {answer:?}");
    }
    let admin_key = relay
        .as_user(
            &root,
            "POST",
            "/api/keys",
            serde_json::json!({"name": "too much", "role": "admin"}),
        )
        .await;
    let no_cameras = relay
        .as_user(
            &root,
            "POST",
            "/api/keys",
            serde_json::json!({"name": "nothing", "cameras": []}),
        )
        .await;
    assert_eq!(no_cameras.status, 400, "{no_cameras:?}");
    assert_eq!(
        admin_key.status, 400,
        "tickets never administer: {admin_key:?}"
    );
    let listed = relay
        .as_user(&root, "GET", "/api/keys", serde_json::json!({}))
        .await;
    assert!(!listed.body.contains(&key_token));
    // The audit log has it all, by whom; secrets nowhere.
    let audit = relay
        .as_user(&root, "GET", "/api/audit?limit=100", serde_json::json!({}))
        .await;
    assert_eq!(audit.status, 200);
    for action in [
        "user.add",
        "user.change",
        "user.remove",
        "device.add",
        "key.add",
        "ticket.mint",
        "login.ok",
    ] {
        assert!(audit.body.contains(action), "{action}: {}", audit.body);
    }
    assert!(audit.body.contains("\"actor\":\"root\""));
    assert!(!audit.body.contains(&token) && !audit.body.contains(&password));
    assert!(!audit.body.contains(&key_token));
}

#[tokio::test]
async fn share_links_only_for_what_the_creator_sees_and_revocable_by_them() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "a");
    relay.add("bob", Role::Viewer, "*");
    let alice = relay.session("alice").await;
    let bob = relay.session("bob").await;
    let share = |camera: &str| serde_json::json!({"camera": camera, "hours": 2});
    // Camera b is not hers: answered like a camera that does not exist.
    let b = relay
        .as_user(&alice, "POST", "/api/shares", share("b"))
        .await;
    let zz = relay
        .as_user(&alice, "POST", "/api/shares", share("zz"))
        .await;
    assert_eq!((b.status, zz.status), (404, 404));
    assert_eq!(b.json()["error"], zz.json()["error"]);
    let too_long = relay
        .as_user(
            &alice,
            "POST",
            "/api/shares",
            serde_json::json!({"camera": "a", "hours": 169}),
        )
        .await;
    assert_eq!(too_long.status, 400);
    let made = relay
        .as_user(&alice, "POST", "/api/shares", share("a"))
        .await;
    assert_eq!(made.status, 200, "{made:?}");
    let token = made.json()["token"].as_str().unwrap().to_owned();
    let id = made.json()["share"]["id"].as_i64().unwrap();
    assert!(made.json()["link"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/share#token={token}")));
    // The guest lists and plays camera a only.
    let cameras = relay
        .get(
            "/api/cameras",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(cameras.json().as_array().unwrap().len(), 1, "{cameras:?}");
    let ticket = relay.ticket(&token, serde_json::json!({})).await;
    let (mut guest, cameras) = relay.hello_with(Some(&relay.origin()), &ticket).await;
    assert_eq!(cameras.unwrap(), ["a"]);
    // Bob did not make it: he may not see or revoke it.
    let listed = relay
        .as_user(&bob, "GET", "/api/shares", serde_json::json!({}))
        .await;
    assert_eq!(listed.json(), serde_json::json!([]));
    let refused = relay
        .as_user(
            &bob,
            "DELETE",
            &format!("/api/shares/{id}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    // Alice revokes it: the guest's socket closes, the token is dead.
    let revoked = relay
        .as_user(
            &alice,
            "DELETE",
            &format!("/api/shares/{id}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(revoked.status, 204);
    guest.expect_closed().await.unwrap();
    assert_eq!(relay.mint(&token, serde_json::json!({})).await.status, 401);
}

#[tokio::test]
async fn without_accounts_nothing_can_be_administered_and_other_sites_still_cannot_connect() {
    let relay = Relay::start(bare_config(vec![(
        "a",
        Source::Demo(DemoOptions {
            width: 160,
            height: 96,
            fps: 5,
            ..DemoOptions::default()
        }),
    )]))
    .await
    .unwrap();
    let addr = relay.local_addr();
    // No user can be made while the door is open (it would outlive the opening).
    let answer = http_request(
        "POST",
        &format!("http://{addr}/api/users"),
        &[("content-type", "application/json")],
        r#"{"name":"mallory","role":"admin","cameras":"*","password":"mallory's password"}"#,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 503, "{answer:?}");
    // Any web site a LAN user visits would otherwise stream the cameras.
    for origin in ["http://evil.example", "null"] {
        assert!(
            RelayClient::open_with(addr, None, &[("origin", origin)])
                .await
                .is_err(),
            "{origin} opened the socket"
        );
    }
    // The relay's own pages and non-browsers may.
    let own = format!("http://{addr}");
    let mut client = RelayClient::open_with(addr, None, &[("origin", &own)])
        .await
        .unwrap();
    client
        .send_hello(sightline_wire::PROTOCOL_VERSION)
        .await
        .unwrap();
    assert!(client.welcome().await.unwrap().is_ok());
    // A method a route does not have is named as such.
    let answer = http_request("PUT", &format!("http://{addr}/api/cameras"), &[], "")
        .await
        .unwrap();
    assert_eq!(answer.status, 405, "{answer:?}");
    // DNS rebinding: a page of evil.example whose name now resolves to the
    // relay has, to the relay, its own origin. Without accounts, the relay
    // answers only to names it knows.
    let port = addr.port();
    let rebound = format!("evil.example:{port}");
    let rebound_origin = format!("http://{rebound}");
    let refused = RelayClient::open_with(
        addr,
        None,
        &[("host", &rebound), ("origin", &rebound_origin)],
    )
    .await
    .err()
    .expect("a rebound page opened the socket");
    assert!(format!("{refused:#}").contains("421"), "{refused:#}");
    for path in ["/api/cameras", "/", "/healthz"] {
        let answer = http_request(
            "GET",
            &format!("http://{addr}{path}"),
            &[("host", &rebound)],
            "",
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 421, "{path}: {answer:?}");
        assert!(!answer.body.contains("evil"), "the name is not echoed back");
    }
    for known in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let answer = http_request(
            "GET",
            &format!("http://{addr}/api/cameras"),
            &[("host", &known)],
            "",
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 200, "{known}: {answer:?}");
    }
    relay.shutdown().await.unwrap();

    // A name in `[auth] hosts` is answered to.
    let mut config = bare_config(vec![("a", Source::Demo(DemoOptions::default()))]);
    config.auth.hosts = vec!["cams.example.com".into()];
    let relay = Relay::start(config).await.unwrap();
    let addr = relay.local_addr();
    let named = format!("cams.example.com:{}", addr.port());
    assert!(hello_from_page(addr, &named).await.unwrap().is_ok());
    relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_ticket_ends_with_its_expiry_and_with_its_users_password() {
    let relay = Secured::start().await;
    relay.add("alice", Role::Viewer, "*");
    let session = relay.session("alice").await;
    let mint = |ttl: i64| {
        relay.as_user(
            &session,
            "POST",
            "/api/tickets",
            serde_json::json!({"ttl": ttl}),
        )
    };
    // A one-second ticket: its socket is told and closed when it expires.
    let short = mint(1).await.json()["ticket"].as_str().unwrap().to_owned();
    let (mut client, cameras) = relay.hello_with(Some(&relay.origin()), &short).await;
    assert!(cameras.is_ok());
    let refusal = client.expect_error().await.unwrap();
    assert_eq!(refusal.code, ErrorCode::Unauthenticated);
    assert!(refusal.message.contains("expired"), "{refusal:?}");
    client.expect_closed().await.unwrap();
    // An hour-long one dies with a new password (whoever stole the session
    // that minted it is locked out with it).
    let long = mint(3600).await.json()["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut client, cameras) = relay.hello_with(Some(&relay.origin()), &long).await;
    assert!(cameras.is_ok());
    relay
        .store
        .set_password("alice", "a brand new password")
        .unwrap();
    client.expect_closed().await.unwrap();
    assert!(relay
        .hello_with(Some(&relay.origin()), &long)
        .await
        .1
        .is_err());
}
