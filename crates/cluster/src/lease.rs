//! Camera ownership (pure, host-tested): which node pulls a camera, decided
//! by a lease in a JetStream key-value bucket whose entries expire
//! (`max_age` = the lease time).
//!
//! - Every ingest node that has the camera configured tries to *create* its
//!   key (compare-and-set: only if absent). The one that succeeds owns the
//!   camera and renews the key every third of the lease time with an
//!   *update* at the revision it last wrote; a wrong revision means another
//!   node holds it now.
//! - An owner that could not renew stops publishing before its key can have
//!   expired on the server: the server stored the last renewal no earlier
//!   than it was sent, so the key lives at least until *sent + lease*; the
//!   owner gives up at *sent + 5/6 lease*. Two owners never publish at once
//!   while NATS works.
//! - The others retry *create* every third of the lease time (and at once
//!   when they see the key deleted: a node that stops releases its cameras),
//!   so a dead owner's camera is taken over within about 4/3 of the lease
//!   time.
//! - A node that cannot reach NATS at all for longer than that serves its
//!   own viewers from its own pull (`Duty::Alone`): cameras stay watchable
//!   on a node cut off from the cluster, at the cost of a second pull from
//!   the camera while the cluster also has an owner.

use std::time::{Duration, Instant};

/// What this node does with one camera now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Not known yet (just started; NATS not answered).
    Starting,
    /// This node owns the camera: it pulls it and publishes it to the cluster.
    Own,
    /// Another node owns it: viewers here are served from the cluster.
    Follow,
    /// NATS unreachable for longer than a lease: pull it for local viewers only.
    Alone,
}

/// The next request this node should make for the camera's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Create the key (succeeds only if no node holds it).
    Create,
    /// Update the key at this revision (the one this node last wrote).
    Renew(u64),
}

/// How a request about the key ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written (created or renewed) at this revision.
    Written(u64),
    /// Refused: another node holds the key (create: it exists; renew: the
    /// revision moved on).
    Held,
    /// No answer (NATS down, timeout, an error from the server).
    Unreachable,
}

/// The lease of one camera as one node sees it.
#[derive(Debug, Clone)]
pub struct Lease {
    lease: Duration,
    state: State,
    /// When NATS last answered a request about this key.
    answered: Option<Instant>,
    /// When this lease started being kept (for `Alone` before any answer).
    since: Instant,
    /// When to make the next request.
    next: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unknown,
    /// Held by this node at `revision`, written by a request sent at `sent`.
    Owned {
        revision: u64,
        sent: Instant,
    },
    HeldElsewhere,
}

impl Lease {
    /// A lease of `lease` length, first tried at `now`.
    pub fn new(lease: Duration, now: Instant) -> Lease {
        Lease {
            lease,
            state: State::Unknown,
            answered: None,
            since: now,
            next: now,
        }
    }

    /// How often the owner renews and the others retry: a third of the lease.
    pub fn interval(&self) -> Duration {
        self.lease / 3
    }

    /// How long an owner keeps publishing after the send time of its last
    /// successful renewal.
    fn owner_grace(&self) -> Duration {
        self.lease * 5 / 6
    }

    /// When the next request is due.
    pub fn next_at(&self) -> Instant {
        self.next
    }

    /// The request to make now (due at [`Lease::next_at`]).
    pub fn attempt(&self, now: Instant) -> Attempt {
        match self.state {
            State::Owned { revision, sent } if now < sent + self.owner_grace() => {
                Attempt::Renew(revision)
            }
            // Past the grace, the key may be gone or someone else's: start over.
            _ => Attempt::Create,
        }
    }

