//! The fleet artefacts under `deploy/` speak the catalog's language: every
//! metric the alerting rules, the Alertmanager routes and the Grafana
//! dashboard name is one `fusebox::catalog` exports, with labels it has
//! and label values its samples carry, counters under `rate` and gauges
//! not. Rename a metric or a label in the catalog and this test fails
//! until the artefacts follow; add a metric and the dashboard must show it.
//!
//! promtool then checks the rules as Prometheus would load them (`check
//! rules`) and runs their unit tests (`test rules`,
//! `deploy/prometheus/tests/`). Without promtool those two say `SKIPPED`
//! loudly on stderr and return, as in `tests/promtool.rs`: they never pass
//! in its place. The catalog checks need no promtool and always run.

#[path = "support/promql.rs"]
mod promql;
#[path = "support/rule_file.rs"]
mod rule_file;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fusebox::catalog::{self, Kind, Metric};
use fusebox::{FuseConfig, Fusebox, ManualClock, ValveConfig};

use promql::Selector;

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

fn read(path: &str) -> String {
    let file = deploy(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Labels that come from the scrape, not the exporter.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

/// The catalog metric `name` stands for, and whether it is a histogram's
/// series (`_bucket`, `_sum`, `_count`), with `le` for buckets.
fn metric(name: &str) -> Option<(&'static Metric, Option<&'static str>)> {
    if let Some(m) = catalog::ALL.iter().find(|m| m.name == name) {
        return Some((m, None));
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(m) = catalog::ALL
                .iter()
                .find(|m| m.name == base && m.kind == Kind::Histogram)
            {
                return Some((m, Some(suffix)));
            }
        }
    }
    None
}

/// The values the exporter gives the labels whose values are a closed set
/// (`result`, `reason`, `alarm`), read from the samples of a real snapshot
/// with a fuse, a valve and an alarm.
fn closed_label_values() -> BTreeMap<&'static str, BTreeSet<String>> {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(Duration::from_secs(1))
        .build();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(60)))
        .unwrap();
    fb.melt("db").unwrap();
    fb.install_valve("api", ValveConfig::new()).unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(fb.alarms().len(), 1, "the alarm is set");
    let snapshot = fb.snapshot();
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for s in snapshot.samples() {
        for (label, value) in &s.labels {
            if matches!(*label, "result" | "reason" | "alarm") {
                out.entry(label).or_default().insert((*value).to_owned());
            }
        }
    }
    assert_eq!(out.len(), 3, "{out:?}");
    out
}

/// What is wrong with `expr` against the catalog (empty if nothing), and
/// the labels its result carries.
fn check_expr(
    expr: &str,
    values: &BTreeMap<&'static str, BTreeSet<String>>,
) -> (Vec<String>, BTreeSet<String>) {
    let mut errors = Vec::new();
    let uses = match promql::uses(expr) {
        Ok(uses) => uses,
        Err(e) => return (vec![e], BTreeSet::new()),
    };
    if uses.selectors.is_empty() {
        errors.push(format!("names no fusebox metric: {expr:?}"));
    }
    let mut known: BTreeSet<String> = TARGET_LABELS.iter().map(|l| l.to_string()).collect();
    for Selector {
        metric: name,
        matchers,
        rated,
    } in &uses.selectors
    {
        let Some((m, suffix)) = metric(name) else {
            errors.push(format!("{name} is not in fusebox::catalog: {expr:?}"));
            continue;
        };
        let mut labels: BTreeSet<String> = m.labels.iter().map(|l| l.to_string()).collect();
        labels.extend(TARGET_LABELS.iter().map(|l| l.to_string()));
        if suffix == Some("_bucket") {
            labels.insert("le".to_owned());
        }
        for (label, op, value) in matchers {
            if !labels.contains(label) {
                errors.push(format!("{name} has no label {label:?}: {expr:?}"));
            }
            if let Some(allowed) = values.get(label.as_str()) {
                if (op == "=" || op == "!=") && !allowed.contains(value) {
                    errors.push(format!(
                        "{name}{{{label}{op}{value:?}}}: the exporter's values are {allowed:?}"
                    ));
                }
            }
        }
        let counts = m.kind == Kind::Counter || suffix.is_some();
        if *rated && !counts {
            errors.push(format!("rate of the gauge {name}: {expr:?}"));
        }
        if !*rated && counts && suffix != Some("_count") {
            errors.push(format!(
                "the counter {name} read raw, not by rate or increase: {expr:?}"
            ));
        }
        known.extend(labels);
    }
    for label in &uses.grouping {
        if !known.contains(label) {
            errors.push(format!(
                "grouping by {label:?}, which no metric of {expr:?} has"
            ));
        }
    }
    // The labels of the result: an aggregation's `by` list, or the metrics'.
    let result = if uses.aggregated {
        uses.grouping
            .iter()
            .filter(|l| *l != "le")
            .cloned()
            .collect()
    } else {
        known
    };
    (errors, result)
}

