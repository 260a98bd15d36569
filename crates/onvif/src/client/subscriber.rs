//! The PullPoint event loop: subscribe, long-poll, renew, resubscribe.
//!
//! One loop per camera, for as long as the relay wants its events:
//! 1. measure the camera's clock (every (re)subscribe: it is one
//!    unauthenticated request, and clocks get set while cameras run);
//! 2. find the events service (GetServices, else GetCapabilities);
//! 3. CreatePullPointSubscription with the topic filter;
//! 4. PullMessages as a long poll (10 s by default, so an event arrives within
//!    a round trip of happening and an idle camera costs one request per 10 s);
//! 5. Renew once half the time the camera granted has passed. Many cameras
//!    extend the subscription on every PullMessages (ONVIF Core asks them to)
//!    and say so in the reply's `TerminationTime`, which is then taken as the
//!    new end: those never need a Renew. The long poll is shortened to half the
//!    time left, so a camera that grants only a few seconds is renewed in time.
//!
//! Any failure drops the subscription and starts again from 1 after a backoff
//! (sightline-backoff: exponential with jitter, reset by a successful pull).
//! A refused credential (`ter:NotAuthorized`) is first retried at once with the
//! clock measured afresh, since a camera whose clock was just set refuses a
//! stale `Created` exactly like a wrong password; refused again, it is reported
//! as a wrong user or password and retried with backoff. On shutdown the
//! subscription is unsubscribed (cameras allow only a few at once).
//!
//! Output is one bounded channel of [`EventUpdate`]s: state changes (motion
//! started/ended, with [`crate::EventState`]'s debounce for a camera that never
//! sends the end) and status changes addressed to the administrator. When the
//! receiver is slow, the loop waits for it (no buffer grows); when it is
//! dropped, the loop ends.

use std::future::Future;
use std::time::Duration;

use sightline_backoff::Backoff;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{local_now, Camera, ClientError};
use crate::requests::MOTION_TOPICS;
use crate::responses::EndpointReference;
use crate::{ClockOffset, EventState, StateChange, Timestamp};

/// How the loop behaves; [`EventOptions::default`] suits real cameras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOptions {
    /// Topics to subscribe to (`tns1:`/`tnsaxis:` prefixes); empty: every event.
    pub topics: Vec<String>,
    /// The longest PullMessages wait.
    pub pull_timeout: Duration,
    /// At most this many messages per PullMessages.
    pub message_limit: u32,
    /// The subscription time asked for on subscribe and renew.
    pub termination: Duration,
    /// A state not confirmed (or ended) within this is ended by itself.
    pub max_active: Duration,
    /// First retry delay after a failure, doubling up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Default for EventOptions {
    fn default() -> EventOptions {
        EventOptions {
            topics: MOTION_TOPICS.iter().map(|t| (*t).to_owned()).collect(),
            pull_timeout: Duration::from_secs(10),
            message_limit: 32,
            termination: Duration::from_secs(60),
            max_active: Duration::from_secs(60),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
        }
    }
}

/// What [`run_events`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventUpdate {
    /// A state started or ended (times in the relay's clock).
    Change(StateChange),
    Status(EventStatus),
}

/// The subscription's health, for the camera's status and the admin page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStatus {
    /// Subscribed (again); `clock_offset` is how far the camera's clock is
    /// ahead of ours, compensated.
    Connected {
        events_address: String,
        clock_offset: ClockOffset,
    },
    /// It failed; the next attempt is in `retry_in`. `message` is addressed to
    /// the administrator; `failures` counts attempts since the last success.
    Failed {
        message: String,
        not_authorized: bool,
        retry_in: Duration,
        failures: u32,
    },
}

/// The subscription in use.
struct Active {
    reference: EndpointReference,
    /// When the camera will drop it, in our monotonic clock.
    expires_at: Instant,
    /// How long the camera granted last time (renew at half of it).
    granted: Duration,
}

/// The receiver is gone: stop.
struct Closed;

struct Loop<'a> {
    camera: &'a Camera,
    options: &'a EventOptions,
    tx: &'a mpsc::Sender<EventUpdate>,
    state: EventState,
    backoff: Backoff,
    subscription: Option<Active>,
}

