"use strict";
// The source view: the whole text as indexed, the cited passage (#c<start>-<end>) marked and
// scrolled into view, with the source's metadata.

function sourceName() {
  const path = location.pathname.replace(/^\/source\//, "");
  return path.split("/").map(decodeURIComponent).join("/");
}

function cited() {
  const m = /^#c(\d+)-(\d+)$/.exec(location.hash);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function metaRow(label, value) {
  return value ? [el("dt", {text: label}), el("dd", {}, value)] : [];
}

function showText(src) {
  const box = document.getElementById("text");
  const range = cited();
  box.replaceChildren();
  if (!range || range[0] >= range[1] || range[1] > src.text.length) {
    box.append(src.text);
    return null;
  }
  const [start, end] = range;
  const mark = el("mark", {id: "cited", text: src.text.slice(start, end), tabindex: "-1"});
  box.append(src.text.slice(0, start), mark, src.text.slice(end));
  return mark;
}

function pageOf(src, offset) {
  const i = src.pages.findIndex(([s, e]) => s <= offset && offset <= e);
  return i >= 0 ? i + 1 : null;
}

function show(src) {
  document.title = src.title + " · itsqa";
  document.getElementById("title").textContent = src.title;
  const url = safeUrl(src.url);
  const range = cited();
  const passage = range && src.passages.find((p) => p.start <= range[0] && range[0] < p.end);
  const meta = document.getElementById("meta");
  meta.replaceChildren(
    ...metaRow("Publisher", src.publisher), ...metaRow("Date", src.date),
    ...metaRow("File", src.source), ...metaRow("Format", src.format),
    ...metaRow("Original", url ? el("a", {href: url, rel: "noopener noreferrer"}, url) : src.url),
    ...metaRow("Cited", range ? "characters " + range[0] + "–" + range[1] : ""),
    ...metaRow("Page", range && src.pages.length ? String(pageOf(src, range[0]) || "") : ""),
    ...metaRow("Section", passage && passage.section ? passage.section : ""));
  const mark = showText(src);
  if (mark) {
    mark.scrollIntoView({block: "center"});
    mark.focus({preventScroll: true});
  }
}

async function load() {
  setStatus("Loading…");
  try {
    const src = await getJSON("/api/source?name=" + encodeURIComponent(sourceName()));
    show(src);
    setStatus("");
    window.addEventListener("hashchange", () => show(src));
  } catch (e) {
    setStatus(e.message, true);
  }
}

document.addEventListener("DOMContentLoaded", load);
