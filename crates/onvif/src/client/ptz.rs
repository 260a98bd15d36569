//! Driving a camera's PTZ: [`PtzCamera`] finds the media and PTZ services,
//! picks the profile with a PTZ configuration, reads what the camera offers
//! (GetConfigurationOptions) and sends the moves with the camera's quirks
//! applied ([`Quirks`]). A quirk is detected from the camera's own fault
//! (Stop not implemented, `Timeout` refused) the first time it shows, and the
//! command is sent again the way that camera takes it; a quirk pinned in
//! config is never second-guessed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Camera, ClientError};
use crate::ptz::{
    self, detect_quirk, Detected, Preset, Profile, PtzOptions, Quirks, Refused, Status, StopStyle,
    Vector,
};
use crate::{ns, Error};

/// How a camera's PTZ is to be driven.
#[derive(Debug, Clone, Default)]
pub struct PtzSetup {
    /// The media profile (token or name) whose PTZ configuration to use;
    /// `None`: the first profile that has one.
    pub profile: Option<String>,
    /// Quirks pinned by the administrator; `None`: detected.
    pub quirks: Option<Quirks>,
}

/// A camera's PTZ, ready to move.
pub struct PtzCamera {
    camera: Arc<Camera>,
    ptz_url: String,
    profile: Profile,
    options: PtzOptions,
    quirks: Mutex<Quirks>,
    pinned: bool,
}

impl std::fmt::Debug for PtzCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtzCamera")
            .field("camera", &self.camera)
            .field("ptz_url", &self.ptz_url)
            .field("profile", &self.profile.token)
            .field("quirks", &self.quirks())
            .finish_non_exhaustive()
    }
}

impl Camera {
    /// The media and PTZ service addresses, made reachable: GetServices,
    /// else GetCapabilities.
    pub async fn media_and_ptz_addresses(&self) -> Result<(String, String), ClientError> {
        let (mut media, mut ptz_url) = (None, None);
        match self.services().await {
            Ok(services) => {
                for s in services {
                    if s.namespace == ns::TRT {
                        media = Some(s.xaddr);
                    } else if s.namespace == ns::TPTZ {
                        ptz_url = Some(s.xaddr);
                    }
                }
            }
            Err(e) if e.is_not_authorized() => return Err(e),
            Err(ClientError::Onvif(Error::Fault(_)) | ClientError::Http { .. }) => {}
            Err(e) => return Err(e),
        }
        if media.is_none() || ptz_url.is_none() {
            let capabilities = self.capabilities().await?;
            media = media.or(capabilities.media);
            ptz_url = ptz_url.or(capabilities.ptz);
        }
        let media = media.ok_or(ClientError::NoService { service: "media" })?;
        let ptz_url = ptz_url.ok_or(ClientError::NoService { service: "PTZ" })?;
        Ok((
            super::reachable_address(&self.device_url, &media),
            super::reachable_address(&self.device_url, &ptz_url),
        ))
    }

    /// GetProfiles at the media service.
    pub async fn profiles(&self, media_url: &str) -> Result<Vec<Profile>, ClientError> {
        let request = ptz::get_profiles(self.token()?.as_ref());
        self.call(
            media_url,
            request,
            self.request_timeout,
            ptz::parse_get_profiles,
        )
        .await
    }
}

