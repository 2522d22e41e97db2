//! What the report's details panel shows of one task, as the JSON the page embeds: what
//! `ecs-task-history task` prints (versions, phases, stop, diagnosis, containers, tags), with times
//! already in the report's zone. Rows are arrays, not objects, to keep 2,000 tasks small.

use ecs_task_history::core::enums::TaskStatus;
use ecs_task_history::core::history::HistoryRecord;
use ecs_task_history::core::report::{Deployment, Lane};
use ecs_task_history::core::timeline::{notes, phases, Phase};
use serde_json::{json, Value};

use crate::commands::task::note_text;
use crate::output::{duration, Style};

/// The details of one lane's task.
pub fn task(style: Style, lane: &Lane<'_>, deployment: Option<&Deployment>) -> Value {
    let newest = lane.newest;
    let diagnosis = &lane.diagnosis;
    let mut value = json!({
        "arn": newest.task_arn,
        "facts": facts(newest, deployment),
        "versions": versions(style, lane.records),
        "diagnosis": {
            "kind": diagnosis.kind.slug(),
            "title": diagnosis.kind.title(),
            "category": diagnosis.kind.category().slug(),
            "explanation": diagnosis.explanation,
            "evidence": diagnosis
                .evidence
                .iter()
                .map(|e| json!([e.field, e.value]))
                .collect::<Vec<Value>>(),
            "steps": diagnosis.next_steps,
        },
    });
    let phases = phase_line(style, newest);
    if !phases.is_empty() {
        value["phases"] = json!(phases);
    }
    if let Some(stop) = stop_line(newest) {
        value["stop"] = json!(stop);
    }
    if !newest.containers.is_empty() {
        value["containers"] = containers(newest);
    }
    if !newest.tags.values.is_empty() {
        value["tags"] = json!(newest
            .tags
            .values
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<String>>()
            .join(" "));
    }
    value
}

/// `cluster demo · service web · task definition web:7 · launch type FARGATE · started by …`.
fn facts(newest: &HistoryRecord, deployment: Option<&Deployment>) -> String {
    let mut facts = vec![format!("cluster {}", newest.cluster_name)];
    if let Some(service) = &newest.service_name {
        facts.push(format!("service {service}"));
    } else if let Some(group) = &newest.group {
        facts.push(format!("group {group}"));
    }
    if let Some(family) = &newest.family {
        let revision = newest.revision.map(|r| format!(":{r}")).unwrap_or_default();
        facts.push(format!("task definition {family}{revision}"));
    }
    if let Some(deployment) = deployment {
        facts.push(format!("deployment {}", deployment.label));
    }
    if let Some(launch) = &newest.launch_type {
        facts.push(format!("launch type {launch}"));
    }
    if let Some(started_by) = &newest.started_by {
        facts.push(format!("started by {started_by}"));
    }
    facts.join(" · ")
}

/// `[version, time, status, desired, for, notes]` per recorded version.
fn versions(style: Style, records: &[HistoryRecord]) -> Value {
    let status = |s: &Option<TaskStatus>| s.as_ref().map_or("", TaskStatus::as_str).to_owned();
    let nexts = records.iter().skip(1).map(Some).chain([None]);
    let rows: Vec<Value> = records
        .iter()
        .zip(nexts)
        .zip(notes(records))
        .map(|((record, next), notes)| {
            json!([
                record.version,
                style.time(record.event_time),
                status(&record.last_status),
                status(&record.desired_status),
                next.map(|next| duration(record.event_time, next.event_time))
                    .unwrap_or_default(),
                notes.iter().map(note_text).collect::<Vec<_>>().join(", "),
            ])
        })
        .collect();
    Value::Array(rows)
}

/// `provisioning 14.2s · pull 12.6s · … · running since …`, as `task` prints it.
fn phase_line(style: Style, newest: &HistoryRecord) -> String {
    phases(newest)
        .iter()
        .map(|span| match span.to {
            Some(to) => format!("{} {}", span.phase.as_str(), duration(span.from, to)),
            None if span.phase == Phase::Running => {
                format!("running since {}", style.time(span.from))
            }
            None => span.phase.as_str().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `StopCode: reason`, as ECS wrote it.
fn stop_line(newest: &HistoryRecord) -> Option<String> {
    match (&newest.stop_code, &newest.stopped_reason) {
        (Some(code), Some(reason)) => Some(format!("{code}: {reason}")),
        (Some(code), None) => Some(code.to_string()),
        (None, Some(reason)) => Some(reason.clone()),
        (None, None) => None,
    }
}

/// `[name, image, status, exit code, reason]` per container of the newest version.
fn containers(newest: &HistoryRecord) -> Value {
    let rows: Vec<Value> = newest
        .containers
        .iter()
        .map(|c| {
            json!([
                c.name.as_deref().unwrap_or(""),
                c.image.as_deref().unwrap_or(""),
                c.last_status.as_ref().map_or("", TaskStatus::as_str),
                c.exit_code.map(|code| code.to_string()).unwrap_or_default(),
                c.reason.as_deref().unwrap_or(""),
            ])
        })
        .collect();
    Value::Array(rows)
}
