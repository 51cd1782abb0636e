//! The scaffold every page's data is shown through: while a page resource reads (only ever
//! after navigation: the server renders pages with their data), the usual "Loading…"; once it
//! has read, the view of its value; if the read failed, an [`ErrorNote`] saying what could not
//! be read, and why.

use crate::app::resource::BytesJson;
use crate::app::widgets::{ErrorNote, loading};
use leptos::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A page resource's value on screen (see the module docs). The view of the value is the
/// children, given the value with `let:`:
///
/// ```ignore
/// <PageData data=models failed="Could not read the models" let:models>
///     <LiveModels rendered=models />
/// </PageData>
/// ```
///
/// A `Transition` (so the page keeps its last view while a re-read is under way) around a
/// `Suspend` awaiting the resource; the view is built inside the `Suspend`, so what it reads
/// there is tracked by it.
#[component]
pub fn PageData<T, F, V>(
    /// The page's resource (made with [`page_resource`](crate::app::resource::page_resource)).
    data: Resource<Result<T, ServerFnError>, BytesJson>,
    /// What the error note says when the read fails: `"Could not read the models"`.
    failed: &'static str,
    /// The view of the value read.
    children: F,
) -> impl IntoView
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let children = Arc::new(children);
    view! {
        <Transition fallback=loading>
            {move || {
                let children = Arc::clone(&children);
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => children(value).into_any(),
                        Err(error) => view! { <ErrorNote what=failed error=error.to_string() /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}
