//! The mock's small PagerDuty account: services, incidents, teams, schedules, escalation
//! policies and log entries. Write tools change it; each mock instance has its own copy.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::users::UserProfile;

pub(crate) const WEB: &str = "https://mock.pagerduty.com";
pub(crate) const API: &str = "https://api.pagerduty.com";

/// The user ids the seeded data refers to (the default users).
pub(crate) const DEMO_USER_ID: &str = "PDEMO01";
pub(crate) const ALICE_USER_ID: &str = "PALICE1";
pub(crate) const BOB_USER_ID: &str = "PBOB001";

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) status: String,
    pub(crate) escalation_policy_id: String,
    pub(crate) team_ids: Vec<String>,
    pub(crate) created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub(crate) id: String,
    pub(crate) content: String,
    pub(crate) user_id: String,
    pub(crate) created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Incident {
    pub(crate) id: String,
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) status: String,
    pub(crate) urgency: String,
    pub(crate) service_id: String,
    pub(crate) assigned_to: Vec<String>,
    pub(crate) created_by: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) escalation_level: u64,
    pub(crate) notes: Vec<Note>,
}

#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) member_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) time_zone: String,
    pub(crate) team_ids: Vec<String>,
    /// The rotation; the first user is on call now.
    pub(crate) user_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct EscalationPolicy {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) team_ids: Vec<String>,
    /// Level 1 targets a schedule, level 2 a user.
    pub(crate) schedule_id: String,
    pub(crate) backup_user_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct LogEntry {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) incident_id: String,
    pub(crate) agent_user_id: String,
    pub(crate) created_at: String,
    pub(crate) summary: String,
}

