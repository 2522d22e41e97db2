//! The timeline drawn as SVG, per group: the time axis, then the lanes in blocks of 100 (one per
//! task: label, phases, gaps, versions, stop) over the grid and a dashed line where each
//! deployment's first task began.
//! Colours live in one table, [`LOOKS`], with a shape and a text label for each outcome, so
//! nothing is told by colour alone.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use ecs_task_history::core::diagnosis::Category;
use ecs_task_history::core::report::{Gap, Group, Lane, Report, Segment, Tick};
use ecs_task_history::core::timeline::{Note, Phase};

use super::html::{esc, num};

/// The drawing's width in SVG units; pages scale it to their column.
pub const WIDTH: f64 = 920.0;
/// The lane labels' column.
const LABEL: f64 = 200.0;
/// Room right of the window's end for the "still running" arrow.
const RIGHT: f64 = 14.0;
const PLOT: f64 = WIDTH - LABEL - RIGHT;
/// The axis band above the lanes: dates, times, deployment letters.
const AXIS: f64 = 44.0;
const LANE: f64 = 18.0;
/// The middle of a lane's bar.
const MID: f64 = 9.0;

/// How one outcome looks: colour, marker shape (drawn around 0,0), a short label for the lane
/// and a name for the legend.
pub struct Look {
    pub category: Category,
    pub colour: &'static str,
    pub short: &'static str,
    pub name: &'static str,
    /// What the name covers, for the legend's tooltip.
    pub covers: &'static str,
    /// SVG drawn in `colour` (it replaces `COLOUR`).
    pub shape: &'static str,
}

/// Every outcome's look, in legend order (Okabe–Ito-like hues, each with its own shape).
pub const LOOKS: [Look; 9] = [
    Look {
        category: Category::StillRunning,
        colour: "#0b62a4",
        short: "running",
        name: "Still running",
        covers: "not stopped by the window's end: drawn to it",
        shape: r#"<path d="M-4-6L5 0L-4 6Z" fill="COLOUR"/>"#,
    },
    Look {
        category: Category::Clean,
        colour: "#1b7f3b",
        short: "clean",
        name: "Clean stop",
        covers: "scaled in, replaced by a deployment, completed, stopped by a user",
        shape: r##"<circle r="4.3" fill="#fff" stroke="COLOUR" stroke-width="2.4"/>"##,
    },
    Look {
        category: Category::ExitedNonZero,
        colour: "#c0392b",
        short: "exit",
        name: "Exited non-zero",
        covers: "an essential container exited with a non-zero code",
        shape: r#"<path d="M-4.5-4.5L4.5 4.5M-4.5 4.5L4.5-4.5" stroke="COLOUR" stroke-width="2.8"/>"#,
    },
    Look {
        category: Category::OutOfMemory,
        colour: "#7b2f9e",
        short: "OOM",
        name: "Out of memory",
        covers: "a container was killed for using more memory than its limit",
        shape: r#"<rect x="-4.5" y="-4.5" width="9" height="9" fill="COLOUR"/>"#,
    },
    Look {
        category: Category::FailedToStart,
        colour: "#d35400",
        short: "no start",
        name: "Failed to start",
        covers: "image pull, secrets, network, volumes or capacity: never ran",
        shape: r#"<path d="M0-6L6 5H-6Z" fill="COLOUR"/>"#,
    },
    Look {
        category: Category::SpotInterruption,
        colour: "#00838f",
        short: "spot",
        name: "Spot interruption",
        covers: "AWS reclaimed the Spot capacity",
        shape: r#"<path d="M0-6L6 0L0 6L-6 0Z" fill="COLOUR"/>"#,
    },
    Look {
        category: Category::HealthCheck,
        colour: "#9a7400",
        short: "unhealthy",
        name: "Health check failed",
        covers: "load balancer or container health checks",
        shape: r##"<circle r="5.5" fill="COLOUR"/><path d="M-3.2 0H3.2M0-3.2V3.2" stroke="#fff" stroke-width="2"/>"##,
    },
    Look {
        category: Category::HostGone,
        colour: "#37474f",
        short: "host gone",
        name: "Host gone",
        covers: "the EC2 instance was stopped or terminated, or the task retired for maintenance",
        shape: r#"<path d="M0 6L6-5H-6Z" fill="COLOUR"/>"#,
    },
    Look {
        category: Category::Unknown,
        colour: "#6b6b6b",
        short: "unknown",
        name: "Unknown reason",
        covers: "a reason this diagnosis does not recognise (counted as a failure)",
        shape: r##"<circle r="5.5" fill="COLOUR"/><text y="3.3" text-anchor="middle" font-size="9" font-weight="700" fill="#fff">?</text>"##,
    },
];

