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

// Each column's lineage on a relation's page: links made from the page's
// data (see `ColumnLineage` in src/docs.rs), a section a column.
(function columnLineage() {
  const data = document.getElementById("column-lineage-data");
  const place = document.getElementById("column-lineage");
  if (!data || !place) return;
  const { nodes, columns } = JSON.parse(data.textContent);
  const links = (list) => {
    const dd = document.createElement("dd");
    let node = null;
    for (const item of list) {
      if (typeof item === "number") {
        node = nodes[item];
        continue;
      }
      // Text, never markup: names come from the project.
      const link = document.createElement("a");
      link.className = "column";
      link.href = node + ".html#col-" + item;
      link.textContent = node.split(".").slice(2).join(".") + "." + item;
      if (dd.childNodes.length > 0) dd.append(" ");
      dd.append(link);
    }
    if (dd.childNodes.length === 0) {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "none";
      dd.append(none);
    }
    return dd;
  };
  const kinds = [
    ["from", "Computed from"],
    ["read-by", "Read by"],
    ["upstream", "Every upstream column"],
    ["downstream", "Every downstream column"],
  ];
  for (const [column, lists] of columns) {
    const section = document.createElement("section");
    section.className = "lineage";
    section.id = "lineage-" + column;
    const title = document.createElement("h3");
    const code = document.createElement("code");
    code.textContent = column;
    title.append(code);
    const dl = document.createElement("dl");
    // In reading order: what it comes from, then what reads it.
    for (const k of [0, 2, 1, 3]) {
      const dt = document.createElement("dt");
      dt.textContent = kinds[k][1];
      const dd = links(lists[k]);
      dd.className = kinds[k][0];
      dl.append(dt, dd);
    }
    section.append(title, dl);
    place.append(section);
  }
  // A link to a column's lineage finds it now that it is there.
  if (window.location.hash) {
    const target = document.getElementById(window.location.hash.slice(1));
    if (target) target.scrollIntoView();
  }
})();
