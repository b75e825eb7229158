// shopc docs: the search box of the index and the dialect tabs of a page.
// No framework and no network: the search index is a script beside this one.
"use strict";

(function search() {
  const input = document.getElementById("search");
  const results = document.getElementById("results");
  const index = window.SHOPC_SEARCH;
  if (!input || !results || !Array.isArray(index)) return;
  const show = () => {
    const words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    results.replaceChildren();
    if (words.length === 0) return;
    const hits = [];
    for (const entry of index) {
      const matches = (text) => words.every((w) => text.toLowerCase().includes(w));
      if (matches(entry.name) || matches(entry.description)) {
        hits.push({ url: entry.url, label: entry.name, detail: entry.kind + (entry.description ? " · " + entry.description : "") });
      }
      for (const [column, doc] of entry.columns) {
        if (matches(column) || matches(doc)) {
          hits.push({ url: entry.url + "#col-" + column, label: entry.name + "." + column, detail: doc || "column" });
        }
      }
      if (hits.length >= 200) break;
    }
    for (const hit of hits) {
      // Text, never markup: names and descriptions come from the project.
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = hit.url;
      link.textContent = hit.label;
      const detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = " " + hit.detail;
      item.append(link, detail);
      results.append(item);
    }
  };
  input.addEventListener("input", show);
  // `index.html?q=revenue` opens with that search.
  const asked = new URLSearchParams(window.location.search).get("q");
  if (asked) input.value = asked;
  show();
})();

(function dialects() {
  const buttons = document.querySelectorAll(".dialects button");
  for (const button of buttons) {
    button.addEventListener("click", () => {
      for (const b of buttons) b.classList.toggle("chosen", b === button);
      for (const pre of document.querySelectorAll("pre.sql")) {
        pre.hidden = pre.dataset.dialect !== button.dataset.dialect;
      }
    });
  }
})();