pub fn look(category: Category) -> &'static Look {
    LOOKS
        .iter()
        .find(|look| look.category == category)
        .unwrap_or(&LOOKS[LOOKS.len() - 1])
}

/// Bar geometry per phase (y, height): running is the full bar, the others thinner, so phases
/// differ by height and pattern as well as colour.
fn bar(phase: Phase) -> (f64, f64) {
    match phase {
        Phase::Running => (3.0, 12.0),
        Phase::Provisioning => (6.0, 6.0),
        Phase::Pull | Phase::Starting | Phase::Stopping => (5.0, 8.0),
    }
}

/// The patterns and markers every drawing of the page uses, defined once.
pub fn defs() -> String {
    let mut out = String::from(
        r##"<svg class="defs" width="0" height="0" aria-hidden="true" focusable="false"><defs>
<pattern id="pat-gap" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/><rect width="2" height="5" fill="#4a4a4a"/></pattern>
<pattern id="pat-pull" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#a9c8e4"/><circle cx="2" cy="2" r="1" fill="#1f4e79"/></pattern>
<pattern id="pat-starting" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#cddcec"/><rect width="1.2" height="4" fill="#3a6ea5"/></pattern>
<pattern id="pat-stopping" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><rect width="5" height="5" fill="#f2d7ad"/><rect width="1.6" height="5" fill="#8a5a00"/></pattern>
<path id="m-before" d="M5-5L-1 0L5 5" fill="none" stroke="#26323d" stroke-width="1.6"/>
"##,
    );
    for look in &LOOKS {
        let _ = writeln!(
            out,
            r#"<g id="m-{}">{}</g>"#,
            look.category.slug(),
            look.shape.replace("COLOUR", look.colour)
        );
    }
    out.push_str("</defs></svg>\n");
    out
}

/// The CSS rules that colour the outcome labels, from [`LOOKS`].
pub fn outcome_css() -> String {
    let mut out = String::new();
    for look in &LOOKS {
        let _ = writeln!(
            out,
            ".o-{slug} .out,.verdict.o-{slug}{{fill:{c};color:{c}}}",
            slug = look.category.slug(),
            c = look.colour
        );
    }
    out
}

/// The time axis: where ticks go and the zone they are in.
pub struct Axis {
    pub ticks: Vec<Tick>,
    /// `UTC`, or `local (UTC+09:00)`.
    pub zone: String,
}

/// Lanes drawn per SVG block: the browser lays out and paints only the blocks on screen
/// (`content-visibility: auto`), which keeps a page of 2,000 lanes quick to show.
const BLOCK: usize = 100;

/// One group's drawing: the axis, then its lanes in blocks. Lanes are numbered from `first`
/// (their index in the page's task data).
pub fn group(out: &mut String, report: &Report<'_>, group: &Group<'_>, axis: &Axis, first: usize) {
    let _ = write!(
        out,
        r#"<div class="tl" role="group" aria-label="Timeline of {label}, {n} task{s}">"#,
        label = esc(&group.key.label()),
        n = group.lanes.len(),
        s = if group.lanes.len() == 1 { "" } else { "s" },
    );
    axis_strip(out, report, group, axis);
    for (block, lanes) in group.lanes.chunks(BLOCK).enumerate() {
        lanes_block(out, report, group, axis, lanes, first + block * BLOCK);
    }
    out.push_str("</div>\n");
}

fn x_of(report: &Report<'_>, at: DateTime<Utc>) -> f64 {
    LABEL + report.position(at) * PLOT
}

