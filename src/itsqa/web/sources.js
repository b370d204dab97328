"use strict";
// The sources page: what is indexed, with its status, and what is skipped and why.

async function load() {
  setStatus("Loading…");
  try {
    const rows = await getJSON("/api/sources");
    const body = document.querySelector("#sources tbody");
    body.replaceChildren(...rows.map((r) => el("tr", {className: "status-" + r.status},
      el("td", {}, r.status === "indexed" || r.status === "changed"
        ? el("a", {href: sourceHref(r.name)}, r.title) : r.title,
        el("div", {className: "small", text: r.name})),
      el("td", {text: r.status}), el("td", {text: r.publisher}), el("td", {text: r.date}),
      el("td", {text: r.format}), el("td", {text: r.chunks === null ? "" : String(r.chunks)}),
      el("td", {text: r.reason}))));
    setStatus(rows.length + " source" + (rows.length === 1 ? "" : "s"));
  } catch (e) {
    setStatus(e.message, true);
  }
}

document.addEventListener("DOMContentLoaded", load);