impl PtzCamera {
    /// Measures the camera's clock, finds its services and profile, reads
    /// its options. Fails when the camera has no PTZ (no service, no profile
    /// with a PTZ configuration) or refuses the credentials.
    pub async fn connect(camera: Arc<Camera>, setup: &PtzSetup) -> Result<PtzCamera, ClientError> {
        camera.system_date_and_time().await?;
        let (media, ptz_url) = camera.media_and_ptz_addresses().await?;
        let profiles = camera.profiles(&media).await?;
        let profile = match &setup.profile {
            Some(wanted) => profiles
                .into_iter()
                .find(|p| (p.token == *wanted || p.name == *wanted) && p.ptz.is_some())
                .ok_or_else(|| ClientError::NoPtzProfile {
                    wanted: Some(wanted.clone()),
                })?,
            None => profiles
                .into_iter()
                .find(|p| p.ptz.is_some())
                .ok_or(ClientError::NoPtzProfile { wanted: None })?,
        };
        let configuration = profile
            .ptz
            .as_ref()
            .map(|c| c.token.clone())
            .unwrap_or_default();
        let request = ptz::get_configuration_options(camera.token()?.as_ref(), &configuration);
        // Options are a courtesy some firmware refuses: without them moves
        // use the generic spaces.
        let options = match camera
            .call(
                &ptz_url,
                request,
                camera.request_timeout,
                ptz::parse_configuration_options,
            )
            .await
        {
            Ok(options) => options,
            Err(e) if e.is_not_authorized() => return Err(e),
            Err(ClientError::Onvif(Error::Fault(_)) | ClientError::Http { .. }) => {
                PtzOptions::default()
            }
            Err(e) => return Err(e),
        };
        Ok(PtzCamera {
            camera,
            ptz_url,
            profile,
            options,
            quirks: Mutex::new(setup.quirks.unwrap_or_default()),
            pinned: setup.quirks.is_some(),
        })
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn options(&self) -> &PtzOptions {
        &self.options
    }

    /// The quirks in force (as pinned, or as detected so far).
    pub fn quirks(&self) -> Quirks {
        self.quirks.lock().map(|q| *q).unwrap_or_default()
    }

    fn learn(&self, detected: Detected) {
        if let Ok(mut q) = self.quirks.lock() {
            match detected {
                Detected::NoStop => q.stop = StopStyle::ZeroVelocity,
                Detected::NoTimeout => q.move_timeout = false,
            }
        }
    }

    async fn send(
        &self,
        request: crate::requests::Request,
        expected: &'static str,
    ) -> Result<(), ClientError> {
        self.camera
            .call(&self.ptz_url, request, self.camera.request_timeout, |xml| {
                ptz::parse_ack(xml, expected)
            })
            .await
    }

    fn token(&self) -> Result<Option<crate::UsernameToken>, ClientError> {
        self.camera.token()
    }

    /// ContinuousMove at `velocity` (−1..1 each); with a `Timeout` near
    /// `timeout` unless the camera refuses them. Returns the quirk it
    /// learnt, if this call taught one.
    pub async fn continuous_move(
        &self,
        velocity: Vector,
        timeout: Duration,
    ) -> Result<Option<Detected>, ClientError> {
        let with_timeout = self.quirks().move_timeout;
        let t = with_timeout.then(|| self.options.move_timeout(timeout));
        let request = ptz::continuous_move(
            self.token()?.as_ref(),
            &self.profile.token,
            &self.options,
            velocity,
            t,
        );
        match self.send(request, "ContinuousMoveResponse").await {
            Err(ClientError::Onvif(Error::Fault(fault))) if with_timeout && !self.pinned => {
                let Some(detected) = detect_quirk(&fault, Refused::MoveWithTimeout) else {
                    return Err(ClientError::Onvif(Error::Fault(fault)));
                };
                let request = ptz::continuous_move(
                    self.token()?.as_ref(),
                    &self.profile.token,
                    &self.options,
                    velocity,
                    None,
                );
                // Learnt only once the other way works: one odd fault must
                // not degrade the camera for good.
                self.send(request, "ContinuousMoveResponse").await?;
                self.learn(detected);
                Ok(Some(detected))
            }
            result => result.map(|()| None),
        }
    }

    /// Stop, as the camera takes it. Returns the quirk it learnt, if any.
    pub async fn stop(&self) -> Result<Option<Detected>, ClientError> {
        let style = self.quirks().stop;
        match self.send_stop(style).await {
            Err(ClientError::Onvif(Error::Fault(fault)))
                if style != StopStyle::ZeroVelocity && !self.pinned =>
            {
                let Some(detected) = detect_quirk(&fault, Refused::Stop) else {
                    return Err(ClientError::Onvif(Error::Fault(fault)));
                };
                self.send_stop(StopStyle::ZeroVelocity).await?;
                self.learn(detected);
                Ok(Some(detected))
            }
            result => result.map(|()| None),
        }
    }

    async fn send_stop(&self, style: StopStyle) -> Result<(), ClientError> {
        let request = ptz::stop(
            self.token()?.as_ref(),
            &self.profile.token,
            &self.options,
            style,
        );
        let expected = if style == StopStyle::ZeroVelocity {
            "ContinuousMoveResponse"
        } else {
            "StopResponse"
        };
        self.send(request, expected).await
    }

    /// RelativeMove by `by`; `fov`: pan/tilt as a fraction of the picture
    /// (±1: its edge), for click to centre.
    pub async fn relative_move(&self, by: Vector, fov: bool) -> Result<(), ClientError> {
        // Without the camera's field-of-view space a click cannot be turned
        // into a move of known size: the generic space would swing the
        // camera by a share of its whole range.
        if fov && self.options.fov().is_none() {
            return Err(ClientError::NoFieldOfView);
        }
        let request = ptz::relative_move(
            self.token()?.as_ref(),
            &self.profile.token,
            &self.options,
            by,
            fov,
        );
        self.send(request, "RelativeMoveResponse").await
    }

    /// AbsoluteMove to `pan_tilt` (−1..1 across the range) and `zoom`
    /// (0..1); an axis left out stays where it is.
    pub async fn absolute_move(
        &self,
        pan_tilt: Option<(f32, f32)>,
        zoom: Option<f32>,
    ) -> Result<(), ClientError> {
        let request = ptz::absolute_move(
            self.token()?.as_ref(),
            &self.profile.token,
            &self.options,
            pan_tilt,
            zoom,
        );
        self.send(request, "AbsoluteMoveResponse").await
    }

    pub async fn goto_preset(&self, preset: &str) -> Result<(), ClientError> {
        let request = ptz::goto_preset(self.token()?.as_ref(), &self.profile.token, preset);
        self.send(request, "GotoPresetResponse").await
    }

    pub async fn goto_home(&self) -> Result<(), ClientError> {
        let request = ptz::goto_home_position(self.token()?.as_ref(), &self.profile.token);
        self.send(request, "GotoHomePositionResponse").await
    }

    pub async fn presets(&self) -> Result<Vec<Preset>, ClientError> {
        let request = ptz::get_presets(self.token()?.as_ref(), &self.profile.token);
        self.camera
            .call(
                &self.ptz_url,
                request,
                self.camera.request_timeout,
                ptz::parse_get_presets,
            )
            .await
    }

    /// Saves the current position as `name` (over `preset` if given); the
    /// preset's token.
    pub async fn set_preset(
        &self,
        name: &str,
        preset: Option<&str>,
    ) -> Result<String, ClientError> {
        let request = ptz::set_preset(self.token()?.as_ref(), &self.profile.token, name, preset);
        self.camera
            .call(
                &self.ptz_url,
                request,
                self.camera.request_timeout,
                ptz::parse_set_preset,
            )
            .await
    }

    pub async fn remove_preset(&self, preset: &str) -> Result<(), ClientError> {
        let request = ptz::remove_preset(self.token()?.as_ref(), &self.profile.token, preset);
        self.send(request, "RemovePresetResponse").await
    }

    pub async fn status(&self) -> Result<Status, ClientError> {
        let request = ptz::get_status(self.token()?.as_ref(), &self.profile.token);
        let options = &self.options;
        self.camera
            .call(&self.ptz_url, request, self.camera.request_timeout, |xml| {
                ptz::parse_get_status(xml, options)
            })
            .await
    }
}
