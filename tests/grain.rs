//! The grain algebra on small models: each case states the grain the
//! compiler must derive (`None`: unknown), and the declared-grain proof.

use shopc::check::grain::{Grain, derive};
use shopc::config::parse_project_config;
use shopc::span::SourceDb;

const SOURCES: &str = r#"
source raw {
  table customers { expect_key = [customer_id]
    columns { customer_id: integer, email: text, country: text } }
  table orders { expect_key = [order_id]
    columns { order_id: integer, customer_id: integer, status: text, amount: numeric(12, 2), at: timestamp } }
  table items { expect_key = [order_id, line]
    columns { order_id: integer, line: integer, product_id: integer, quantity: integer } }
  table events {
    columns { event_id: text, customer_id: integer, at: timestamp } }
  table customer_versions { expect_key = [customer_id, changed_at]
    columns { customer_id: integer, email: text, changed_at: timestamp } }
}
"#;

/// (model source, expected derived grain)
const CASES: &[(&str, Option<&[&str]>)] = &[
    // from keeps the grain of what it reads
    (
        "model m { from raw.orders o\n columns { order_id = o.order_id, amount = o.amount } }",
        Some(&["order_id"]),
    ),
    // ... but only when the key is projected
    (
        "model m { from raw.orders o\n columns { amount = o.amount } }",
        None,
    ),
    // where keeps it
    (
        "model m { from raw.orders o\n where o.status = 'x'\n columns { order_id = o.order_id } }",
        Some(&["order_id"]),
    ),
    // a renamed key is still the key
    (
        "model m { from raw.orders o\n columns { id = o.order_id } }",
        Some(&["id"]),
    ),
    // a computed key is not traced
    (
        "model m { from raw.orders o\n columns { id = o.order_id + 0 } }",
        None,
    ),
    // unknown source grain
    (
        "model m { from raw.events e\n columns { event_id = e.event_id } }",
        None,
    ),
    // dedupe establishes it
    (
        "model m { from raw.events e\n dedupe on e.event_id keep latest by e.at\n columns { event_id = e.event_id } }",
        Some(&["event_id"]),
    ),
    // composite claimed key
    (
        "model m { from raw.items i\n columns { order_id = i.order_id, line = i.line } }",
        Some(&["order_id", "line"]),
    ),
    // to-one join keeps the grain
    (
        "model m { from raw.orders o\n join raw.customers c on c.customer_id = o.customer_id\n columns { order_id = o.order_id, email = c.email } }",
        Some(&["order_id"]),
    ),
    // left to-one join keeps it too
    (
        "model m { from raw.orders o\n left join raw.customers c on c.customer_id = o.customer_id\n columns { order_id = o.order_id } }",
        Some(&["order_id"]),
    ),
    // to-one with extra conditions
    (
        "model m { from raw.orders o\n join raw.customers c on c.customer_id = o.customer_id and c.country = 'FR'\n columns { order_id = o.order_id } }",
        Some(&["order_id"]),
    ),
    // condition written the other way round
    (
        "model m { from raw.orders o\n join raw.customers c on o.customer_id = c.customer_id\n columns { order_id = o.order_id } }",
        Some(&["order_id"]),
    ),
    // to-many join: the grain grows
    (
        "model m { from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n columns { customer_id = c.customer_id, order_id = o.order_id } }",
        Some(&["customer_id", "order_id"]),
    ),
    // to-many join without the joined key projected
    (
        "model m { from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n columns { customer_id = c.customer_id } }",
        None,
    ),
    // a composite key half-equated is to-many
    (
        "model m { from raw.orders o\n join raw.items i on i.order_id = o.order_id\n columns { order_id = o.order_id, line = i.line } }",
        Some(&["order_id", "line"]),
    ),
    // a composite key fully equated is to-one
    (
        "model m { from raw.items a\n join raw.items b on b.order_id = a.order_id and b.line = a.line\n columns { order_id = a.order_id, line = a.line } }",
        Some(&["order_id", "line"]),
    ),
    // joining a relation of unknown grain is to-many and loses the grain
    (
        "model m { from raw.customers c\n join raw.events e on e.customer_id = c.customer_id\n columns { customer_id = c.customer_id } }",
        None,
    ),
    // group by sets the grain
    (
        "model m { from raw.orders o\n group by o.customer_id\n dimensions { customer_id = o.customer_id }\n measures { n = count(*) } }",
        Some(&["customer_id"]),
    ),
    // group by after a to-many join re-establishes it
    (
        "model m { from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n group by c.customer_id\n dimensions { customer_id = c.customer_id }\n measures { n = count(o.order_id) } }",
        Some(&["customer_id"]),
    ),
    // group by two keys
    (
        "model m { from raw.orders o\n group by o.customer_id, o.status\n dimensions { customer_id = o.customer_id, status = o.status }\n measures { n = count(*) } }",
        Some(&["customer_id", "status"]),
    ),
    // group by an expression: not traced
    (
        "model m { from raw.orders o\n group by date(o.at)\n measures { n = count(*) } }",
        None,
    ),
    // window functions keep the grain
    (
        "model m { from raw.orders o\n columns { order_id = o.order_id, rank = rank() over (order by o.amount desc) } }",
        Some(&["order_id"]),
    ),
    // group by an expression that is output unchanged: traced to the output
    (
        "model m { from raw.orders o\n group by date(o.at)\n dimensions { day = date(o.at) }\n measures { n = count(*) } }",
        Some(&["day"]),
    ),
    // a column key and an expression key
    (
        "model m { from raw.orders o\n group by o.customer_id, date(o.at)\n dimensions { customer_id = o.customer_id, day = date(o.at) }\n measures { n = count(*) } }",
        Some(&["customer_id", "day"]),
    ),
    // a cast key, output the same way
    (
        "model m { from raw.orders o\n group by cast(o.at as date)\n dimensions { day = cast(o.at as date) }\n measures { n = count(*) } }",
        Some(&["day"]),
    ),
    // a renamed group key
    (
        "model m { from raw.orders o\n group by o.status\n dimensions { s = o.status }\n measures { n = count(*) } }",
        Some(&["s"]),
    ),
    // a group key left out of the outputs
    (
        "model m { from raw.orders o\n group by o.status\n measures { n = count(*) } }",
        None,
    ),
    // having keeps the group grain
    (
        "model m { from raw.orders o\n group by o.customer_id\n having count(*) > 1\n dimensions { customer_id = o.customer_id }\n measures { n = count(*) } }",
        Some(&["customer_id"]),
    ),
    // a filtered aggregate
    (
        "model m { from raw.orders o\n group by o.customer_id\n dimensions { customer_id = o.customer_id }\n measures { shipped = count(*) filter (where o.status = 'shipped') } }",
        Some(&["customer_id"]),
    ),
    // a window over aggregates in a grouped model
    (
        "model m { from raw.orders o\n group by o.customer_id\n dimensions { customer_id = o.customer_id }\n measures { n = count(*), share = count(*) / sum(count(*)) over () } }",
        Some(&["customer_id"]),
    ),
    // dedupe on two keys
    (
        "model m { from raw.events e\n dedupe on e.customer_id, e.event_id keep latest by e.at\n columns { customer_id = e.customer_id, event_id = e.event_id } }",
        Some(&["customer_id", "event_id"]),
    ),
    // a dedupe key left out of the outputs
    (
        "model m { from raw.events e\n dedupe on e.event_id keep latest by e.at\n columns { customer_id = e.customer_id } }",
        None,
    ),
    // dedupe after a to-many join re-establishes the grain
    (
        "model m { from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n dedupe on c.customer_id keep latest by o.at\n columns { customer_id = c.customer_id, last_order_id = o.order_id } }",
        Some(&["customer_id"]),
    ),
    // a model reading a deduped model keeps its derived grain
    (
        "model h { from raw.events e\n dedupe on e.event_id keep latest by e.at\n columns { event_id = e.event_id, customer_id = e.customer_id } }\n\
         model m { from h\n columns { event_id = h.event_id } }",
        Some(&["event_id"]),
    ),
    // joining a grouped model on its derived grain is to-one
    (
        "model h { from raw.orders o\n group by o.customer_id\n dimensions { customer_id = o.customer_id }\n measures { n = count(*) } }\n\
         model m { from raw.customers c\n left join h on h.customer_id = c.customer_id\n columns { customer_id = c.customer_id, n = h.n } }",
        Some(&["customer_id"]),
    ),
    // through an ephemeral model, inlined
    (
        "model h { materialized = \"ephemeral\"\n from raw.orders o\n group by o.customer_id\n dimensions { customer_id = o.customer_id }\n measures { n = count(*) } }\n\
         model m { from h\n columns { customer_id = h.customer_id, n = h.n } }",
        Some(&["customer_id"]),
    ),
    // a declared grain wider than the derived one stands for the model
    (
        "model h { grain = [order_id, status]\n from raw.orders o\n columns { order_id = o.order_id, status = o.status } }\n\
         model m { from h\n columns { order_id = h.order_id, status = h.status } }",
        Some(&["order_id", "status"]),
    ),
    // two to-one joins
    (
        "model h { from raw.orders o\n group by o.customer_id\n dimensions { customer_id = o.customer_id }\n measures { n = count(*) } }\n\
         model m { from raw.orders o\n left join raw.customers c on c.customer_id = o.customer_id\n left join h on h.customer_id = o.customer_id\n columns { order_id = o.order_id, email = c.email, n = h.n } }",
        Some(&["order_id"]),
    ),
    // to-many, then to-one
    (
        "model m { from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n left join raw.customers c2 on c2.customer_id = o.customer_id\n columns { customer_id = c.customer_id, order_id = o.order_id } }",
        Some(&["customer_id", "order_id"]),
    ),
    // two to-many joins: customers, their orders, their lines
    (
        "model m { from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n join raw.items i on i.order_id = o.order_id\n columns { customer_id = c.customer_id, order_id = o.order_id, line = i.line } }",
        Some(&["customer_id", "order_id", "line"]),
    ),
    // ... then grouped back to orders
    (
        "model m { from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n join raw.items i on i.order_id = o.order_id\n group by o.order_id\n dimensions { order_id = o.order_id }\n measures { lines = count(i.line) } }",
        Some(&["order_id"]),
    ),
    // where on a joined column keeps the grain
    (
        "model m { from raw.orders o\n left join raw.customers c on c.customer_id = o.customer_id\n where c.country = 'FR'\n columns { order_id = o.order_id } }",
        Some(&["order_id"]),
    ),
    // a key equated with a constant is to-one
    (
        "model m { from raw.orders o\n left join raw.customers c on c.customer_id = 1\n columns { order_id = o.order_id, email = c.email } }",
        Some(&["order_id"]),
    ),
    // a self-join on a non-key is to-many
    (
        "model m { from raw.orders a\n join raw.orders b on b.customer_id = a.customer_id\n columns { a_id = a.order_id, b_id = b.order_id } }",
        Some(&["a_id", "b_id"]),
    ),
];

