//! `shop.toml`: the project file, read into strict structs.
//!
//! Unknown keys are errors that point at the key. This module parses text it
//! is given; finding and reading the file is the caller's job.

use indexmap::IndexMap;
use serde::Deserialize;

use crate::problem::Problem;
use crate::span::{FileId, Span};

/// The project file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The project's name, used in artifacts and default schemas.
    pub name: String,
    /// The project's own version, free-form.
    #[serde(default)]
    pub version: Option<String>,
    /// Where models, seeds and build artifacts live, relative to the project.
    #[serde(default)]
    pub paths: Paths,
    /// Per-layer defaults, keyed by layer name (`staging`, `marts`, …). A
    /// model picks its layer with `layer = "..."` or by the folder it is in.
    #[serde(default)]
    pub layers: IndexMap<String, LayerConfig>,
    /// Defaults for every model, under its layer's: what a model outside
    /// every layer is built as (`materialized`, default `view`), and in which
    /// schema (default `main`); `tags` are added to every model.
    #[serde(default)]
    pub defaults: LayerConfig,
    /// Values models can read with `var('name')`.
    #[serde(default)]
    pub vars: IndexMap<String, toml::Value>,
    /// Where each of `vars` is set in `shop.toml` (its key), for the
    /// editor's definition of a var; a var set by `--vars` only has none.
    #[serde(skip)]
    pub var_spans: std::collections::HashMap<String, Span>,
    /// The sets of schemas the project is built into (`dev`, `prod`,
    /// `pr_*`…), by name; see [`crate::environment`].
    #[serde(default)]
    pub environments: IndexMap<toml::Spanned<String>, EnvironmentConfig>,
    /// SQL run on the target around every `seed`, `run`, `test`,
    /// `snapshot` and `build`, in every environment (before its own).
    #[serde(default)]
    pub hooks: Hooks,
    /// Where a run's outcome is sent (Slack, a webhook), by name.
    #[serde(default)]
    pub notifications: IndexMap<toml::Spanned<String>, NotificationConfig>,
}

/// The events a notification can be sent on.
pub const NOTIFY_ON: &[&str] = &["failure", "warn", "success", "stale_source"];

/// The kinds of notification.
pub const NOTIFICATION_KINDS: &[&str] = &["slack", "webhook"];

/// One `[notifications.NAME]`: a message at the end of a run, when one of
/// its events happened, in one of its environments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationConfig {
    /// `slack` (a Block Kit message to an incoming webhook) or `webhook`
    /// (the run's summary as JSON).
    pub kind: toml::Spanned<String>,
    /// `{ env = "SLACK_WEBHOOK_URL" }`: a secret, read from the
    /// environment only.
    pub url: toml::Spanned<toml::Value>,
    /// Any of [`NOTIFY_ON`]; default `["failure"]`.
    #[serde(default)]
    pub on: Vec<toml::Spanned<String>>,
    /// The environments it is sent from; default every one.
    #[serde(default)]
    pub environments: Vec<toml::Spanned<String>>,
    /// A link to the run (`{ env = "GITHUB_RUN_URL" }`, or text), shown
    /// when it is set.
    #[serde(default)]
    pub run_url: Option<toml::Spanned<toml::Value>>,
}

/// The variable a `{ env = "NAME" }` value names, if it is one.
pub fn env_var(value: &toml::Value) -> Option<&str> {
    match value {
        toml::Value::Table(table) if table.len() == 1 => table.get("env")?.as_str(),
        _ => None,
    }
}

/// `on_run_start` / `on_run_end`: SQL statements run on the target before
/// the nodes and after them, each reported as a node. They may use
/// `{env}` and `{schema:NAME}` (the schema `NAME` is built in here).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub on_run_start: Vec<toml::Spanned<String>>,
    #[serde(default)]
    pub on_run_end: Vec<toml::Spanned<String>>,
}

/// One environment of `[environments.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// How a relation's schema is named here: `"dev_{user}_{schema}"`.
    pub schema: toml::Spanned<String>,
    /// The target of profiles.toml it runs on, unless `--target` says.
    #[serde(default)]
    pub target: Option<toml::Spanned<String>>,
    /// Run after the project's own hooks.
    #[serde(default)]
    pub on_run_start: Vec<toml::Spanned<String>>,
    #[serde(default)]
    pub on_run_end: Vec<toml::Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// Folders searched (recursively) for `.shop` files.
    #[serde(default = "default_model_paths")]
    pub models: Vec<String>,
    /// Folder of seed CSV files.
    #[serde(default = "default_seeds")]
    pub seeds: String,
    /// Folder for compiled SQL, artifacts and the default DuckDB file.
    #[serde(default = "default_target")]
    pub target: String,
}

impl Default for Paths {
    fn default() -> Paths {
        Paths {
            models: default_model_paths(),
            seeds: default_seeds(),
            target: default_target(),
        }
    }
}

fn default_model_paths() -> Vec<String> {
    vec!["models".into()]
}
fn default_seeds() -> String {
    "seeds".into()
}
fn default_target() -> String {
    "target".into()
}