/// Names inside `{{ ... }}` templates: `$labels.x` (alert annotations) or
/// a bare `x` (Grafana legends).
fn template_labels(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split("{{").skip(1) {
        let inner = part.split("}}").next().unwrap_or("").trim();
        if let Some(label) = inner.strip_prefix("$labels.") {
            out.push(label.split_whitespace().next().unwrap_or("").to_owned());
        } else if inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push(inner.to_owned());
        }
    }
    out
}

/// The checker itself finds what it is for; otherwise the tests below
/// could pass by seeing nothing.
#[test]
fn the_checks_catch_a_wrong_name_label_value_or_function() {
    let values = closed_label_values();
    let errors = |expr: &str| check_expr(expr, &values).0;
    assert_eq!(errors("fusebox_fuse_state == 1"), Vec::<String>::new());
    assert_eq!(
        errors(
            r#"sum by (le, valve) (rate(fusebox_valve_sojourn_seconds_bucket{job=~"$job"}[5m]))"#
        ),
        Vec::<String>::new()
    );
    for (expr, says) in [
        ("fusebox_fuse_stat == 1", "not in fusebox::catalog"),
        (
            r#"fusebox_fuse_state{valve="api"}"#,
            "has no label \"valve\"",
        ),
        (
            r#"rate(fusebox_valve_refused_total{reason="queuefull"}[5m])"#,
            "the exporter's values",
        ),
        (
            r#"rate(fusebox_fuse_asks_total{result="refused"}[5m])"#,
            "the exporter's values",
        ),
        ("rate(fusebox_fuse_state[5m])", "rate of the gauge"),
        ("fusebox_fuse_blows_total > 3", "read raw"),
        (
            "sum by (valve) (fusebox_fuse_state)",
            "grouping by \"valve\"",
        ),
        (
            r#"{__name__="fusebox_fuse_state"}"#,
            "no fusebox metric name",
        ),
        ("vector(1)", "names no fusebox metric"),
        ("sum(rate(fusebox_fuse_melts_total[5m])", "unbalanced"),
    ] {
        let got = errors(expr);
        assert!(got.iter().any(|e| e.contains(says)), "{expr}: {got:?}");
    }
    assert_eq!(
        check_expr("count by (job, fuse) (fusebox_fuse_state == 1)", &values).1,
        ["job", "fuse"].map(String::from).into()
    );
    assert_eq!(
        template_labels("{{ $labels.fuse }} on {{ $labels.instance }} {{ $value | humanize }}"),
        ["fuse", "instance"]
    );
    assert_eq!(
        template_labels("{{valve}} refused: {{reason}}"),
        ["valve", "reason"]
    );
    assert_eq!(
        promql::names_in("a fusebox_fuse_state; xfusebox_no, fusebox::catalog"),
        ["fusebox_fuse_state"]
    );
}

fn alerts() -> Vec<rule_file::Alert> {
    rule_file::alerts(&read("prometheus/fusebox-alerts.yml"))
        .unwrap_or_else(|e| panic!("deploy/prometheus/fusebox-alerts.yml: {e}"))
}

/// A Prometheus duration: digits and one of its units.
fn is_duration(text: &str) -> bool {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && ["ms", "s", "m", "h", "d", "w", "y"].contains(&unit)
}

