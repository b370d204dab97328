"use strict";
// The question page: ask, show the answer and the cited passages, keep the address (/?q=…)
// in step so that back and forward work and an answer can be shared.

const form = document.getElementById("ask");
const box = document.getElementById("q");
const fields = ["k", "mode", "since", "until", "publisher"];

function paramsFromForm() {
  const params = new URLSearchParams();
  params.set("q", box.value.trim());
  for (const name of fields) {
    const value = document.getElementById(name).value.trim();
    if (value && !(name === "k" && value === "5")) params.set(name, value);
  }
  for (const option of document.getElementById("source").selectedOptions) {
    params.append("source", option.value);
  }
  return params;
}

function formFromParams(params) {
  box.value = params.get("q") || "";
  for (const name of fields) {
    document.getElementById(name).value = params.get(name) || (name === "k" ? "5" : "");
  }
  const chosen = new Set(params.getAll("source"));
  for (const option of document.getElementById("source").options) {
    option.selected = chosen.has(option.value);
  }
  if (chosen.size || params.get("since") || params.get("until") || params.get("publisher")) {
    document.getElementById("scope").open = true;
  }
}

function marked(text, highlights) {
  // The passage as text nodes, its answering sentences in <mark>.
  const out = [];
  let at = 0;
  for (const [start, end] of highlights) {
    if (start > at) out.push(text.slice(at, start));
    out.push(el("mark", {text: text.slice(start, end)}));
    at = Math.max(at, end);
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

function citation(hit) {
  const who = [hit.publisher, hit.date].filter(Boolean).join(", ");
  const where = (hit.page ? "page " + hit.page + ", " : "") + "characters " + hit.start + "–" + hit.end;
  const link = el("a", {href: sourceHref(hit.name, hit.start, hit.end), className: "cite"},
                  el("span", {className: "title", text: hit.title}),
                  who ? " — " + who : "");
  return el("div", {className: "citation"}, link,
            el("div", {className: "where"}, hit.source + ": " + where,
               hit.section ? ", under “" + hit.section + "”" : ""));
}

function copies(hit) {
  if (!hit.also_in.length) return null;
  const items = hit.also_in.map((c) => el("li", {},
    el("a", {href: sourceHref(c.name, c.start, c.end)}, c.title),
    " (" + [c.publisher, c.date].filter(Boolean).join(", ") + ")"));
  return el("div", {className: "also"}, "Also in: ", el("ul", {}, ...items));
}

function render(data) {
  const answer = document.getElementById("answer");
  const results = document.getElementById("results");
  answer.replaceChildren();
  results.replaceChildren();
  if (data.confident && data.best_answer) {
    answer.append(el("p", {className: "best"}, el("strong", {text: "Answer: "}), data.best_answer));
  }
  for (const note of data.notes) {
    answer.append(el("p", {className: "note " + note.kind, text: note.text}));
  }
  if (!data.results.length) {
    answer.append(el("p", {className: "note", text: "No passages found."}));
  }
  for (const hit of data.results) {
    results.append(el("li", {className: "hit", value: hit.rank},
      el("div", {className: "rank", text: "[" + hit.rank + "] score " + hit.score.toFixed(3)}),
      citation(hit),
      el("blockquote", {className: "passage"}, ...marked(hit.text, hit.highlights)),
      copies(hit)));
  }
}

async function ask(params) {
  if (!params.get("q")) {
    setStatus("");
    document.getElementById("answer").replaceChildren();
    document.getElementById("results").replaceChildren();
    return;
  }
  setStatus("Searching…");
  document.body.classList.add("busy");
  try {
    const data = await getJSON("/api/ask?" + params.toString());
    render(data);
    setStatus(data.results.length + " passage" + (data.results.length === 1 ? "" : "s") +
              (data.scope ? " within the scope chosen" : ""));
    document.title = params.get("q") + " · itsqa";
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    document.body.classList.remove("busy");
  }
}

async function loadScopeChoices() {
  try {
    const sources = await getJSON("/api/sources");
    const select = document.getElementById("source");
    const publishers = new Set();
    for (const s of sources) {
      if (s.status !== "indexed" && s.status !== "changed") continue;
      select.append(el("option", {value: s.name, text: s.title + " (" + s.name + ")"}));
      if (s.publisher) publishers.add(s.publisher);
    }
    const list = document.getElementById("publishers");
    for (const p of publishers) list.append(el("option", {value: p}));
  } catch (e) {
    setStatus("The list of sources is unavailable: " + e.message, true);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const params = paramsFromForm();
  history.pushState(null, "", "/?" + params.toString());
  ask(params);
});

window.addEventListener("popstate", () => {
  const params = new URLSearchParams(location.search);
  formFromParams(params);
  ask(params);
});

document.addEventListener("DOMContentLoaded", async () => {
  const params = new URLSearchParams(location.search);
  formFromParams(params);
  box.focus();
  const asked = ask(params);
  await loadScopeChoices();
  formFromParams(params);  // the sources chosen, now that the list is there
  await asked;
});
