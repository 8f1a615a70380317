//! The tool catalogue: areas from PagerDuty's tool names, read-only-ness from annotations only.

use std::collections::BTreeMap;

use pagerduty_mcp_connect::{
    CatalogueSummary, Credential, McpClient, PagerDutyArea, Tool, ToolAccess, ToolCatalogue,
    ToolSummary,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::{Value, json};

use PagerDutyArea::*;

/// Tool names of PagerDuty's `pagerduty-mcp` package, whether it marks them read-only, and the
/// area they belong to. One tool a line, however long its name (`rustfmt::skip`).
#[rustfmt::skip]
const PAGERDUTY_TOOLS: &[(&str, bool, PagerDutyArea)] = &[
    // Incidents
    ("list_incidents", true, Incidents),
    ("get_incident", true, Incidents),
    ("get_outlier_incident", true, Incidents),
    ("get_past_incidents", true, Incidents),
    ("get_related_incidents", true, Incidents),
    ("list_incident_notes", true, Incidents),
    ("create_incident", false, Incidents),
    ("manage_incidents", false, Incidents),
    ("add_responders", false, Incidents),
    ("add_note_to_incident", false, Incidents),
    ("list_priorities", true, Incidents),
    // Alerts
    ("list_alerts_from_incident", true, Alerts),
    ("get_alert_from_incident", true, Alerts),
    ("list_alert_grouping_settings", true, Alerts),
    ("get_alert_grouping_setting", true, Alerts),
    ("create_alert_grouping_setting", false, Alerts),
    ("update_alert_grouping_setting", false, Alerts),
    ("delete_alert_grouping_setting", false, Alerts),
    // Services
    ("list_services", true, Services),
    ("get_service", true, Services),
    ("get_technical_service_dependencies", true, Services),
    ("list_business_services", true, Services),
    ("get_business_service_dependencies", true, Services),
    ("create_service", false, Services),
    ("update_service", false, Services),
    // Schedules and on-call
    ("list_schedules", true, SchedulesAndOnCall),
    ("get_schedule", true, SchedulesAndOnCall),
    ("list_schedule_users", true, SchedulesAndOnCall),
    ("list_schedule_v3_rotations", true, SchedulesAndOnCall),
    ("get_schedule_v3_override", true, SchedulesAndOnCall),
    ("list_oncalls", true, SchedulesAndOnCall),
    ("create_schedule", false, SchedulesAndOnCall),
    ("update_schedule", false, SchedulesAndOnCall),
    ("create_schedule_override", false, SchedulesAndOnCall),
    ("create_schedule_v3_rotation_event", false, SchedulesAndOnCall),
    ("delete_schedule_v3_custom_shift", false, SchedulesAndOnCall),
    // Users and teams
    ("get_user_data", true, UsersAndTeams),
    ("list_users", true, UsersAndTeams),
    ("list_teams", true, UsersAndTeams),
    ("get_team", true, UsersAndTeams),
    ("list_team_members", true, UsersAndTeams),
    ("create_user", false, UsersAndTeams),
    ("create_team", false, UsersAndTeams),
    ("update_team", false, UsersAndTeams),
    ("delete_team", false, UsersAndTeams),
    ("add_team_member", false, UsersAndTeams),
    ("remove_team_member", false, UsersAndTeams),
    // Escalation policies
    ("list_escalation_policies", true, EscalationPolicies),
    ("get_escalation_policy", true, EscalationPolicies),
    ("create_escalation_policy", false, EscalationPolicies),
    ("update_escalation_policy", false, EscalationPolicies),
    // Event orchestration
    ("list_event_orchestrations", true, EventOrchestration),
    ("get_event_orchestration", true, EventOrchestration),
    ("get_event_orchestration_router", true, EventOrchestration),
    ("get_event_orchestration_service", true, EventOrchestration),
    ("get_event_orchestration_global", true, EventOrchestration),
    ("update_event_orchestration_router", false, EventOrchestration),
    ("append_event_orchestration_router_rule", false, EventOrchestration),
    // Status pages
    ("list_status_pages", true, StatusPages),
    ("list_status_page_severities", true, StatusPages),
    ("list_status_page_impacts", true, StatusPages),
    ("list_status_page_statuses", true, StatusPages),
    ("get_status_page_post", true, StatusPages),
    ("list_status_page_post_updates", true, StatusPages),
    ("create_status_page_post", false, StatusPages),
    ("create_status_page_post_update", false, StatusPages),
    // Log entries
    ("list_log_entries", true, LogEntries),
    ("get_log_entry", true, LogEntries),
    // Change events
    ("list_change_events", true, ChangeEvents),
    ("get_change_event", true, ChangeEvents),
    ("list_service_change_events", true, ChangeEvents),
    ("list_incident_change_events", true, ChangeEvents),
    // Incident workflows
    ("list_incident_workflows", true, Workflows),
    ("get_incident_workflow", true, Workflows),
    ("start_incident_workflow", false, Workflows),
    // Analytics, webhooks, extension schemas
    ("get_responder_metrics", true, Other),
    ("get_incident_metrics_by_service", true, Other),
    ("get_incident_metrics_by_team", true, Other),
    ("list_webhook_subscriptions", true, Other),
    ("get_extension_schema", true, Other),
    ("create_webhook_subscription", false, Other),
];

/// A tool as PagerDuty's package lists it: read tools `readOnlyHint: true,
/// destructiveHint: false`, write tools `readOnlyHint: false, destructiveHint: true`.
fn annotated(name: &str, read_only: bool) -> Value {
    json!({
        "name": name,
        "description": format!("The {name} tool."),
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {
            "readOnlyHint": read_only,
            "destructiveHint": !read_only,
            "idempotentHint": read_only,
            "openWorldHint": false
        }
    })
}

/// The realistic list, plus an unannotated write-named tool and a read-named tool without
/// annotations (neither may count as read-only).
fn realistic_tools() -> Vec<Tool> {
    let mut list: Vec<Value> = PAGERDUTY_TOOLS
        .iter()
        .map(|&(name, read_only, _)| annotated(name, read_only))
        .collect();
    list.push(json!({"name": "resolve_everything", "inputSchema": {"type": "object"}}));
    list.push(json!({
        "name": "list_incidents_unannotated",
        "description": "Named like a read tool, but the server gives no annotations.",
        "inputSchema": {"type": "object"}
    }));
    // Annotations without readOnlyHint: still a write tool.
    list.push(json!({
        "name": "get_service_snapshot",
        "inputSchema": {"type": "object"},
        "annotations": {"title": "Service snapshot", "openWorldHint": true}
    }));
    serde_json::from_value(Value::Array(list)).expect("valid tools/list result")
}

fn names<'a>(tools: impl IntoIterator<Item = &'a Tool>) -> Vec<&'a str> {
    tools.into_iter().map(|tool| tool.name.as_str()).collect()
}

