//! Environments: the sets of schemas one project is built into, one per
//! purpose — each developer's (`dev_alice_marts`), a shared staging, a pull
//! request's (`pr_12_marts`), production (`marts`).
//!
//! `shop.toml` declares them with a schema rule per environment:
//!
//! ```toml
//! [environments.dev]
//! schema = "dev_{user}_{schema}"
//! [environments."pr_*"]          # pr_12, pr_13…: `{env}` is the name given
//! schema = "{env}_{schema}"
//! [environments.prod]
//! schema = "{schema}"
//! target = "prod"
//! ```
//!
//! `{schema}` is the schema the relation declares (its layer's, its own, or
//! the project default), `{env}` the environment's name, `{user}` the
//! developer's. [`crate::emit::physical_name`] applies the rule to every
//! relation the project writes (models, snapshots, and source tables its
//! seeds fill); tables it only reads keep their declared schema. A project
//! that declares no environment has `dev` and `prod`, both building the
//! declared schemas. Pure: the caller finds the user's name.

use crate::config::{EnvironmentConfig, ProjectConfig};

/// The environment commands run in without `--env`.
pub const DEFAULT: &str = "dev";

/// The placeholders a schema rule may use.
pub const PLACEHOLDERS: &[&str] = &["env", "user", "schema"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Env,
    User,
    Schema,
}

/// How an environment names a relation's schema: literal text and
/// placeholders, `"dev_{user}_{schema}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRule {
    parts: Vec<Part>,
}

/// What is wrong with a rule, at byte `start..end` of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub start: usize,
    pub end: usize,
    pub message: String,
    pub help: Option<String>,
}

impl SchemaRule {
    /// `{schema}`: every relation in the schema it declares.
    pub fn identity() -> SchemaRule {
        SchemaRule {
            parts: vec![Part::Schema],
        }
    }

    /// Parses a rule. Literal text is letters, digits and `_`, so that the
    /// schema names it makes need no quoting on any warehouse.
    pub fn parse(text: &str) -> Result<SchemaRule, RuleError> {
        let error = |start: usize, end: usize, message: String, help: Option<String>| RuleError {
            start,
            end,
            message,
            help,
        };
        if text.is_empty() {
            return Err(error(
                0,
                0,
                "an empty rule makes an empty schema name".into(),
                Some(
                    "write the schema's name with placeholders, such as \"dev_{user}_{schema}\""
                        .into(),
                ),
            ));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        let mut at = 0;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('{') {
                let Some(close) = inner.find('}') else {
                    return Err(error(at, text.len(), "`{` is never closed".into(), None));
                };
                let name = &inner[..close];
                parts.push(match name {
                    "env" => Part::Env,
                    "user" => Part::User,
                    "schema" => Part::Schema,
                    _ => {
                        let suggestion = crate::ir::suggest(name, PLACEHOLDERS.iter().copied());
                        return Err(error(
                            at,
                            at + close + 2,
                            format!("`{{{name}}}` is not a placeholder"),
                            Some(match suggestion {
                                Some(s) => format!("did you mean `{{{s}}}`? A rule can use {{env}}, {{user}} and {{schema}}"),
                                None => "a rule can use {env}, {user} and {schema}".into(),
                            }),
                        ));
                    }
                });
                at += close + 2;
                rest = &inner[close + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                let literal = &rest[..end];
                if let Some((i, c)) = literal
                    .char_indices()
                    .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                {
                    return Err(error(
                        at + i,
                        at + i + c.len_utf8(),
                        format!("`{c}` cannot be part of a schema name"),
                        Some("a schema name is letters, digits and `_`, so that it needs no quotes on any warehouse".into()),
                    ));
                }
                parts.push(Part::Text(literal.to_string()));
                at += end;
                rest = &rest[end..];
            }
        }
        if let Some(Part::Text(first)) = parts.first()
            && first.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(error(
                0,
                1,
                "a schema name cannot start with a digit".into(),
                None,
            ));
        }
        Ok(SchemaRule { parts })
    }

    /// Whether the rule reads the user's name.
    pub fn uses_user(&self) -> bool {
        self.parts.contains(&Part::User)
    }

    /// Whether the rule keeps every declared schema as it is.
    pub fn is_identity(&self) -> bool {
        self.parts == [Part::Schema]
    }

    fn apply(&self, env: &str, user: &str, schema: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            out.push_str(match part {
                Part::Text(text) => text,
                Part::Env => env,
                Part::User => user,
                Part::Schema => schema,
            });
        }
        out
    }
}

impl std::fmt::Display for SchemaRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Env => f.write_str("{env}")?,
                Part::User => f.write_str("{user}")?,
                Part::Schema => f.write_str("{schema}")?,
            }
        }
        Ok(())
    }
}

/// One environment, resolved: its name, rule, user and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The name commands were given (`pr_12`).
    pub name: String,
    /// The name it is declared under in shop.toml (`pr_*`), or the
    /// built-in one's.
    pub declared: String,
    pub rule: SchemaRule,
    /// The developer's name, when the rule reads it.
    pub user: Option<String>,
    /// The target of profiles.toml it runs on, unless `--target` says.
    pub target: Option<String>,
}