#[test]
fn the_alerting_rules_use_only_the_catalogs_metrics_and_labels() {
    let values = closed_label_values();
    let alerts = alerts();
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for a in &alerts {
        let at = format!("alert {} (group {})", a.name, a.group);
        if !names.insert(a.name.clone()) {
            errors.push(format!("{at}: the name is used twice"));
        }
        let (wrong, result) = check_expr(&a.expr, &values);
        errors.extend(wrong.into_iter().map(|e| format!("{at}: {e}")));
        match a.r#for.as_deref() {
            Some(d) if is_duration(d) => {}
            other => errors.push(format!("{at}: `for:` {other:?} is not a duration")),
        }
        if !matches!(
            a.labels.get("severity").map(String::as_str),
            Some("critical" | "warning" | "info")
        ) {
            errors.push(format!("{at}: severity {:?}", a.labels.get("severity")));
        }
        for key in ["summary", "description"] {
            let Some(text) = a.annotations.get(key).filter(|t| !t.is_empty()) else {
                errors.push(format!("{at}: no {key}"));
                continue;
            };
            for label in template_labels(text) {
                if !result.contains(&label) {
                    errors.push(format!(
                        "{at}: {key} uses $labels.{label}, which the result has not ({result:?})"
                    ));
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The alerts a fleet needs are there: a fuse blown for minutes, valve
    // refusals above a rate, an alarm set.
    let on = |metric: &str| {
        alerts
            .iter()
            .filter(|a| a.expr.contains(metric))
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
    };
    assert!(!on(catalog::FUSE_STATE.name).is_empty());
    assert!(!on(catalog::VALVE_REFUSED.name).is_empty());
    assert!(!on(catalog::ALARM_ACTIVE.name).is_empty());
    assert!(alerts.len() >= 3, "{alerts:?}");
}

/// Every expression of a dashboard: panel targets (rows' nested panels
/// too) and template variable queries, with the legend of each target.
fn dashboard_exprs(dash: &serde_json::Value) -> Vec<(String, String, Option<String>)> {
    fn panels(list: &serde_json::Value, out: &mut Vec<(String, String, Option<String>)>) {
        for p in list.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?").to_owned();
            let targets = p["targets"].as_array();
            if p["type"] != "row" {
                assert!(
                    targets.is_some_and(|t| !t.is_empty()),
                    "panel {title:?} has no query"
                );
            }
            for t in targets.into_iter().flatten() {
                let expr = t["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("panel {title:?}: a target with no expr"));
                assert_eq!(
                    t["datasource"]["uid"], "${datasource}",
                    "panel {title:?}: every query on the chosen data source"
                );
                out.push((
                    format!("panel {title:?}"),
                    expr.to_owned(),
                    t["legendFormat"].as_str().map(str::to_owned),
                ));
            }
            panels(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(&dash["panels"], &mut out);
    for v in dash["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] == "query" {
            let query = v["query"]["query"]
                .as_str()
                .or(v["query"].as_str())
                .unwrap_or_else(|| panic!("variable {}: no query", v["name"]));
            out.push((format!("variable {}", v["name"]), query.to_owned(), None));
        }
    }
    out
}

#[test]
fn the_dashboard_queries_only_the_catalogs_metrics_and_shows_them_all() {
    let values = closed_label_values();
    let text = read("grafana/fusebox.json");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dash["uid"], "fusebox");
    let mut ids = BTreeSet::new();
    fn all_ids(list: &serde_json::Value, ids: &mut BTreeSet<u64>) {
        for p in list.as_array().into_iter().flatten() {
            let id = p["id"].as_u64().expect("every panel has an id");
            assert!(ids.insert(id), "panel id {id} twice");
            all_ids(&p["panels"], ids);
        }
    }
    all_ids(&dash["panels"], &mut ids);
    let exprs = dashboard_exprs(&dash);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let mut errors = Vec::new();
    let mut shown = BTreeSet::new();
    for (at, expr, legend) in &exprs {
        // label_values(metric{...}, label) is Grafana's, not PromQL: its
        // metric selector is checked, its label argument by name below.
        let promql_part = expr
            .strip_prefix("label_values(")
            .and_then(|rest| rest.rsplit_once(','))
            .map(|(selector, label)| {
                let label = label.trim().trim_end_matches(')').trim();
                if !TARGET_LABELS.contains(&label) {
                    errors.push(format!("{at}: label_values of {label:?}"));
                }
                selector.to_owned()
            })
            .unwrap_or_else(|| expr.clone());
        let (wrong, result) = if expr.starts_with("label_values(") {
            // A bare selector: neither rated nor raw-counter rules apply to
            // a variable's lookup of label values; only names and labels.
            let (wrong, result) = check_expr(&promql_part, &values);
            (
                wrong
                    .into_iter()
                    .filter(|e| !e.contains("read raw"))
                    .collect(),
                result,
            )
        } else {
            check_expr(&promql_part, &values)
        };
        errors.extend(wrong.into_iter().map(|e| format!("{at}: {e}")));
        for label in legend.iter().flat_map(|l| template_labels(l)) {
            if !result.contains(&label) {
                errors.push(format!(
                    "{at}: the legend uses {label}, which {expr:?} has not"
                ));
            }
        }
        if let Ok(uses) = promql::uses(&promql_part) {
            for s in uses.selectors {
                if let Some((m, _)) = metric(&s.metric) {
                    shown.insert(m.name);
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let missing: Vec<&str> = catalog::ALL
        .iter()
        .map(|m| m.name)
        .filter(|n| !shown.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard shows no panel of {missing:?}: a metric added to the catalog needs one"
    );
}

/// Every `fusebox_...` word of every artefact, comments and annotations
/// included, is a catalog metric: a rename leaves nothing behind.
#[test]
fn no_artefact_names_a_metric_the_catalog_lacks() {
    let files = [
        "prometheus/fusebox-alerts.yml",
        "prometheus/tests/fusebox-alerts.test.yml",
        "alertmanager/fusebox-routes.yml",
        "grafana/fusebox.json",
    ];
    let mut seen = 0;
    for file in files {
        for name in promql::names_in(&read(file)) {
            assert!(
                metric(&name).is_some(),
                "deploy/{file}: {name} is not in fusebox::catalog"
            );
            seen += 1;
        }
    }
    assert!(seen > 50, "{seen}");
}

/// The Alertmanager routes name only alerts the rules define.
#[test]
fn the_alertmanager_routes_name_real_alerts() {
    let defined: BTreeSet<String> = alerts().into_iter().map(|a| a.name).collect();
    let text = read("alertmanager/fusebox-routes.yml");
    let mut named = 0;
    for part in text.split("alertname").skip(1) {
        let Some(rest) = part.strip_prefix("=~\"").or(part.strip_prefix("=\"")) else {
            continue;
        };
        let value = rest.split('"').next().unwrap();
        for alt in value.split('|') {
            if alt.contains(".*") {
                assert!(alt.starts_with("Fusebox"), "{alt}");
                continue;
            }
            assert!(
                defined.contains(alt),
                "the routes name {alt}, which no rule defines ({defined:?})"
            );
            named += 1;
        }
    }
    assert!(named >= 3, "{named}");
}

fn find_promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
}

/// Runs `promtool args...`, or says loudly that it cannot and returns false.
fn promtool(args: &[&str]) -> bool {
    let Some(promtool) = find_promtool() else {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: promtool not installed; `promtool {}` did not run \
             (Debian: apt-get install prometheus) ***\n",
            args.join(" ")
        );
        return false;
    };
    let out = Command::new(promtool)
        .args(args)
        .output()
        .expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool {args:?} fails ({}):\n{said}",
        out.status
    );
    eprintln!("promtool {args:?}:\n{said}");
    true
}

#[test]
fn promtool_checks_the_rules() {
    let rules = deploy("prometheus/fusebox-alerts.yml");
    if promtool(&["check", "rules", rules.to_str().unwrap()]) {
        eprintln!("promtool check rules: deploy/prometheus/fusebox-alerts.yml passes");
    }
}

#[test]
fn promtool_unit_tests_of_the_rules_pass() {
    let tests = deploy("prometheus/tests/fusebox-alerts.test.yml");
    if promtool(&["test", "rules", tests.to_str().unwrap()]) {
        eprintln!("promtool test rules: every alert fires on its series and only there");
    }
}