fn compile(models: &str) -> (shopc::Compilation, SourceDb) {
    let mut db = SourceDb::new();
    let config_file = db.add("shop.toml", "name = \"g\"\n");
    let config = parse_project_config(config_file, "name = \"g\"\n").unwrap();
    let sources = db.add("sources.shop", SOURCES);
    let file = db.add("models.shop", models);
    (shopc::compile(&db, &config, &[sources, file]), db)
}

/// The codes of every problem the model source produces.
fn codes(source: &str) -> Vec<shopc::diagnostic::Code> {
    compile(source)
        .0
        .problems
        .iter()
        .map(|p| p.code())
        .collect()
}

#[test]
fn derived_grains() {
    for (source, expected) in CASES {
        let (compilation, db) = compile(source);
        let diagnostics: Vec<_> = compilation
            .problems
            .iter()
            .map(|p| p.to_diagnostic())
            .collect();
        assert!(
            compilation.error_count() == 0,
            "{source}\n{}",
            shopc::diagnostic::render(&db, &diagnostics, false)
        );
        let ir = &compilation.ir;
        let grains = derive(ir);
        let model = ir.get("m").unwrap();
        let derived = &grains.models[&model.id].derived;
        let names = match derived {
            Grain::Key(cols) => Some(
                cols.iter()
                    .map(|c| ir.column(*c).name.as_str())
                    .collect::<Vec<_>>(),
            ),
            Grain::Unknown => None,
        };
        assert_eq!(names.as_deref(), *expected, "{source}");
    }
}