impl Default for Environment {
    /// `dev` of a project that declares no environment.
    fn default() -> Environment {
        Environment {
            name: DEFAULT.into(),
            declared: DEFAULT.into(),
            rule: SchemaRule::identity(),
            user: None,
            target: None,
        }
    }
}

impl Environment {
    /// The schema a relation declaring `schema` is built in here.
    pub fn schema(&self, schema: &str) -> String {
        self.rule
            .apply(&self.name, self.user.as_deref().unwrap_or("user"), schema)
    }

    /// How messages name it: `prod`, `dev (user alice)`.
    pub fn label(&self) -> String {
        match &self.user {
            Some(user) => format!("`{}` (user {user})", self.name),
            None => format!("`{}`", self.name),
        }
    }

    /// Whether dropping this environment's schemas would drop production's:
    /// it is named `prod`, or it builds the declared schemas themselves.
    pub fn is_production(&self) -> bool {
        self.name == "prod" || self.rule.is_identity()
    }
}

/// A hook's statement with its placeholders filled: `{env}`, the
/// environment's name, and `{schema:NAME}`, the schema that relations
/// declaring schema `NAME` are built in here (`{schema:marts}` is
/// `dev_alice_marts` in Alice's dev); `{{` and `}}` are braces.
pub fn render_hook(text: &str, env: &Environment) -> Result<String, RuleError> {
    if text.trim().is_empty() {
        return Err(RuleError {
            start: 0,
            end: text.len(),
            message: "an empty statement".into(),
            help: Some("write the SQL to run, or remove the hook".into()),
        });
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        if rest.starts_with("{{") || rest.starts_with("}}") {
            out.push_str(&rest[..1]);
            at += 2;
            continue;
        }
        let Some(inner) = rest.strip_prefix('{') else {
            let next = rest.find(['{', '}']).map_or(rest.len(), |i| i.max(1));
            out.push_str(&rest[..next]);
            at += next;
            continue;
        };
        let Some(close) = inner.find('}') else {
            return Err(RuleError {
                start: at,
                end: text.len(),
                message: "`{` is never closed".into(),
                help: Some("write `{{` for a brace".into()),
            });
        };
        let name = &inner[..close];
        let end = at + close + 2;
        match name.split_once(':') {
            None if name == "env" => out.push_str(&env.name),
            Some(("schema", schema))
                if SchemaRule::parse(schema).is_ok() && !schema.contains('{') =>
            {
                out.push_str(&env.schema(schema))
            }
            _ => {
                return Err(RuleError {
                    start: at,
                    end,
                    message: format!("`{{{name}}}` is not a placeholder of a hook"),
                    help: Some(
                        "a hook can use {env} and {schema:NAME} (where relations declaring schema NAME \
                         are built); write `{{` for a brace"
                            .into(),
                    ),
                });
            }
        }
        at = end;
    }
    Ok(out)
}

/// The `on_run_start` and `on_run_end` statements of `env`: the project's,
/// then the environment's own, their placeholders filled.
pub fn hooks(config: &ProjectConfig, env: &Environment) -> (Vec<String>, Vec<String>) {
    let own = config
        .environments
        .iter()
        .find(|(name, _)| *name.get_ref() == env.declared)
        .map(|(_, e)| e);
    let render = |hooks: &[toml::Spanned<String>]| -> Vec<String> {
        hooks
            .iter()
            // Checked when shop.toml was read.
            .map(|h| render_hook(h.get_ref(), env).unwrap_or_else(|_| h.get_ref().clone()))
            .collect()
    };
    let mut start = render(&config.hooks.on_run_start);
    let mut end = render(&config.hooks.on_run_end);
    if let Some(own) = own {
        start.extend(render(&own.on_run_start));
        end.extend(render(&own.on_run_end));
    }
    (start, end)
}

/// Whether `name` is a valid environment name (`dev`, `pr_12`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Whether a declared name (`pr_*` is a pattern) covers `name`.
pub fn covers(declared: &str, name: &str) -> bool {
    match declared.strip_suffix('*') {
        Some(prefix) => name.len() > prefix.len() && name.starts_with(prefix),
        None => declared == name,
    }
}

/// The environments a project has: its declared ones, else `dev` and
/// `prod` building the declared schemas.
pub fn declared(config: &ProjectConfig) -> Vec<(String, Option<&EnvironmentConfig>)> {
    if config.environments.is_empty() {
        return vec![(DEFAULT.into(), None), ("prod".into(), None)];
    }
    config
        .environments
        .iter()
        .map(|(name, env)| (name.get_ref().clone(), Some(env)))
        .collect()
}

