#![allow(clippy::disallowed_methods)]
//! Deterministic ShopCo raw data, broken on purpose the way real extracts are.
//!
//! ```sh
//! cargo run --release --example gen_shopco -- --scale 1 --out shopco_models/seeds
//! cargo run --release --example gen_shopco -- --scale 1000 --out /tmp/shopco_big
//! ```
//!
//! Scale 1 writes about 500 customers, 2,000 orders, 5,000 order items, 100
//! products and 3,000 web events. Rows are streamed to disk as they are made,
//! so any scale runs in constant memory. The same scale and seed always give
//! byte-identical files.
//!
//! Defects, each cleaned by a staging model:
//! - raw_customers: older versions of some customers (earlier `updated_at`),
//!   emails in mixed case with spaces, names in any case, empty strings for a
//!   missing segment or country, test accounts (flag or `@shopco.test` email);
//! - raw_orders: status spelled `Completed`, ` shipped`, `CANCELLED`,
//!   `canceled`…, a missing shipping cost;
//! - raw_order_items: lines whose order does not exist, a missing discount;
//! - raw_products: categories with stray case, spaces or empty;
//! - raw_web_events: events delivered twice, anonymous events (no customer),
//!   event types in mixed case.
//!
//! In the CSVs an unquoted empty field is NULL and `""` is the empty string.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Parser;
use shopc::synth::Rng;

#[derive(Parser)]
#[command(about = "Write deterministic ShopCo seed CSVs")]
struct Args {
    /// Size multiplier: 1 ≈ 2,000 orders, 1000 ≈ 2 million
    #[arg(long, default_value_t = 1)]
    scale: u64,
    /// Output folder
    #[arg(long, default_value = "shopco_models/seeds")]
    out: PathBuf,
    /// Random seed
    #[arg(long, default_value_t = 20_240_601)]
    seed: u64,
}

/// Seconds since 2024-01-01 00:00:00 → `YYYY-MM-DD HH:MM:SS`.
fn timestamp(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (y, m, d) = civil_from_days(19_723 + days as i64); // 2024-01-01
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A CSV writer for one table: fields are written as given; `None` is NULL.
struct Table {
    out: BufWriter<File>,
}

impl Table {
    fn create(dir: &std::path::Path, name: &str, header: &[&str]) -> std::io::Result<Table> {
        let mut out =
            BufWriter::with_capacity(1 << 20, File::create(dir.join(format!("{name}.csv")))?);
        writeln!(out, "{}", header.join(","))?;
        Ok(Table { out })
    }

    fn row(&mut self, fields: &[Field]) -> std::io::Result<()> {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            match field {
                Field::Null => {}
                Field::Raw(s) => self.out.write_all(s.as_bytes())?,
                Field::Text(s) => {
                    self.out.write_all(b"\"")?;
                    self.out.write_all(s.replace('"', "\"\"").as_bytes())?;
                    self.out.write_all(b"\"")?;
                }
            }
        }
        self.out.write_all(b"\n")
    }
}

enum Field {
    Null,
    /// Numbers, booleans, timestamps: written bare.
    Raw(String),
    /// Text: always quoted, so that `""` is an empty string, not NULL.
    Text(String),
}

fn raw(v: impl ToString) -> Field {
    Field::Raw(v.to_string())
}
fn text(v: impl Into<String>) -> Field {
    Field::Text(v.into())
}

