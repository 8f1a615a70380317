//! The gateway's Prometheus metrics.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How many distinct tool names get their own label value; later ones are counted as `other`,
/// so an agent calling made-up tool names cannot grow the metrics without bound.
const MAX_TOOL_LABELS: usize = 256;

/// The longest tool name (in bytes) a label or a log line carries; MCP tool names are at most
/// 128 characters.
pub(crate) const MAX_TOOL_NAME: usize = 128;

/// How many tool names the upstream listed the gateway remembers.
const MAX_LISTED: usize = 4096;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    tool: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    reason: String,
}

type HistogramFamily = Family<CallLabels, Histogram, fn() -> Histogram>;

/// The gateway's metrics, in a registry of their own (nothing global), rendered in the
/// Prometheus text format by [`GatewayMetrics::render`]:
///
/// - `mcp_gateway_calls_total{method,tool,outcome}`: every forwarded request;
/// - `mcp_gateway_errors_total{method,tool,outcome}`: those that did not end `ok`;
/// - `mcp_gateway_call_duration_seconds{method,tool,outcome}`: their latency (histogram);
/// - `mcp_gateway_active_users`: users with an open upstream session;
/// - `mcp_gateway_rejected_requests_total{reason}`: agent requests refused before anything went
///   upstream (`host_not_allowed`, `origin_not_allowed`, `missing_key`, `unknown_key`,
///   `foreign_session`, `unknown_session`, `rate_limited`, `too_many_in_flight`,
///   `shutting_down`; with OAuth, `missing_credential` and each refused token's
///   [`TokenError::reason`](crate::TokenError::reason): `token_malformed`, `token_algorithm`,
///   `token_wrong_issuer`, `token_unknown_key`, `token_bad_signature`, `token_expired`,
///   `token_not_yet_valid`, `token_missing_claim`, `token_wrong_audience`, `token_no_user`,
///   `token_inactive`, `issuer_unavailable`, `insufficient_scope`);
/// - `mcp_gateway_direct_requests_total`: agent requests the gateway answered on its direct
///   path ([`GatewayBuilder::direct_path`](super::GatewayBuilder::direct_path)) rather than
///   through rmcp's service.
///
/// `tool` is the tool name for `tools/call` and empty otherwise. Only names the upstream listed
/// ([`GatewayMetrics::record_listed_tools`]) get a label of their own; any other name an agent
/// sends is counted as `other`. Until the gateway has seen a listing, a name gets its own label
/// only if it is a well-formed MCP tool name (at most 128 characters of `A-Z a-z 0-9 _ - . /`).
/// Either way at most 256 distinct names are labelled (later ones are `other`), and every label
/// value is escaped as the Prometheus text format requires, so no agent can add lines to
/// `/metrics` or grow it without bound.
#[derive(Clone)]
pub struct GatewayMetrics {
    inner: Arc<MetricsInner>,
}

