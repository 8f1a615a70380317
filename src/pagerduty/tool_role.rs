//! PagerDuty tools found by what they do, not by one name: the hosted server at
//! `mcp.pagerduty.com` and the open-source `pagerduty-mcp` package name some tools differently
//! (the hosted server lists `browse_incidents` where the package lists `list_incidents`).

use std::fmt;

use super::catalogue::{PagerDutyArea, ToolAccess, ToolCatalogue, normalise};
use crate::client::model::Tool;

/// What a PagerDuty tool does, whatever the server calls it.
///
/// Each role knows the names it goes by ([`ToolRole::known_names`]: the hosted server's first,
/// then the open-source package's), and, for a name nobody here has seen yet, the shape such a
/// name takes (a verb such as `list`, `browse`, `search` or `get` before the role's subject, as
/// in `search_incidents`): a tool found by that shape must also have the role's access by its
/// annotations ([`ToolAccess`]), so that a read role never lands on a tool that writes.
///
/// [`ToolCatalogue::find`] and [`ToolCatalogue::name_of`] look a role up in what a server lists.
///
/// ```
/// use pagerduty_mcp_connect::{Tool, ToolCatalogue, ToolRole};
///
/// // The hosted server's naming …
/// let hosted: Vec<Tool> = serde_json::from_value(serde_json::json!([
///     {"name": "browse_incidents", "annotations": {"readOnlyHint": true}}
/// ]))?;
/// // … and the open-source package's.
/// let open_source: Vec<Tool> = serde_json::from_value(serde_json::json!([
///     {"name": "list_incidents", "annotations": {"readOnlyHint": true}}
/// ]))?;
/// let role = ToolRole::ListIncidents;
/// assert_eq!(ToolCatalogue::new(hosted).name_of(role)?, "browse_incidents");
/// assert_eq!(ToolCatalogue::new(open_source).name_of(role)?, "list_incidents");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ToolRole {
    /// Lists incidents (filtered by status, urgency, service …).
    ListIncidents,
    /// Gets one incident by id or number.
    GetIncident,
    /// Lists the notes of an incident.
    ListIncidentNotes,
    /// Creates an incident.
    CreateIncident,
    /// Changes incidents (acknowledge, resolve, reassign, escalate …).
    ManageIncidents,
    /// Adds a note to an incident.
    AddIncidentNote,
    /// Lists services.
    ListServices,
    /// Gets one service.
    GetService,
    /// Lists who is on call.
    ListOnCalls,
    /// Lists on-call schedules.
    ListSchedules,
    /// Lists users.
    ListUsers,
    /// Tells who the token's own user is.
    CurrentUser,
    /// Lists teams.
    ListTeams,
    /// Lists escalation policies.
    ListEscalationPolicies,
    /// Lists log entries.
    ListLogEntries,
}

/// Verbs that start a name that lists things, in either naming.
const LIST_VERBS: &[&str] = &[
    "list", "browse", "search", "find", "query", "get_all", "fetch",
];
/// Verbs that start a name that reads one thing.
const GET_VERBS: &[&str] = &["get", "fetch", "read", "show", "describe"];