/// Defaults for every model of a layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// `view`, `table`, `ephemeral` or `incremental`.
    #[serde(default)]
    pub materialized: Option<MaterializedKind>,
    /// Schema the layer's relations are built in.
    #[serde(default)]
    pub schema: Option<String>,
    /// Tags added to every model of the layer.
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaterializedKind {
    View,
    Table,
    Ephemeral,
    Incremental,
}

impl MaterializedKind {
    pub fn parse(text: &str) -> Option<MaterializedKind> {
        Some(match text {
            "view" => MaterializedKind::View,
            "table" => MaterializedKind::Table,
            "ephemeral" => MaterializedKind::Ephemeral,
            "incremental" => MaterializedKind::Incremental,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MaterializedKind::View => "view",
            MaterializedKind::Table => "table",
            MaterializedKind::Ephemeral => "ephemeral",
            MaterializedKind::Incremental => "incremental",
        }
    }
}

/// Parses `shop.toml`. `file` is its id in the [`SourceDb`](crate::span::SourceDb),
/// so that errors point into it.
pub fn parse_project_config(file: FileId, text: &str) -> Result<ProjectConfig, Vec<Problem>> {
    let mut config = toml::from_str::<ProjectConfig>(text).map_err(|error| {
        let span = error.span().map(|r| Span::new(file, r.start, r.end));
        let message = error.message().trim().to_string();
        vec![if message.starts_with("unknown field") {
            Problem::UnknownProjectKey { span, message }
        } else {
            Problem::InvalidProjectFile { span, message }
        }]
    })?;
    config.var_spans = var_spans(file, text);
    let mut problems = check_environments(file, text, &config);
    problems.extend(check_hooks(file, text, &config));
    problems.extend(check_notifications(file, text, &config));
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// Where each key of `[vars]` is written (the file parsed already, so it
/// does not fail).
fn var_spans(file: FileId, text: &str) -> std::collections::HashMap<String, Span> {
    #[derive(Deserialize)]
    struct Vars {
        #[serde(default)]
        vars: IndexMap<toml::Spanned<String>, serde::de::IgnoredAny>,
    }
    toml::from_str::<Vars>(text)
        .map(|v| {
            v.vars
                .into_keys()
                .map(|key| {
                    let span = key.span();
                    (key.into_inner(), Span::new(file, span.start, span.end))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The span of `value`'s bytes `start..end` inside its quotes when it is
/// written without escapes, else of the whole value.
fn inside(
    file: FileId,
    text: &str,
    value: &toml::Spanned<String>,
    start: usize,
    end: usize,
) -> Span {
    let whole = value.span();
    let inner = whole.start + 1;
    let written = text.get(inner..whole.end.saturating_sub(1));
    if written == Some(value.get_ref().as_str()) && end > start {
        Span::new(file, inner + start, inner + end)
    } else {
        Span::new(file, whole.start, whole.end)
    }
}

/// Every notification has a known kind and events, environments the
/// project has, and a URL read from the environment — never written here.
fn check_notifications(file: FileId, text: &str, config: &ProjectConfig) -> Vec<Problem> {
    let at = |range: std::ops::Range<usize>| Span::new(file, range.start, range.end);
    let mut problems = Vec::new();
    let mut invalid = |span: Span, message: String, help: Option<String>| {
        problems.push(Problem::InvalidNotification {
            span,
            message,
            help,
        })
    };
    let environments: Vec<String> = crate::environment::declared(config)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut secrets = Vec::new();
    for (name, n) in &config.notifications {
        let kind = n.kind.get_ref();
        if !NOTIFICATION_KINDS.contains(&kind.as_str()) {
            invalid(
                inside(file, text, &n.kind, 0, kind.len()),
                format!("`{kind}` is not a kind of notification"),
                Some(
                    match crate::ir::suggest(kind, NOTIFICATION_KINDS.iter().copied()) {
                        Some(s) => {
                            format!("did you mean `{s}`? A notification is `slack` or `webhook`")
                        }
                        None => "a notification is `slack` or `webhook`".into(),
                    },
                ),
            );
        }
        match n.url.get_ref() {
            toml::Value::String(_) => secrets.push(Problem::SecretInProjectFile {
                span: at(n.url.span()),
                key: format!("notifications.{}.url", name.get_ref()),
                example: format!(
                    "url = {{ env = \"{}\" }}",
                    if kind == "slack" {
                        "SLACK_WEBHOOK_URL"
                    } else {
                        "WEBHOOK_URL"
                    }
                ),
            }),
            value if env_var(value).is_none() => invalid(
                at(n.url.span()),
                "a notification's URL is `{ env = \"VARIABLE\" }`".into(),
                None,
            ),
            _ => {}
        }
        for event in &n.on {
            let word = event.get_ref();
            if !NOTIFY_ON.contains(&word.as_str()) {
                invalid(
                    inside(file, text, event, 0, word.len()),
                    format!("`{word}` is not an event a notification is sent on"),
                    Some(match crate::ir::suggest(word, NOTIFY_ON.iter().copied()) {
                        Some(s) => format!(
                            "did you mean `{s}`? The events are failure, warn, success and stale_source"
                        ),
                        None => "the events are failure, warn, success and stale_source".into(),
                    }),
                );
            }
        }
        for env in &n.environments {
            let word = env.get_ref();
            let known = environments
                .iter()
                .any(|e| crate::environment::covers(e, word));
            if !known {
                invalid(
                    inside(file, text, env, 0, word.len()),
                    format!("the project has no environment `{word}`"),
                    Some(
                        match crate::ir::suggest(word, environments.iter().map(String::as_str)) {
                            Some(s) => {
                                format!("did you mean `{s}`? It has {}", environments.join(", "))
                            }
                            None => format!("it has {}", environments.join(", ")),
                        },
                    ),
                );
            }
        }
        if let Some(url) = &n.run_url
            && !matches!(url.get_ref(), toml::Value::String(_))
            && env_var(url.get_ref()).is_none()
        {
            invalid(
                at(url.span()),
                "`run_url` is text or `{ env = \"VARIABLE\" }`".into(),
                None,
            );
        }
    }
    problems.extend(secrets);
    problems
}

/// Every hook is a statement whose placeholders exist.
fn check_hooks(file: FileId, text: &str, config: &ProjectConfig) -> Vec<Problem> {
    let all = config
        .hooks
        .on_run_start
        .iter()
        .chain(&config.hooks.on_run_end)
        .chain(
            config
                .environments
                .values()
                .flat_map(|e| e.on_run_start.iter().chain(&e.on_run_end)),
        );
    all.filter_map(|hook| {
        let e = crate::environment::render_hook(hook.get_ref(), &Default::default()).err()?;
        Some(Problem::InvalidHook {
            span: inside(file, text, hook, e.start, e.end),
            message: e.message,
            help: e.help,
        })
    })
    .collect()
}

/// Every environment's name and schema rule is one a warehouse accepts.
fn check_environments(file: FileId, text: &str, config: &ProjectConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    let at = |range: std::ops::Range<usize>| Span::new(file, range.start, range.end);
    for (name, env) in &config.environments {
        let plain = name.get_ref().strip_suffix('*').unwrap_or(name.get_ref());
        if !crate::environment::valid_name(plain) {
            problems.push(Problem::InvalidEnvironment {
                span: at(name.span()),
                message: format!(
                    "`{}` is not an environment name: lowercase letters, digits and `_`, \
                     with a final `*` for a family (`pr_*`)",
                    name.get_ref()
                ),
                help: None,
            });
        }
        let rule = &env.schema;
        if let Err(e) = crate::environment::SchemaRule::parse(rule.get_ref()) {
            problems.push(Problem::InvalidEnvironment {
                span: inside(file, text, rule, e.start, e.end),
                message: e.message,
                help: e.help,
            });
        }
    }
    problems
}

/// Parses a duration such as `"12h"`, `"30 minutes"` or `"3 days"` into seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    number.checked_mul(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_layers() {
        let config = parse_project_config(
            FileId(0),
            "name = \"p\"\n[layers.staging]\nmaterialized = \"view\"\nschema = \"stg\"\n",
        )
        .unwrap();
        assert_eq!(config.paths.models, ["models"]);
        assert_eq!(
            config.layers["staging"].materialized,
            Some(MaterializedKind::View)
        );
    }

    #[test]
    fn unknown_key_points_at_the_key() {
        let text = "name = \"p\"\n[paths]\nmodel = [\"m\"]\n";
        let Err(problems) = parse_project_config(FileId(0), text) else {
            panic!("expected an unknown-key error")
        };
        let [Problem::UnknownProjectKey { span, message }] = problems.as_slice() else {
            panic!("expected an unknown-key error: {problems:?}")
        };
        assert_eq!(&text[span.unwrap().range()], "model");
        assert!(message.contains("unknown field `model`"), "{message}");
    }

    #[test]
    fn environments_point_at_what_is_wrong() {
        let text = "name = \"p\"\n[environments.dev]\nschema = \"dev_{usr}\"\n\
                    [environments.Prod]\nschema = \"{schema}\"\n\
                    [environments.\"pr_*\"]\nschema = \"{env}_{schema}\"\ntarget = \"pg\"\n";
        let Err(problems) = parse_project_config(FileId(0), text) else {
            panic!("expected errors")
        };
        let spans: Vec<&str> = problems
            .iter()
            .map(|p| match p {
                Problem::InvalidEnvironment { span, .. } => &text[span.range()],
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(spans, ["{usr}", "Prod"]);
        let good =
            "name = \"p\"\n[environments.\"pr_*\"]\nschema = \"{env}_{schema}\"\ntarget = \"pg\"\n";
        let config = parse_project_config(FileId(0), good).unwrap();
        let env = &config.environments[0];
        assert_eq!(
            env.target.as_ref().map(|t| t.get_ref().as_str()),
            Some("pg")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("3 days"), Some(259_200));
        assert_eq!(parse_duration("30 minutes"), Some(1_800));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }
}
