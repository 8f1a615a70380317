//! A typed view of the tools a PagerDuty MCP server offers: which are read-only (from the
//! server's annotations only) and which product area each belongs to (from its name).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::client::model::Tool;

/// A PagerDuty product area, used to group tools for an admin.
///
/// The area of a tool comes from its name ([`PagerDutyArea::from_tool_name`]); it says nothing
/// about whether the tool writes (that comes from the annotations, see [`ToolAccess`]).
///
/// ```
/// use pagerduty_mcp_connect::PagerDutyArea;
///
/// let area = PagerDutyArea::from_tool_name("list_oncalls");
/// assert_eq!(area, PagerDutyArea::SchedulesAndOnCall);
/// assert_eq!(area.to_string(), "Schedules & on-call");
/// assert_eq!(area.as_str(), "schedules_and_on_call");
/// assert!(PagerDutyArea::Incidents < PagerDutyArea::Other);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PagerDutyArea {
    /// Incidents, their notes, responders, priorities and similar-incident analysis.
    Incidents,
    /// Technical and business services and their dependencies.
    Services,
    /// Schedules, overrides, rotations and who is on call.
    SchedulesAndOnCall,
    /// Users, teams and team membership.
    UsersAndTeams,
    /// Escalation policies.
    EscalationPolicies,
    /// Event orchestrations (global, router, service rules).
    EventOrchestration,
    /// Status pages and their posts.
    StatusPages,
    /// Log entries (the audit trail).
    LogEntries,
    /// Change events.
    ChangeEvents,
    /// Alerts and alert grouping settings.
    Alerts,
    /// Incident workflows.
    Workflows,
    /// Anything else (analytics, webhooks, extension schemas, unknown tools).
    Other,
}

/// Name fragments, most specific first. A fragment matches at the start of a word of the
/// normalised name (`_` separated, lower case), so `_alert` matches `alerts` and `alert_grouping`.
const RULES: &[(&str, PagerDutyArea)] = &[
    ("_event_orchestration", PagerDutyArea::EventOrchestration),
    ("_orchestration", PagerDutyArea::EventOrchestration),
    ("_status_page", PagerDutyArea::StatusPages),
    ("_statuspage", PagerDutyArea::StatusPages),
    ("_workflow", PagerDutyArea::Workflows),
    ("_change_event", PagerDutyArea::ChangeEvents),
    ("_log_entr", PagerDutyArea::LogEntries),
    ("_logentr", PagerDutyArea::LogEntries),
    ("_escalation_polic", PagerDutyArea::EscalationPolicies),
    ("_alert", PagerDutyArea::Alerts),
    ("_metrics", PagerDutyArea::Other),
    ("_analytics", PagerDutyArea::Other),
    ("_webhook", PagerDutyArea::Other),
    ("_extension", PagerDutyArea::Other),
    ("_schedule", PagerDutyArea::SchedulesAndOnCall),
    ("_oncall", PagerDutyArea::SchedulesAndOnCall),
    ("_on_call", PagerDutyArea::SchedulesAndOnCall),
    ("_rotation", PagerDutyArea::SchedulesAndOnCall),
    ("_override", PagerDutyArea::SchedulesAndOnCall),
    ("_incident", PagerDutyArea::Incidents),
    ("_note", PagerDutyArea::Incidents),
    ("_responder", PagerDutyArea::Incidents),
    ("_priorit", PagerDutyArea::Incidents),
    ("_service", PagerDutyArea::Services),
    ("_user", PagerDutyArea::UsersAndTeams),
    ("_team", PagerDutyArea::UsersAndTeams),
    ("_member", PagerDutyArea::UsersAndTeams),
];