#[test]
fn declared_grain_is_proven_or_reported() {
    // Proven: to-one join, declared grain is the derived one.
    let ok = "model m {\n grain = [order_id]\n from raw.orders o\n join raw.customers c on c.customer_id = o.customer_id\n columns { order_id = o.order_id, email = c.email }\n}";
    assert_eq!(compile(ok).0.error_count(), 0);
    // Proven: a superset of the derived key is unique too.
    let wider = "model m {\n grain = [order_id, status]\n from raw.orders o\n columns { order_id = o.order_id, status = o.status }\n}";
    assert!(compile(wider).0.problems.is_empty());
    // Not proven: to-many join, unknown source, expression key.
    for bad in [
        "model m {\n grain = [customer_id]\n from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n columns { customer_id = c.customer_id, order_id = o.order_id }\n}",
        "model m {\n grain = [event_id]\n from raw.events e\n columns { event_id = e.event_id }\n}",
        "model m {\n grain = [day]\n from raw.orders o\n group by date(o.at)\n dimensions { day = date_trunc('day', o.at) }\n measures { n = count(*) }\n}",
    ] {
        let problems = compile(bad).0.problems;
        assert!(
            problems
                .iter()
                .any(|p| p.code() == shopc::diagnostic::Code::G001),
            "{bad}: {problems:?}"
        );
    }
}