/// The whole account.
#[derive(Debug, Clone)]
pub(crate) struct DataSet {
    pub(crate) services: Vec<Service>,
    pub(crate) incidents: Vec<Incident>,
    pub(crate) teams: Vec<Team>,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) escalation_policies: Vec<EscalationPolicy>,
    pub(crate) log_entries: Vec<LogEntry>,
    next_id: u64,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl DataSet {
    /// The seeded account.
    pub(crate) fn seed() -> Self {
        let t0 = "2026-07-01T09:00:00Z".to_owned();
        let services = vec![
            Service {
                id: "PSVC001".into(),
                name: "Checkout API".into(),
                description: "Payment and checkout backend".into(),
                status: "critical".into(),
                escalation_policy_id: "PEP0001".into(),
                team_ids: strings(&["PTEAM01"]),
                created_at: t0.clone(),
            },
            Service {
                id: "PSVC002".into(),
                name: "Search Frontend".into(),
                description: "Customer-facing product search".into(),
                status: "warning".into(),
                escalation_policy_id: "PEP0001".into(),
                team_ids: strings(&["PTEAM01"]),
                created_at: t0.clone(),
            },
            Service {
                id: "PSVC003".into(),
                name: "Data Pipeline".into(),
                description: "Nightly ETL into the warehouse".into(),
                status: "active".into(),
                escalation_policy_id: "PEP0002".into(),
                team_ids: strings(&["PTEAM02"]),
                created_at: t0.clone(),
            },
        ];
        let incident = |id: &str,
                        number: u64,
                        title: &str,
                        status: &str,
                        urgency: &str,
                        service: &str,
                        assignee: &str| Incident {
            id: id.into(),
            number,
            title: title.into(),
            description: format!("{title} (seeded by the mock)"),
            status: status.into(),
            urgency: urgency.into(),
            service_id: service.into(),
            assigned_to: if status == "resolved" {
                Vec::new()
            } else {
                vec![assignee.to_owned()]
            },
            created_by: DEMO_USER_ID.into(),
            created_at: t0.clone(),
            updated_at: t0.clone(),
            escalation_level: 1,
            notes: Vec::new(),
        };
        let incidents = vec![
            incident(
                "Q1CHKOUT5XX01",
                1001,
                "Checkout API 5xx rate above 5%",
                "triggered",
                "high",
                "PSVC001",
                DEMO_USER_ID,
            ),
            incident(
                "Q1SEARCHLAT02",
                1002,
                "Search p99 latency above 2 s",
                "acknowledged",
                "high",
                "PSVC002",
                ALICE_USER_ID,
            ),
            incident(
                "Q1ETLLATE0003",
                1003,
                "Nightly ETL finished late",
                "resolved",
                "low",
                "PSVC003",
                BOB_USER_ID,
            ),
            incident(
                "Q1DISKFULL004",
                1004,
                "Disk 90% full on checkout-db-2",
                "triggered",
                "low",
                "PSVC001",
                ALICE_USER_ID,
            ),
        ];
        let teams = vec![
            Team {
                id: "PTEAM01".into(),
                name: "Storefront".into(),
                description: "Checkout and search".into(),
                member_ids: strings(&[DEMO_USER_ID, ALICE_USER_ID]),
            },
            Team {
                id: "PTEAM02".into(),
                name: "Data Platform".into(),
                description: "Pipelines and the warehouse".into(),
                member_ids: strings(&[BOB_USER_ID]),
            },
        ];
        let schedules = vec![
            Schedule {
                id: "PSCHED1".into(),
                name: "Storefront Primary".into(),
                description: "Weekly rotation of the Storefront team".into(),
                time_zone: "Europe/Berlin".into(),
                team_ids: strings(&["PTEAM01"]),
                user_ids: strings(&[DEMO_USER_ID, ALICE_USER_ID]),
            },
            Schedule {
                id: "PSCHED2".into(),
                name: "Data Platform Primary".into(),
                description: "Weekly rotation of the Data Platform team".into(),
                time_zone: "America/New_York".into(),
                team_ids: strings(&["PTEAM02"]),
                user_ids: strings(&[BOB_USER_ID]),
            },
        ];
        let escalation_policies = vec![
            EscalationPolicy {
                id: "PEP0001".into(),
                name: "Storefront Escalation".into(),
                description: "Primary on-call, then the team lead".into(),
                team_ids: strings(&["PTEAM01"]),
                schedule_id: "PSCHED1".into(),
                backup_user_id: DEMO_USER_ID.into(),
            },
            EscalationPolicy {
                id: "PEP0002".into(),
                name: "Data Platform Escalation".into(),
                description: "Primary on-call, then the Storefront lead".into(),
                team_ids: strings(&["PTEAM02"]),
                schedule_id: "PSCHED2".into(),
                backup_user_id: ALICE_USER_ID.into(),
            },
        ];
        let mut log_entries = Vec::new();
        for (n, i) in incidents.iter().enumerate() {
            log_entries.push(LogEntry {
                id: format!("PLOG{:03}", n + 1),
                kind: "trigger_log_entry".into(),
                incident_id: i.id.clone(),
                agent_user_id: DEMO_USER_ID.into(),
                created_at: t0.clone(),
                summary: format!("Triggered through the API: {}", i.title),
            });
        }
        DataSet {
            services,
            incidents,
            teams,
            schedules,
            escalation_policies,
            log_entries,
            next_id: 1,
        }
    }

    /// A fresh id with `prefix`, unique in this data set.
    pub(crate) fn fresh_id(&mut self, prefix: &str) -> String {
        let n = self.next_id;
        self.next_id += 1;
        format!("{prefix}{n:04}")
    }

    pub(crate) fn log(&mut self, kind: &str, incident_id: &str, agent: &str, summary: String) {
        let id = self.fresh_id("PLOGN");
        self.log_entries.push(LogEntry {
            id,
            kind: kind.into(),
            incident_id: incident_id.into(),
            agent_user_id: agent.into(),
            created_at: now_iso(),
            summary,
        });
    }

    pub(crate) fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    pub(crate) fn schedule(&self, id: &str) -> Option<&Schedule> {
        self.schedules.iter().find(|s| s.id == id)
    }

    pub(crate) fn next_incident_number(&self) -> u64 {
        self.incidents
            .iter()
            .map(|i| i.number)
            .max()
            .unwrap_or(1000)
            + 1
    }
}

/// A `{"id","type","summary"}` reference, PagerDuty style.
pub(crate) fn reference(kind: &str, id: &str, summary: &str) -> Value {
    let path = match kind {
        "service" => "services",
        "user" => "users",
        "team" => "teams",
        "schedule" => "schedules",
        "escalation_policy" => "escalation_policies",
        "incident" => "incidents",
        _ => "objects",
    };
    json!({
        "id": id,
        "type": format!("{kind}_reference"),
        "summary": summary,
        "self": format!("{API}/{path}/{id}"),
        "html_url": format!("{WEB}/{path}/{id}"),
    })
}

pub(crate) fn user_json(user: &UserProfile) -> Value {
    json!({
        "id": user.id,
        "type": "user",
        "name": user.name,
        "summary": user.name,
        "email": user.email,
        "role": user.role,
        "time_zone": "Etc/UTC",
        "self": format!("{API}/users/{}", user.id),
        "html_url": format!("{WEB}/users/{}", user.id),
    })
}

impl Service {
    pub(crate) fn to_json(&self, data: &DataSet) -> Value {
        let ep_name = data
            .escalation_policies
            .iter()
            .find(|e| e.id == self.escalation_policy_id)
            .map_or("", |e| e.name.as_str());
        json!({
            "id": self.id,
            "type": "service",
            "name": self.name,
            "summary": self.name,
            "description": self.description,
            "status": self.status,
            "created_at": self.created_at,
            "escalation_policy": reference("escalation_policy", &self.escalation_policy_id, ep_name),
            "teams": self.team_ids.iter().map(|t| {
                let name = data.teams.iter().find(|x| &x.id == t).map_or("", |x| x.name.as_str());
                reference("team", t, name)
            }).collect::<Vec<_>>(),
            "self": format!("{API}/services/{}", self.id),
            "html_url": format!("{WEB}/service-directory/{}", self.id),
        })
    }
}