impl ToolRole {
    /// Every role, in declaration order.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolRole;
    ///
    /// assert!(ToolRole::ALL.contains(&ToolRole::ListIncidents));
    /// ```
    pub const ALL: &'static [ToolRole] = &[
        ToolRole::ListIncidents,
        ToolRole::GetIncident,
        ToolRole::ListIncidentNotes,
        ToolRole::CreateIncident,
        ToolRole::ManageIncidents,
        ToolRole::AddIncidentNote,
        ToolRole::ListServices,
        ToolRole::GetService,
        ToolRole::ListOnCalls,
        ToolRole::ListSchedules,
        ToolRole::ListUsers,
        ToolRole::CurrentUser,
        ToolRole::ListTeams,
        ToolRole::ListEscalationPolicies,
        ToolRole::ListLogEntries,
    ];

    /// The names this role goes by: the hosted server's (where it renamed the tool) first, then
    /// the open-source `pagerduty-mcp` package's.
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolRole;
    ///
    /// assert_eq!(ToolRole::ListIncidents.known_names(), ["browse_incidents", "list_incidents"]);
    /// assert_eq!(ToolRole::CurrentUser.known_names(), ["get_user_data"]);
    /// ```
    pub fn known_names(self) -> &'static [&'static str] {
        match self {
            ToolRole::ListIncidents => &["browse_incidents", "list_incidents"],
            ToolRole::GetIncident => &["get_incident"],
            ToolRole::ListIncidentNotes => &["list_incident_notes"],
            ToolRole::CreateIncident => &["create_incident"],
            ToolRole::ManageIncidents => &["manage_incidents"],
            ToolRole::AddIncidentNote => &["add_note_to_incident"],
            ToolRole::ListServices => &["list_services"],
            ToolRole::GetService => &["get_service"],
            ToolRole::ListOnCalls => &["list_oncalls"],
            ToolRole::ListSchedules => &["list_schedules"],
            ToolRole::ListUsers => &["list_users"],
            ToolRole::CurrentUser => &["get_user_data"],
            ToolRole::ListTeams => &["list_teams"],
            ToolRole::ListEscalationPolicies => &["list_escalation_policies"],
            ToolRole::ListLogEntries => &["list_log_entries"],
        }
    }

    /// What the role does to PagerDuty data: the access a tool found by its name's shape must
    /// have by its annotations.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{ToolAccess, ToolRole};
    ///
    /// assert_eq!(ToolRole::ListIncidents.access(), ToolAccess::Read);
    /// assert_eq!(ToolRole::CreateIncident.access(), ToolAccess::Write);
    /// ```
    pub fn access(self) -> ToolAccess {
        match self {
            ToolRole::CreateIncident | ToolRole::ManageIncidents | ToolRole::AddIncidentNote => {
                ToolAccess::Write
            }
            _ => ToolAccess::Read,
        }
    }

    /// The PagerDuty area the role belongs to.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDutyArea, ToolRole};
    ///
    /// assert_eq!(ToolRole::ListOnCalls.area(), PagerDutyArea::SchedulesAndOnCall);
    /// ```
    pub fn area(self) -> PagerDutyArea {
        PagerDutyArea::from_tool_name(self.known_names()[0])
    }

    /// A short human description, e.g. for an error message: "the incidents list tool".
    ///
    /// ```
    /// use pagerduty_mcp_connect::ToolRole;
    ///
    /// assert_eq!(ToolRole::ListIncidents.to_string(), "the incidents list tool");
    /// ```
    pub fn description(self) -> &'static str {
        match self {
            ToolRole::ListIncidents => "the incidents list tool",
            ToolRole::GetIncident => "the get-one-incident tool",
            ToolRole::ListIncidentNotes => "the incident notes list tool",
            ToolRole::CreateIncident => "the create-incident tool",
            ToolRole::ManageIncidents => "the manage-incidents tool",
            ToolRole::AddIncidentNote => "the add-a-note tool",
            ToolRole::ListServices => "the services list tool",
            ToolRole::GetService => "the get-one-service tool",
            ToolRole::ListOnCalls => "the on-call list tool",
            ToolRole::ListSchedules => "the schedules list tool",
            ToolRole::ListUsers => "the users list tool",
            ToolRole::CurrentUser => "the current-user tool",
            ToolRole::ListTeams => "the teams list tool",
            ToolRole::ListEscalationPolicies => "the escalation policies list tool",
            ToolRole::ListLogEntries => "the log entries list tool",
        }
    }

    /// The verbs and subject of a name of this role's shape, for names not in
    /// [`known_names`](Self::known_names): `None` for roles whose names have no common shape.
    fn shape(self) -> Option<(&'static [&'static str], &'static str)> {
        Some(match self {
            ToolRole::ListIncidents => (LIST_VERBS, "incidents"),
            ToolRole::GetIncident => (GET_VERBS, "incident"),
            ToolRole::ListIncidentNotes => (LIST_VERBS, "incident_notes"),
            ToolRole::ListServices => (LIST_VERBS, "services"),
            ToolRole::GetService => (GET_VERBS, "service"),
            ToolRole::ListOnCalls => (LIST_VERBS, "oncalls"),
            ToolRole::ListSchedules => (LIST_VERBS, "schedules"),
            ToolRole::ListUsers => (LIST_VERBS, "users"),
            ToolRole::ListTeams => (LIST_VERBS, "teams"),
            ToolRole::ListEscalationPolicies => (LIST_VERBS, "escalation_policies"),
            ToolRole::ListLogEntries => (LIST_VERBS, "log_entries"),
            _ => return None,
        })
    }

    /// Whether `tool` plays this role: its name is one of [`known_names`](Self::known_names),
    /// or it has the role's shape (`<verb>_<subject>`, any case or separator, an optional
    /// `pagerduty_` prefix) and the role's access by its annotations.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolRole};
    ///
    /// let tool: Tool = serde_json::from_value(serde_json::json!({
    ///     "name": "searchIncidents", "annotations": {"readOnlyHint": true}
    /// }))?;
    /// assert!(ToolRole::ListIncidents.matches(&tool));
    /// // The same name, but the server says it may write: not a list tool.
    /// let unannotated: Tool = serde_json::from_value(serde_json::json!({"name": "searchIncidents"}))?;
    /// assert!(!ToolRole::ListIncidents.matches(&unannotated));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn matches(self, tool: &Tool) -> bool {
        self.known_names().contains(&tool.name.as_str()) || self.has_shape(tool)
    }

    fn has_shape(self, tool: &Tool) -> bool {
        let Some((verbs, subject)) = self.shape() else {
            return false;
        };
        if ToolAccess::of(tool) != self.access() {
            return false;
        }
        let normalised = normalise(&tool.name);
        let name = normalised.trim_matches('_');
        let name = ["pagerduty_", "pager_duty_"]
            .iter()
            .find_map(|prefix| name.strip_prefix(prefix))
            .unwrap_or(name);
        verbs.iter().any(|verb| {
            name.strip_prefix(verb)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|rest| rest == subject)
        })
    }
}

