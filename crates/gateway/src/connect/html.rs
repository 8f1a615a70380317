//! The connect page's HTML: server-rendered, no JavaScript, one stylesheet of its own, every
//! value escaped. Nothing here ever receives a token.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::store::StoredAccount;

/// Tokens older than this get the stronger advice to rotate (the connector warns at 90 days).
pub(crate) const ROTATE_AFTER: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `lang`, charset, viewport, title, the stylesheet, one `main` landmark with
/// the `h1`.
pub(crate) fn page(title: &str, body: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n<title>{title} · PagerDuty MCP gateway</title>\n\
<link rel=\"stylesheet\" href=\"/connect/style.css\">\n</head>\n<body>\n<main>\n\
<p class=\"product\">PagerDuty MCP gateway</p>\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n"
    )
}

/// An error or success notice (`role="alert"` for errors so that screen readers say it).
pub(crate) fn notice(kind: Notice, text: &str) -> String {
    match kind {
        Notice::Error => format!(
            "<p class=\"notice error\" role=\"alert\" id=\"error\">{}</p>\n",
            escape(text)
        ),
        Notice::Success => format!(
            "<p class=\"notice success\" role=\"status\" id=\"status\">{}</p>\n",
            escape(text)
        ),
    }
}

/// The kind of a [`notice`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Notice {
    Error,
    Success,
}

/// How to sign in: the authorization server's link, and/or the gateway-key form.
pub(crate) fn sign_in(
    to: &str,
    oauth: bool,
    keys: Option<&str>,
    error: Option<&str>,
    for_link: bool,
) -> String {
    let mut body = String::new();
    if let Some(error) = error {
        body.push_str(&notice(Notice::Error, error));
    }
    if for_link {
        body.push_str(
            "<p>Your AI agent sent you here to connect your PagerDuty account to the gateway. \
First prove who you are: the link works only for the person whose agent asked for it.</p>\n",
        );
    } else {
        body.push_str(
            "<p>Sign in to see or change the PagerDuty account connected to the gateway.</p>\n",
        );
    }
    if oauth {
        let _ = writeln!(
            body,
            "<p><a class=\"button\" id=\"sign-in\" href=\"/connect/login?to={}\">Sign in with your organisation</a></p>",
            escape(to)
        );
    }
    if let Some(csrf) = keys {
        if oauth {
            body.push_str("<h2>Or use your gateway key</h2>\n");
        } else {
            body.push_str("<h2>Sign in with your gateway key</h2>\n");
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/connect/key\">\n\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<input type=\"hidden\" name=\"to\" value=\"{}\">\n\
<label for=\"key\">Gateway key</label>\n\
<input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\" spellcheck=\"false\" required aria-describedby=\"key-help\">\n\
<p class=\"help\" id=\"key-help\">The key your agent sends as <code>Authorization: Bearer …</code>; your administrator gave it to you.</p>\n\
<button type=\"submit\">Sign in</button>\n</form>\n",
            escape(csrf),
            escape(to)
        );
    }
    body
}

/// The token form (for a link, or to replace the token on the account page).
pub(crate) fn token_form(action: &str, csrf: &str, button: &str, require_email: bool) -> String {
    format!(
        "<form method=\"post\" action=\"{}\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
<label for=\"token\">PagerDuty User API Token</label>\n\
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" spellcheck=\"false\" autocapitalize=\"off\" required maxlength=\"4096\" aria-describedby=\"token-help\">\n\
<div class=\"help\" id=\"token-help\">\n<p>Create one in PagerDuty: <strong>My Profile → User Settings → API Access → Create API User Token</strong>. PagerDuty shows it once: copy it and paste it here.</p>\n\
<p>The gateway checks it with PagerDuty (your service region is found automatically), stores it encrypted, and never shows it again. It acts with your PagerDuty permissions.{}</p>\n</div>\n\
<button type=\"submit\" id=\"submit-token\">{}</button>\n</form>\n",
        escape(action),
        escape(csrf),
        if require_email {
            " It must be a token of your own PagerDuty user (the same email address you signed in with)."
        } else {
            ""
        },
        escape(button)
    )
}

