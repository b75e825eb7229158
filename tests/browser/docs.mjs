// The documentation site of ShopCo in a real browser: Debian's Chromium,
// driven by playwright-core, opening the generated site from file://.
//
//   node tests/browser/docs.mjs SITE_DIR MANIFEST SHOTS_DIR
//
// Fails (exit 1) on the first check that does not hold; every page it opens
// must log no console error and throw nothing. Screenshots of the index and
// of fact_orders are written to SHOTS_DIR.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [site, manifestPath, shots] = process.argv.slice(2);
if (!site || !manifestPath || !shots) {
  console.error("usage: node docs.mjs SITE_DIR MANIFEST SHOTS_DIR");
  process.exit(2);
}
const url = (page) => pathToFileURL(join(site, page)).href;
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const relations = Object.values(manifest.nodes).filter((n) =>
  ["source", "model", "snapshot", "reconciliation"].includes(n.kind),
);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const problems = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on("console", (m) => {
  if (m.type() === "error") problems.push(`console error on ${page.url()}: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`uncaught on ${page.url()}: ${e.message}`));
let checks = 0;
const check = (what, fn) => {
  fn();
  checks++;
  console.log(`ok ${checks} ${what}`);
};

try {
  // The index lists every relation.
  await page.goto(url("index.html"));
  const listed = await page.$$eval("ul.relations a", (as) => as.map((a) => a.textContent));
  check(`the index lists all ${relations.length} relations`, () => {
    for (const r of relations) assert.ok(listed.includes(r.name), `${r.name} is listed`);
  });
  await page.screenshot({ path: join(shots, "index.png"), fullPage: true });

  // Typing `revenue` into the search finds fact_orders' column.
  await page.fill("#search", "revenue");
  const hits = await page.$$eval("#results a", (as) => as.map((a) => [a.textContent, a.getAttribute("href")]));
  check("searching revenue finds fact_orders.revenue", () => {
    assert.ok(
      hits.some(([t, h]) => t === "fact_orders.revenue" && h === "nodes/model.shopco.fact_orders.html#col-revenue"),
      JSON.stringify(hits),
    );
  });

  // Following the hit opens fact_orders at the column.
  await page.click("#results a >> text=fact_orders.revenue");
  await page.waitForURL(/model\.shopco\.fact_orders\.html#col-revenue$/);
  check("the hit opens fact_orders", () => assert.ok(page.url().endsWith("#col-revenue")));
  const grain = await page.textContent("#grain");
  check("fact_orders shows grain [order_id]", () => assert.equal(grain, "[order_id]"));
  const facts = await page.textContent("dl.facts");
  check("fact_orders shows its incremental settings", () => {
    for (const s of ["incremental", "strategy merge", "unique key [order_id]", "since updated_at", "lookback 3 days"]) {
      assert.ok(facts.includes(s), `${s} in ${facts}`);
    }
  });
  const columns = await page.$$eval("#columns tbody tr", (rows) =>
    rows.map((r) => [...r.cells].slice(0, 2).map((c) => c.textContent)),
  );
  const declared = manifest.nodes["model.shopco.fact_orders"].columns.map((c) => [c.name, c.type]);
  check("fact_orders lists its columns and types", () => assert.deepEqual(columns, declared));

  // The column lineage of revenue reaches the raw columns.
  const upstream = await page.$$eval("#lineage-revenue dd.upstream a", (as) => as.map((a) => a.textContent));
  check("revenue's lineage reaches raw_order_items.quantity, unit_price and discount", () => {
    for (const c of ["quantity", "unit_price", "discount"]) {
      assert.ok(upstream.includes(`raw.raw_order_items.${c}`), JSON.stringify(upstream));
    }
  });
  // The dialect buttons show one SQL at a time.
  await page.click(".dialects button[data-dialect=snowflake]");
  const visible = await page.$$eval("pre.sql", (pres) => pres.filter((p) => !p.hidden).map((p) => p.dataset.dialect));
  check("the Snowflake button shows Snowflake's SQL only", () => assert.deepEqual(visible, ["snowflake"]));
  await page.screenshot({ path: join(shots, "fact_orders.png"), fullPage: true });

  // Its lineage graph holds every ancestor.
  await page.click("#lineage-graph");
  await page.waitForSelector("#graph svg");
  const drawn = await page.$$eval("#graph a.node", (as) => as.map((a) => a.dataset.id));
  const ancestors = new Set();
  const visit = (id) => {
    for (const parent of manifest.nodes[id].depends_on.nodes) {
      if (!ancestors.has(parent)) {
        ancestors.add(parent);
        visit(parent);
      }
    }
  };
  visit("model.shopco.fact_orders");
  check(`fact_orders' lineage graph holds its ${ancestors.size} ancestors`, () => {
    assert.ok(ancestors.size >= 6);
    for (const a of ancestors) assert.ok(drawn.includes(a), `${a} drawn`);
  });
  // The boxes do not overlap.
  const boxes = await page.$$eval("#graph a.node rect", (rs) =>
    rs.map((r) => [r.x.baseVal.value, r.y.baseVal.value, r.width.baseVal.value, r.height.baseVal.value]),
  );
  check("no two boxes of the graph overlap", () => {
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        const apart = a[0] + a[2] <= b[0] || b[0] + b[2] <= a[0] || a[1] + a[3] <= b[1] || b[1] + b[3] <= a[1];
        assert.ok(apart, `boxes ${i} and ${j} overlap`);
      }
    }
  });
  await page.screenshot({ path: join(shots, "lineage.png"), fullPage: true });

  // A click on a node of the graph opens its page; its link to a parent works.
  await page.click('#graph a.node[data-id="model.shopco.int_orders_customers"]');
  await page.waitForURL(/int_orders_customers\.html$/);
  await page.goto(url("nodes/model.shopco.fact_orders.html"));
  await page.click('#upstream a[href="model.shopco.int_orders_customers.html"]');
  await page.waitForURL(/int_orders_customers\.html$/);
  const heading = await page.textContent("h1");
  check("the link from fact_orders to its parent opens int_orders_customers", () =>
    assert.ok(heading.startsWith("int_orders_customers"), heading),
  );

  check("no console errors, nothing thrown", () => assert.deepEqual(problems, []));
} finally {
  await browser.close();
}
console.log(`${checks} checks passed`);
