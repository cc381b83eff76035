// The search page: a small UI on Pagefind's JS API (output/pagefind/pagefind.js).
//
// Everything is found relative to this file (assets/search.js), so the
// site works under any URL path. The query, filters and order live in the
// page's URL (?q=...&kind=claim&sort=date-desc), so a search is linkable.
// No inline scripts or styles: the pages' CSP forbids them.

const siteRoot = new URL("../", import.meta.url);
const bundleUrl = new URL("pagefind/pagefind.js", siteRoot);
const PAGE_SIZE = 20;
const DEBOUNCE_MS = 150;

// Filter groups in the order shown, and the labels of the kinds of result.
const GROUPS = [
  { key: "kind", label: "Show" },
  { key: "type", label: "Entity type" },
  { key: "status", label: "Claim status" },
  { key: "publisher", label: "Publisher" },
  { key: "tag", label: "Tag" },
];
const KINDS = { article: "Articles", entity: "Entities", claim: "Claims", page: "Pages" };
const KIND_SINGULAR = { article: "Article", entity: "Entity", claim: "Claim", page: "Page" };
const SORTS = { "date-desc": { newest: "desc" }, "date-asc": { oldest: "asc" } }; // sort keys of article pages

const box = document.getElementById("search");
const form = box.querySelector(".search-form");
const input = document.getElementById("search-query");
const sortSelect = document.getElementById("search-sort");
const statusLine = box.querySelector(".search-status");
const filterBox = box.querySelector(".search-filters");
const list = box.querySelector(".search-results");
const moreButton = box.querySelector(".search-more");
const headerInput = document.getElementById("site-search");

const state = readState();
let pagefind = null;
let generation = 0; // each new search bumps it, so late answers of old ones are dropped
let pending = [];   // results of the current search not shown yet

start();

async function start() {
  input.value = state.q;
  if (headerInput) headerInput.value = state.q;
  sortSelect.value = state.sort in SORTS ? state.sort : "";
  bindEvents(); // before loading, so nothing typed meanwhile is lost
  try {
    pagefind = await import(bundleUrl.href);
    await pagefind.options({ baseUrl: siteRoot.pathname, excerptLength: 24 });
    await pagefind.init();
  } catch (error) {
    statusLine.textContent = "The search index could not be loaded.";
    console.warn("dossier search:", error);
    return;
  }
  box.querySelector(".search-unavailable").hidden = true;
  box.classList.add("is-ready");
  drawFilters(await pagefind.filters());
  run();
}

function readState() {
  const params = new URLSearchParams(location.search);
  const filters = {};
  for (const { key } of GROUPS) filters[key] = new Set(params.getAll(key).filter(Boolean));
  return { q: params.get("q") || "", sort: params.get("sort") || "", filters };
}

function writeState() {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  for (const { key } of GROUPS) for (const value of state.filters[key]) params.append(key, value);
  if (state.sort) params.set("sort", state.sort);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function bindEvents() {
  let timer = 0;
  const typed = (value, other) => {
    state.q = value;
    if (other && other.value !== value) other.value = value;
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  };
  input.addEventListener("input", () => typed(input.value, headerInput));
  if (headerInput) {
    headerInput.addEventListener("input", () => typed(headerInput.value, input));
    headerInput.form.addEventListener("submit", (event) => { event.preventDefault(); typed(headerInput.value, input); });
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(timer); state.q = input.value; run(); });
  sortSelect.addEventListener("change", () => { state.sort = sortSelect.value; run(); });
  filterBox.addEventListener("change", (event) => {
    const check = event.target;
    if (!check.matches("input[type=checkbox]")) return;
    const chosen = state.filters[check.name];
    check.checked ? chosen.add(check.value) : chosen.delete(check.value);
    run();
  });
  moreButton.addEventListener("click", () => showMore(generation));
}

function activeFilters() {
  const filters = {};
  for (const { key } of GROUPS) {
    const values = [...state.filters[key]];
    if (values.length) filters[key] = { any: values };
  }
  return filters;
}

async function run() {
  const mine = ++generation;
  writeState();
  if (!pagefind) return; // still loading: start() runs the search once it can
  const term = state.q.trim();
  const filters = activeFilters();
  const sort = SORTS[state.sort];
  if (!term && !Object.keys(filters).length && !sort) {
    list.replaceChildren();
    pending = [];
    moreButton.hidden = true;
    statusLine.textContent = "Type a name, a unit or a figure.";
    const counts = await pagefind.filters();
    if (mine === generation) drawFilters(counts);
    return;
  }
  statusLine.textContent = "Searching…";
  const options = { filters };
  if (sort) options.sort = sort;
  const search = await pagefind.search(term || null, options);
  if (mine !== generation) return;
  pending = search.results;
  list.replaceChildren();
  drawFilters(search.totalFilters);
  await showMore(mine);
  if (mine === generation) statusLine.textContent = describe(search.results.length, term); // last: the page is ready
}