#[test]
fn fan_out_is_reported_only_for_repeated_rows() {
    let model = |measures: &str| {
        format!(
            "model m {{\n from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n group by c.country\n \
             dimensions {{ country = c.country }}\n measures {{ {measures} }}\n}}"
        )
    };
    use shopc::diagnostic::Code::J001;
    // Customers are repeated once per order: counting or summing them double counts.
    assert_eq!(codes(&model("n = count(c.customer_id)")), [J001]);
    assert_eq!(codes(&model("n = avg(c.customer_id)")), [J001]);
    // Duplicate-insensitive aggregates, and the many side itself, are fine.
    assert!(codes(&model("n = count(distinct c.customer_id)")).is_empty());
    assert!(codes(&model("n = max(c.customer_id)")).is_empty());
    assert!(codes(&model("amount = sum(o.amount)")).is_empty());
    assert!(codes(&model("n = count(*)")).is_empty());
    // A to-one join repeats nothing.
    let to_one = "model m {\n from raw.orders o\n join raw.customers c on c.customer_id = o.customer_id\n group by c.country\n \
                  dimensions { country = c.country }\n measures { amount = sum(o.amount) }\n}";
    assert!(!codes(to_one).contains(&J001));
}

#[test]
fn inner_to_one_joins_warn_of_row_loss() {
    use shopc::diagnostic::Code::J002;
    let join = |kind: &str| {
        format!(
            "model m {{\n from raw.orders o\n {kind} raw.customers c on c.customer_id = o.customer_id\n columns {{ order_id = o.order_id }}\n}}"
        )
    };
    assert_eq!(codes(&join("join")), [J002]);
    assert!(codes(&join("left join")).is_empty());
    // A to-many inner join is not a row-loss warning (its grain changes; G001/J001 cover it).
    let many = "model m {\n from raw.customers c\n join raw.orders o on o.customer_id = c.customer_id\n columns { customer_id = c.customer_id, order_id = o.order_id }\n}";
    assert!(codes(many).is_empty());
    // The warning is not an error: the project still checks.
    assert!(compile(&join("join")).0.error_count() == 0);
}

#[test]
fn grouped_outputs_must_be_keys_aggregates_or_determined() {
    use shopc::diagnostic::Code::G002;
    let grouped = |key: &str, outputs: &str| {
        format!(
            "model m {{\n from raw.orders o\n left join raw.customers c on c.customer_id = o.customer_id\n group by {key}\n \
             dimensions {{ {outputs} }}\n measures {{ n = count(*) }}\n}}"
        )
    };
    // Keys and aggregates are fine.
    assert!(codes(&grouped("o.customer_id", "customer_id = o.customer_id")).is_empty());
    assert!(codes(&grouped("o.customer_id", "last_status = max(o.status)")).is_empty());
    // A column of a relation joined to-one on the key is determined by it.
    assert!(codes(&grouped("o.customer_id", "email = c.email")).is_empty());
    // So is every column of a relation whose grain is among the keys.
    assert!(codes(&grouped("o.order_id", "status = o.status, email = c.email")).is_empty());
    // Anything else is G002.
    assert_eq!(
        codes(&grouped("o.customer_id", "status = o.status")),
        [G002]
    );
    assert_eq!(codes(&grouped("c.country", "email = c.email")), [G002]);
    // Expressions over keys are fine; over other columns they are not.
    assert!(codes(&grouped("o.customer_id", "k = o.customer_id + 1")).is_empty());
    assert_eq!(
        codes(&grouped("o.customer_id", "s = upper(o.status)")),
        [G002]
    );
    // Windows run per group: their partition keys must be grouped too.
    assert!(
        codes(&grouped(
            "o.customer_id",
            "r = rank() over (partition by c.country order by count(*))"
        ))
        .is_empty()
    );
    assert_eq!(
        codes(&grouped(
            "o.customer_id",
            "r = rank() over (partition by o.status order by count(*))"
        )),
        [G002]
    );
}