impl fmt::Display for ToolRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.description())
    }
}

/// No tool of a server plays the role asked for ([`ToolCatalogue::name_of`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no tool on this server is {role}: looked for {names}, or a name of that shape with matching annotations, among the {listed} tools it lists",
    names = .role.known_names().join(", ")
)]
pub struct NoToolForRole {
    /// The role asked for.
    pub role: ToolRole,
    /// How many tools the server lists.
    pub listed: usize,
}

impl ToolCatalogue {
    /// The tool that plays `role` on this server: the first listed under one of the role's
    /// [known names](ToolRole::known_names) (in the order of those names), else the first
    /// whose name has the role's shape and whose annotations give it the role's access.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Tool, ToolCatalogue, ToolRole};
    ///
    /// let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
    ///     {"name": "get_user_data", "annotations": {"readOnlyHint": true}},
    ///     {"name": "browse_incidents", "annotations": {"readOnlyHint": true}}
    /// ]))?;
    /// let catalogue = ToolCatalogue::new(tools);
    /// assert_eq!(catalogue.find(ToolRole::ListIncidents).unwrap().name, "browse_incidents");
    /// assert!(catalogue.find(ToolRole::CreateIncident).is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn find(&self, role: ToolRole) -> Option<&Tool> {
        role.known_names()
            .iter()
            .find_map(|name| self.get(name))
            .or_else(|| self.iter().find(|tool| role.has_shape(tool)))
    }

    /// The name of the tool that plays `role` on this server ([`find`](Self::find)), or an error
    /// that says what was looked for.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{ToolCatalogue, ToolRole};
    ///
    /// let err = ToolCatalogue::default().name_of(ToolRole::ListIncidents).unwrap_err();
    /// assert!(err.to_string().contains("browse_incidents, list_incidents"));
    /// ```
    pub fn name_of(&self, role: ToolRole) -> Result<&str, NoToolForRole> {
        self.find(role)
            .map(|tool| tool.name.as_str())
            .ok_or(NoToolForRole {
                role,
                listed: self.len(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, read_only: bool) -> Tool {
        serde_json::from_value(json!({"name": name, "annotations": {"readOnlyHint": read_only}}))
            .unwrap()
    }

    #[test]
    fn known_names_win_over_shapes_and_follow_their_order() {
        let catalogue = ToolCatalogue::new(vec![
            tool("search_incidents", true),
            tool("list_incidents", true),
            tool("browse_incidents", true),
        ]);
        assert_eq!(
            catalogue.name_of(ToolRole::ListIncidents),
            Ok("browse_incidents")
        );
    }

    #[test]
    fn shapes_need_the_roles_access() {
        let catalogue = ToolCatalogue::new(vec![
            tool("pagerduty-search-incidents", false),
            tool("PagerDuty_Query_Incidents", true),
        ]);
        assert_eq!(
            catalogue.name_of(ToolRole::ListIncidents),
            Ok("PagerDuty_Query_Incidents")
        );
        // A longer name is another tool, not this role.
        let other = ToolCatalogue::new(vec![tool("list_incidents_by_team", true)]);
        assert!(other.find(ToolRole::ListIncidents).is_none());
    }

    #[test]
    fn every_role_is_found_under_each_of_its_known_names() {
        for &role in ToolRole::ALL {
            for name in role.known_names() {
                let read = role.access() == ToolAccess::Read;
                let catalogue = ToolCatalogue::new(vec![tool(name, read)]);
                assert_eq!(catalogue.name_of(role), Ok(*name), "{role:?}");
            }
            assert!(!role.description().is_empty());
        }
    }

    #[test]
    fn the_error_names_what_was_looked_for() {
        let err = ToolCatalogue::new(vec![tool("get_incident", true)])
            .name_of(ToolRole::ListIncidents)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no tool on this server is the incidents list tool: looked for browse_incidents, \
             list_incidents, or a name of that shape with matching annotations, among the 1 \
             tools it lists"
        );
    }
}
