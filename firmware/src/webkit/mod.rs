//! The pieces both HTTP services of the box share — the web admin (`admin`) and the web portal
//! (`portal`): HTTPS listeners and their certificates ([`https`]), sessions ([`session`]),
//! the login rate limit ([`ratelimit`]), the checks on every request ([`request`]), who a
//! session belongs to ([`account`]) and the static assets and downloads ([`response`]). Neither
//! service imports the other; both build on this.

pub mod account;
pub mod https;
pub mod ratelimit;
pub mod request;
pub mod response;
pub mod session;