/// Resolves `--env NAME` against the project's environments. `user` is
/// the developer's name, already made a safe identifier; it is needed only
/// when the rule reads it. Errors are usage errors, with a did-you-mean.
pub fn resolve(
    config: &ProjectConfig,
    name: &str,
    user: impl FnOnce() -> Result<String, String>,
) -> Result<Environment, String> {
    if !valid_name(name) {
        let lower = name.to_ascii_lowercase();
        let suggestion = if valid_name(&lower) {
            format!("; did you mean `{lower}`?")
        } else {
            String::new()
        };
        return Err(format!(
            "--env `{name}`: an environment's name is lowercase letters, digits and `_` (such as `dev` or `pr_12`){suggestion}"
        ));
    }
    let all = declared(config);
    // An exact name before a pattern.
    let found = all
        .iter()
        .find(|(declared, _)| declared == name)
        .or_else(|| all.iter().find(|(declared, _)| covers(declared, name)));
    let Some((declared, env)) = found else {
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        let suggestion = crate::ir::suggest(name, names.iter().copied())
            .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
        return Err(format!(
            "unknown environment `{name}`{suggestion} (shop.toml declares {})",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let rule = match env {
        // Checked when shop.toml was read.
        Some(env) => {
            SchemaRule::parse(env.schema.get_ref()).unwrap_or_else(|_| SchemaRule::identity())
        }
        None => SchemaRule::identity(),
    };
    let user = if rule.uses_user() {
        Some(user()?)
    } else {
        None
    };
    Ok(Environment {
        name: name.to_string(),
        declared: declared.clone(),
        rule,
        user,
        target: env.and_then(|e| e.target.as_ref().map(|t| t.get_ref().clone())),
    })
}

/// The developer's name for `{user}`: `given` (`--user` or `SHOPC_USER`)
/// must already be a safe identifier once lowercased, since a name typed on
/// purpose is never silently changed; the login name is lowercased and
/// every other character made `_`.
pub fn user_name(given: Option<&str>, login: Option<&str>) -> Result<String, String> {
    let safe = |name: &str| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    // An empty `SHOPC_USER=` is no name.
    if let Some(given) = given.filter(|g| !g.trim().is_empty()) {
        if !safe(given) {
            return Err(format!(
                "user name `{given}` cannot be part of a schema name: give one of letters, digits and `_` \
                 with --user or SHOPC_USER"
            ));
        }
        return Ok(given.to_ascii_lowercase());
    }
    let Some(login) = login.filter(|l| !l.trim().is_empty()) else {
        return Err(
            "this environment's schemas are named after the user, and no login name was found: \
             give one with --user NAME or SHOPC_USER"
                .into(),
        );
    };
    let made: String = login
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_their_placeholders() {
        let rule = SchemaRule::parse("{env}_{user}_{schema}").unwrap();
        assert_eq!(rule.apply("dev", "alice", "marts"), "dev_alice_marts");
        assert!(rule.uses_user());
        assert!(!rule.is_identity());
        assert!(SchemaRule::parse("{schema}").unwrap().is_identity());
        assert_eq!(rule.to_string(), "{env}_{user}_{schema}");
    }

    #[test]
    fn bad_rules_say_where() {
        let e = SchemaRule::parse("dev_{usr}_{schema}").unwrap_err();
        assert_eq!((e.start, e.end), (4, 9));
        assert!(e.help.unwrap().contains("{user}"));
        let e = SchemaRule::parse("dev-{schema}").unwrap_err();
        assert_eq!((e.start, e.end), (3, 4));
        assert!(SchemaRule::parse("").is_err());
        assert!(SchemaRule::parse("{schema").is_err());
        assert!(SchemaRule::parse("1_{schema}").is_err());
    }

    #[test]
    fn user_names_typed_are_checked_and_login_names_made_safe() {
        assert_eq!(user_name(Some("Alice"), None).unwrap(), "alice");
        assert!(user_name(Some("o'brien"), None).is_err());
        assert!(user_name(Some("a b"), None).is_err());
        assert_eq!(
            user_name(None, Some("Jean-Luc.Picard")).unwrap(),
            "jean_luc_picard"
        );
        assert!(user_name(None, None).is_err());
        assert_eq!(user_name(Some(""), Some("ann")).unwrap(), "ann");
    }

    #[test]
    fn hooks_fill_their_placeholders() {
        let env = Environment {
            name: "dev".into(),
            declared: "dev".into(),
            rule: SchemaRule::parse("dev_{user}_{schema}").unwrap(),
            user: Some("alice".into()),
            target: None,
        };
        assert_eq!(
            render_hook(
                "GRANT USAGE ON SCHEMA {schema:marts} TO r -- {env} {{x}}",
                &env
            )
            .unwrap(),
            "GRANT USAGE ON SCHEMA dev_alice_marts TO r -- dev {x}"
        );
        let e = render_hook("select {user}", &env).unwrap_err();
        assert_eq!((e.start, e.end), (7, 13));
        assert!(render_hook("  ", &env).is_err());
        assert!(render_hook("select '{'", &env).is_err());
        assert!(render_hook("select {schema:a-b}", &env).is_err());
    }

    #[test]
    fn patterns_cover_names_with_their_prefix() {
        assert!(covers("pr_*", "pr_12"));
        assert!(!covers("pr_*", "pr_"));
        assert!(!covers("prod", "pr_12"));
        assert!(covers("prod", "prod"));
    }
}
