//! The terminal dashboard: the gateway at a glance in a terminal, live, without a browser.
//!
//! Two ways in, one dashboard:
//! - `gatewatch --dashboard` ([`in_process`]): the gateway runs with the dashboard in front; the
//!   dashboard subscribes to the gateway's live events and reads the same snapshots the admin
//!   API answers with, in process;
//! - `gatewatch top` ([`attached`]): the same screens fed by a running gateway's admin API
//!   (`/api/metrics`, `/api/routes`, `/api/models`, `/api/logs`) and its live socket (`/api/live`),
//!   reconnecting with backoff when the connection is lost.
//!
//! Either way what arrives is a [`feed::Update`]: a whole [`feed::Snapshot`] or one
//! [`LiveEvent`](crate::views::LiveEvent), applied to the [`model::Model`] — the only state the
//! screens draw from. There is no second collector: the figures are the metrics engine's.
//!
//! - [`model`]: what the dashboard knows (the 15-minute series, routes, models, log, requests);
//! - [`view`]: what the user chose to look at (tab, scroll, filter, pause) and the keys;
//! - [`screens`]: drawing the model for a view, at three layouts by terminal width;
//! - [`format`] and [`palette`]: figures that are never cut, colours that read on dark and
//!   light terminals (none with `NO_COLOR`);
//! - [`terminal`]: taking the terminal over and giving it back (on quit, on `d`, on a panic),
//!   and where the gateway's log goes meanwhile;
//! - [`event_loop`]: keys, the 250 ms redraw and the feed, together.

pub mod attached;
pub mod event_loop;
pub mod feed;
pub mod format;
pub mod in_process;
pub mod model;
pub mod palette;
pub mod screens;
pub mod terminal;
pub mod view;

/// How often the screen is redrawn.
pub const REDRAW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);
