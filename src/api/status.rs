//! Server functions about the gateway process itself.

use crate::views::GatewayStatus;
use leptos::prelude::*;

/// The current [`GatewayStatus`], read from the gateway in the server's context.
#[server(prefix = "/api/fn", endpoint = "status")]
pub async fn get_status() -> Result<GatewayStatus, ServerFnError> {
    Ok(super::adapter::gateway().status())
}
