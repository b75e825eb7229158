//! Notifications: once at the end of a run, the run's outcome sent to each
//! `[notifications.NAME]` whose events happened, in its environments — a
//! Slack Block Kit message to an incoming webhook, or the summary as JSON
//! to any webhook. A notification that cannot be sent is a warning that
//! names it, never its URL, and never changes the run's exit status. IO
//! module.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use serde::Serialize;

use crate::config::{NotificationConfig, ProjectConfig, env_var};

/// How long a webhook has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What a run did, as notifications tell it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub project: String,
    pub environment: String,
    /// The target's name, or what it is (`duckdb`).
    pub target: String,
    /// `build`, `source freshness`…
    pub command: String,
    /// `failure`, `warn` or `success`.
    pub status: &'static str,
    /// What happened, of `failure`, `warn`, `success`, `stale_source`.
    pub events: Vec<&'static str>,
    pub counts: Counts,
    /// The nodes that failed, errored or warned, and the stale sources.
    pub problems: Vec<Problem>,
    pub started_at: String,
    pub elapsed_seconds: f64,
    /// A link to the run, when `run_url` is set.
    pub run_url: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub ok: usize,
    pub warnings: usize,
    pub errors: usize,
    pub skipped: usize,
    /// Tests not run because the checker proved them.
    pub proven: usize,
}

/// One node that did not pass.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub unique_id: String,
    pub status: String,
    /// The first line of its error.
    pub message: Option<String>,
}

impl Counts {
    /// `66 ok, 0 warnings, 1 error, 5 skipped` (and `, 21 proven` when
    /// some tests were proven): a run's last line says it so too.
    pub fn sentence(&self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let proven = match self.proven {
            0 => String::new(),
            n => format!(", {n} proven"),
        };
        format!(
            "{} ok, {} warning{}, {} error{}, {} skipped{proven}",
            self.ok,
            self.warnings,
            plural(self.warnings),
            self.errors,
            plural(self.errors),
            self.skipped,
        )
    }
}

impl Report {
    /// The events of a run with these counts; `stale` when a source was
    /// past a freshness threshold.
    pub fn events(counts: &Counts, stale: bool) -> (&'static str, Vec<&'static str>) {
        let status = if counts.errors > 0 {
            "failure"
        } else if counts.warnings > 0 {
            "warn"
        } else {
            "success"
        };
        let mut events = vec![status];
        if stale {
            events.push("stale_source");
        }
        (status, events)
    }
}

/// The webhook payload of a `slack` notification: Block Kit, with a text
/// fallback for the notification itself.
pub fn slack_message(report: &Report) -> serde_json::Value {
    use serde_json::json;
    let verb = match report.status {
        "failure" => "failed",
        "warn" => "passed with warnings",
        _ => "succeeded",
    };
    let icon = match report.status {
        "failure" => ":x:",
        "warn" => ":warning:",
        _ => ":white_check_mark:",
    };
    let counts = report.counts.sentence();
    let title = format!(
        "{} `{}` {verb} in {}",
        report.project, report.command, report.environment
    );
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{icon} *{title}*")}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Environment*\n{}", report.environment)},
            {"type": "mrkdwn", "text": format!("*Target*\n{}", report.target)},
            {"type": "mrkdwn", "text": format!("*Nodes*\n{counts}")},
            {"type": "mrkdwn", "text": format!("*Elapsed*\n{:.1}s", report.elapsed_seconds)},
        ]}),
    ];
    // Slack takes 3,000 characters a section: the first ten, then a count.
    const SHOWN: usize = 10;
    if !report.problems.is_empty() {
        let mut lines: Vec<String> = report
            .problems
            .iter()
            .take(SHOWN)
            .map(|p| {
                let message = p.message.as_deref().unwrap_or("");
                let message: String = message.chars().take(200).collect();
                format!("• `{}` {}: {}", p.unique_id, p.status, message)
            })
            .collect();
        if report.problems.len() > SHOWN {
            lines.push(format!("…and {} more", report.problems.len() - SHOWN));
        }
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}));
    }
    if let Some(url) = &report.run_url {
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("<{url}|View the run>")}
        ]}));
    }
    json!({
        "text": format!("{title}: {counts}"),
        "blocks": blocks,
    })
}

/// The notifications that apply to a run in `environment` with these
/// events, by name.
pub fn due<'c>(
    config: &'c ProjectConfig,
    environment: &str,
    events: &[&str],
) -> Vec<(&'c str, &'c NotificationConfig)> {
    config
        .notifications
        .iter()
        .filter(|(_, n)| {
            n.environments.is_empty()
                || n.environments
                    .iter()
                    .any(|e| crate::environment::covers(e.get_ref(), environment))
        })
        .filter(|(_, n)| {
            let on: Vec<&str> = if n.on.is_empty() {
                vec!["failure"]
            } else {
                n.on.iter().map(|e| e.get_ref().as_str()).collect()
            };
            on.iter().any(|e| events.contains(e))
        })
        .map(|(name, n)| (name.get_ref().as_str(), n))
        .collect()
}

