//! `--output html`: the timeline report of a window as one self-contained page. The layout is the
//! core's (`core::report`); this draws it server-side as HTML and SVG, embeds each task's details
//! as JSON, and adds a small script for the details panel. Nothing is loaded from elsewhere: the
//! page's Content-Security-Policy forbids it, so it reads the same offline, attached to a ticket.

mod details;
mod html;
mod svg;

use std::fmt::Write as _;

use chrono::{DateTime, Local, Offset, TimeZone, Utc};
use ecs_task_history::core::arn::last_segment;
use ecs_task_history::core::report::{
    layout, ticks, Deployment, Group, Report, CATEGORIES, MAX_LANES, PHASES,
};
use ecs_task_history::core::timeline::Phase;
use ecs_task_history::read::Timeline;
use serde_json::Value;

use crate::output::{duration, Style};
use html::{esc, script_json};
use svg::{Axis, Swatch};

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// Ticks on the time axis at most.
const MAX_TICKS: usize = 10;

/// What the page says about where its tasks come from.
pub struct Page<'a> {
    pub cluster_arn: &'a str,
    pub service: Option<&'a str>,
    pub table: &'a str,
    /// The filter on the window's changes (`--failed`, `--status`), said on the page.
    pub filter: Option<String>,
    pub style: Style,
    pub generated: DateTime<Utc>,
}

impl Page<'_> {
    /// `service web of cluster prod`, or `cluster prod`.
    fn scope(&self) -> String {
        let cluster = last_segment(self.cluster_arn);
        match self.service {
            Some(service) => format!("service {service} of cluster {cluster}"),
            None => format!("cluster {cluster}"),
        }
    }

    /// `UTC`, or `local time (UTC+09:00)` (the offset at the window's start).
    fn zone(&self, at: DateTime<Utc>) -> String {
        if self.style.local {
            let offset = Local.offset_from_utc_datetime(&at.naive_utc()).fix();
            format!("local time (UTC{offset})")
        } else {
            "UTC".to_owned()
        }
    }
}

/// Lays out the timelines of `[from, to]` and writes the page.
pub fn write(
    page: &Page<'_>,
    timelines: &[&Timeline],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let report = layout(
        timelines.iter().map(|timeline| timeline.records.as_slice()),
        from,
        to,
        MAX_LANES,
    );
    out.write_all(render(page, &report).as_bytes())
}