impl PagerDutyArea {
    /// Every area, in display order ([`Other`](PagerDutyArea::Other) last).
    ///
    /// ```
    /// use pagerduty_mcp_connect::PagerDutyArea;
    ///
    /// assert_eq!(PagerDutyArea::ALL.first(), Some(&PagerDutyArea::Incidents));
    /// assert_eq!(PagerDutyArea::ALL.last(), Some(&PagerDutyArea::Other));
    /// ```
    pub const ALL: [PagerDutyArea; 12] = [
        PagerDutyArea::Incidents,
        PagerDutyArea::Services,
        PagerDutyArea::SchedulesAndOnCall,
        PagerDutyArea::UsersAndTeams,
        PagerDutyArea::EscalationPolicies,
        PagerDutyArea::EventOrchestration,
        PagerDutyArea::StatusPages,
        PagerDutyArea::LogEntries,
        PagerDutyArea::ChangeEvents,
        PagerDutyArea::Alerts,
        PagerDutyArea::Workflows,
        PagerDutyArea::Other,
    ];

    /// A stable machine name (`snake_case`), e.g. for an admin UI's JSON.
    ///
    /// ```
    /// use pagerduty_mcp_connect::PagerDutyArea;
    ///
    /// assert_eq!(PagerDutyArea::EventOrchestration.as_str(), "event_orchestration");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            PagerDutyArea::Incidents => "incidents",
            PagerDutyArea::Services => "services",
            PagerDutyArea::SchedulesAndOnCall => "schedules_and_on_call",
            PagerDutyArea::UsersAndTeams => "users_and_teams",
            PagerDutyArea::EscalationPolicies => "escalation_policies",
            PagerDutyArea::EventOrchestration => "event_orchestration",
            PagerDutyArea::StatusPages => "status_pages",
            PagerDutyArea::LogEntries => "log_entries",
            PagerDutyArea::ChangeEvents => "change_events",
            PagerDutyArea::Alerts => "alerts",
            PagerDutyArea::Workflows => "workflows",
            PagerDutyArea::Other => "other",
        }
    }

    /// The human name, as [`Display`](fmt::Display) writes it.
    ///
    /// ```
    /// use pagerduty_mcp_connect::PagerDutyArea;
    ///
    /// assert_eq!(PagerDutyArea::UsersAndTeams.title(), "Users & teams");
    /// ```
    pub fn title(self) -> &'static str {
        match self {
            PagerDutyArea::Incidents => "Incidents",
            PagerDutyArea::Services => "Services",
            PagerDutyArea::SchedulesAndOnCall => "Schedules & on-call",
            PagerDutyArea::UsersAndTeams => "Users & teams",
            PagerDutyArea::EscalationPolicies => "Escalation policies",
            PagerDutyArea::EventOrchestration => "Event orchestration",
            PagerDutyArea::StatusPages => "Status pages",
            PagerDutyArea::LogEntries => "Log entries",
            PagerDutyArea::ChangeEvents => "Change events",
            PagerDutyArea::Alerts => "Alerts",
            PagerDutyArea::Workflows => "Incident workflows",
            PagerDutyArea::Other => "Other",
        }
    }

    /// The area a tool name belongs to, from the tool names of PagerDuty's MCP server
    /// (`list_incidents`, `create_schedule_override`, `get_event_orchestration_router` …).
    ///
    /// Case, `-`/`.`/space separators, camelCase and a prefix such as `pagerduty_` do not
    /// matter. The more specific area wins: `list_alerts_from_incident` is
    /// [`Alerts`](PagerDutyArea::Alerts), `list_incident_change_events` is
    /// [`ChangeEvents`](PagerDutyArea::ChangeEvents), `start_incident_workflow` is
    /// [`Workflows`](PagerDutyArea::Workflows), `list_schedule_users` is
    /// [`SchedulesAndOnCall`](PagerDutyArea::SchedulesAndOnCall). Analytics
    /// (`get_incident_metrics_by_team` …), webhooks, extension schemas and unknown names are
    /// [`Other`](PagerDutyArea::Other).
    ///
    /// ```
    /// use pagerduty_mcp_connect::PagerDutyArea;
    ///
    /// assert_eq!(PagerDutyArea::from_tool_name("get_incident"), PagerDutyArea::Incidents);
    /// assert_eq!(PagerDutyArea::from_tool_name("list_alerts_from_incident"), PagerDutyArea::Alerts);
    /// assert_eq!(PagerDutyArea::from_tool_name("getUserData"), PagerDutyArea::UsersAndTeams);
    /// assert_eq!(PagerDutyArea::from_tool_name("frobnicate"), PagerDutyArea::Other);
    /// ```
    pub fn from_tool_name(name: &str) -> PagerDutyArea {
        let normalised = normalise(name);
        RULES
            .iter()
            .find(|(fragment, _)| normalised.contains(fragment))
            .map_or(PagerDutyArea::Other, |&(_, area)| area)
    }

    /// The area of `tool`, from its name (see [`from_tool_name`](Self::from_tool_name)).
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDutyArea, Tool};
    ///
    /// let tool: Tool = serde_json::from_value(serde_json::json!({"name": "list_status_pages"}))?;
    /// assert_eq!(PagerDutyArea::of(&tool), PagerDutyArea::StatusPages);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn of(tool: &Tool) -> PagerDutyArea {
        PagerDutyArea::from_tool_name(&tool.name)
    }
}

