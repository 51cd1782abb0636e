//! Finished requests: filtered pages (recent ones from memory, older ones from the history) and
//! single requests by id.

use crate::views::{RequestDetail, RequestPage};
use leptos::prelude::*;

/// A page of requests for the query string (the parameters of `/api/requests`).
#[server(prefix = "/api/fn", endpoint = "requests")]
pub async fn get_requests(query: String) -> Result<RequestPage, ServerFnError> {
    use super::adapter::{failed, gateway, pairs};
    crate::server::admin::request_page(&gateway(), pairs(&query)?)
        .await
        .map_err(failed)
}

/// The newest request with this `X-Request-Id`.
#[server(prefix = "/api/fn", endpoint = "request")]
pub async fn get_request(id: String) -> Result<RequestDetail, ServerFnError> {
    use super::adapter::{failed, gateway};
    crate::server::admin::find_request(&gateway(), id)
        .await
        .map_err(failed)
}
