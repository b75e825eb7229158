//! Synthetic projects: a deterministic generator of realistic `.shop`
//! projects of any size, for scale tests and benchmarks.
//!
//! The DAG has the shape of a real layer: source tables, staging models that
//! dedupe them, intermediate models that join two upstream models and
//! aggregate, and marts that join several upstream models to-one and add
//! window functions. Every model has the same column shape, so any model can
//! read any earlier one, and the whole project checks clean.

use std::fmt::Write;

use crate::config::{ProjectConfig, parse_project_config};
use crate::span::{FileId, SourceDb};

/// A generated project: `shop.toml` text and `.shop` files as (path, text).
#[derive(Debug, Clone)]
pub struct SyntheticProject {
    pub shop_toml: String,
    pub files: Vec<(String, String)>,
    pub models: usize,
}

/// Models per generated file.
const MODELS_PER_FILE: usize = 50;

/// A small deterministic generator (xorshift64*): generated projects and
/// data must be the same on every machine for benchmarks to compare.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`0` when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An index in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`, uniformly.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.index(items.len())]
    }
}

impl SyntheticProject {
    /// The project as a compilation takes it: its files in a [`SourceDb`],
    /// its parsed `shop.toml`, and the ids of its `.shop` files.
    pub fn load(&self) -> (SourceDb, ProjectConfig, Vec<FileId>) {
        let mut db = SourceDb::new();
        let config_file = db.add("shop.toml", self.shop_toml.clone());
        let config = parse_project_config(config_file, &self.shop_toml)
            .expect("the generated shop.toml is valid");
        let files = self
            .files
            .iter()
            .map(|(p, t)| db.add(p.clone(), t.clone()))
            .collect();
        (db, config, files)
    }
}

/// Generates a project of `models` models (plus source tables for them to read).
pub fn project(models: usize, seed: u64) -> SyntheticProject {
    let mut rng = Rng(seed.max(1));
    let tables = (models / 10).max(1);
    let mut sources =
        String::from("source raw {\n  schema = \"raw\"\n  loaded_at = _loaded_at\n\n");
    for t in 0..tables {
        let _ = writeln!(
            sources,
            "  table t{t} {{\n    expect_key = [id]\n    columns {{\n      id: integer\n      parent_id: integer\n      \
             name: text\n      category: text\n      amount: numeric(12, 2)\n      quantity: integer\n      \
             updated_at: timestamp\n      _loaded_at: timestamp\n    }}\n  }}"
        );
    }
    sources.push_str("}\n");
    let mut files = vec![("sources/raw.shop".to_string(), sources)];

    let staging = (models / 5).max(1).min(models);
    let mut current = String::new();
    for m in 0..models {
        let text = if m < staging {
            staging_model(m, rng.index(tables))
        } else if m < staging + (models - staging) / 2 {
            intermediate_model(m, rng.index(m), rng.index(m), &mut rng)
        } else {
            let reads: Vec<usize> = (0..2 + rng.index(2)).map(|_| rng.index(m)).collect();
            mart_model(m, &reads)
        };
        current.push_str(&text);
        if (m + 1) % MODELS_PER_FILE == 0 || m + 1 == models {
            let layer = layer_of(m, staging, models);
            files.push((
                format!("models/{layer}/m{:06}.shop", m / MODELS_PER_FILE),
                std::mem::take(&mut current),
            ));
        }
    }
    let shop_toml = "name = \"synthetic\"\n\n[paths]\nmodels = [\"sources\", \"models\"]\n\n\
                     [layers.staging]\nmaterialized = \"view\"\n\n[layers.intermediate]\nmaterialized = \"ephemeral\"\n\n\
                     [layers.marts]\nmaterialized = \"table\"\n"
        .to_string();
    SyntheticProject {
        shop_toml,
        files,
        models,
    }
}

fn layer_of(m: usize, staging: usize, models: usize) -> &'static str {
    if m < staging {
        "staging"
    } else if m < staging + (models - staging) / 2 {
        "intermediate"
    } else {
        "marts"
    }
}

fn staging_model(m: usize, table: usize) -> String {
    format!(
        "## Staging model {m}: the latest version of each row of t{table}.\n\
         model m{m} {{\n  layer = \"staging\"\n  grain = [id]\n  from raw.t{table} s\n  \
         dedupe on s.id keep latest by s.updated_at\n  columns {{\n    id = s.id\n    parent_id = s.parent_id\n    \
         name = initcap(trim(s.name))\n    category = coalesce(nullif(lower(trim(s.category)), ''), 'unknown')\n    \
         amount = coalesce(s.amount, 0)\n    quantity = s.quantity\n    updated_at = s.updated_at\n  }}\n  \
         tests {{ not_null(name) }}\n}}\n\n"
    )
}

fn intermediate_model(m: usize, a: usize, b: usize, rng: &mut Rng) -> String {
    let threshold = rng.index(100);
    format!(
        "model m{m} {{\n  layer = \"intermediate\"\n  from m{a} a\n  left join m{b} b on b.id = a.parent_id\n  \
         where a.amount > {threshold} and a.category != 'test'\n  group by a.parent_id\n  \
         dimensions {{\n    id = a.parent_id\n  }}\n  measures {{\n    parent_id = min(a.id)\n    name = max(a.name)\n    \
         category = max(b.category)\n    amount = sum(a.amount * a.quantity) filter (where a.quantity > 0)\n    \
         quantity = count(a.id)\n    updated_at = max(a.updated_at)\n  }}\n}}\n\n"
    )
}