/// Sends `report` to every notification due; returns one line per
/// notification (`sent` or a warning), for the caller to print. `env` reads
/// the environment (URLs, `run_url`).
pub fn send(
    config: &ProjectConfig,
    report: &Report,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let due = due(config, &report.environment, &report.events);
    if due.is_empty() {
        return Vec::new();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return vec![format!("warning: no notification was sent: {e}")],
    };
    // The client's connector and timers live on the runtime.
    let _entered = runtime.enter();
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            return vec![format!(
                "warning: no notification was sent: {}",
                e.without_url()
            )];
        }
    };
    due.into_iter()
        .map(|(name, n)| {
            let mut report = report.clone();
            report.run_url = n.run_url.as_ref().and_then(|u| match u.get_ref() {
                toml::Value::String(s) => Some(s.clone()),
                value => env_var(value).and_then(env).filter(|s| !s.is_empty()),
            });
            let kind = n.kind.get_ref().as_str();
            let body = if kind == "slack" {
                slack_message(&report)
            } else {
                serde_json::to_value(&report).unwrap_or_default()
            };
            match post(&runtime, &client, n, env, &body) {
                Ok(()) => format!("Sent notification `{name}` ({kind})"),
                Err(why) => format!(
                    "warning: notification `{name}` was not sent: {why} (the run's result stands)"
                ),
            }
        })
        .collect()
}

/// POSTs `body` to the notification's URL. Errors never contain the URL.
fn post(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    n: &NotificationConfig,
    env: &dyn Fn(&str) -> Option<String>,
    body: &serde_json::Value,
) -> Result<(), String> {
    let variable = env_var(n.url.get_ref()).unwrap_or_default();
    let Some(text) = env(variable).filter(|s| !s.trim().is_empty()) else {
        return Err(format!("{variable} is not set"));
    };
    let url =
        reqwest::Url::parse(text.trim()).map_err(|_| format!("{variable} does not hold a URL"))?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err(format!(
                "{variable} is a plain http:// URL; only https:// is sent beyond this machine"
            ));
        }
        _ => return Err(format!("{variable} is not an http(s) URL")),
    }
    let request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            concat!("shopc/", env!("CARGO_PKG_VERSION")),
        )
        .body(serde_json::to_vec(body).unwrap_or_default());
    let answer = runtime.block_on(request.send()).map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {} s", TIMEOUT.as_secs())
        } else if e.is_connect() {
            "could not connect".to_string()
        } else {
            e.without_url().to_string()
        }
    })?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the server answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: &'static str, problems: usize) -> Report {
        Report {
            project: "shopco".into(),
            environment: "prod".into(),
            target: "duckdb".into(),
            command: "build".into(),
            status,
            events: vec![status],
            counts: Counts {
                ok: 66,
                warnings: 0,
                errors: problems,
                skipped: 5,
                proven: 0,
            },
            problems: (0..problems)
                .map(|i| Problem {
                    unique_id: format!("test.shopco.t{i}"),
                    status: "fail".into(),
                    message: Some("55 failing rows".into()),
                })
                .collect(),
            started_at: "2026-12-01T00:00:00Z".into(),
            elapsed_seconds: 3.25,
            run_url: Some("https://ci.example/run/1".into()),
        }
    }

    #[test]
    fn a_slack_message_says_what_failed_and_links_the_run() {
        let message = slack_message(&report("failure", 12));
        assert_eq!(
            message["text"],
            "shopco `build` failed in prod: 66 ok, 0 warnings, 12 errors, 5 skipped"
        );
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 4);
        let failures = blocks[2]["text"]["text"].as_str().unwrap();
        assert_eq!(failures.lines().count(), 11, "{failures}");
        assert!(failures.starts_with("• `test.shopco.t0` fail: 55 failing rows"));
        assert!(failures.ends_with("…and 2 more"));
        assert_eq!(
            blocks[3]["elements"][0]["text"],
            "<https://ci.example/run/1|View the run>"
        );
    }

    #[test]
    fn the_status_is_the_worst_event() {
        let counts = |warnings, errors| Counts {
            ok: 1,
            warnings,
            errors,
            skipped: 0,
            proven: 0,
        };
        assert_eq!(Report::events(&counts(1, 1), false).0, "failure");
        assert_eq!(
            Report::events(&counts(1, 0), true),
            ("warn", vec!["warn", "stale_source"])
        );
        assert_eq!(Report::events(&counts(0, 0), false).0, "success");
    }
}