#[test]
fn cases_cover_at_least_forty_models() {
    assert!(CASES.len() >= 40, "{} grain cases", CASES.len());
}

#[test]
fn join_one_must_be_proven() {
    use shopc::diagnostic::Code::J003;
    let join = |claim: &str, on: &str| {
        format!(
            "model m {{\n from raw.orders o\n left join {claim} raw.items i on {on}\n columns {{ order_id = o.order_id, line = i.line }}\n}}"
        )
    };
    // Half of the items' grain: to-many, so `one` is wrong.
    assert_eq!(codes(&join("one", "i.order_id = o.order_id")), [J003]);
    // The whole grain: to-one, the claim holds.
    assert!(codes(&join("one", "i.order_id = o.order_id and i.line = 1")).is_empty());
    // `many` is always accepted, and so is no claim.
    assert!(codes(&join("many", "i.order_id = o.order_id")).is_empty());
    assert!(codes(&join("", "i.order_id = o.order_id")).is_empty());
    // A relation of unknown grain cannot be claimed one.
    let events = "model m {\n from raw.customers c\n left join one raw.events e on e.customer_id = c.customer_id\n columns { customer_id = c.customer_id }\n}";
    assert_eq!(codes(events), [J003]);
}

/// A customer-level model with an average, a distinct count and a ratio,
/// and a model `m` over it with the given measures.
fn over_customers(measures: &str) -> String {
    format!(
        "model h {{\n from raw.customers c\n left join raw.orders o on o.customer_id = c.customer_id\n group by c.customer_id\n \
         dimensions {{ customer_id = c.customer_id, country = c.country }}\n \
         measures {{ orders = count(o.order_id), revenue = coalesce(sum(o.amount), 0), aov = avg(o.amount),\n \
         statuses = count(distinct o.status), share = sum(o.amount) / nullif(count(*), 0), best = max(o.amount),\n \
         rank = rank() over (order by sum(o.amount) desc), per_cent = sum(o.amount) / 100 }}\n}}\n\
         model m {{\n from h\n group by h.country\n dimensions {{ country = h.country }}\n measures {{ {measures} }}\n}}"
    )
}

#[test]
fn non_additive_measures_are_not_summed() {
    use shopc::diagnostic::Code::M001;
    for measure in ["aov", "statuses", "share", "best", "rank"] {
        assert_eq!(
            codes(&over_customers(&format!("x = sum(h.{measure})"))),
            [M001],
            "{measure}"
        );
    }
    // Additive measures sum; non-additive ones re-aggregate with other functions.
    for ok in [
        "x = sum(h.orders)",
        "x = sum(h.revenue)",
        "x = sum(h.per_cent)",
        "x = sum(h.revenue) / sum(h.orders)",
        "x = max(h.aov)",
        "x = avg(h.aov)",
        "x = count(h.customer_id)",
    ] {
        assert!(codes(&over_customers(ok)).is_empty(), "{ok}");
    }
    // Additivity travels through models that pass a column on.
    let chained = format!(
        "{}\nmodel n {{\n from m\n columns {{ country = m.country, x = m.x }}\n}}\nmodel o {{\n from n\n measures {{ total = sum(n.x) }}\n}}",
        over_customers("x = max(h.aov)")
    );
    assert_eq!(codes(&chained), [M001]);
    // Declared non-additive.
    let declared = "model h {\n non_additive = [amount]\n from raw.orders o\n columns { order_id = o.order_id, amount = o.amount }\n}\n\
                    model m {\n from h\n measures { total = sum(h.amount) }\n}";
    assert_eq!(codes(declared), [M001]);
}