impl fmt::Display for PagerDutyArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.title())
    }
}

/// `_` + the name in lower-case snake_case words + `_`: `listIncidents` and `list-incidents`
/// both become `_list_incidents_`.
pub(super) fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    out.push('_');
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower {
                out.push('_');
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            previous_lower = false;
            if !out.ends_with('_') {
                out.push('_');
            }
        }
    }
    if !out.ends_with('_') {
        out.push('_');
    }
    out
}

/// Whether a tool only reads or may write, from the server's annotations only.
///
/// ```
/// use pagerduty_mcp_connect::{Tool, ToolAccess};
///
/// let read: Tool = serde_json::from_value(serde_json::json!({
///     "name": "list_incidents",
///     "annotations": {"readOnlyHint": true, "destructiveHint": false}
/// }))?;
/// assert_eq!(ToolAccess::of(&read), ToolAccess::Read);
///
/// // No annotations: counted as a write tool, whatever the name says.
/// let unannotated: Tool = serde_json::from_value(serde_json::json!({"name": "get_incident"}))?;
/// assert_eq!(ToolAccess::of(&unannotated), ToolAccess::Write);
/// assert_eq!(ToolAccess::Write.to_string(), "write");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolAccess {
    /// The server marks the tool read-only (`readOnlyHint: true`).
    Read,
    /// Anything else: the tool may change PagerDuty data.
    Write,
}

impl ToolAccess {
    /// The access of `tool`: [`Read`](ToolAccess::Read) exactly when [`Tool::is_read_only`].
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolAccess};
    ///
    /// let tool: Tool = serde_json::from_value(serde_json::json!({
    ///     "name": "create_incident",
    ///     "annotations": {"readOnlyHint": false, "destructiveHint": true}
    /// }))?;
    /// assert_eq!(ToolAccess::of(&tool), ToolAccess::Write);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn of(tool: &Tool) -> ToolAccess {
        if tool.is_read_only() {
            ToolAccess::Read
        } else {
            ToolAccess::Write
        }
    }

    /// `"read"` or `"write"`.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolAccess;
    ///
    /// assert_eq!(ToolAccess::Read.as_str(), "read");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ToolAccess::Read => "read",
            ToolAccess::Write => "write",
        }
    }
}

