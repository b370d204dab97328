"use strict";
// Shared by the pages. Everything from a source or its metadata is put on the page as text
// (textContent), never as markup, and only http(s) addresses become links.

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(String(url));
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

function sourceHref(name, start, end) {
  const path = String(name).split("/").map(encodeURIComponent).join("/");
  return "/source/" + path + (start !== undefined ? "#c" + start + "-" + end : "");
}

async function getJSON(url) {
  const response = await fetch(url, {headers: {"Accept": "application/json"}});
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    throw new Error(body && body.error ? body.error : "the server answered " + response.status);
  }
  return body;
}

function setStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text || "";
  status.classList.toggle("error", Boolean(isError));
}

function localTime(iso) {
  const when = new Date(iso);
  return isNaN(when) ? iso : when.toLocaleString();
}

async function showIndexStatus() {
  const footer = document.getElementById("index-status");
  try {
    const s = await getJSON("/api/status");
    footer.textContent = s.generation
      ? "Index: " + s.passages + " passages from " + s.sources + " sources, refreshed " +
        localTime(s.refreshed_at) + (s.refreshing ? " (refreshing now)" : "") +
        (s.error ? " — last refresh failed: " + s.error : "")
      : "No index yet: " + (s.error || "waiting for sources");
  } catch (e) {
    footer.textContent = "Index status unavailable: " + e.message;
  }
}

document.addEventListener("keydown", (event) => {
  const box = document.getElementById("q");
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (event.key === "/" && box && !typing) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});

document.addEventListener("DOMContentLoaded", showIndexStatus);