/// A distinct count of the key of what is counted, under a `group by` the
/// key determines, adds up across the groups (each order is one
/// customer's); any other distinct count does not.
#[test]
fn distinct_counts_of_a_key_the_groups_partition_are_additive() {
    use shopc::diagnostic::Code::M001;
    let downstream = |upstream: &str| {
        format!(
            "{upstream}
model m {{
 from h
 group by h.g
 dimensions {{ g = h.g }}
 measures {{ total = sum(h.n) }}
}}"
        )
    };
    for (additive, upstream) in [
        // The order key, grouped by a column of the order: each order in one group.
        (
            true,
            "model h {\n from raw.orders o\n group by o.customer_id\n dimensions { customer_id = o.customer_id, g = 1 }\n measures { n = count(distinct o.order_id) }\n}",
        ),
        // Through a join's equality: orders of a customer, grouped by the customer.
        (
            true,
            "model h {\n from raw.customers c\n left join raw.orders o on o.customer_id = c.customer_id\n group by c.customer_id\n dimensions { customer_id = c.customer_id, g = c.country }\n measures { n = count(distinct o.order_id) }\n}",
        ),
        // Through a to-one join: a customer's country.
        (
            true,
            "model h {\n from raw.orders o\n left join raw.customers c on c.customer_id = o.customer_id\n group by c.country\n dimensions { country = c.country, g = c.country }\n measures { n = count(distinct o.order_id) }\n}",
        ),
        // Not the key of its relation: a customer has orders in several statuses.
        (
            false,
            "model h {\n from raw.orders o\n group by o.status\n dimensions { status = o.status, g = o.status }\n measures { n = count(distinct o.customer_id) }\n}",
        ),
        // The key, but the groups do not follow from it: an order's lines
        // are of several products.
        (
            false,
            "model h {\n from raw.items i\n group by i.product_id\n dimensions { product_id = i.product_id, g = i.product_id }\n measures { n = count(distinct i.order_id) }\n}",
        ),
        // Without group by there is one group: still not summable downstream
        // across anything but that one row, and nothing proves a partition.
        (
            false,
            "model h {\n from raw.orders o\n measures { n = count(distinct o.customer_id), g = count(*) }\n}",
        ),
    ] {
        let expected: &[shopc::diagnostic::Code] = if additive { &[] } else { &[M001] };
        assert_eq!(codes(&downstream(upstream)), expected, "{upstream}");
    }
}

#[test]
fn semi_additive_measures_sum_only_within_their_dimension() {
    use shopc::diagnostic::Code::M002;
    let balances = |group: &str, dims: &str| {
        format!(
            "model b {{\n semi_additive = {{ balance = day }}\n from raw.orders o\n group by o.customer_id, date(o.at)\n \
             dimensions {{ customer_id = o.customer_id, day = date(o.at) }}\n measures {{ balance = sum(o.amount) }}\n}}\n\
             model m {{\n from b\n group by {group}\n dimensions {{ {dims} }}\n measures {{ balance = sum(b.balance) }}\n}}"
        )
    };
    // Across days: wrong.
    assert_eq!(
        codes(&balances("b.customer_id", "customer_id = b.customer_id")),
        [M002]
    );
    // Within a day: fine.
    assert!(codes(&balances("b.day", "day = b.day")).is_empty());
    assert!(
        codes(&balances(
            "b.customer_id, b.day",
            "customer_id = b.customer_id, day = b.day"
        ))
        .is_empty()
    );
    // A window sum partitioned by the day is fine; one over all days is not.
    let window = |partition: &str| {
        format!(
            "model b {{\n semi_additive = {{ balance = day }}\n from raw.orders o\n group by o.customer_id, date(o.at)\n \
             dimensions {{ customer_id = o.customer_id, day = date(o.at) }}\n measures {{ balance = sum(o.amount) }}\n}}\n\
             model m {{\n from b\n columns {{ customer_id = b.customer_id, day = b.day, total = sum(b.balance) over ({partition}) }}\n}}"
        )
    };
    assert!(codes(&window("partition by b.day")).is_empty());
    assert_eq!(codes(&window("partition by b.customer_id")), [M002]);
}