/// Runs the PullPoint loop for `camera` until `shutdown` completes or `tx`'s
/// receiver is dropped; then unsubscribes and ends the states still active.
pub async fn run_events(
    camera: &Camera,
    options: &EventOptions,
    tx: &mpsc::Sender<EventUpdate>,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut run = Loop {
        camera,
        options,
        tx,
        state: EventState::new(options.max_active),
        backoff: Backoff::new(options.retry_initial, options.retry_max),
        subscription: None,
    };
    // Whether the last failure was a refusal already retried with a fresh clock.
    let mut clock_retried = false;
    loop {
        let outcome = tokio::select! {
            biased;
            () = &mut shutdown => break,
            outcome = run.session(&mut clock_retried) => outcome,
        };
        let error = match outcome {
            Ok(Closed) => break,
            Err(Ok(Closed)) => break,
            Err(Err(error)) => error,
        };
        if let Some(active) = run.subscription.take() {
            // Free the camera's slot (they allow only a few) unless the camera
            // is unreachable or has already forgotten it; best effort, briefly.
            if !matches!(error, ClientError::Unreachable { .. }) {
                let _ = tokio::time::timeout(
                    Duration::from_secs(3),
                    camera.unsubscribe(&active.reference),
                )
                .await;
            }
        }
        tracing::debug!(camera = camera.device_url(), %error, "ONVIF events failed");
        if error.is_not_authorized() && !clock_retried {
            clock_retried = true;
            continue;
        }
        let delay = run.backoff.next_delay(random());
        let status = EventStatus::Failed {
            message: admin_message(&error, camera.clock_offset()),
            not_authorized: error.is_not_authorized(),
            retry_in: delay,
            failures: run.backoff.failures(),
        };
        if run.send(EventUpdate::Status(status)).await.is_err() {
            break;
        }
        let waited = tokio::select! {
            biased;
            () = &mut shutdown => break,
            waited = run.wait(delay) => waited,
        };
        if waited.is_err() {
            break;
        }
    }
    if let Some(active) = run.subscription.take() {
        // Best effort, briefly: a camera that is gone lets it expire.
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            camera.unsubscribe(&active.reference),
        )
        .await;
    }
    for change in run.state.clear(local_now()) {
        if tx.try_send(EventUpdate::Change(change)).is_err() {
            break;
        }
    }
}

impl Loop<'_> {
    async fn send(&self, update: EventUpdate) -> Result<(), Closed> {
        self.tx.send(update).await.map_err(|_| Closed)
    }

    async fn send_changes(&self, changes: Vec<StateChange>) -> Result<(), Closed> {
        for change in changes {
            self.send(EventUpdate::Change(change)).await?;
        }
        Ok(())
    }

    /// Waits `delay`, still ending states whose end never comes.
    async fn wait(&mut self, delay: Duration) -> Result<(), Closed> {
        let until = Instant::now() + delay;
        loop {
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::time::sleep((until - now).min(Duration::from_secs(1))).await;
            let ended = self.state.expire(local_now());
            self.send_changes(ended).await?;
        }
    }

    /// One subscription, from subscribing until it fails. Ok(Closed) and
    /// Err(Ok(Closed)) both mean the receiver is gone.
    async fn session(
        &mut self,
        clock_retried: &mut bool,
    ) -> Result<Closed, Result<Closed, ClientError>> {
        let camera = self.camera;
        let offset = camera.system_date_and_time().await.map_err(Err)?;
        let address = camera.events_address().await.map_err(Err)?;
        let topics: Vec<&str> = self.options.topics.iter().map(String::as_str).collect();
        let created = camera
            .create_pull_point_subscription(&address, &topics, self.options.termination)
            .await
            .map_err(Err)?;
        let granted = remaining(
            created.termination_time,
            created.current_time,
            offset,
            self.options.termination,
        );
        self.subscription = Some(Active {
            reference: created.reference,
            expires_at: Instant::now() + granted,
            granted,
        });
        self.send(EventUpdate::Status(EventStatus::Connected {
            events_address: address,
            clock_offset: offset,
        }))
        .await
        .map_err(Ok)?;

        loop {
            let Some(active) = self.subscription.as_mut() else {
                return Err(Err(ClientError::Internal("no subscription")));
            };
            let mut left = active.expires_at.saturating_duration_since(Instant::now());
            if left <= active.granted / 2 {
                let sent_at = Instant::now();
                let end = camera
                    .renew(&active.reference, self.options.termination)
                    .await
                    .map_err(Err)?;
                let offset = camera.clock_offset().unwrap_or(offset);
                let granted = remaining(Some(end), None, offset, self.options.termination);
                active.expires_at = sent_at + granted;
                active.granted = granted;
                left = granted;
            }
            let timeout = self
                .options
                .pull_timeout
                .min(left / 2)
                .max(Duration::from_secs(1));
            let asked_at = Instant::now();
            let pulled = camera
                .pull_messages(&active.reference, timeout, self.options.message_limit)
                .await
                .map_err(Err)?;
            self.backoff.reset();
            *clock_retried = false;
            if let Some(end) = pulled.termination_time {
                // The camera extended (or restated) the subscription's end.
                let offset = camera.clock_offset().unwrap_or(offset);
                let left = remaining(Some(end), pulled.current_time, offset, Duration::ZERO);
                active.expires_at = Instant::now() + left;
                active.granted = active.granted.max(left);
            }
            let now = local_now();
            let mut changes: Vec<StateChange> = pulled
                .messages
                .iter()
                .filter_map(|n| self.state.apply(n, now))
                .collect();
            changes.extend(self.state.expire(now));
            self.send_changes(changes).await.map_err(Ok)?;
            if self.tx.is_closed() {
                return Ok(Closed);
            }
            // A camera that ignores the long poll's Timeout and answers "nothing"
            // at once would otherwise be polled in a tight loop.
            let half = timeout / 2;
            if pulled.messages.is_empty() && asked_at.elapsed() < half {
                self.wait(half - asked_at.elapsed()).await.map_err(Ok)?;
            }
        }
    }
}

