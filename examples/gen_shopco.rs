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
//!
//! Each row's `_loaded_at` is when the loader copied it: the nightly extract
//! starts at midnight and lands one table after another (products at
//! 00:04:10, customers 00:11:32, orders 00:19:05, order items 00:26:47);
//! web events stream in a minute after they occur. `--loaded-at TIMESTAMP`
//! moves every `_loaded_at` so that the extract was loaded then (a test of
//! source freshness writes a day loaded 13 hours ago).
//!
//! `--day 2` and `--day 3` write the extracts of the next two days: the same
//! rows as day 1 (byte for byte where nothing changed) plus each day's
//! changes, as a source system would deliver them (one row per order, its
//! latest state; every customer version; every event so far):
//! - day 2 (loaded 2024-06-30): new customers; new email and segment for some
//!   customers (a new version row); new orders, placed, with their lines;
//!   status changes on old orders; new web events, some delivered twice;
//! - day 3 (loaded 2024-07-01): another version for some customers, a
//!   country cleared (a value becomes NULL); one of day 2's new customers
//!   deleted; day 2's orders shipped and some of their lines arriving late;
//!   more orders and events.
//!
//! ```sh
//! cargo run --release --example gen_shopco -- --day 2 --out shopco_models/days/day2
//! ```

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
    /// Which day's extract: 1 is the first load; 2 and 3 add a day each
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=3))]
    day: u64,
    /// When the extract was loaded (`YYYY-MM-DD HH:MM:SS`, UTC; default:
    /// midnight of its day in 2024): every `_loaded_at` moves by the same
    /// amount, so that the data is as old as if it had been loaded then
    #[arg(long, value_name = "TIMESTAMP", value_parser = parse_timestamp)]
    loaded_at: Option<i64>,
}