impl Incident {
    pub(crate) fn to_json(&self, data: &DataSet, users: &[std::sync::Arc<UserProfile>]) -> Value {
        let user_name = |id: &str| {
            users
                .iter()
                .find(|u| u.id == id)
                .map_or_else(|| id.to_owned(), |u| u.name.clone())
        };
        let service_name = data
            .service(&self.service_id)
            .map_or("", |s| s.name.as_str());
        json!({
            "id": self.id,
            "type": "incident",
            "incident_number": self.number,
            "title": self.title,
            "summary": format!("[#{}] {}", self.number, self.title),
            "description": self.description,
            "status": self.status,
            "urgency": self.urgency,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "service": reference("service", &self.service_id, service_name),
            "assignments": self.assigned_to.iter().map(|u| json!({
                "at": self.updated_at,
                "assignee": reference("user", u, &user_name(u)),
            })).collect::<Vec<_>>(),
            "created_by": reference("user", &self.created_by, &user_name(&self.created_by)),
            "escalation_level": self.escalation_level,
            "notes_count": self.notes.len(),
            "self": format!("{API}/incidents/{}", self.id),
            "html_url": format!("{WEB}/incidents/{}", self.id),
        })
    }
}

impl Note {
    pub(crate) fn to_json(&self, users: &[std::sync::Arc<UserProfile>]) -> Value {
        let name = users
            .iter()
            .find(|u| u.id == self.user_id)
            .map_or_else(|| self.user_id.clone(), |u| u.name.clone());
        json!({
            "id": self.id,
            "content": self.content,
            "created_at": self.created_at,
            "user": reference("user", &self.user_id, &name),
        })
    }
}

impl Team {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": "team",
            "name": self.name,
            "summary": self.name,
            "description": self.description,
            "self": format!("{API}/teams/{}", self.id),
            "html_url": format!("{WEB}/teams/{}", self.id),
        })
    }
}

impl Schedule {
    pub(crate) fn to_json(&self, users: &[std::sync::Arc<UserProfile>]) -> Value {
        let user_refs: Vec<Value> = self
            .user_ids
            .iter()
            .map(|id| {
                let name = users
                    .iter()
                    .find(|u| &u.id == id)
                    .map_or_else(|| id.clone(), |u| u.name.clone());
                reference("user", id, &name)
            })
            .collect();
        json!({
            "id": self.id,
            "type": "schedule",
            "name": self.name,
            "summary": self.name,
            "description": self.description,
            "time_zone": self.time_zone,
            "users": user_refs,
            "teams": self.team_ids.iter().map(|t| reference("team", t, t)).collect::<Vec<_>>(),
            "self": format!("{API}/schedules/{}", self.id),
            "html_url": format!("{WEB}/schedules/{}", self.id),
        })
    }
}

impl EscalationPolicy {
    pub(crate) fn to_json(&self, data: &DataSet) -> Value {
        let schedule_name = data
            .schedule(&self.schedule_id)
            .map_or("", |s| s.name.as_str());
        json!({
            "id": self.id,
            "type": "escalation_policy",
            "name": self.name,
            "summary": self.name,
            "description": self.description,
            "num_loops": 2,
            "escalation_rules": [
                {
                    "escalation_delay_in_minutes": 30,
                    "targets": [reference("schedule", &self.schedule_id, schedule_name)],
                },
                {
                    "escalation_delay_in_minutes": 30,
                    "targets": [reference("user", &self.backup_user_id, &self.backup_user_id)],
                },
            ],
            "services": data.services.iter().filter(|s| s.escalation_policy_id == self.id)
                .map(|s| reference("service", &s.id, &s.name)).collect::<Vec<_>>(),
            "teams": self.team_ids.iter().map(|t| reference("team", t, t)).collect::<Vec<_>>(),
            "self": format!("{API}/escalation_policies/{}", self.id),
            "html_url": format!("{WEB}/escalation_policies/{}", self.id),
        })
    }
}

impl LogEntry {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "summary": self.summary,
            "created_at": self.created_at,
            "incident": reference("incident", &self.incident_id, &self.incident_id),
            "agent": reference("user", &self.agent_user_id, &self.agent_user_id),
        })
    }
}

/// The current time as RFC 3339 UTC (`2026-07-28T12:34:56Z`).
pub(crate) fn now_iso() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