/// How long until `end` (camera clock), measured against the camera's own
/// `current` time when it sent one, else our clock shifted by `offset`;
/// `fallback` when the camera named no end.
fn remaining(
    end: Option<Timestamp>,
    current: Option<Timestamp>,
    offset: ClockOffset,
    fallback: Duration,
) -> Duration {
    let Some(end) = end else {
        return fallback;
    };
    let now = current.unwrap_or_else(|| offset.apply(local_now()));
    Duration::from_millis(u64::try_from(end.0.saturating_sub(now.0)).unwrap_or(0))
}

/// The failure in the administrator's words.
fn admin_message(error: &ClientError, offset: Option<ClockOffset>) -> String {
    if !error.is_not_authorized() {
        return error.to_string();
    }
    let mut message = format!("wrong ONVIF user or password: the camera refused them ({error})");
    if let Some(offset) = offset.filter(|o| o.millis.abs() >= 5_000) {
        message.push_str(&format!(
            ". Note: the camera's clock is {} s {} ours; Sightline compensates, but if the password is right, set the camera's clock (NTP)",
            offset.millis.abs() / 1000,
            if offset.millis > 0 { "ahead of" } else { "behind" },
        ));
    }
    message
}

/// A number in [0, 1) for the backoff's jitter.
fn random() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_prefers_the_cameras_own_now() {
        let end = Timestamp::from_unix_seconds(1_060);
        let current = Timestamp::from_unix_seconds(1_000);
        assert_eq!(
            remaining(
                Some(end),
                Some(current),
                ClockOffset::default(),
                Duration::ZERO
            ),
            Duration::from_secs(60)
        );
        // Already past: zero, not a panic.
        assert_eq!(
            remaining(
                Some(current),
                Some(end),
                ClockOffset::default(),
                Duration::ZERO
            ),
            Duration::ZERO
        );
        assert_eq!(
            remaining(None, None, ClockOffset::default(), Duration::from_secs(7)),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn a_refusal_reads_as_a_password_problem_and_names_the_clock() {
        let fault = crate::Fault {
            code: "Sender".into(),
            subcodes: vec!["ter:NotAuthorized".into()],
            reason: "Sender not Authorized".into(),
        };
        let error = ClientError::Onvif(crate::Error::Fault(fault));
        let message = admin_message(&error, Some(ClockOffset { millis: -600_400 }));
        assert!(
            message.starts_with("wrong ONVIF user or password"),
            "{message}"
        );
        assert!(message.contains("600 s behind ours"), "{message}");
        let quiet = admin_message(&error, Some(ClockOffset { millis: 1_200 }));
        assert!(!quiet.contains("clock"), "{quiet}");
    }
}
