//! Errors, each addressed to whoever must act on it.

use std::fmt;

/// What went wrong with a camera's reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not well-formed XML: a truncated reply, or a firmware or proxy bug.
    #[error("the camera's reply is not well-formed XML: {0}; if it persists, capture the reply and report the camera model and firmware")]
    Malformed(String),
    /// Well-formed, but not the answer asked for (wrong service URL, a web page).
    #[error("the camera's reply is not a SOAP envelope with {expected}: check the ONVIF address (it is usually http://CAMERA/onvif/device_service)")]
    Unexpected { expected: &'static str },
    /// A required element is absent.
    #[error("the camera's reply lacks {what}; capture the reply and report the camera model and firmware")]
    Missing { what: &'static str },
    /// A value that cannot be read.
    #[error("the camera sent an unreadable {what}: {value:?}")]
    Invalid { what: &'static str, value: String },
    /// The camera answered with a SOAP fault.
    #[error("{0}")]
    Fault(Fault),
}

/// A SOAP fault as the camera sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `env:Sender`, `env:Receiver`, … (local name only).
    pub code: String,
    /// Subcodes, outermost first, with ONVIF's prefix normalised (`ter:NotAuthorized`)
    /// whatever the camera wrote.
    pub subcodes: Vec<String>,
    /// The camera's own words (`Reason/Text`), possibly empty.
    pub reason: String,
}

impl Fault {
    /// Whether any subcode is this one (e.g. `"ter:NotAuthorized"`).
    pub fn has_subcode(&self, subcode: &str) -> bool {
        self.subcodes.iter().any(|s| s == subcode)
    }

    /// The credentials (or the clock behind `Created`) were refused.
    pub fn is_not_authorized(&self) -> bool {
        self.has_subcode("ter:NotAuthorized") || self.has_subcode("wsse:FailedAuthentication")
    }

    fn codes(&self) -> String {
        std::iter::once(self.code.as_str())
            .chain(self.subcodes.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = if self.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", self.reason)
        };
        if self.is_not_authorized() {
            write!(
                f,
                "the camera refused the credentials ({}{reason}): check the ONVIF user's name and password on the camera (ONVIF users are often separate from the web login)",
                self.codes()
            )
        } else if self.has_subcode("ter:ActionNotSupported") {
            write!(
                f,
                "the camera does not support this request ({}{reason}): it may lack the PullPoint event service",
                self.codes()
            )
        } else {
            write!(
                f,
                "the camera answered with a SOAP fault ({}{reason})",
                self.codes()
            )
        }
    }
}
