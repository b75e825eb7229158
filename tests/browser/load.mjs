// How long the index of a generated site takes to load in Chromium, from
// navigation to the load event (scripts/bench-docs.sh): the median of RUNS.
//
//   node tests/browser/load.mjs SITE_DIR [RUNS]
import { chromium } from "playwright-core";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [site, runs = "5"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const times = [];
const errors = [];
for (let i = 0; i < Number(runs); i++) {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  const started = Date.now();
  await page.goto(pathToFileURL(join(site, "index.html")).href, { waitUntil: "load" });
  times.push(Date.now() - started);
  await page.close();
}
await browser.close();
times.sort((a, b) => a - b);
console.log(`index load: median ${times[Math.floor(times.length / 2)]} ms of ${times.join(", ")}`);
if (errors.length > 0) {
  console.error(errors.join("\n"));
  process.exit(1);
}