fn mart_model(m: usize, reads: &[usize]) -> String {
    let mut text = format!(
        "model m{m} {{\n  layer = \"marts\"\n  from m{} r0\n",
        reads[0]
    );
    for (i, r) in reads.iter().enumerate().skip(1) {
        // Left joins: an inner to-one join is a row-loss warning (J002), and
        // the generated project checks clean.
        let _ = writeln!(text, "  left join m{r} r{i} on r{i}.id = r0.parent_id");
    }
    let amounts: Vec<String> = (0..reads.len())
        .map(|i| format!("coalesce(r{i}.amount, 0)"))
        .collect();
    let _ = write!(
        text,
        "  where r0.updated_at >= timestamp '2020-01-01 00:00:00'\n  columns {{\n    id = r0.id\n    \
         parent_id = r0.parent_id\n    name = r0.name || ' / ' || coalesce(r1.name, '-')\n    \
         category = case when r0.amount > 1000 then 'large' when r0.amount > 100 then 'medium' else 'small' end\n    \
         amount = {}\n    quantity = r0.quantity\n    updated_at = greatest(r0.updated_at, r1.updated_at)\n    \
         rank_in_category = rank() over (partition by r0.category order by r0.amount desc)\n    \
         days_since_update = date_diff('day', r0.updated_at, current_timestamp())\n  }}\n}}\n\n",
        amounts.join(" + ")
    );
    text
}

/// Generates a project shaped like a dbt project of `models` models, the one
/// the comparison with dbt and SQLMesh writes for all three tools
/// (`benches/compare.sh`): one model per file; source tables; staging views
/// that clean one table each; models that join two parents and aggregate;
/// `unique` and `not_null` tests on every model's key, and documented
/// columns.
pub fn dbt_shaped(models: usize, seed: u64) -> SyntheticProject {
    let mut rng = Rng(seed.max(1));
    let tables = (models / 10).max(1);
    let mut sources = String::from(
        "## The loader's copy of the source system.\nsource raw {\n  schema = \"raw\"\n  loaded_at = _loaded_at\n\n",
    );
    for t in 0..tables {
        let _ = writeln!(
            sources,
            "  ## Table {t} of the source system.\n  table t{t} {{\n    expect_key = [id]\n    columns {{\n      \
             id: integer\n      parent_id: integer\n      name: text\n      category: text\n      \
             amount: numeric(12, 2)\n      quantity: integer\n      updated_at: timestamp\n      \
             _loaded_at: timestamp\n    }}\n  }}"
        );
    }
    sources.push_str("}\n");
    let mut files = vec![("sources/raw.shop".to_string(), sources)];
    let staging = (models / 5).max(1).min(models);
    for m in 0..models {
        let (layer, text) = if m < staging {
            ("staging", dbt_staging_model(m, rng.index(tables)))
        } else {
            // Two parents among the earlier models.
            let (a, b) = (rng.index(m), rng.index(m));
            ("marts", dbt_joined_model(m, a, b, rng.index(100)))
        };
        files.push((format!("models/{layer}/m{m:06}.shop"), text));
    }
    let shop_toml = "name = \"synthetic\"\n\n[paths]\nmodels = [\"sources\", \"models\"]\n\n\
                     [layers.staging]\nmaterialized = \"view\"\n\n[layers.marts]\nmaterialized = \"table\"\n"
        .to_string();
    SyntheticProject {
        shop_toml,
        files,
        models,
    }
}

fn dbt_staging_model(m: usize, table: usize) -> String {
    format!(
        "## Staging model {m}: table t{table}, cleaned.\n\
         model m{m} {{\n  layer = \"staging\"\n  from raw.t{table} s\n  columns {{\n    \
         ## The row's key.\n    id = s.id\n    parent_id = s.parent_id\n    \
         ## The name, trimmed and capitalised.\n    name = initcap(trim(s.name))\n    \
         category = coalesce(nullif(lower(trim(s.category)), ''), 'unknown')\n    \
         amount = coalesce(s.amount, 0)\n    quantity = s.quantity\n    updated_at = s.updated_at\n  }}\n  \
         tests {{ unique(id), not_null(id) }}\n}}\n"
    )
}

fn dbt_joined_model(m: usize, a: usize, b: usize, threshold: usize) -> String {
    format!(
        "## Model {m}: m{a} joined to m{b}, per parent.\n\
         model m{m} {{\n  layer = \"marts\"\n  from m{a} a\n  left join m{b} b on b.id = a.parent_id\n  \
         where a.amount > {threshold} and a.category != 'test'\n  group by a.parent_id\n  \
         dimensions {{\n    ## The parent the rows belong to.\n    id = a.parent_id\n  }}\n  measures {{\n    \
         parent_id = min(a.id)\n    name = max(a.name)\n    category = max(b.category)\n    \
         ## Amount times quantity, over rows with a quantity.\n    \
         amount = sum(a.amount * a.quantity) filter (where a.quantity > 0)\n    \
         quantity = count(a.id)\n    updated_at = max(a.updated_at)\n  }}\n  \
         tests {{ unique(id), not_null(id) }}\n}}\n"
    )
}