struct MetricsInner {
    registry: Mutex<Registry>,
    calls: Family<CallLabels, Counter>,
    errors: Family<CallLabels, Counter>,
    latency: HistogramFamily,
    active_users: Gauge,
    rejected: Family<RejectLabels, Counter>,
    direct: Counter,
    tool_labels: Mutex<HashSet<String>>,
    listed: Mutex<HashSet<String>>,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayMetrics {
    /// Fresh metrics, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        let errors = Family::<CallLabels, Counter>::default();
        let latency: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 18)));
        let active_users = Gauge::default();
        let rejected = Family::<RejectLabels, Counter>::default();
        let direct = Counter::default();
        registry.register(
            "mcp_gateway_calls",
            "MCP requests forwarded upstream, by method, tool and outcome",
            calls.clone(),
        );
        registry.register(
            "mcp_gateway_errors",
            "Forwarded MCP requests that did not succeed, by method, tool and outcome",
            errors.clone(),
        );
        registry.register(
            "mcp_gateway_call_duration_seconds",
            "Latency of forwarded MCP requests, by method, tool and outcome",
            latency.clone(),
        );
        registry.register(
            "mcp_gateway_active_users",
            "Users with an open upstream session",
            active_users.clone(),
        );
        registry.register(
            "mcp_gateway_rejected_requests",
            "Agent requests refused before anything was sent upstream, by reason",
            rejected.clone(),
        );
        registry.register(
            "mcp_gateway_direct_requests",
            "Agent requests answered on the gateway's direct path instead of through rmcp",
            direct.clone(),
        );
        GatewayMetrics {
            inner: Arc::new(MetricsInner {
                registry: Mutex::new(registry),
                calls,
                errors,
                latency,
                active_users,
                rejected,
                direct,
                tool_labels: Mutex::new(HashSet::new()),
                listed: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Counts one forwarded request.
    pub fn record_call(&self, method: &str, tool: Option<&str>, outcome: &str, latency: Duration) {
        let labels = CallLabels {
            method: method.to_owned(),
            tool: tool.map(|t| self.tool_label(t)).unwrap_or_default(),
            outcome: outcome.to_owned(),
        };
        self.inner.calls.get_or_create(&labels).inc();
        if outcome != "ok" {
            self.inner.errors.get_or_create(&labels).inc();
        }
        self.inner
            .latency
            .get_or_create(&labels)
            .observe(latency.as_secs_f64());
    }

    /// Records tool names an upstream listed (`tools/list`): from then on, only listed names
    /// get a `tool` label of their own. (At most 4096 names are remembered.)
    pub fn record_listed_tools<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut listed = self.inner.listed.lock().unwrap_or_else(|p| p.into_inner());
        for name in names {
            if listed.len() >= MAX_LISTED {
                break;
            }
            if !listed.contains(name) {
                listed.insert(name.to_owned());
            }
        }
    }

    /// Counts one refused agent request.
    pub fn record_rejection(&self, reason: &str) {
        self.inner
            .rejected
            .get_or_create(&RejectLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts one agent request answered on the direct path.
    pub(crate) fn record_direct(&self) {
        self.inner.direct.inc();
    }

    /// How many agent requests the direct path has answered.
    pub fn direct_requests(&self) -> u64 {
        self.inner.direct.get()
    }

    /// Sets the number of users with an open upstream session.
    pub fn set_active_users(&self, users: usize) {
        self.inner
            .active_users
            .set(i64::try_from(users).unwrap_or(i64::MAX));
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// The `tool` label of a call of `tool`: the (escaped) name, or `other`.
    fn tool_label(&self, tool: &str) -> String {
        const OTHER: &str = "other";
        let admissible = {
            let listed = self.inner.listed.lock().unwrap_or_else(|p| p.into_inner());
            if listed.is_empty() {
                is_tool_name(tool)
            } else {
                listed.contains(tool)
            }
        };
        if !admissible {
            return OTHER.to_owned();
        }
        let label = escape_label(capped_tool_name(tool));
        let mut seen = self
            .inner
            .tool_labels
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.contains(&label) {
            return label;
        }
        if seen.len() < MAX_TOOL_LABELS {
            seen.insert(label.clone());
            return label;
        }
        OTHER.to_owned()
    }
}

/// Whether `name` is a well-formed MCP tool name: 1 to 128 characters of `A-Z a-z 0-9 _ - . /`.
fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
}

/// `name` cut to at most [`MAX_TOOL_NAME`] bytes (on a character boundary), for labels and log
/// lines.
pub(crate) fn capped_tool_name(name: &str) -> &str {
    if name.len() <= MAX_TOOL_NAME {
        return name;
    }
    let mut end = MAX_TOOL_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// A label value escaped for the Prometheus text format (backslash, double quote, newline), which the encoder
/// does not do itself.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Debug for GatewayMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayMetrics").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = GatewayMetrics::new();
        metrics.record_call(
            "tools/call",
            Some("list_incidents"),
            "ok",
            Duration::from_millis(3),
        );
        metrics.record_call(
            "tools/call",
            Some("create_incident"),
            "denied",
            Duration::ZERO,
        );
        metrics.record_rejection("unknown_key");
        metrics.set_active_users(2);
        let text = metrics.render();
        assert!(text.contains(
            r#"mcp_gateway_calls_total{method="tools/call",tool="list_incidents",outcome="ok"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"mcp_gateway_errors_total{method="tools/call",tool="create_incident",outcome="denied"} 1"#
        ), "{text}");
        assert!(
            !text.contains(r#"mcp_gateway_errors_total{method="tools/call",tool="list_incidents""#)
        );
        assert!(text.contains("mcp_gateway_active_users 2"), "{text}");
        assert!(
            text.contains(r#"mcp_gateway_rejected_requests_total{reason="unknown_key"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("mcp_gateway_call_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }

    #[test]
    fn tool_labels_are_bounded() {
        let metrics = GatewayMetrics::new();
        for i in 0..(MAX_TOOL_LABELS + 10) {
            metrics.record_call(
                "tools/call",
                Some(&format!("t{i}")),
                "error",
                Duration::ZERO,
            );
        }
        assert!(metrics.render().contains(r#"tool="other""#));
    }

    #[test]
    fn hostile_tool_names_cannot_add_lines_or_grow_the_text() {
        let metrics = GatewayMetrics::new();
        let injection = "x\",outcome=\"ok\"} 1\nmcp_gateway_active_users 4242";
        let huge = "a".repeat(256 * 1024);
        metrics.record_call("tools/call", Some(injection), "ok", Duration::ZERO);
        metrics.record_call("tools/call", Some(&huge), "ok", Duration::ZERO);
        let text = metrics.render();
        assert!(!text.contains("4242"), "{text}");
        assert!(text.len() < 16 * 1024, "{} bytes", text.len());
        assert!(text.contains(r#"tool="other""#));
        // Once the upstream's list is known, only its names are labelled, escaped.
        metrics.record_listed_tools(["list_incidents", "odd\"name\n"]);
        metrics.record_call("tools/call", Some("get_user_data"), "ok", Duration::ZERO);
        metrics.record_call("tools/call", Some("list_incidents"), "ok", Duration::ZERO);
        metrics.record_call("tools/call", Some("odd\"name\n"), "ok", Duration::ZERO);
        let text = metrics.render();
        assert!(!text.contains(r#"tool="get_user_data""#), "{text}");
        assert!(text.contains(r#"tool="list_incidents""#), "{text}");
        assert!(text.contains(r#"tool="odd\"name\n""#), "{text}");
        assert_eq!(capped_tool_name(&"é".repeat(100)).len(), 128);
    }
}