#[test]
fn reconciliations_are_resolved_and_typed() {
    use shopc::diagnostic::Code::{C008, R001, R002, T001};
    let model = "model m {\n from raw.orders o\n columns { order_id = o.order_id, amount = o.amount, status = o.status }\n}\n";
    let with = |body: &str| format!("{model}reconcile r {{\n{body}\n}}");
    let ok = compile(&with("m.amount where status = 'paid'\nraw.orders.amount"));
    assert!(ok.0.problems.is_empty(), "{:?}", ok.0.problems);
    assert_eq!(ok.0.ir.reconciles[0].terms.len(), 2);
    assert_eq!(
        ok.0.ir.reconciles[0].terms[0].label,
        "m.amount where status = 'paid'"
    );
    // One total compares nothing; text cannot be summed; names must resolve.
    assert_eq!(codes(&with("m.amount")), [C008]);
    assert_eq!(codes(&with("m.amount\nm.status")), [T001]);
    assert_eq!(codes(&with("m.amount\nn.amount")), [R001]);
    assert_eq!(codes(&with("m.amount\nm.amont")), [R002]);
    assert_eq!(codes(&with("m.amount where stats = 'x'\nm.amount")), [R002]);
}

/// I001, with the key computed by `columns` (and the query lines around it).
fn incremental(query: &str, key: &str) -> String {
    format!(
        "model m {{\n materialized = {{ incremental = {{ unique_key = \"k\" }} }}\n {query}\n columns {{ k = {key}, order_id = o.order_id }}\n}}"
    )
}

#[test]
fn merge_keys_that_can_be_null_are_reported() {
    use shopc::diagnostic::Code::I001;
    let from = "from raw.orders o";
    let left = "from raw.orders o\n left join raw.customers c on c.customer_id = o.customer_id";
    // A claimed source key is tested before anything reads it.
    assert!(codes(&incremental(from, "o.order_id")).is_empty());
    // An unclaimed source column may be NULL…
    assert_eq!(codes(&incremental(from, "o.customer_id")), [I001]);
    // … unless the query keeps only non-NULL values or gives a default.
    for (query, key) in [
        (
            &*format!("{from}\n where o.customer_id is not null"),
            "o.customer_id",
        ),
        (
            &*format!("{from}\n where o.customer_id > 0"),
            "o.customer_id",
        ),
        (from, "coalesce(o.customer_id, -1)"),
        (from, "o.order_id * 10 + 1"),
        (from, "case when o.status = 'x' then 1 else 2 end"),
        (from, "md5(concat(o.order_id, 'x'))"),
        (
            "from raw.orders o\n join raw.customers c on c.customer_id = o.customer_id",
            "o.customer_id",
        ),
        (&*format!("{left}\n where c.email is not null"), "c.email"),
        (left, "o.order_id"),
    ] {
        let model = incremental(query, key);
        assert!(!codes(&model).contains(&I001), "{model}");
    }
    // A left join null-extends even a claimed key; functions and `case`
    // without `else` can return NULL; so can division (by zero).
    for (query, key) in [
        (left, "c.customer_id"),
        (left, "coalesce(c.email, c.country)"),
        (from, "nullif(o.status, '')"),
        (from, "try_cast(o.status as integer)"),
        (from, "case when o.status = 'x' then 1 end"),
        (from, "o.order_id / 2"),
        (
            &*format!("{from}\n where o.customer_id is not null or o.status = 'x'"),
            "o.customer_id",
        ),
    ] {
        let model = incremental(query, key);
        assert_eq!(codes(&model), [I001], "{model}");
    }
}