/// The axis above a group's lanes: the zone, dates, times and deployment letters.
fn axis_strip(out: &mut String, report: &Report<'_>, group: &Group<'_>, axis: &Axis) {
    let _ = write!(
        out,
        r#"<svg class="axis" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-hidden="true"><text class="zone" x="{x}" y="28" text-anchor="end">{zone}</text>"#,
        w = num(WIDTH),
        h = num(AXIS),
        x = num(LABEL - 20.0),
        zone = esc(&axis.zone),
    );
    for tick in &axis.ticks {
        let at = x_of(report, tick.at);
        // A label centred on the window's last moment would run off the drawing.
        let anchor = if at > LABEL + PLOT - 20.0 {
            "end"
        } else {
            "middle"
        };
        let x = num(at);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x}" x2="{x}" y1="{top}" y2="{h}"/><text class="tick" x="{x}" y="28" text-anchor="{anchor}">{label}</text>"#,
            top = num(AXIS - 12.0),
            h = num(AXIS),
            label = esc(&tick.label),
        );
        if let Some(day) = &tick.day {
            let _ = write!(
                out,
                r#"<text class="day" x="{x}" y="12" text-anchor="start">{}</text>"#,
                esc(day)
            );
        }
    }
    if group.deployments.len() > 1 {
        for deployment in &group.deployments {
            let x = x_of(report, deployment.first_start);
            let _ = write!(
                out,
                r#"<line class="depl" x1="{x}" x2="{x}" y1="{top}" y2="{h}"/><text class="depl-label" x="{tx}" y="{ty}">{l}</text>"#,
                x = num(x),
                top = num(AXIS - 12.0),
                h = num(AXIS),
                tx = num(x + 2.0),
                ty = num(AXIS - 3.0),
                l = esc(&deployment.label),
            );
        }
    }
    out.push_str("</svg>");
}

/// Up to [`BLOCK`] lanes, over the window's edges, the grid and the deployment lines.
fn lanes_block(
    out: &mut String,
    report: &Report<'_>,
    group: &Group<'_>,
    axis: &Axis,
    lanes: &[Lane<'_>],
    first: usize,
) {
    let height = lanes.len() as f64 * LANE;
    let _ = write!(
        out,
        r#"<div class="block" style="contain-intrinsic-size:auto {h}px"><svg class="lanes" viewBox="0 0 {w} {h}" width="{w}" height="{h}">"#,
        w = num(WIDTH),
        h = num(height),
    );
    let mut lines: Vec<(&str, f64)> = vec![("edge", LABEL), ("edge", LABEL + PLOT)];
    lines.extend(
        axis.ticks
            .iter()
            .map(|tick| ("grid", x_of(report, tick.at))),
    );
    if group.deployments.len() > 1 {
        lines.extend(
            group
                .deployments
                .iter()
                .map(|d| ("depl", x_of(report, d.first_start))),
        );
    }
    for (class, x) in lines {
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{x}" x2="{x}" y1="0" y2="{h}"/>"#,
            x = num(x),
            h = num(height),
        );
    }
    for (offset, lane_) in lanes.iter().enumerate() {
        let deployment = group
            .deployments
            .get(lane_.deployment)
            .map(|d| d.label.as_str())
            .unwrap_or("");
        lane(
            out,
            report,
            lane_,
            first + offset,
            offset as f64 * LANE,
            deployment,
        );
    }
    out.push_str("</svg></div>");
}

/// One task's lane: label column, then its phases, gaps, version marks and end.
fn lane(
    out: &mut String,
    report: &Report<'_>,
    lane: &Lane<'_>,
    index: usize,
    y: f64,
    deployment: &str,
) {
    let look = look(lane.category());
    let outcome = match lane.stop.and_then(|stop| stop.exit_code) {
        Some(code) => format!("{} {code}", look.short),
        None => look.short.to_owned(),
    };
    let id = &lane.newest.task_id;
    let shown: String = id.chars().take(12).collect();
    let ellipsis = if shown.len() < id.len() { "…" } else { "" };
    let _ = write!(
        out,
        r#"<g class="lane o-{slug}{fail}" data-i="{index}" transform="translate(0 {y})" tabindex="0" aria-label="task {id}, deployment {deployment}, {title}"><rect class="bg" width="{w}" height="{lh}"/><text class="id" x="4" y="13">{shown}{ellipsis}</text><text class="dep" x="98" y="13">{deployment}</text><text class="out" x="116" y="13">{outcome}</text>"#,
        slug = look.category.slug(),
        fail = if lane.failed() { " fail" } else { "" },
        y = num(y),
        id = esc(id),
        deployment = esc(deployment),
        title = esc(lane.diagnosis.kind.title()),
        w = num(WIDTH),
        lh = num(LANE),
        shown = esc(&shown),
        outcome = esc(&outcome),
    );
    for segment in &lane.segments {
        phase(out, report, segment);
    }
    for gap_ in &lane.gaps {
        gap(out, report, gap_);
    }
    versions(out, report, lane);
    ends(out, report, lane);
    out.push_str("</g>");
}

fn phase(out: &mut String, report: &Report<'_>, segment: &Segment) {
    let (top, height) = bar(segment.phase);
    let x = x_of(report, segment.from);
    let width = (x_of(report, segment.to) - x).max(0.5);
    let _ = write!(
        out,
        r#"<rect class="p ph-{}{}" x="{}" y="{}" width="{}" height="{}"/>"#,
        segment.phase.as_str(),
        if segment.inferred { " inf" } else { "" },
        num(x),
        num(top),
        num(width),
        num(height),
    );
}