    /// The request sent at `sent` ended with `outcome`, seen at `now`.
    pub fn settle(&mut self, sent: Instant, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Written(revision) => {
                self.answered = Some(now);
                self.state = State::Owned { revision, sent };
                self.next = sent + self.interval();
            }
            Outcome::Held => {
                self.answered = Some(now);
                self.state = State::HeldElsewhere;
                self.next = now + self.interval();
            }
            Outcome::Unreachable => {
                // Keep what was known; the duty says what it is worth now.
                // Retry sooner than the interval while owning (the grace runs).
                let retry = match self.state {
                    State::Owned { .. } => self.interval() / 4,
                    _ => self.interval(),
                };
                self.next = now + retry;
            }
        }
    }

    /// The key was deleted (its owner released it): try to take it at once.
    pub fn released(&mut self, now: Instant) {
        if self.state != State::HeldElsewhere {
            return;
        }
        self.state = State::Unknown;
        self.next = now;
    }

    /// What to do with the camera at `now`.
    pub fn duty(&self, now: Instant) -> Duty {
        let cut_off = now.duration_since(self.answered.unwrap_or(self.since)) > self.lease;
        match self.state {
            State::Owned { sent, .. } if now < sent + self.owner_grace() => Duty::Own,
            _ if cut_off => Duty::Alone,
            State::HeldElsewhere => Duty::Follow,
            State::Owned { .. } | State::Unknown => Duty::Starting,
        }
    }

    /// When [`Lease::duty`] next changes after `now` without a request
    /// settling (the owner's grace running out, or the cut-off), if it will.
    pub fn duty_changes_at(&self, now: Instant) -> Option<Instant> {
        let cut_off = self.answered.unwrap_or(self.since) + self.lease;
        let grace = match self.state {
            State::Owned { sent, .. } => Some(sent + self.owner_grace()),
            _ => None,
        };
        [grace, Some(cut_off)]
            .into_iter()
            .flatten()
            .filter(|&t| t > now)
            .min()
    }

    /// How long the request made at `now` may take: an interval, and for a
    /// renewal never past the owner's grace — an owner whose renewal hangs
    /// must still stop in time.
    pub fn request_within(&self, now: Instant) -> Duration {
        match self.state {
            // A renewal (within the grace): never past the grace.
            State::Owned { sent, .. } if now < sent + self.owner_grace() => (sent
                + self.owner_grace())
            .saturating_duration_since(now)
            .min(self.interval()),
            // A create (past the grace, or not owning): an interval.
            _ => self.interval(),
        }
    }

    /// Whether this node holds the key at a revision it wrote (to delete it
    /// on the way out).
    pub fn held_revision(&self) -> Option<u64> {
        match self.state {
            State::Owned { revision, .. } => Some(revision),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(6);

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn the_node_that_creates_the_key_owns_and_renews_it() {
        let t0 = Instant::now();
        let mut lease = Lease::new(LEASE, t0);
        assert_eq!(lease.duty(t0), Duty::Starting);
        assert_eq!(lease.attempt(t0), Attempt::Create);
        lease.settle(t0, Outcome::Written(7), t0 + secs(0.01));
        assert_eq!(lease.duty(t0 + secs(0.01)), Duty::Own);
        assert_eq!(lease.next_at(), t0 + secs(2.0));
        assert_eq!(lease.attempt(t0 + secs(2.0)), Attempt::Renew(7));
        lease.settle(t0 + secs(2.0), Outcome::Written(9), t0 + secs(2.01));
        assert_eq!(lease.attempt(lease.next_at()), Attempt::Renew(9));
        assert_eq!(lease.duty(t0 + secs(5.9)), Duty::Own);
    }

    #[test]
    fn another_node_holding_the_key_means_follow_and_retry() {
        let t0 = Instant::now();
        let mut lease = Lease::new(LEASE, t0);
        lease.settle(t0, Outcome::Held, t0);
        assert_eq!(lease.duty(t0), Duty::Follow);
        assert_eq!(lease.next_at(), t0 + secs(2.0));
        assert_eq!(lease.attempt(lease.next_at()), Attempt::Create);
        // The owner dies; its key expires on the server; the next create wins.
        lease.settle(t0 + secs(8.0), Outcome::Written(3), t0 + secs(8.0));
        assert_eq!(lease.duty(t0 + secs(8.0)), Duty::Own);
    }

    #[test]
    fn an_owner_that_cannot_renew_stops_publishing_before_its_key_can_expire() {
        let t0 = Instant::now();
        let mut lease = Lease::new(LEASE, t0);
        lease.settle(t0, Outcome::Written(1), t0);
        // NATS goes away: the renewals get no answer.
        let mut now = lease.next_at();
        while now < t0 + secs(4.9) {
            assert_eq!(lease.attempt(now), Attempt::Renew(1));
            lease.settle(now, Outcome::Unreachable, now + secs(0.1));
            now = lease.next_at();
        }
        assert_eq!(lease.duty(t0 + secs(4.99)), Duty::Own);
        // 5/6 of the lease after the last renewal was sent: no longer the owner,
        // a full second before the server can let another node create the key.
        assert_eq!(lease.duty_changes_at(t0 + secs(4.99)), Some(t0 + secs(5.0)));
        assert_eq!(lease.duty(t0 + secs(5.0)), Duty::Starting);
        // Then the next change is being cut off.
        assert!(lease.duty_changes_at(t0 + secs(5.0)) > Some(t0 + secs(5.0)));
        assert_eq!(lease.attempt(t0 + secs(5.0)), Attempt::Create);
        // A whole lease without any answer: serve local viewers alone.
        assert_eq!(lease.duty(t0 + secs(6.01)), Duty::Alone);
    }

    #[test]
    fn a_hanging_renewal_may_not_outlast_the_grace() {
        let t0 = Instant::now();
        let mut lease = Lease::new(LEASE, t0);
        lease.settle(t0, Outcome::Written(1), t0);
        // Due at 2 s: a whole interval (2 s) left before the grace (5 s).
        assert_eq!(lease.request_within(t0 + secs(2.0)), secs(2.0));
        // A retry at 4.5 s may take only until 5 s.
        assert_eq!(lease.request_within(t0 + secs(4.5)), secs(0.5));
        // Not owning: an interval.
        let other = Lease::new(LEASE, t0);
        assert_eq!(other.request_within(t0), secs(2.0));
        // Past the grace, unanswered: the next request is a create, and it
        // gets a whole interval (a NATS restart must not leave it 0 s).
        lease.settle(t0 + secs(4.5), Outcome::Unreachable, t0 + secs(5.0));
        assert_eq!(lease.attempt(t0 + secs(5.5)), Attempt::Create);
        assert_eq!(lease.request_within(t0 + secs(5.5)), secs(2.0));
    }

    #[test]
    fn a_renewal_refused_means_the_camera_is_someone_elses() {
        let t0 = Instant::now();
        let mut lease = Lease::new(LEASE, t0);
        lease.settle(t0, Outcome::Written(1), t0);
        lease.settle(t0 + secs(2.0), Outcome::Held, t0 + secs(2.0));
        assert_eq!(lease.duty(t0 + secs(2.0)), Duty::Follow);
        assert_eq!(lease.held_revision(), None);
    }

    #[test]
    fn nats_down_from_the_start_serves_local_viewers_after_a_lease() {
        let t0 = Instant::now();
        let mut lease = Lease::new(LEASE, t0);
        lease.settle(t0, Outcome::Unreachable, t0 + secs(1.0));
        assert_eq!(lease.duty(t0 + secs(5.0)), Duty::Starting);
        assert_eq!(lease.duty_changes_at(t0 + secs(5.0)), Some(t0 + LEASE));
        assert_eq!(lease.duty(t0 + secs(6.5)), Duty::Alone);
        // NATS back: the first answer decides.
        lease.settle(t0 + secs(7.0), Outcome::Held, t0 + secs(7.0));
        assert_eq!(lease.duty(t0 + secs(7.0)), Duty::Follow);
    }

    #[test]
    fn a_released_key_is_tried_at_once() {
        let t0 = Instant::now();
        let mut lease = Lease::new(LEASE, t0);
        lease.settle(t0, Outcome::Held, t0);
        lease.released(t0 + secs(0.5));
        assert_eq!(lease.next_at(), t0 + secs(0.5));
        assert_eq!(lease.attempt(t0 + secs(0.5)), Attempt::Create);
        // An owner is not fooled by a deletion notice (its own release, say).
        let mut owner = Lease::new(LEASE, t0);
        owner.settle(t0, Outcome::Written(4), t0);
        owner.released(t0 + secs(0.5));
        assert_eq!(owner.held_revision(), Some(4));
    }
}