impl fmt::Display for ToolAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The tools a server offers, with their access (from annotations) and area (from names), so a
/// gateway can show an admin what a connection, or a read-only connection, allows.
///
/// Read-only-ness comes from the annotations only ([`Tool::is_read_only`]): a tool without
/// `readOnlyHint: true` counts as a write tool, even when its name starts with `get_` or `list_`.
///
/// ```
/// use pagerduty_mcp_connect::{PagerDutyArea, Tool, ToolCatalogue};
///
/// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
///     {"name": "list_incidents", "annotations": {"readOnlyHint": true, "destructiveHint": false}},
///     {"name": "manage_incidents", "annotations": {"readOnlyHint": false, "destructiveHint": true}},
///     {"name": "list_oncalls", "annotations": {"readOnlyHint": true}},
///     {"name": "get_service"}
/// ]))?;
/// let catalogue = ToolCatalogue::new(tools);
///
/// assert_eq!(catalogue.len(), 4);
/// let read: Vec<&str> = catalogue.read_only().map(|t| t.name.as_str()).collect();
/// assert_eq!(read, ["list_incidents", "list_oncalls"]);
/// let writes: Vec<&str> = catalogue.writes().map(|t| t.name.as_str()).collect();
/// assert_eq!(writes, ["manage_incidents", "get_service"]); // unannotated counts as write
///
/// let by_area = catalogue.by_area();
/// assert_eq!(by_area[&PagerDutyArea::Incidents].len(), 2);
/// assert_eq!(by_area[&PagerDutyArea::SchedulesAndOnCall][0].name, "list_oncalls");
///
/// // A table per area, for a CLI or an admin page.
/// let table = catalogue.to_string();
/// assert!(table.contains("Incidents: 2 tools (1 read-only, 1 write)"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCatalogue {
    tools: Vec<Tool>,
}

impl ToolCatalogue {
    /// A catalogue of `tools` (the result of `tools/list`), in the server's order.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolCatalogue;
    ///
    /// let catalogue = ToolCatalogue::new(Vec::new());
    /// assert!(catalogue.is_empty());
    /// ```
    pub fn new(tools: Vec<Tool>) -> Self {
        ToolCatalogue { tools }
    }

    /// All tools, in the server's order.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolCatalogue};
    ///
    /// let tool: Tool = serde_json::from_value(serde_json::json!({"name": "list_users"}))?;
    /// let catalogue = ToolCatalogue::from(vec![tool]);
    /// assert_eq!(catalogue.tools()[0].name, "list_users");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The tools, giving up the catalogue.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolCatalogue;
    ///
    /// assert!(ToolCatalogue::default().into_tools().is_empty());
    /// ```
    pub fn into_tools(self) -> Vec<Tool> {
        self.tools
    }