#[test]
fn upstream_tests_and_grains_guarantee_keys() {
    use shopc::diagnostic::Code::I001;
    let upstream = |grain: &str, tests: &str| {
        format!(
            "model s {{\n {grain}\n from raw.events e\n dedupe on e.event_id keep latest by e.at\n \
             columns {{ event_id = e.event_id, customer_id = e.customer_id }}\n tests {{ {tests} }}\n}}\n\
             model m {{\n materialized = {{ incremental = {{ unique_key = \"customer_id\" }} }}\n from s\n \
             group by s.customer_id\n dimensions {{ customer_id = s.customer_id }}\n measures {{ events = count(*) }}\n}}\n"
        )
    };
    assert_eq!(codes(&upstream("", "")), [I001]);
    // The message follows the NULL upstream to the column it comes from.
    let (compiled, _) = compile(&upstream("", ""));
    let Some(shopc::problem::Problem::NullableKey { because, .. }) = compiled.problems.first()
    else {
        panic!("{:?}", compiled.problems)
    };
    let labels: Vec<&str> = because.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "`s.customer_id` can be NULL",
            "`raw.events.customer_id` can be NULL: nothing proves or tests otherwise"
        ]
    );
    assert!(codes(&upstream("", "not_null(customer_id)")).is_empty());
    // A warning does not stop the build, so it guarantees nothing.
    assert_eq!(
        codes(&upstream("", "not_null(customer_id, severity = \"warn\")")),
        [I001]
    );
    // A declared grain is tested not NULL too.
    let grained = "model s {\n grain = [customer_id]\n from raw.events e\n group by e.customer_id\n \
                   dimensions { customer_id = e.customer_id }\n measures { events = count(*) }\n}\n\
                   model m {\n materialized = { incremental = { unique_key = \"customer_id\" } }\n from s\n \
                   columns { customer_id = s.customer_id, events = s.events }\n}\n";
    assert!(codes(grained).is_empty());
    assert_eq!(codes(&grained.replace("grain = [customer_id]", "")), [I001]);
    // A model's own test runs after its merge: it does not count.
    let own = "model m {\n materialized = { incremental = { unique_key = \"customer_id\" } }\n from raw.events e\n \
               columns { customer_id = e.customer_id, at = e.at }\n tests { not_null(customer_id) }\n}";
    assert_eq!(codes(own), [I001]);
    // Aggregates are NULL over no rows: without `group by`, or with `filter`.
    let total = |measure: &str, group: &str| {
        format!(
            "model m {{\n materialized = {{ incremental = {{ unique_key = \"k\" }} }}\n from raw.orders o\n {group}\n \
             columns {{ k = {measure} }}\n}}"
        )
    };
    assert_eq!(codes(&total("max(o.order_id)", "")), [I001]);
    assert!(codes(&total("count(*)", "")).is_empty());
    assert_eq!(
        codes(&total(
            "max(o.order_id) filter (where o.status = 'x')",
            "group by o.customer_id"
        )),
        [I001]
    );
}

#[test]
fn snapshot_keys_must_not_be_null() {
    use shopc::diagnostic::Code::I001;
    let snapshot = |key: &str, tests: &str| {
        format!(
            "model s {{\n from raw.events e\n dedupe on e.event_id keep latest by e.at\n columns {{ event_id = e.event_id, at = e.at }}\n tests {{ {tests} }}\n}}\n\
             snapshot h {{\n from s\n unique_key = {key}\n strategy = {{ timestamp = at }}\n}}\n"
        )
    };
    assert_eq!(codes(&snapshot("event_id", "")), [I001]);
    // The snapshot runs after `s` and its tests: here they count.
    assert!(codes(&snapshot("event_id", "not_null(event_id)")).is_empty());
}

#[test]
fn a_snapshot_reads_one_row_per_key_or_per_key_and_version() {
    use shopc::diagnostic::Code::G003;
    let snapshot = |from: &str, key: &str, strategy: &str| {
        format!("snapshot h {{\n from {from}\n unique_key = {key}\n strategy = {strategy}\n}}\n")
    };
    let check = "{ check = [status] }";
    // One row per order: an order snapshot is fine, a customer one is not.
    assert!(codes(&snapshot("raw.orders", "order_id", check)).is_empty());
    assert!(codes(&snapshot("raw.orders", "customer_id", check)).contains(&G003));
    // Versions of a customer, one per (customer_id, changed_at): a timestamp
    // snapshot keyed on the customer records them all, a check one cannot.
    let versions = "{ timestamp = changed_at }";
    assert!(codes(&snapshot("raw.customer_versions", "customer_id", versions)).is_empty());
    assert_eq!(
        codes(&snapshot(
            "raw.customer_versions",
            "customer_id",
            "{ check = [email] }"
        )),
        [G003]
    );
    // Finer than key and version: ambiguous either way.
    assert!(codes(&snapshot("raw.orders", "customer_id", "{ timestamp = at }")).contains(&G003));
    // The version column is a time.
    assert_eq!(
        codes(&snapshot(
            "raw.customer_versions",
            "customer_id",
            "{ timestamp = email }"
        )),
        [shopc::diagnostic::Code::C004]
    );
    // No known grain: nothing is proven.
    let events = "model e {\n from raw.events v\n where v.event_id is not null\n columns { event_id = v.event_id, at = v.at }\n}\n";
    assert_eq!(
        codes(&format!(
            "{events}{}",
            snapshot("e", "event_id", "{ timestamp = at }")
        )),
        [G003]
    );
}
