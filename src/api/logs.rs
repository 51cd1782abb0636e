//! The gateway's own log lines.

use crate::views::LogPage;
use leptos::prelude::*;

/// A page of log lines for the query string (`level`, `search`, `cursor`, `limit`).
#[server(prefix = "/api/fn", endpoint = "logs")]
pub async fn get_logs(query: String) -> Result<LogPage, ServerFnError> {
    use super::adapter::{failed, pairs};
    crate::server::admin::log_page(pairs(&query)?).map_err(failed)
}