function describe(count, term) {
  const found = count === 0 ? "No results" : count === 1 ? "1 result" : `${count} results`;
  return term ? `${found} for “${term}”` : found;
}

async function showMore(mine) {
  const batch = pending.slice(0, PAGE_SIZE);
  pending = pending.slice(PAGE_SIZE);
  const data = await Promise.all(batch.map((result) => result.data()));
  if (mine !== generation) return;
  list.append(...data.map(resultItem));
  moreButton.hidden = pending.length === 0;
}

// -- one result ---------------------------------------------------------------

function resultItem(result) {
  const meta = result.meta || {};
  const kind = meta.kind || "page";
  const li = element("li", `search-result kind-${kind}`);
  const head = element("p", "result-kind");
  head.append(KIND_SINGULAR[kind] || kind);
  if (kind === "entity" && meta.type) head.append(` · ${meta.type}`);
  if (kind === "claim" && meta.status) head.append(" ", element("span", `badge status-${meta.status_key || slug(meta.status)}`, meta.status));
  const title = element("h2", "result-title");
  const link = element("a", "", kind === "claim" ? `“${meta.title || ""}”` : meta.title || result.url);
  link.href = result.url;
  title.append(link);
  li.append(head, title);
  const details = detailsLine(kind, meta, result.url);
  if (details.childNodes.length) li.append(details);
  const excerpt = element("p", "result-excerpt");
  excerpt.innerHTML = result.excerpt; // Pagefind escapes the text and adds only <mark>
  li.append(excerpt);
  return li;
}

function detailsLine(kind, meta, url) {
  const line = element("p", "result-meta");
  const parts = [];
  if (kind === "claim") {
    parts.push(meta.claimant ? `Claimed by ${meta.claimant}` : "Unattributed");
    if (meta.date) parts.push(dateElement(meta.date));
    const source = element("a", "", "in its article");
    source.href = url.replace(/#.*$/, "");
    parts.push(source);
  } else if (kind === "article") {
    if (meta.publisher) parts.push(meta.publisher);
    if (meta.date) parts.push(dateElement(meta.date));
  }
  parts.forEach((part, i) => line.append(...(i ? [" · ", part] : [part])));
  return line;
}

function dateElement(iso) {
  const time = element("time", "");
  time.dateTime = iso;
  const date = new Date(`${iso}T00:00:00Z`);
  if (isNaN(date)) {
    time.textContent = iso;
    return time;
  }
  // As the pages write dates: 15 August 2024.
  const month = new Intl.DateTimeFormat(document.documentElement.lang || "en", { month: "long", timeZone: "UTC" });
  time.textContent = `${date.getUTCDate()} ${month.format(date)} ${date.getUTCFullYear()}`;
  return time;
}

// -- filters --------------------------------------------------------------------

function drawFilters(counts) {
  const order = {
    kind: Object.keys(KINDS),
    status: (box.dataset.statusOrder || "").split("\n"),
    type: (box.dataset.typeOrder || "").split("\n"),
  };
  const groups = [];
  for (const { key, label } of GROUPS) {
    const values = Object.keys((counts || {})[key] || {});
    for (const chosen of state.filters[key]) if (!values.includes(chosen)) values.push(chosen);
    if (!values.length) continue;
    values.sort(byOrder(order[key] || []));
    const fieldset = element("fieldset", `filter filter-${key}`);
    fieldset.append(element("legend", "", label));
    for (const value of values) {
      fieldset.append(filterOption(key, value, ((counts || {})[key] || {})[value] || 0));
    }
    groups.push(fieldset);
  }
  const focused = document.activeElement && filterBox.contains(document.activeElement)
    ? document.activeElement.id : null;
  filterBox.replaceChildren(...groups);
  if (focused) document.getElementById(focused)?.focus();
}

function filterOption(key, value, count) {
  const id = `filter-${key}-${slug(value)}`;
  const label = element("label", "filter-option");
  const check = element("input", "");
  Object.assign(check, { type: "checkbox", name: key, value, id, checked: state.filters[key].has(value) });
  label.htmlFor = id;
  const name = key === "kind" ? KINDS[value] || value : value;
  label.append(check, ` ${name} `, element("span", "count", `(${count})`));
  return label;
}

function byOrder(known) {
  return (a, b) => {
    const ia = known.indexOf(a), ib = known.indexOf(b);
    if (ia !== ib && (ia < 0 || ib < 0)) return ia < 0 ? 1 : -1;
    return ia !== ib ? ia - ib : a.localeCompare(b);
  };
}

// -- helpers --------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function slug(text) {
  return String(text).toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}
