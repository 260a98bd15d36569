//! `sightline-relay`: parses the command line, then either serves (until
//! Ctrl-C) or runs a `user …` command against the database.

use std::io::BufRead as _;

use anyhow::Context as _;
use clap::Parser;
use sightline_relay::app::{base_url, open_store, signin_link};
use sightline_relay::config::{Command, UserCommand};
use sightline_relay::{new_claims, normalize_origin, Cli, Relay, RelayConfig};
use sightline_store::{unix_now, AuditEntry, CameraGrant, Role, Secret, Store};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let mut cli = Cli::parse();
    let command = cli.command.take();
    // `user …` reads the same flags and file as the server: the data
    // directory, and the address and scheme its links point at.
    let config = RelayConfig::from_cli(cli)?;
    if let Some(Command::User(command)) = command {
        return user_command(&config, command);
    }
    // Every viewer is a socket: a default soft limit of 1024 open files would
    // cap a relay at about a thousand viewers. Raise it to the hard limit.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!("open-file limit: {limit}"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    if config.www.is_none() {
        tracing::warn!("no --www given: the web player is not served (run `cargo xtask run`)");
    }
    if let Some(data) = &config.data {
        tracing::info!("data directory: {}", data.display());
    }
    let relay = Relay::start(config).await?;
    let addr = relay.local_addr();
    let tls = relay.is_tls();
    let base = base_url(addr, tls);
    tracing::info!(
        "Sightline relay listening on {}://{addr}",
        if tls { "https" } else { "http" }
    );
    println!("Sightline is live: open {base}/");
    if let Some((_, fingerprint)) = relay.local_ca() {
        println!();
        println!("HTTPS with the relay's own CA. Each device trusts it once, from {base}/ca");
        println!("(check that the device shows this SHA-256 fingerprint):");
        println!();
        println!("    {fingerprint}");
        println!();
    }
    if let Some(redirect) = relay.redirect_addr() {
        tracing::info!("http://{redirect} sends browsers to {base}");
    }
    if let Some(link) = relay.first_run_link() {
        // stdout, not the log: the link is a credential, shown once.
        println!();
        println!("First start: an `admin` account was created. Sign in once with this link");
        println!("(valid 24 hours, single use), then set a password on the admin page or with");
        println!("`sightline-relay user set admin --password-stdin`:");
        println!();
        println!("    {link}");
        println!();
    }
    tokio::signal::ctrl_c().await?;
    tracing::info!("Ctrl-C: shutting down");
    relay.shutdown().await?;
    Ok(())
}

