//! Appliance life outside mail: the box's network and time settings (`/data/network.conf`,
//! `/data/time.conf`) that segl edits and a root helper applies, the clock-trust rule that
//! holds mail back while the clock may still say 1970, and the SNTP client the root helper
//! uses. The web pages, API and ctl verbs on top live in `admin/` and `ctl/`.
//!
//! - [`settings`]: the settings, their validation and file format;
//! - [`store`]: where the files live, the atomic write and the apply request;
//! - [`trust`]: whether the clock is trustworthy yet;
//! - [`sntp`]: `segl sntp`, one SNTP query;
//! - [`zone`]: the time zone, checked against the tz database, and local dates in it.

pub mod settings;
pub mod sntp;
pub mod store;
pub mod trust;
pub mod zone;

pub use settings::{Mode, NetworkSettings, SettingsError, TimeSettings};
pub use store::{Kind, Saved, Store, StoreError};