    /// The tool called `name` (the first, should the server list a name twice).
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolCatalogue};
    ///
    /// let tool: Tool = serde_json::from_value(serde_json::json!({"name": "get_incident"}))?;
    /// let catalogue = ToolCatalogue::new(vec![tool]);
    /// assert!(catalogue.get("get_incident").is_some());
    /// assert!(catalogue.get("delete_everything").is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|tool| tool.name == name)
    }

    /// Whether a tool called `name` is listed.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolCatalogue;
    ///
    /// assert!(!ToolCatalogue::default().contains("list_incidents"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// How many tools the server lists.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolCatalogue;
    ///
    /// assert_eq!(ToolCatalogue::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// Whether the server lists no tools.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolCatalogue;
    ///
    /// assert!(ToolCatalogue::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// An iterator over the tools, in the server's order.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolCatalogue;
    ///
    /// assert_eq!(ToolCatalogue::default().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Tool> {
        self.tools.iter()
    }

    /// The tools the server marks read-only (`readOnlyHint: true`): what a read-only connection
    /// allows.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolCatalogue};
    ///
    /// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
    ///     {"name": "get_incident", "annotations": {"readOnlyHint": true}},
    ///     {"name": "list_incidents"}
    /// ]))?;
    /// let catalogue = ToolCatalogue::new(tools);
    /// assert_eq!(catalogue.read_only().count(), 1);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn read_only(&self) -> impl Iterator<Item = &Tool> + '_ {
        self.tools.iter().filter(|tool| tool.is_read_only())
    }

    /// The tools that may write: every tool not marked read-only, unannotated ones included.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolCatalogue};
    ///
    /// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
    ///     {"name": "create_incident", "annotations": {"readOnlyHint": false, "destructiveHint": true}},
    ///     {"name": "list_incidents"}
    /// ]))?;
    /// let catalogue = ToolCatalogue::new(tools);
    /// assert_eq!(catalogue.writes().count(), 2);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn writes(&self) -> impl Iterator<Item = &Tool> + '_ {
        self.tools.iter().filter(|tool| !tool.is_read_only())
    }

    /// A catalogue of the read-only tools only: what to show for a read-only connection.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolCatalogue};
    ///
    /// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
    ///     {"name": "get_incident", "annotations": {"readOnlyHint": true}},
    ///     {"name": "create_incident", "annotations": {"readOnlyHint": false}}
    /// ]))?;
    /// let read_only = ToolCatalogue::new(tools).read_only_catalogue();
    /// assert_eq!(read_only.len(), 1);
    /// assert!(read_only.contains("get_incident"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn read_only_catalogue(&self) -> ToolCatalogue {
        ToolCatalogue::new(self.read_only().cloned().collect())
    }

    /// The tools grouped by area, areas in [`PagerDutyArea`] order (only those with tools), tools
    /// in the server's order.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDutyArea, Tool, ToolCatalogue};
    ///
    /// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
    ///     {"name": "list_incident_change_events"},
    ///     {"name": "list_change_events"},
    ///     {"name": "get_incident"}
    /// ]))?;
    /// let catalogue = ToolCatalogue::new(tools);
    /// let areas: Vec<(PagerDutyArea, usize)> =
    ///     catalogue.by_area().into_iter().map(|(area, tools)| (area, tools.len())).collect();
    /// assert_eq!(areas, [(PagerDutyArea::Incidents, 1), (PagerDutyArea::ChangeEvents, 2)]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn by_area(&self) -> BTreeMap<PagerDutyArea, Vec<&Tool>> {
        let mut areas: BTreeMap<PagerDutyArea, Vec<&Tool>> = BTreeMap::new();
        for tool in &self.tools {
            areas.entry(PagerDutyArea::of(tool)).or_default().push(tool);
        }
        areas
    }

    /// The tools of one area, in the server's order.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDutyArea, Tool, ToolCatalogue};
    ///
    /// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
    ///     {"name": "list_teams"}, {"name": "get_incident"}
    /// ]))?;
    /// let catalogue = ToolCatalogue::new(tools);
    /// assert_eq!(catalogue.in_area(PagerDutyArea::UsersAndTeams).count(), 1);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn in_area(&self, area: PagerDutyArea) -> impl Iterator<Item = &Tool> + '_ {
        self.tools
            .iter()
            .filter(move |tool| PagerDutyArea::of(tool) == area)
    }

    /// The area of `tool` (from its name; see [`PagerDutyArea::from_tool_name`]).
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDutyArea, Tool, ToolCatalogue};
    ///
    /// let tool: Tool = serde_json::from_value(serde_json::json!({"name": "start_incident_workflow"}))?;
    /// assert_eq!(ToolCatalogue::area_of(&tool), PagerDutyArea::Workflows);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn area_of(tool: &Tool) -> PagerDutyArea {
        PagerDutyArea::of(tool)
    }

    /// A structured summary per area, with counts and each tool's access, for an admin UI
    /// (it serialises to JSON) or a CLI (it implements [`Display`](fmt::Display), as does the
    /// catalogue itself).
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDutyArea, Tool, ToolAccess, ToolCatalogue};
    ///
    /// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
    ///     {"name": "create_incident", "annotations": {"readOnlyHint": false, "destructiveHint": true}},
    ///     {"name": "list_incidents", "annotations": {"readOnlyHint": true, "destructiveHint": false}}
    /// ]))?;
    /// let summary = ToolCatalogue::new(tools).summary();
    /// assert_eq!((summary.total, summary.read_only, summary.writes), (2, 1, 1));
    ///
    /// let incidents = &summary.areas[0];
    /// assert_eq!(incidents.area, PagerDutyArea::Incidents);
    /// // Read tools first, then by name.
    /// assert_eq!(incidents.tools[0].name, "list_incidents");
    /// assert_eq!(incidents.tools[1].access, ToolAccess::Write);
    /// assert!(incidents.tools[1].destructive);
    ///
    /// let json = serde_json::to_value(&summary)?;
    /// assert_eq!(json["areas"][0]["area"], "incidents");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn summary(&self) -> CatalogueSummary {
        let areas: Vec<AreaSummary> = self
            .by_area()
            .into_iter()
            .map(|(area, tools)| {
                let mut tools: Vec<ToolSummary> = tools.into_iter().map(ToolSummary::of).collect();
                tools.sort_by(|a, b| a.access.cmp(&b.access).then_with(|| a.name.cmp(&b.name)));
                let read_only = tools
                    .iter()
                    .filter(|tool| tool.access == ToolAccess::Read)
                    .count();
                AreaSummary {
                    area,
                    title: area.title(),
                    read_only,
                    writes: tools.len() - read_only,
                    tools,
                }
            })
            .collect();
        let read_only = areas.iter().map(|area| area.read_only).sum();
        let writes = areas.iter().map(|area| area.writes).sum();
        CatalogueSummary {
            total: read_only + writes,
            read_only,
            writes,
            areas,
        }
    }
}