/// "Signed in as …" with the sign-out form.
pub(crate) fn signed_in_as(who: &str, csrf: &str) -> String {
    format!(
        "<form class=\"whoami\" method=\"post\" action=\"/connect/sign-out\">\n\
<p>Signed in as <strong id=\"signed-in-as\">{}</strong>.</p>\n\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<button type=\"submit\" class=\"link\">Sign out</button>\n</form>\n",
        escape(who),
        escape(csrf)
    )
}

/// The account's state: "Connected as <name> (<email>), <region>", the token's age and the
/// advice to rotate it; or that nothing (or a revoked token) is connected.
pub(crate) fn account_status(account: Option<&StoredAccount>) -> String {
    let Some(account) = account else {
        return "<p class=\"notice\" id=\"status\" role=\"status\">No PagerDuty account is connected yet.</p>\n"
            .to_owned();
    };
    if account.revoked {
        return "<p class=\"notice error\" id=\"status\" role=\"status\">Your PagerDuty token was revoked (by an administrator, or PagerDuty rejected it). Paste a new token below.</p>\n"
            .to_owned();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<p class=\"notice success\" id=\"status\" role=\"status\">{}</p>",
        escape(&connected_as(account))
    );
    if let Some(stored_at) = account.token_stored_at {
        let age = SystemTime::now()
            .duration_since(stored_at)
            .unwrap_or_default();
        let days = age.as_secs() / 86_400;
        let when = match days {
            0 => "today".to_owned(),
            1 => "yesterday".to_owned(),
            n => format!("{n} days ago"),
        };
        let stale = age >= ROTATE_AFTER;
        let _ = writeln!(
            out,
            "<p id=\"token-age\" class=\"{}\">Token stored {when} ({}). PagerDuty tokens never expire: \
{}replace it with a new one regularly (every 90 days), then delete the old one in PagerDuty (My Profile → User Settings → API Access).</p>",
            if stale { "notice error" } else { "age" },
            escape(&date(stored_at)),
            if stale {
                "this one is over 90 days old. Please "
            } else {
                ""
            },
        );
    }
    out
}

/// "Connected as <name> (<email>), <region>" (what is known of it).
pub(crate) fn connected_as(account: &StoredAccount) -> String {
    match &account.identity {
        Some(identity) => {
            let region = identity
                .route
                .as_ref()
                .map(|route| region_name(route.as_str()))
                .unwrap_or_else(|| "region unknown".to_owned());
            let email = if identity.email.is_empty() {
                String::new()
            } else {
                format!(" ({})", identity.email)
            };
            format!("Connected as {}{email}, {region}", identity.name)
        }
        None => "Connected".to_owned(),
    }
}

fn region_name(route: &str) -> String {
    match route {
        "us" => "US service region".to_owned(),
        "eu" => "EU service region".to_owned(),
        other => format!("region {other}"),
    }
}

/// `YYYY-MM-DD` (UTC) of a time.
fn date(time: SystemTime) -> String {
    let days = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The disconnect form.
pub(crate) fn disconnect_form(csrf: &str) -> String {
    format!(
        "<h2>Disconnect</h2>\n<form method=\"post\" action=\"/connect/account/disconnect\">\n\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
<p>The gateway forgets your token. Your agents cannot reach PagerDuty through it until you connect a token again. (The token itself stays valid in PagerDuty: delete it there too if you no longer need it.)</p>\n\
<button type=\"submit\" class=\"danger\">Disconnect my PagerDuty account</button>\n</form>\n",
        escape(csrf)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagerduty_mcp_connect::VerifiedIdentity;

    #[test]
    fn values_are_escaped_and_dates_are_right() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let page = page("T<i>", "<p>b</p>");
        assert!(page.contains("<html lang=\"en\">") && page.contains("T&lt;i&gt;"));
        assert_eq!(date(SystemTime::UNIX_EPOCH), "1970-01-01");
        assert_eq!(
            date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_251_200)),
            "2024-03-01"
        );
        let account = StoredAccount::new(
            Some(
                VerifiedIdentity::new("P1", "Ada <L>", "ada@example.com", "user").with_route("eu"),
            ),
            Some(SystemTime::now()),
            false,
        );
        let status = account_status(Some(&account));
        assert!(status.contains("Connected as Ada &lt;L&gt; (ada@example.com), EU service region"));
        assert!(status.contains("Token stored today"));
    }
}
