//! The overview's "Certificates" panel: every certificate the TLS listeners serve — the
//! listener, its names, issuer, expiry and days left (amber within two weeks, red once expired).
//! Shown only when `tls` or `dashboard.tls` is configured.

use crate::views::{CertificateView, Expiry};
use leptos::prelude::*;

/// The served certificates, as read with the page.
#[component]
pub fn CertificatesPanel(certificates: Vec<CertificateView>) -> impl IntoView {
    if certificates.is_empty() {
        return None;
    }
    let rows = certificates
        .into_iter()
        .map(|certificate| {
            let (class, state) = match certificate.expiry() {
                Expiry::Ok => ("expiry-ok", "ok"),
                Expiry::Soon => ("expiry-soon", "soon"),
                Expiry::Expired => ("expiry-expired", "expired"),
            };
            let days = days_left(certificate.days_left);
            view! {
                <tr data-testid="certificate" data-expiry=state>
                    <td>{certificate.listener}</td>
                    <td class="mono">{certificate.names.join(", ")}</td>
                    <td class="small">{certificate.issuer}</td>
                    <td>
                        <time datetime=certificate.not_after.to_rfc3339()>
                            {format!("{} UTC", certificate.not_after.format("%Y-%m-%d %H:%M"))}
                        </time>
                    </td>
                    <td class=format!("num {class}") data-testid="days-left">{days}</td>
                </tr>
            }
        })
        .collect_view();
    Some(view! {
        <section class="panel" aria-labelledby="certificates-heading">
            <header class="panel-header"><h2 id="certificates-heading">"Certificates"</h2></header>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Certificates">
                <table data-testid="certificates">
                    <thead>
                        <tr>
                            <th scope="col">"Listener"</th>
                            <th scope="col">"Names"</th>
                            <th scope="col">"Issuer"</th>
                            <th scope="col">"Expires"</th>
                            <th scope="col" class="num">"Days left"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <p class="muted small">
                "The files are watched: a replaced certificate is served to new connections."
            </p>
        </section>
    })
}

/// Days left in words: "expired 3 days ago" once past.
fn days_left(days: i64) -> String {
    match days {
        d if d < -1 => format!("expired {} days ago", -d),
        -1 => "expired".to_string(),
        1 => "1 day".to_string(),
        d => format!("{d} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_reads_naturally() {
        assert_eq!(days_left(40), "40 days");
        assert_eq!(days_left(1), "1 day");
        assert_eq!(days_left(0), "0 days");
        assert_eq!(days_left(-1), "expired");
        assert_eq!(days_left(-5), "expired 5 days ago");
    }
}
