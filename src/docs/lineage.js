// shopc docs: the lineage graph of relations, laid out by dagre. The whole
// project, or around one relation (`lineage.html?node=ID&depth=N`): its
// ancestors and descendants up to N steps away. Nodes are coloured by layer
// and link to their pages.
"use strict";

(function lineage() {
  const data = window.SHOPC_GRAPH;
  const holder = document.getElementById("graph");
  if (!data || !holder || !window.dagre) return;
  const params = new URLSearchParams(window.location.search);
  const focus = params.get("node");
  const depthSelect = document.getElementById("depth");
  const palette = ["#7a8599", "#3d8bd9", "#8c62c9", "#d9883d", "#3da37a", "#c94f6d", "#6b9e2f", "#b08a2e"];
  const colour = (group) => palette[Math.max(0, data.layers.indexOf(group)) % palette.length];
  const byId = new Map(data.nodes.map((n, i) => [n.id, i]));
  const parents = data.nodes.map(() => []);
  const children = data.nodes.map(() => []);
  for (const [from, to] of data.edges) {
    parents[to].push(from);
    children[from].push(to);
  }

  const legend = document.getElementById("legend");
  for (const group of data.layers) {
    const item = document.createElement("span");
    item.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour(group);
    item.append(swatch, document.createTextNode(group));
    legend.append(item);
  }

  // Every node within `depth` steps of `start` along `next`.
  const reach = (start, next, depth, into) => {
    let frontier = [start];
    for (let step = 0; frontier.length > 0 && step < depth; step++) {
      const found = [];
      for (const n of frontier) {
        for (const m of next[n]) {
          if (!into.has(m)) {
            into.add(m);
            found.push(m);
          }
        }
      }
      frontier = found;
    }
  };

  const draw = () => {
    const depth = depthSelect.value === "all" ? Infinity : Number(depthSelect.value);
    let shown;
    const title = document.getElementById("lineage-title");
    if (focus !== null && byId.has(focus)) {
      const start = byId.get(focus);
      shown = new Set([start]);
      reach(start, parents, depth, shown);
      reach(start, children, depth, shown);
      title.textContent = "Lineage of " + data.nodes[start].name;
      params.set("depth", depthSelect.value);
    } else {
      shown = new Set(data.nodes.keys());
      title.textContent = focus === null ? "Lineage of the whole project" : "No relation " + focus;
    }
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 60, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const i of shown) {
      const node = data.nodes[i];
      g.setNode(String(i), { width: Math.max(90, node.name.length * 7.5 + 20), height: 28 });
    }
    for (const [from, to] of data.edges) {
      if (shown.has(from) && shown.has(to)) g.setEdge(String(from), String(to));
    }
    dagre.layout(g);
    const svgNs = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNs, "svg");
    const size = g.graph();
    svg.setAttribute("width", String(size.width));
    svg.setAttribute("height", String(size.height));
    svg.setAttribute("viewBox", "0 0 " + size.width + " " + size.height);
    // Fitted to the page when that keeps the names legible; else scrolled.
    if (size.width <= 2 * holder.clientWidth) {
      svg.style.maxWidth = "100%";
      svg.style.height = "auto";
    }
    for (const e of g.edges()) {
      const points = g.edge(e).points;
      const path = document.createElementNS(svgNs, "path");
      path.setAttribute("d", points.map((p, k) => (k === 0 ? "M" : "L") + p.x + " " + p.y).join(" "));
      path.setAttribute("class", "edge");
      svg.append(path);
    }
    for (const v of g.nodes()) {
      const box = g.node(v);
      const node = data.nodes[Number(v)];
      const link = document.createElementNS(svgNs, "a");
      link.setAttribute("href", node.url);
      link.setAttribute("class", "node" + (node.id === focus ? " focus" : ""));
      link.setAttribute("data-id", node.id);
      const rect = document.createElementNS(svgNs, "rect");
      rect.setAttribute("x", String(box.x - box.width / 2));
      rect.setAttribute("y", String(box.y - box.height / 2));
      rect.setAttribute("width", String(box.width));
      rect.setAttribute("height", String(box.height));
      rect.setAttribute("rx", "4");
      rect.setAttribute("fill", colour(node.group));
      const text = document.createElementNS(svgNs, "text");
      text.setAttribute("x", String(box.x));
      text.setAttribute("y", String(box.y + 4));
      text.setAttribute("text-anchor", "middle");
      // Text, never markup: names come from the project.
      text.textContent = node.name;
      link.append(rect, text);
      svg.append(link);
    }
    holder.replaceChildren(svg);
  };

  const asked = params.get("depth");
  if (asked && [...depthSelect.options].some((o) => o.value === asked)) depthSelect.value = asked;
  depthSelect.addEventListener("change", draw);
  draw();
})();