/// `sightline-relay user …`: the database in the data directory, no server.
fn user_command(config: &RelayConfig, command: UserCommand) -> anyhow::Result<()> {
    let data = config
        .data
        .clone()
        .context("no data directory: give --data DIR")?;
    // What links and audiences say when not told: the relay as it would listen.
    let base = base_url(config.listen, config.tls.is_some());
    let store = open_store(&data)?;
    eprintln!("data directory: {}", data.display());
    // A copy of the cluster's accounts is overwritten by the next copy:
    // changes are made where they are managed.
    let copy_of = match config.cluster.as_ref().map(|c| c.accounts()) {
        Some(sightline_cluster::Accounts::CopyOf(node)) => Some(node),
        _ => None,
    };
    if let (
        Some(node),
        UserCommand::Add { .. } | UserCommand::Set { .. } | UserCommand::Remove { .. },
    ) = (&copy_of, &command)
    {
        anyhow::bail!(
            "this relay keeps a read-only copy of the cluster's accounts ([cluster] accounts = {node:?}): run this command on relay {node:?}"
        );
    }
    let audit = |store: &Store, action: &str, target: &str| {
        store.audit(&AuditEntry {
            at: unix_now(),
            actor: Some("cli".into()),
            action: action.into(),
            target: Some(target.into()),
            detail: None,
            peer: None,
        })
    };
    match command {
        UserCommand::Add {
            name,
            role,
            cameras,
            password_stdin,
        } => {
            let role: Role = role.parse()?;
            let cameras = CameraGrant::parse(&cameras)?;
            let (password, generated) = new_password(password_stdin)?;
            let user = store.add_user(&name, role, &cameras, password.expose())?;
            audit(&store, "user.add", &user.name)?;
            println!(
                "added {} ({}, cameras {})",
                user.name,
                user.role,
                grant_text(&user.cameras)
            );
            if generated {
                println!("password (shown once): {}", password.expose());
            }
        }
        UserCommand::Set {
            name,
            role,
            cameras,
            password_stdin,
            new_password: generate,
        } => {
            if role.is_none() && cameras.is_none() && !password_stdin && !generate {
                anyhow::bail!(
                    "nothing to change: give --role, --cameras, --password-stdin or --new-password"
                );
            }
            if let Some(role) = role {
                store.set_role(&name, role.parse()?)?;
                audit(&store, "user.role", &name)?;
            }
            if let Some(cameras) = cameras {
                store.set_cameras(&name, &CameraGrant::parse(&cameras)?)?;
                audit(&store, "user.cameras", &name)?;
            }
            if password_stdin || generate {
                let (password, generated) = new_password(password_stdin)?;
                store.set_password(&name, password.expose())?;
                audit(&store, "user.password", &name)?;
                if generated {
                    println!("new password (shown once): {}", password.expose());
                }
            }
            let user = store
                .user_by_name(&name)?
                .with_context(|| format!("no user {name:?}"))?;
            println!(
                "{}: {}, cameras {} (their open sessions were ended)",
                user.name,
                user.role,
                grant_text(&user.cameras)
            );
        }
        UserCommand::Remove { name } => {
            store.remove_user(&name)?;
            audit(&store, "user.remove", &name)?;
            println!("removed {name}");
        }
        UserCommand::List => {
            for user in store.users()? {
                println!(
                    "{:<24} {:<9} {}",
                    user.name,
                    user.role,
                    grant_text(&user.cameras)
                );
            }
        }
        UserCommand::Ticket {
            name,
            cameras,
            ttl,
            audience,
        } => {
            let user = store
                .user_by_name(&name)?
                .with_context(|| format!("no user {name:?}"))?;
            let cameras = CameraGrant::parse(&cameras)?.intersect(&user.cameras);
            if cameras.is_empty() {
                anyhow::bail!("{name} may see none of these cameras");
            }
            // As `POST /api/tickets` takes it: one origin (`*` is for API keys).
            let audience = normalize_origin(audience.as_deref().unwrap_or(&base))
                .map_err(|why| anyhow::anyhow!("--audience: {why}"))?;
            let now = unix_now();
            let sub = format!("user:{}:{}", user.id, user.generation);
            let claims = new_claims(
                sub,
                &cameras,
                sightline_ticket::TicketRole::View,
                audience,
                ttl,
                now,
            )?;
            let key = match &copy_of {
                None => store.signing_key(now)?,
                Some(node) => store.current_signing_key()?.with_context(|| {
                    format!("no ticket signing key copied from relay {node:?} yet")
                })?,
            };
            let ticket = sightline_ticket::sign(&key.kid, &key.secret, &claims)?;
            store.audit(&AuditEntry {
                at: now,
                actor: Some("cli".into()),
                action: "ticket.mint".into(),
                target: Some(name.clone()),
                detail: Some(format!(
                    "cameras {cameras}; role View; audience {}; ttl {ttl} s; jti {}",
                    claims.aud, claims.jti
                )),
                peer: None,
            })?;
            println!("{ticket}");
        }
        UserCommand::Link {
            name,
            base: base_given,
        } => {
            let user = store
                .user_by_name(&name)?
                .with_context(|| format!("no user {name:?}"))?;
            let token = store.create_signin_token(user.id, unix_now(), 15 * 60)?;
            audit(&store, "user.link", &name)?;
            let base = base_given.unwrap_or_else(|| base.clone());
            println!("{}", signin_link(&base, token.expose()));
        }
    }
    Ok(())
}

/// A password from stdin's first line, or a generated one (`true`).
fn new_password(from_stdin: bool) -> anyhow::Result<(Secret, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        sightline_store::password::check(&password)?;
        Ok((Secret::new(password), false))
    } else {
        Ok((sightline_store::password::generate()?, true))
    }
}

fn grant_text(grant: &CameraGrant) -> String {
    serde_json::to_string(grant).unwrap_or_default()
}