const FIRST: &[&str] = &[
    "mary", "John", "ANNA", "li", "Omar", "sofia", "KENJI", "eva", "Lucas", "noor", "Pedro", "ines",
];
const LAST: &[&str] = &[
    "smith", "Garcia", "MÜLLER", "chen", "Okafor", "rossi", "Dubois", "kowalski", "Silva", "tanaka",
];
const COUNTRIES: &[&str] = &["US", "us", " DE", "FR", "gb", "BR", "JP", "", "NG", "IN"];
const CATEGORIES: &[&str] = &[
    "Electronics",
    " electronics",
    "HOME",
    "home & garden",
    "Books",
    "toys",
    "",
    "Sports ",
];
const PRODUCT_WORDS: &[&str] = &[
    "Lamp", "Phone", "Kettle", "Novel", "Ball", "Chair", "Cable", "Mug", "Puzzle", "Tent",
];

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let mut rng = Rng(args.seed.max(1));
    let scale = args.scale.max(1);
    let customers = 500 * scale;
    let orders = 2_000 * scale;
    let products = 100 * scale.min(100); // a catalogue grows slower than its orders
    let events = 3_000 * scale;
    let loaded = timestamp(180 * 86_400);

    // Products.
    let mut t = Table::create(
        &args.out,
        "raw_products",
        &[
            "product_id",
            "name",
            "category",
            "price",
            "cost",
            "_loaded_at",
        ],
    )?;
    let mut prices = Vec::with_capacity(products as usize);
    for id in 1..=products {
        let cents = 199 + rng.below(49_800);
        let cost = cents * (35 + rng.below(45)) / 100;
        prices.push(cents);
        let name = format!("{} {}", rng.pick(PRODUCT_WORDS), id);
        let name = if rng.chance(10) {
            format!("  {name} ")
        } else {
            name
        };
        t.row(&[
            raw(id),
            text(name),
            text(rng.pick(CATEGORIES)),
            raw(format!("{}.{:02}", cents / 100, cents % 100)),
            raw(format!("{}.{:02}", cost / 100, cost % 100)),
            raw(&loaded),
        ])?;
    }
    t.out.flush()?;

    // Customers, some with an older version too.
    let header = [
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "segment",
        "country",
        "is_test_account",
        "created_at",
        "updated_at",
        "_loaded_at",
    ];
    let mut t = Table::create(&args.out, "raw_customers", &header)?;
    for id in 1..=customers {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let test_account = rng.chance(3);
        let domain = if test_account && rng.chance(50) {
            "shopco.test"
        } else {
            "example.com"
        };
        let flag = test_account && domain == "example.com";
        let email = format!(
            "{}.{}{}@{domain}",
            first.to_lowercase(),
            last.to_lowercase(),
            id
        );
        let messy = match rng.below(4) {
            0 => email.to_uppercase(),
            1 => format!("  {email} "),
            2 => format!("{}{}", email[..1].to_uppercase(), &email[1..]),
            _ => email.clone(),
        };
        let segment = rng.pick(&["vip", "VIP ", "regular", "Regular", "regular", ""]);
        let created = rng.below(120 * 86_400);
        let updated = created + rng.below(30 * 86_400);
        if rng.chance(10) {
            // An older version: another segment, a stale email.
            t.row(&[
                raw(id),
                text(format!("old.{email}")),
                text(first),
                text(last),
                text("regular"),
                text(rng.pick(COUNTRIES)),
                raw(flag),
                raw(timestamp(created)),
                raw(timestamp(created)),
                raw(timestamp(created + 3600)),
            ])?;
        }
        t.row(&[
            raw(id),
            text(messy),
            text(if rng.chance(20) {
                format!(" {first} ")
            } else {
                first.to_string()
            }),
            text(last),
            text(segment),
            text(rng.pick(COUNTRIES)),
            raw(flag),
            raw(timestamp(created)),
            raw(timestamp(updated + 1)),
            raw(&loaded),
        ])?;
    }
    t.out.flush()?;

    // Orders and their items, streamed together.
    let mut to = Table::create(
        &args.out,
        "raw_orders",
        &[
            "order_id",
            "customer_id",
            "status",
            "ordered_at",
            "shipping_cost",
            "updated_at",
            "_loaded_at",
        ],
    )?;
    let mut ti = Table::create(
        &args.out,
        "raw_order_items",
        &[
            "order_item_id",
            "order_id",
            "product_id",
            "quantity",
            "unit_price",
            "discount",
            "_loaded_at",
        ],
    )?;
    let statuses = [
        "completed",
        "Completed",
        "COMPLETED",
        "shipped",
        " shipped",
        "Shipped ",
        "placed",
        "returned",
        "cancelled",
        "CANCELLED",
        "canceled",
    ];
    let mut item_id = 0u64;
    for id in 1..=orders {
        let ordered = rng.below(170 * 86_400);
        let shipping = if rng.chance(5) {
            Field::Null
        } else {
            raw(format!("{}.{:02}", rng.below(20), rng.below(100)))
        };
        to.row(&[
            raw(id),
            raw(1 + rng.below(customers)),
            text(rng.pick(&statuses)),
            raw(timestamp(ordered)),
            shipping,
            raw(timestamp(ordered + rng.below(5 * 86_400))),
            raw(&loaded),
        ])?;
        let lines = 1 + rng.below(4); // 2.5 lines per order on average
        for _ in 0..lines {
            item_id += 1;
            let product = 1 + rng.below(products);
            let price = prices[(product - 1) as usize];
            let quantity = 1 + rng.below(3);
            let discount = match rng.below(10) {
                0 => Field::Null,
                1 | 2 => raw(format!("{}.{:02}", price * quantity / 1000, 0)),
                _ => raw("0.00"),
            };
            ti.row(&[
                raw(item_id),
                raw(id),
                raw(product),
                raw(quantity),
                raw(format!("{}.{:02}", price / 100, price % 100)),
                discount,
                raw(&loaded),
            ])?;
        }
    }
    // Lines of orders that do not exist.
    for _ in 0..(20 * scale) {
        item_id += 1;
        let product = 1 + rng.below(products);
        let price = prices[(product - 1) as usize];
        ti.row(&[
            raw(item_id),
            raw(orders + 1 + rng.below(1000 * scale)),
            raw(product),
            raw(1),
            raw(format!("{}.{:02}", price / 100, price % 100)),
            raw("0.00"),
            raw(&loaded),
        ])?;
    }
    to.out.flush()?;
    ti.out.flush()?;

    // Web events, some delivered twice, some anonymous.
    let mut t = Table::create(
        &args.out,
        "raw_web_events",
        &[
            "event_id",
            "customer_id",
            "event_type",
            "page_url",
            "occurred_at",
            "_loaded_at",
        ],
    )?;
    let types = [
        "page_view",
        "Page_View",
        "page_view ",
        "add_to_cart",
        "ADD_TO_CART",
        "checkout",
        "purchase",
    ];
    for n in 1..=events {
        let event_id = format!("ev-{:016x}", rng.next_u64() ^ n);
        let customer = if rng.chance(30) {
            Field::Null
        } else {
            raw(1 + rng.below(customers))
        };
        let customer_text = match &customer {
            Field::Raw(s) => s.clone(),
            _ => String::new(),
        };
        let at = rng.below(170 * 86_400);
        let kind = rng.pick(&types);
        let url = format!("/p/{}", 1 + rng.below(products));
        let fields = |loaded_at: String| {
            [
                text(event_id.clone()),
                if customer_text.is_empty() {
                    Field::Null
                } else {
                    raw(&customer_text)
                },
                text(kind),
                text(url.clone()),
                raw(timestamp(at)),
                raw(loaded_at),
            ]
        };
        t.row(&fields(timestamp(at + 60)))?;
        if rng.chance(5) {
            t.row(&fields(timestamp(at + 7200)))?;
        }
    }
    t.out.flush()?;
    Ok(())
}