impl From<Vec<Tool>> for ToolCatalogue {
    fn from(tools: Vec<Tool>) -> Self {
        ToolCatalogue::new(tools)
    }
}

impl FromIterator<Tool> for ToolCatalogue {
    fn from_iter<I: IntoIterator<Item = Tool>>(iter: I) -> Self {
        ToolCatalogue::new(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a ToolCatalogue {
    type Item = &'a Tool;
    type IntoIter = std::slice::Iter<'a, Tool>;

    fn into_iter(self) -> Self::IntoIter {
        self.tools.iter()
    }
}

impl IntoIterator for ToolCatalogue {
    type Item = Tool;
    type IntoIter = std::vec::IntoIter<Tool>;

    fn into_iter(self) -> Self::IntoIter {
        self.tools.into_iter()
    }
}

impl fmt::Display for ToolCatalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.summary(), f)
    }
}

/// The summary of a [`ToolCatalogue`]: counts and a table per area. `Display` renders it as
/// plain text; `Serialize` gives JSON for an admin UI.
///
/// ```
/// use pagerduty_mcp_connect::{Tool, ToolCatalogue};
///
/// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
///     {"name": "list_incidents", "title": "List incidents",
///      "annotations": {"readOnlyHint": true, "destructiveHint": false}},
///     {"name": "create_incident", "annotations": {"readOnlyHint": false, "destructiveHint": true}}
/// ]))?;
/// let text = ToolCatalogue::new(tools).summary().to_string();
/// assert_eq!(text, "\
/// 2 tools: 1 read-only, 1 write
///
/// Incidents: 2 tools (1 read-only, 1 write)
///   read   list_incidents   List incidents
///   write  create_incident  (destructive)
/// ");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueSummary {
    /// How many tools in all.
    pub total: usize,
    /// How many are marked read-only.
    pub read_only: usize,
    /// How many may write.
    pub writes: usize,
    /// One entry per area with tools, in [`PagerDutyArea`] order.
    pub areas: Vec<AreaSummary>,
}