/// Versions never recorded: hatched, at least 3 units wide so a gap of no known length shows.
fn gap(out: &mut String, report: &Report<'_>, gap: &Gap) {
    let x = x_of(report, gap.from);
    let width = (x_of(report, gap.to) - x).max(3.0);
    let versions = if gap.from_version == gap.to_version {
        format!("version {} never recorded", gap.from_version)
    } else {
        format!(
            "versions {}–{} never recorded",
            gap.from_version, gap.to_version
        )
    };
    let _ = write!(
        out,
        r#"<rect class="gap" x="{}" y="1.5" width="{}" height="15"><title>{versions}</title></rect>"#,
        num(x),
        num(width),
    );
}

/// A notch above the bar per recorded version; one with a note (late, reconciled, truncated)
/// below it, in another colour (versions never recorded are the hatched gaps).
fn versions(out: &mut String, report: &Report<'_>, lane: &Lane<'_>) {
    let (mut plain, mut noted) = (String::new(), String::new());
    for mark in &lane.versions {
        let x = num(x_of(report, mark.at));
        let noted_here = mark
            .notes
            .iter()
            .any(|note| !matches!(note, Note::NeverRecorded { .. }));
        if !noted_here {
            let _ = write!(plain, "M{x} 0v3");
        } else {
            let _ = write!(noted, "M{x} 15v3");
        }
    }
    if !plain.is_empty() {
        let _ = write!(out, r#"<path class="vt" d="{plain}"/>"#);
    }
    if !noted.is_empty() {
        let _ = write!(out, r#"<path class="vt note" d="{noted}"/>"#);
    }
}

/// The lane's ends: a chevron when it began before the window, its stop marker, or an arrow at
/// the window's end while it still runs.
fn ends(out: &mut String, report: &Report<'_>, lane: &Lane<'_>) {
    if lane.started_before {
        let _ = write!(
            out,
            r##"<use class="before" href="#m-before" x="{}" y="{}"/>"##,
            num(LABEL + 5.0),
            num(MID)
        );
    }
    let (at, slug) = match lane.stop {
        Some(stop) => (
            x_of(report, stop.at),
            look(stop.kind.category()).category.slug(),
        ),
        None => (LABEL + PLOT + 5.0, Category::StillRunning.slug()),
    };
    let _ = write!(
        out,
        r##"<use class="end" href="#m-{slug}" x="{}" y="{}"/>"##,
        num(at),
        num(MID)
    );
}

/// A small drawing for the legend: a phase bar, a marker, a gap or a version notch.
pub fn swatch(kind: Swatch) -> String {
    let inner = match kind {
        Swatch::Phase(phase) => {
            let (top, height) = bar(phase);
            format!(
                r#"<rect class="p ph-{}" x="2" y="{}" width="26" height="{}"/>"#,
                phase.as_str(),
                num(top),
                num(height)
            )
        }
        Swatch::Inferred => {
            r#"<rect class="p ph-running inf" x="2" y="3" width="26" height="12"/>"#.to_owned()
        }
        Swatch::Marker(category) => format!(r##"<use href="#m-{}" x="15" y="9"/>"##, category.slug()),
        Swatch::Gap => r#"<rect class="gap" x="2" y="1.5" width="26" height="15"/>"#.to_owned(),
        Swatch::Version => {
            r#"<rect class="p ph-running" x="2" y="3" width="26" height="12"/><path class="vt" d="M9 0v3M20 0v3"/>"#.to_owned()
        }
        Swatch::Noted => {
            r#"<rect class="p ph-running" x="2" y="3" width="26" height="12"/><path class="vt note" d="M15 15v3"/>"#.to_owned()
        }
        Swatch::Before => r##"<use href="#m-before" x="8" y="9"/><rect class="p ph-running" x="14" y="3" width="14" height="12"/>"##.to_owned(),
    };
    format!(
        r#"<svg class="sw" width="30" height="18" viewBox="0 0 30 18" aria-hidden="true">{inner}</svg>"#
    )
}

/// What a legend entry draws.
#[derive(Clone, Copy, Debug)]
pub enum Swatch {
    Phase(Phase),
    /// A phase read from the versions' statuses.
    Inferred,
    Marker(Category),
    Gap,
    Version,
    Noted,
    Before,
}