#[test]
fn every_real_tool_name_lands_in_its_area() {
    let mut wrong = Vec::new();
    for &(name, _, expected) in PAGERDUTY_TOOLS {
        let area = PagerDutyArea::from_tool_name(name);
        if area != expected {
            wrong.push(format!("{name}: {area:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn precedence_prefers_the_more_specific_area() {
    for (name, area) in [
        ("list_alerts_from_incident", Alerts),
        ("list_incident_change_events", ChangeEvents),
        ("list_service_change_events", ChangeEvents),
        ("start_incident_workflow", Workflows),
        ("list_incident_notes", Incidents),
        ("create_schedule_override", SchedulesAndOnCall),
        ("list_schedule_users", SchedulesAndOnCall),
        ("list_oncalls", SchedulesAndOnCall),
        ("get_user_data", UsersAndTeams),
        ("get_event_orchestration_service", EventOrchestration),
        ("get_status_page_post", StatusPages),
        ("list_alert_grouping_settings", Alerts),
    ] {
        assert_eq!(PagerDutyArea::from_tool_name(name), area, "{name}");
    }
}

#[test]
fn names_are_normalised_before_classification() {
    for (name, area) in [
        ("LIST_INCIDENTS", Incidents),
        ("list-incidents", Incidents),
        ("listIncidents", Incidents),
        ("pagerduty.list_oncalls", SchedulesAndOnCall),
        ("pagerduty_get_event_orchestration", EventOrchestration),
        ("getStatusPagePost", StatusPages),
        ("", Other),
        ("___", Other),
        ("ping", Other),
        // Fragments match at word starts only.
        ("list_preincidents", Other),
        ("get_superusers", Other),
    ] {
        assert_eq!(PagerDutyArea::from_tool_name(name), area, "{name:?}");
    }
}

#[test]
fn area_names_are_stable_and_human() {
    assert_eq!(PagerDutyArea::ALL.len(), 12);
    let mut machine: Vec<&str> = PagerDutyArea::ALL.iter().map(|a| a.as_str()).collect();
    machine.sort_unstable();
    machine.dedup();
    assert_eq!(machine.len(), 12, "as_str values are distinct");
    assert_eq!(SchedulesAndOnCall.to_string(), "Schedules & on-call");
    assert_eq!(EscalationPolicies.to_string(), "Escalation policies");
    assert_eq!(format!("[{:<10}]", Alerts), "[Alerts    ]");
    assert_eq!(
        serde_json::to_value(UsersAndTeams).expect("serialises"),
        json!("users_and_teams")
    );
    let mut sorted = PagerDutyArea::ALL;
    sorted.sort();
    assert_eq!(sorted, PagerDutyArea::ALL, "ALL is in Ord order");
}

#[test]
fn read_only_comes_from_annotations_only() {
    let catalogue = ToolCatalogue::new(realistic_tools());
    assert_eq!(catalogue.len(), PAGERDUTY_TOOLS.len() + 3);

    let expected_read: Vec<&str> = PAGERDUTY_TOOLS
        .iter()
        .filter(|(_, read_only, _)| *read_only)
        .map(|(name, _, _)| *name)
        .collect();
    assert_eq!(names(catalogue.read_only()), expected_read);

    let writes = names(catalogue.writes());
    assert!(writes.contains(&"create_incident"));
    assert!(writes.contains(&"start_incident_workflow"));
    assert!(writes.contains(&"resolve_everything"), "unannotated: write");
    assert!(
        writes.contains(&"list_incidents_unannotated"),
        "a read-looking name without annotations is not read-only"
    );
    assert!(
        writes.contains(&"get_service_snapshot"),
        "annotations without readOnlyHint: write"
    );
    assert_eq!(
        catalogue.read_only().count() + catalogue.writes().count(),
        catalogue.len()
    );

    let unannotated = catalogue.get("list_incidents_unannotated").expect("listed");
    assert!(!unannotated.is_read_only());
    assert_eq!(ToolAccess::of(unannotated), ToolAccess::Write);
    assert_eq!(ToolCatalogue::area_of(unannotated), Incidents);

    let read_only = catalogue.read_only_catalogue();
    assert_eq!(read_only.len(), expected_read.len());
    assert!(read_only.iter().all(Tool::is_read_only));
    assert!(!read_only.contains("list_incidents_unannotated"));
}

#[test]
fn by_area_groups_in_area_order_and_keeps_server_order() {
    let catalogue = ToolCatalogue::from(realistic_tools());
    let by_area = catalogue.by_area();

    let areas: Vec<PagerDutyArea> = by_area.keys().copied().collect();
    assert_eq!(areas, PagerDutyArea::ALL, "every area has tools here");

    let mut expected: BTreeMap<PagerDutyArea, Vec<&str>> = BTreeMap::new();
    for &(name, _, area) in PAGERDUTY_TOOLS {
        expected.entry(area).or_default().push(name);
    }
    expected
        .entry(Other)
        .or_default()
        .push("resolve_everything");
    expected
        .entry(Incidents)
        .or_default()
        .push("list_incidents_unannotated");
    expected
        .entry(Services)
        .or_default()
        .push("get_service_snapshot");
    for (area, tools) in &by_area {
        assert_eq!(&names(tools.iter().copied()), &expected[area], "{area}");
        assert_eq!(
            names(catalogue.in_area(*area)),
            expected[area],
            "in_area({area})"
        );
    }
    assert_eq!(
        by_area.values().map(Vec::len).sum::<usize>(),
        catalogue.len()
    );
}

#[test]
fn lookups_and_conversions() {
    let catalogue: ToolCatalogue = realistic_tools().into_iter().collect();
    assert!(!catalogue.is_empty());
    assert_eq!(
        catalogue.get("get_incident").map(|t| t.name.as_str()),
        Some("get_incident")
    );
    assert!(catalogue.get("get_incidents").is_none());
    assert!(catalogue.contains("list_oncalls"));
    assert_eq!((&catalogue).into_iter().count(), catalogue.len());
    assert_eq!(catalogue.tools().len(), catalogue.len());
    let count = catalogue.len();
    assert_eq!(catalogue.clone().into_tools().len(), count);
    assert_eq!(catalogue.into_iter().count(), count);

    let empty = ToolCatalogue::default();
    assert!(empty.is_empty());
    assert!(empty.by_area().is_empty());
    assert_eq!(empty.to_string(), "0 tools: 0 read-only, 0 write\n");
}

#[test]
fn summary_counts_and_orders_per_area() {
    let catalogue = ToolCatalogue::new(realistic_tools());
    let summary: CatalogueSummary = catalogue.summary();
    assert_eq!(summary.total, catalogue.len());
    assert_eq!(summary.read_only, catalogue.read_only().count());
    assert_eq!(summary.writes, catalogue.writes().count());
    assert_eq!(summary.areas.len(), 12);

    let incidents = &summary.areas[0];
    assert_eq!(incidents.area, Incidents);
    assert_eq!(incidents.title, "Incidents");
    assert_eq!((incidents.read_only, incidents.writes), (7, 5));
    // Read tools first, each group by name.
    let access: Vec<ToolAccess> = incidents.tools.iter().map(|t| t.access).collect();
    let mut sorted = access.clone();
    sorted.sort();
    assert_eq!(access, sorted);
    assert_eq!(incidents.tools[0].name, "get_incident");
    let unannotated: &ToolSummary = incidents
        .tools
        .iter()
        .find(|t| t.name == "list_incidents_unannotated")
        .expect("listed");
    assert_eq!(unannotated.access, ToolAccess::Write);
    assert!(!unannotated.destructive, "no destructiveHint given");
    let create = incidents
        .tools
        .iter()
        .find(|t| t.name == "create_incident")
        .expect("listed");
    assert!(create.destructive);

    let services = summary
        .areas
        .iter()
        .find(|a| a.area == Services)
        .expect("services");
    let snapshot = services
        .tools
        .iter()
        .find(|t| t.name == "get_service_snapshot")
        .expect("listed");
    assert_eq!(snapshot.title.as_deref(), Some("Service snapshot"));

    let json = serde_json::to_value(&summary).expect("serialises");
    assert_eq!(json["areas"][0]["area"], "incidents");
    assert_eq!(json["areas"][0]["tools"][0]["access"], "read");
    assert_eq!(json["total"], summary.total);
}

#[test]
fn display_renders_a_table_per_area() {
    let tools: Vec<Tool> = serde_json::from_value(json!([
        annotated("list_incidents", true),
        annotated("manage_incidents", false),
        annotated("list_oncalls", true),
        {"name": "list_users_unannotated"},
        {"name": "start_incident_workflow", "title": "Start a workflow",
         "annotations": {"readOnlyHint": false, "destructiveHint": true}}
    ]))
    .expect("valid tools");
    let catalogue = ToolCatalogue::new(tools);
    let text = catalogue.to_string();
    assert_eq!(text, catalogue.summary().to_string());
    assert_eq!(
        text,
        "\
5 tools: 2 read-only, 3 write

Incidents: 2 tools (1 read-only, 1 write)
  read   list_incidents
  write  manage_incidents  (destructive)

Schedules & on-call: 1 tool (1 read-only, 0 write)
  read   list_oncalls

Users & teams: 1 tool (0 read-only, 1 write)
  write  list_users_unannotated

Incident workflows: 1 tool (0 read-only, 1 write)
  write  start_incident_workflow  Start a workflow (destructive)
"
    );
}

#[test]
fn the_full_realistic_table_mentions_every_tool_once() {
    let catalogue = ToolCatalogue::new(realistic_tools());
    let text = catalogue.to_string();
    for tool in &catalogue {
        let marker = if tool.is_read_only() {
            "read "
        } else {
            "write"
        };
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| line.split_whitespace().nth(1) == Some(tool.name.as_str()))
            .collect();
        assert_eq!(lines.len(), 1, "{}", tool.name);
        assert!(lines[0].starts_with(&format!("  {marker}")), "{}", lines[0]);
    }
}

#[tokio::test]
async fn catalogue_of_the_mock_server_follows_its_annotations()
-> Result<(), Box<dyn std::error::Error>> {
    let mock = MockPagerDuty::start().await;
    let client = McpClient::new(mock.pagerduty())?;
    let session = client
        .connect(&Credential::new(MockPagerDuty::DEMO_TOKEN))
        .await?;
    let catalogue = ToolCatalogue::new(session.list_tools().await?);
    assert!(!catalogue.is_empty());

    // Read-only-ness as the mock annotates it, whatever the name.
    for tool in &catalogue {
        let hint = tool.annotations.as_ref().and_then(|a| a.read_only_hint);
        assert_eq!(
            ToolAccess::of(tool) == ToolAccess::Read,
            hint == Some(true),
            "{}",
            tool.name
        );
    }
    for (name, read_only) in [
        ("list_incidents", true),
        ("get_incident", true),
        ("list_oncalls", true),
        ("get_user_data", true),
        ("create_incident", false),
        ("manage_incidents", false),
        ("add_note_to_incident", false),
        ("create_service", false),
    ] {
        let tool = catalogue.get(name).ok_or(name)?;
        assert_eq!(tool.is_read_only(), read_only, "{name}");
        if read_only {
            assert!(catalogue.read_only().any(|t| t.name == name), "{name}");
        } else {
            assert!(catalogue.writes().any(|t| t.name == name), "{name}");
            assert!(ToolSummary::of(tool).destructive, "{name}");
        }
    }
    assert!(catalogue.read_only_catalogue().writes().next().is_none());

    // Areas from the names.
    let by_area = catalogue.by_area();
    assert!(!by_area.contains_key(&PagerDutyArea::Other), "{catalogue}");
    let on_call = names(by_area[&PagerDutyArea::SchedulesAndOnCall].iter().copied());
    assert!(on_call.contains(&"list_oncalls"), "{on_call:?}");
    assert!(on_call.contains(&"get_schedule"), "{on_call:?}");
    assert_eq!(
        catalogue.in_area(PagerDutyArea::SchedulesAndOnCall).count(),
        on_call.len()
    );
    assert_eq!(
        ToolCatalogue::area_of(catalogue.get("list_incident_notes").ok_or("notes")?),
        PagerDutyArea::Incidents
    );
    let summary = catalogue.summary();
    assert_eq!(summary.total, catalogue.len());
    assert_eq!(summary.read_only + summary.writes, catalogue.len());
    assert!(summary.writes >= 4);

    session.close().await?;
    mock.shutdown().await;
    Ok(())
}