/// One area of a [`CatalogueSummary`]. Made by [`ToolCatalogue::summary`]; `#[non_exhaustive]`, so
/// fields may be added in a minor release.
///
/// ```
/// use pagerduty_mcp_connect::{PagerDutyArea, Tool, ToolCatalogue};
///
/// let tool: Tool = serde_json::from_value(serde_json::json!({"name": "list_log_entries"}))?;
/// let summary = ToolCatalogue::new(vec![tool]).summary();
/// let area = &summary.areas[0];
/// assert_eq!(area.area, PagerDutyArea::LogEntries);
/// assert_eq!(area.title, "Log entries");
/// assert_eq!((area.read_only, area.writes), (0, 1)); // unannotated: write
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaSummary {
    /// The area.
    pub area: PagerDutyArea,
    /// Its human name.
    pub title: &'static str,
    /// How many of its tools are marked read-only.
    pub read_only: usize,
    /// How many of its tools may write.
    pub writes: usize,
    /// Its tools, read-only first, then by name.
    pub tools: Vec<ToolSummary>,
}

/// One tool of an [`AreaSummary`].
///
/// ```
/// use pagerduty_mcp_connect::{Tool, ToolAccess, ToolSummary};
///
/// let tool: Tool = serde_json::from_value(serde_json::json!({
///     "name": "manage_incidents",
///     "annotations": {"title": "Manage incidents", "readOnlyHint": false, "destructiveHint": true}
/// }))?;
/// let summary = ToolSummary::of(&tool);
/// assert_eq!(summary.access, ToolAccess::Write);
/// assert!(summary.destructive);
/// assert_eq!(summary.title.as_deref(), Some("Manage incidents"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolSummary {
    /// The tool's name.
    pub name: String,
    /// Its human title (the tool's `title`, else the annotations' `title`), when given.
    pub title: Option<String>,
    /// Read or write, from the annotations.
    pub access: ToolAccess,
    /// Whether the server marks it destructive (`destructiveHint: true` on a write tool).
    pub destructive: bool,
}

impl ToolSummary {
    /// The summary of `tool`.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolAccess, ToolSummary};
    ///
    /// let tool: Tool = serde_json::from_value(serde_json::json!({"name": "list_users"}))?;
    /// assert_eq!(ToolSummary::of(&tool).access, ToolAccess::Write);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn of(tool: &Tool) -> ToolSummary {
        let access = ToolAccess::of(tool);
        let annotations = tool.annotations.as_ref();
        let title = tool
            .extra
            .get("title")
            .and_then(|title| title.as_str())
            .map(str::to_owned)
            .or_else(|| annotations.and_then(|a| a.title.clone()))
            .filter(|title| !title.trim().is_empty());
        let destructive = access == ToolAccess::Write
            && annotations
                .and_then(|a| a.destructive_hint)
                .unwrap_or(false);
        ToolSummary {
            name: tool.name.clone(),
            title,
            access,
            destructive,
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

impl fmt::Display for CatalogueSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} tool{}: {} read-only, {} write",
            self.total,
            plural(self.total),
            self.read_only,
            self.writes
        )?;
        for area in &self.areas {
            writeln!(f)?;
            fmt::Display::fmt(area, f)?;
        }
        Ok(())
    }
}

impl fmt::Display for AreaSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.tools.len();
        writeln!(
            f,
            "{}: {} tool{} ({} read-only, {} write)",
            self.title,
            count,
            plural(count),
            self.read_only,
            self.writes
        )?;
        let width = self
            .tools
            .iter()
            .map(|tool| tool.name.chars().count())
            .max()
            .unwrap_or(0);
        for tool in &self.tools {
            let mut note = tool.title.clone().unwrap_or_default();
            if tool.destructive {
                if !note.is_empty() {
                    note.push(' ');
                }
                note.push_str("(destructive)");
            }
            if note.is_empty() {
                writeln!(f, "  {:<5}  {}", tool.access, tool.name)?;
            } else {
                writeln!(f, "  {:<5}  {:<width$}  {}", tool.access, tool.name, note)?;
            }
        }
        Ok(())
    }
}
