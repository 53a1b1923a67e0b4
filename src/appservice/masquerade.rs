//! Masquerading: an application service acting as a user of its namespace through
//! `?user_id=` and, as Synapse allows (MSC3202, now in the spec), as one of that
//! user's devices through `?device_id=`
//! (<https://spec.matrix.org/v1.16/application-service-api/#identity-assertion>).
//!
//! The check is "ask, then supply": [`ApplicationService::masquerade`] decides what it
//! can from the registration and says what the caller must look up (is the user
//! registered, does the device exist); [`MasqueradeCheck::finish`] takes the answers.

use super::{ApplicationService, MasqueradeError};
use crate::id::UserId;

impl ApplicationService {
    /// Begins the check of a request made with this service's `as_token`, with the
    /// request's `user_id` and `device_id` query parameters.
    ///
    /// Without `user_id` the service acts as its sender. Otherwise, as Synapse's
    /// `validate_appservice_can_control_user_id`: the sender is always allowed; any
    /// other user must be in the user namespace, exclusive or not, and registered (a
    /// user on another server never is). A `device_id` must name an existing device
    /// of the effective user (Synapse answers `M_UNKNOWN_DEVICE` otherwise).
    ///
    /// # Errors
    ///
    /// [`MasqueradeError::NotInNamespace`], [`MasqueradeError::InvalidUserId`], or
    /// [`MasqueradeError::NotRegistered`] for a user on another server.
    pub fn masquerade<'a>(
        &self,
        user_id: Option<&str>,
        device_id: Option<&'a str>,
    ) -> Result<MasqueradeCheck<'a>, MasqueradeError> {
        let sender = self.sender();
        let Some(asked) = user_id.filter(|asked| *asked != sender.as_str()) else {
            return Ok(MasqueradeCheck {
                user_id: sender.clone(),
                device_id,
                needs_registered_user: false,
            });
        };
        if !self.is_interested_in_user(asked) {
            return Err(MasqueradeError::NotInNamespace {
                user_id: asked.to_owned(),
            });
        }
        let user = UserId::parse(asked).map_err(|error| MasqueradeError::InvalidUserId {
            user_id: asked.to_owned(),
            error,
        })?;
        if user.server_name() != sender.server_name() {
            return Err(MasqueradeError::NotRegistered {
                user_id: asked.to_owned(),
            });
        }
        Ok(MasqueradeCheck {
            user_id: user,
            device_id,
            needs_registered_user: true,
        })
    }
}

/// A masquerade allowed by the registration, waiting for the caller's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct MasqueradeCheck<'a> {
    user_id: UserId,
    device_id: Option<&'a str>,
    needs_registered_user: bool,
}

impl<'a> MasqueradeCheck<'a> {
    /// The user the request will act as.
    #[must_use]
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// Whether the caller must say if [`MasqueradeCheck::user_id`] is registered
    /// (false for the service's sender, which Synapse never looks up).
    #[must_use]
    pub fn needs_registered_user(&self) -> bool {
        self.needs_registered_user
    }

    /// The device the caller must look up for [`MasqueradeCheck::user_id`], if the
    /// request named one.
    #[must_use]
    pub fn device_id(&self) -> Option<&'a str> {
        self.device_id
    }

    /// Finishes the check with the caller's answers: whether the user is registered
    /// (ignored unless [`MasqueradeCheck::needs_registered_user`]) and whether the
    /// device exists (ignored without a device).
    ///
    /// # Errors
    ///
    /// [`MasqueradeError::NotRegistered`], then [`MasqueradeError::UnknownDevice`].
    pub fn finish(
        self,
        user_registered: bool,
        device_exists: bool,
    ) -> Result<Masquerade, MasqueradeError> {
        if self.needs_registered_user && !user_registered {
            return Err(MasqueradeError::NotRegistered {
                user_id: self.user_id.to_string(),
            });
        }
        if let Some(device_id) = self.device_id
            && !device_exists
        {
            return Err(MasqueradeError::UnknownDevice {
                user_id: self.user_id.to_string(),
                device_id: device_id.to_owned(),
            });
        }
        Ok(Masquerade {
            user_id: self.user_id,
            device_id: self.device_id.map(str::to_owned),
        })
    }
}

/// Who an application service's request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Masquerade {
    /// The effective user.
    pub user_id: UserId,
    /// The effective device, when the request named one.
    pub device_id: Option<String>,
}