/// The whole page.
pub fn render(page: &Page<'_>, report: &Report<'_>) -> String {
    let mut out = String::with_capacity(32 * 1024 + report.lanes() * 3 * 1024);
    let window = format!(
        "{} → {} {}",
        page.style.time(report.from),
        page.style.time(report.to),
        page.zone(report.from)
    );
    head(
        &mut out,
        &format!("ECS tasks of {}, {window}", page.scope()),
    );
    let _ = write!(
        out,
        r#"<body data-zone="{}"><header class="top"><h1>Tasks of {}</h1><p class="window">{} ({})</p><p class="meta">{} · table {} · generated <time datetime="{}">{}</time> by ecs-task-history {}</p>"#,
        esc(if page.style.local { "local" } else { "UTC" }),
        esc(&page.scope()),
        esc(&window),
        esc(&duration(report.from, report.to)),
        esc(page.cluster_arn),
        esc(page.table),
        page.generated.to_rfc3339(),
        esc(&page.style.time(page.generated)),
        env!("CARGO_PKG_VERSION"),
    );
    if let Some(filter) = &page.filter {
        let _ = write!(out, r#"<p class="filter">{}</p>"#, esc(filter));
    }
    out.push_str("</header>\n");
    if report.summary.tasks == 0 {
        let what = if page.filter.is_some() {
            "matched the filter"
        } else {
            "changed"
        };
        let _ = write!(
            out,
            r#"<main class="empty"><p class="empty" role="status">No task of {} {what} between {}. Nothing to draw: the window is empty.</p></main>"#,
            esc(&page.scope()),
            esc(&window.replacen(" → ", " and ", 1)),
        );
    } else {
        body(&mut out, page, report);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="ecs-task-history {}">
<title>{}</title>
<style>
{CSS}{}</style>
</head>
"#,
        env!("CARGO_PKG_VERSION"),
        esc(title),
        svg::outcome_css(),
    );
}

/// Summary, legend, timeline and details panel, then the data and the script.
fn body(out: &mut String, page: &Page<'_>, report: &Report<'_>) {
    out.push_str(&svg::defs());
    out.push_str(r#"<div class="layout"><main>"#);
    summary(out, report);
    legend(out, report);
    if report.omitted > 0 {
        let total = report.summary.tasks;
        let _ = write!(
            out,
            r#"<p class="note cap" role="note">{total} tasks changed in this window; the timeline draws {drawn} of them: every failed task first, then the most recently changed. {omitted} are not drawn (the counts above include them). Narrow the window (--since, --until), pick a service (--service) or keep the failures (--failed) to see every task, or use --output json.</p>"#,
            drawn = report.lanes(),
            omitted = report.omitted,
        );
    }
    let axis = Axis {
        ticks: if page.style.local {
            ticks(report.from, report.to, &Local, MAX_TICKS)
        } else {
            ticks(report.from, report.to, &Utc, MAX_TICKS)
        },
        zone: if page.style.local { "local" } else { "UTC" }.to_owned(),
    };
    out.push_str(r#"<section id="timeline" aria-label="Timeline">"#);
    let mut first = 0;
    for group in &report.groups {
        group_section(out, page, report, group, &axis, first);
        first += group.lanes.len();
    }
    out.push_str("</section></main>\n");
    out.push_str(r#"<aside id="details" aria-live="polite" aria-label="Task details"><h2>Details</h2><p class="hint">Hover over a task to see its history here; click it (or Tab to it and press Enter) to keep it. Esc lets it go.</p></aside></div>"#);
    out.push('\n');
    let data: Vec<Value> = report
        .groups
        .iter()
        .flat_map(|group| {
            group
                .lanes
                .iter()
                .map(|lane| details::task(page.style, lane, group.deployments.get(lane.deployment)))
        })
        .collect();
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"task-data\">{}</script>\n<script>\n{SCRIPT}</script>\n",
        script_json(&Value::Array(data))
    );
}

/// The counts, then the failures by diagnosis kind with their exit codes (as `cluster --failed`).
fn summary(out: &mut String, report: &Report<'_>) {
    let s = &report.summary;
    let _ = write!(
        out,
        r#"<section id="summary" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2><dl class="counts"><div><dt>tasks</dt><dd data-count="tasks">{}</dd></div><div><dt>started</dt><dd data-count="started">{}</dd></div><div><dt>stopped</dt><dd data-count="stopped">{}</dd></div><div class="failed"><dt>failed</dt><dd data-count="failed">{}</dd></div><div><dt>running at the end</dt><dd data-count="running">{}</dd></div></dl>"#,
        s.tasks, s.started, s.stopped, s.failed, s.running_at_end
    );
    if s.failures.is_empty() {
        out.push_str(r#"<p class="no-failures">No task failed in this window.</p>"#);
    } else {
        out.push_str(r#"<table class="failures"><caption>Failures by diagnosis</caption><thead><tr><th scope="col">Count</th><th scope="col">Diagnosis</th><th scope="col">Exit codes</th><th scope="col">Example reason</th></tr></thead><tbody>"#);
        for failure in &s.failures {
            let codes: Vec<String> = failure.exit_codes.iter().map(i64::to_string).collect();
            let _ = write!(
                out,
                r#"<tr class="o-{}"><td class="num">{}</td><td>{}</td><td>{}</td><td class="reason">{}</td></tr>"#,
                failure.kind.category().slug(),
                failure.count,
                esc(failure.kind.title()),
                esc(&codes.join(", ")),
                esc(&failure.example),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>\n");
}

/// What every colour, pattern and shape means, with the count of each outcome.
fn legend(out: &mut String, report: &Report<'_>) {
    out.push_str(r#"<section id="legend" aria-labelledby="legend-h"><h2 id="legend-h">Legend</h2><ul class="legend phases" aria-label="Phases">"#);
    for phase in PHASES {
        let _ = write!(
            out,
            r#"<li>{}{}</li>"#,
            svg::swatch(Swatch::Phase(phase)),
            phase_name(phase)
        );
    }
    let marks = [
        (Swatch::Gap, "versions never recorded"),
        (Swatch::Version, "version recorded"),
        (Swatch::Noted, "late, reconciled or truncated"),
        (Swatch::Inferred, "from statuses (no timestamps)"),
        (Swatch::Before, "began before the window"),
    ];
    for (swatch, name) in marks {
        let _ = write!(out, r#"<li>{}{name}</li>"#, svg::swatch(swatch));
    }
    out.push_str(r#"</ul><ul class="legend outcomes" aria-label="Outcomes">"#);
    for category in CATEGORIES {
        let look = svg::look(category);
        let count = report
            .summary
            .by_category
            .iter()
            .find(|(c, _)| *c == category)
            .map_or(0, |(_, n)| *n);
        let _ = write!(
            out,
            r#"<li class="o-{slug}" data-category="{slug}" title="{}">{}<b>{}</b><span class="n">“{}” {count}</span></li>"#,
            esc(look.covers),
            svg::swatch(Swatch::Marker(category)),
            esc(look.name),
            esc(look.short),
            slug = category.slug(),
        );
    }
    out.push_str(r#"</ul><p class="legend-note">One lane per task, in the order the tasks began, grouped by service (or task family); its label: task id, deployment letter, outcome in words. A dashed line marks where each deployment's first task began.</p></section>"#);
    out.push('\n');
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Provisioning => "provisioning / pending",
        Phase::Pull => "pulling",
        Phase::Starting => "starting",
        Phase::Running => "running",
        Phase::Stopping => "stopping",
    }
}

/// One group: its heading, its deployments, its drawing.
fn group_section(
    out: &mut String,
    page: &Page<'_>,
    report: &Report<'_>,
    group: &Group<'_>,
    axis: &Axis,
    first: usize,
) {
    let failed: usize = group.deployments.iter().map(|d| d.failed).sum();
    let _ = write!(
        out,
        r#"<section class="group" data-group="{key}"><h2>{label} <span class="count">{n} task{s}, {failed} failed</span></h2><ul class="deployments" aria-label="Deployments of {label}">"#,
        key = esc(&group.key.label()),
        label = esc(&group.key.label()),
        n = group.lanes.len(),
        s = if group.lanes.len() == 1 { "" } else { "s" },
    );
    for deployment in &group.deployments {
        deployment_item(out, page, deployment);
    }
    out.push_str("</ul>");
    svg::group(out, report, group, axis, first);
    out.push_str("</section>\n");
}

/// `B  web:8 · ecs-svc/… · first task 05:41:55 · 4 tasks, 4 failed`, marked when some failed.
fn deployment_item(out: &mut String, page: &Page<'_>, deployment: &Deployment) {
    let mut parts = Vec::new();
    if let Some(definition) = &deployment.key.task_definition {
        parts.push(definition.clone());
    }
    if let Some(started_by) = &deployment.key.started_by {
        parts.push(started_by.clone());
    }
    parts.push(format!(
        "first task {}",
        page.style.time(deployment.first_start)
    ));
    parts.push(format!(
        "{} task{}, {} failed",
        deployment.tasks,
        if deployment.tasks == 1 { "" } else { "s" },
        deployment.failed
    ));
    let _ = write!(
        out,
        r#"<li class="{}"><b class="dep">{}</b> {}</li>"#,
        if deployment.failed > 0 { "bad" } else { "ok" },
        esc(&deployment.label),
        esc(&parts.join(" · ")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Format;
    use ecs_task_history::core::event::{parse_event, Parsed};
    use ecs_task_history::core::history::{normalize, HistoryRecord, RecordContext, Tags};
    use ecs_task_history::core::report::CATEGORIES;

    fn record(json: &str) -> HistoryRecord {
        let Ok(Parsed::Task(event)) = parse_event(json) else {
            panic!("not a task event");
        };
        normalize(
            &event,
            RecordContext {
                tags: Tags::none(),
                late_arrival: false,
                received_at: Utc::now(),
                retention_days: 90,
            },
        )
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn page() -> Page<'static> {
        Page {
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
            service: None,
            table: "history",
            filter: None,
            style: Style {
                format: Format::Html,
                local: false,
                colour: false,
            },
            generated: at("2026-11-20T07:00:00Z"),
        }
    }

    fn window() -> (DateTime<Utc>, DateTime<Utc>) {
        (at("2026-11-20T00:00:00Z"), at("2026-11-20T06:00:00Z"))
    }

    #[test]
    fn an_empty_window_says_so_and_draws_nothing() {
        let (from, to) = window();
        let report = layout(std::iter::empty(), from, to, MAX_LANES);
        let html = render(&page(), &report);
        assert!(html.contains("No task of cluster demo changed between 2026-11-20 00:00:00.000 and 2026-11-20 06:00:00.000 UTC."), "{html}");
        assert!(!html.contains("class=\"tl\"") && !html.contains("<script"));
    }

    #[test]
    fn beyond_the_cap_the_page_says_how_many_tasks_it_does_not_draw() {
        let oom = [record(include_str!(
            "../../../events/fargate-batch-stopped-oom.json"
        ))];
        let failed = [record(include_str!(
            "../../../events/fargate-failed-to-start.json"
        ))];
        let worker = [record(include_str!(
            "../../../events/ec2-worker-running.json"
        ))];
        let (from, to) = window();
        let report = layout([&oom[..], &failed[..], &worker[..]], from, to, 2);
        let html = render(&page(), &report);
        assert!(
            html.contains("3 tasks changed in this window; the timeline draws 2 of them: every failed task first"),
            "{html}"
        );
        assert_eq!(html.matches("<g class=\"lane ").count(), 2);
        assert!(
            !html.contains("o-still-running\" data-i"),
            "the running task is the one left out"
        );
        assert!(
            html.contains(r#"<dd data-count="tasks">3</dd>"#),
            "counts cover all"
        );
    }

    #[test]
    fn text_from_events_never_becomes_markup() {
        let mut oom = record(include_str!(
            "../../../events/fargate-batch-stopped-oom.json"
        ));
        oom.stopped_reason = Some("</script><script>alert(1)</script> <b>".to_owned());
        oom.containers[0].reason =
            Some("OutOfMemoryError: <img src=x onerror=alert(2)>".to_owned());
        let timeline = [oom];
        let (from, to) = window();
        let html = render(&page(), &layout([&timeline[..]], from, to, MAX_LANES));
        assert!(
            !html.contains("<script>alert"),
            "data closed its script element"
        );
        assert!(!html.contains("<img"), "a reason became an element");
        assert!(html.contains("OutOfMemoryError: &lt;img src=x onerror=alert(2)&gt;"));
        assert_eq!(
            html.matches("<script").count(),
            2,
            "the data and the panel's script"
        );
    }

    #[test]
    fn every_outcome_has_its_own_colour_shape_and_words() {
        let looks: Vec<_> = CATEGORIES.iter().map(|c| svg::look(*c)).collect();
        for (n, look) in looks.iter().enumerate() {
            assert_eq!(look.category, CATEGORIES[n]);
            for other in &looks[n + 1..] {
                assert_ne!(look.colour, other.colour);
                assert_ne!(look.short, other.short);
                assert_ne!(look.shape, other.shape);
            }
        }
        let defs = svg::defs();
        for category in CATEGORIES {
            assert!(defs.contains(&format!("id=\"m-{}\"", category.slug())));
        }
    }
}
