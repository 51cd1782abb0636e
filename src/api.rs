//! Server functions: thin adapters from the browser to the gateway's state.
//!
//! Every server function lives under [`SERVER_FN_PREFIX`] on the dashboard address, so it can never
//! collide with the JSON API or with proxied paths (which are served on another listener). Those
//! that take filters take the page's query string and parse it exactly as the JSON API does, so
//! a dashboard URL and an `/api/…` URL with the same query show the same data.

pub mod alerts;
pub mod audit;
pub mod config;
pub mod logs;
pub mod overview;
pub mod requests;
pub mod status;
pub mod traffic;

/// URL prefix of every server function.
pub const SERVER_FN_PREFIX: &str = "/api/fn";

#[cfg(feature = "ssr")]
mod adapter {
    //! What every server function needs on the server: the gateway, the query's pairs, and
    //! API errors turned into server function errors.

    use crate::server::admin::auth::Caller;
    use crate::server::admin::auth::guard::ClientAddr;
    use crate::server::admin::config_edit::Actor;
    use crate::server::admin::{ApiError, AppState};
    use crate::server::gateway::SharedGateway;
    use crate::views::Role;
    use leptos::prelude::*;

    /// The gateway the dashboard router provides to every server function.
    pub fn gateway() -> SharedGateway {
        expect_context::<SharedGateway>()
    }

    /// The dashboard's state (sessions, the audit log).
    pub fn state() -> AppState {
        expect_context::<AppState>()
    }

    /// Who calls (the guard put it in the request; the local admin without accounts).
    pub fn caller() -> Caller {
        use_context::<Caller>().unwrap_or_else(Caller::anonymous)
    }

    /// The caller, if they may write; the guard refuses others first, this is the second lock.
    pub fn admin() -> Result<Caller, ServerFnError> {
        let caller = caller();
        if caller.role == Role::Admin {
            Ok(caller)
        } else {
            Err(ServerFnError::new(format!(
                "{} has the {} role; this needs admin",
                caller.name,
                caller.role.as_str()
            )))
        }
    }

    /// The caller as the audit log records them.
    pub fn actor(caller: &Caller) -> Actor {
        Actor {
            name: caller.name.clone(),
            role: Some(caller.role),
            client: use_context::<ClientAddr>()
                .map_or_else(String::new, |ClientAddr(addr)| addr.ip().to_string()),
        }
    }

    /// The `name=value` pairs of a query string (with or without its leading `?`).
    pub fn pairs(query: &str) -> Result<Vec<(String, String)>, ServerFnError> {
        serde_urlencoded::from_str(query.trim_start_matches('?'))
            .map_err(|error| ServerFnError::new(format!("bad query string: {error}")))
    }

    /// The API's message (which names the bad parameter) as a server function error.
    pub fn failed(error: ApiError) -> ServerFnError {
        ServerFnError::new(error.message)
    }
}