/// `YYYY-MM-DD HH:MM:SS` → seconds since 2024-01-01 00:00:00.
fn parse_timestamp(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a timestamp such as 2026-12-01 10:00:00");
    let (date, time) = text.trim().split_once(' ').ok_or_else(bad)?;
    let numbers = |s: &str, sep: char| -> Result<Vec<i64>, String> {
        s.split(sep)
            .map(|n| n.parse::<i64>().map_err(|_| bad()))
            .collect()
    };
    let (d, t) = (numbers(date, '-')?, numbers(time, ':')?);
    let (&[y, m, d], &[hh, mm, ss]) = (&d[..], &t[..]) else {
        return Err(bad());
    };
    Ok((days_from_civil(y, m, d) - 19_723) * 86_400 + hh * 3_600 + mm * 60 + ss)
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// How long after the extract starts loading each table lands: the
/// nightly loader copies one table after another, while web events stream
/// in (a minute after they occur).
fn load_delay(table: &str) -> i64 {
    match table {
        "raw_products" => 4 * 60 + 10,
        "raw_customers" => 11 * 60 + 32,
        "raw_orders" => 19 * 60 + 5,
        "raw_order_items" => 26 * 60 + 47,
        _ => 0,
    }
}

/// The extract of day `day` is loaded at midnight starting day 180 + day - 1
/// (day 1: 2024-06-29).
fn loaded_on(day: u64) -> String {
    timestamp((179 + day) * 86_400)
}

/// `hours` into the day before extract `day` is loaded: when its changes
/// happen.
fn during(day: u64, hours: u64) -> u64 {
    (178 + day) * 86_400 + 3_600 * hours
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
/// Its `_loaded_at` is moved by when the table lands and `--loaded-at`.
struct Table {
    out: BufWriter<File>,
    loaded_at: Option<usize>,
    shift: i64,
}

impl Table {
    fn create(
        dir: &std::path::Path,
        name: &str,
        header: &[&str],
        shift: i64,
    ) -> std::io::Result<Table> {
        let mut out =
            BufWriter::with_capacity(1 << 20, File::create(dir.join(format!("{name}.csv")))?);
        writeln!(out, "{}", header.join(","))?;
        Ok(Table {
            out,
            loaded_at: header.iter().position(|h| *h == "_loaded_at"),
            shift: shift + load_delay(name),
        })
    }

    fn row(&mut self, fields: &[Field]) -> std::io::Result<()> {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            if Some(i) == self.loaded_at
                && self.shift != 0
                && let Field::Raw(at) = field
                && let Ok(seconds) = parse_timestamp(at)
            {
                let moved = (seconds + self.shift).max(0) as u64;
                self.out.write_all(timestamp(moved).as_bytes())?;
                continue;
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
    let loaded = loaded_on(1);
    // From the day's own load time to `--loaded-at`.
    let shift = args.loaded_at.map_or(0, |at| {
        at - parse_timestamp(&loaded_on(args.day)).expect("a timestamp this writes")
    });
    // The changes of days 2 and 3 draw from their own streams, so day 1's
    // rows stay the same whatever the day.
    let (day2, day3) = (args.day >= 2, args.day >= 3);
    let mut r2 = Rng(args.seed ^ 0x0002_0002);
    let mut r3 = Rng(args.seed ^ 0x0003_0003);
    let mut r2_twice = Rng(args.seed ^ 0x0002_0022);
    let new_customers = 5 * scale;

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
        shift,
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
    let mut t = Table::create(&args.out, "raw_customers", &header, shift)?;
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
        let first_name = if rng.chance(20) {
            format!(" {first} ")
        } else {
            first.to_string()
        };
        let country = rng.pick(COUNTRIES);
        let version =
            |email: &str, segment: &str, country: &str, updated: String, loaded: String| {
                [
                    raw(id),
                    text(email),
                    text(first_name.clone()),
                    text(last),
                    text(segment),
                    text(country),
                    raw(flag),
                    raw(timestamp(created)),
                    raw(updated),
                    raw(loaded),
                ]
            };
        t.row(&version(
            &messy,
            segment,
            country,
            timestamp(updated + 1),
            loaded.clone(),
        ))?;
        // Day 2: a new address and the other segment, as a new version.
        let flip = |s: &str| {
            if s.trim().eq_ignore_ascii_case("vip") {
                "regular"
            } else {
                "vip"
            }
        };
        let (mut email, mut segment) = (messy.clone(), segment.to_string());
        if day2 && r2.chance(4) {
            email = format!(
                "{}.{}{id}@newmail.example",
                first.to_lowercase(),
                last.to_lowercase()
            );
            segment = flip(&segment).to_string();
            t.row(&version(
                &email,
                &segment,
                country,
                timestamp(during(2, 9)),
                loaded_on(2),
            ))?;
            // Some fix a typo the same afternoon: two changes in one day.
            if r2_twice.chance(40) {
                email = email.replace("@newmail", "@mail");
                t.row(&version(
                    &email,
                    &segment,
                    country,
                    timestamp(during(2, 15)),
                    loaded_on(2),
                ))?;
            }
        }
        // Day 3: the segment changes again, or the country is cleared.
        if day3 {
            let (resegment, clear) = (r3.chance(3), r3.chance(2));
            if resegment || clear {
                if resegment {
                    segment = flip(&segment).to_string();
                }
                let country = if clear { "" } else { country };
                t.row(&version(
                    &email,
                    &segment,
                    country,
                    timestamp(during(3, 9)),
                    loaded_on(3),
                ))?;
            }
        }
    }
    // Day 2: new sign-ups, who have no orders yet; day 3 deletes the first.
    if day2 {
        for n in 1..=new_customers {
            let id = customers + n;
            // Drawn before the deletion below, so that day 3 draws the same.
            let first = r2.pick(FIRST);
            let last = r2.pick(LAST);
            let signed_up = timestamp(during(2, 1 + r2.below(20)));
            let country = r2.pick(COUNTRIES);
            if day3 && n == 1 {
                continue;
            }
            t.row(&[
                raw(id),
                text(format!(
                    "{}.{}{id}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
                )),
                text(first),
                text(last),
                text(""),
                text(country),
                raw(false),
                raw(&signed_up),
                raw(&signed_up),
                raw(loaded_on(2)),
            ])?;
        }
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
        shift,
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
        shift,
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
        let customer = 1 + rng.below(customers);
        let mut status = rng.pick(&statuses).to_string();
        let mut updated = timestamp(ordered + rng.below(5 * 86_400));
        let mut loaded_at = loaded.clone();
        // Days 2 and 3: the shop moves some old orders on.
        if day2 && r2.chance(3) {
            status = r2.pick(&["shipped", "completed", "returned"]).to_string();
            (updated, loaded_at) = (timestamp(during(2, 6)), loaded_on(2));
        }
        if day3 && r3.chance(2) {
            status = r3.pick(&["completed", "returned", "cancelled"]).to_string();
            (updated, loaded_at) = (timestamp(during(3, 6)), loaded_on(3));
        }
        to.row(&[
            raw(id),
            raw(customer),
            text(status),
            raw(timestamp(ordered)),
            shipping,
            raw(updated),
            raw(loaded_at),
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
    // Days 2 and 3: new orders, placed that day, with their lines; day 2's
    // ship on day 3, and some of their lines only arrive on day 3.
    let mut late = Vec::new();
    let mut next_order = orders;
    for (day, on) in [(2, day2), (3, day3)] {
        if !on {
            continue;
        }
        let r = if day == 2 { &mut r2 } else { &mut r3 };
        for _ in 0..(30 * scale) {
            next_order += 1;
            let placed = during(day, r.below(12));
            let mut status = "placed";
            let mut updated = timestamp(placed);
            let mut loaded_at = loaded_on(day);
            if day == 2 && day3 {
                status = "shipped";
                (updated, loaded_at) = (timestamp(during(3, 2)), loaded_on(3));
            }
            to.row(&[
                raw(next_order),
                raw(1 + r.below(customers)),
                text(status),
                raw(timestamp(placed)),
                raw("4.99"),
                raw(updated),
                raw(loaded_at),
            ])?;
            for line in 0..(1 + r.below(3)) {
                item_id += 1;
                let product = 1 + r.below(products);
                let price = prices[(product - 1) as usize];
                let fields = [
                    raw(item_id),
                    raw(next_order),
                    raw(product),
                    raw(1 + line),
                    raw(format!("{}.{:02}", price / 100, price % 100)),
                    raw("0.00"),
                    raw(loaded_on(day)),
                ];
                // The second line of some day-2 orders is only loaded on day 3.
                if day == 2 && line == 1 && r.chance(40) {
                    late.push(fields);
                } else {
                    ti.row(&fields)?;
                }
            }
        }
        if day == 2 && day3 {
            for mut fields in late.drain(..) {
                fields[6] = raw(loaded_on(3));
                ti.row(&fields)?;
            }
        }
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
        shift,
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
    // Days 2 and 3: that day's events, some delivered twice.
    for (day, on) in [(2, day2), (3, day3)] {
        if !on {
            continue;
        }
        let r = if day == 2 { &mut r2 } else { &mut r3 };
        for n in 0..(200 * scale) {
            let at = during(day, 0) + r.below(86_400);
            let customer = if r.chance(30) {
                Field::Null
            } else {
                raw(1 + r.below(customers))
            };
            let event_id = format!("ev-d{day}-{n:08}");
            let kind = r.pick(&types);
            let url = format!("/p/{}", 1 + r.below(products));
            let twice = r.chance(5);
            for delivered in [true, twice] {
                if !delivered {
                    continue;
                }
                let customer = match &customer {
                    Field::Raw(c) => raw(c),
                    _ => Field::Null,
                };
                t.row(&[
                    text(event_id.clone()),
                    customer,
                    text(kind),
                    text(url.clone()),
                    raw(timestamp(at)),
                    raw(loaded_on(day)),
                ])?;
            }
        }
    }
    t.out.flush()?;
    Ok(())
}
