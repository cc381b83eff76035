// The search page: a small UI on Pagefind's JS API (output/pagefind/pagefind.js).
//
// Everything is found relative to this file (assets/search.js), so the
// site works under any URL path. The query, filters and order live in the
// page's URL (?q=...&kind=claim&sort=date-desc), so a search is linkable.
// No inline scripts or styles: the pages' CSP forbids them.
//
// Claims are no records of their own: each is found inside its article's
// record. Pagefind gives, for each article found, the word positions of
// the hits and of every element with an id, among them each claim's
// <mark id="claim-…"> and the footnote reference (#fnref-…) that follows
// it; a claim matches when a hit falls between the two, or when every
// word searched is in its claimant, subjects or note. What a claim result
// shows (status, claimant, date) is read from the article page's footnotes
// (data-search-claim), fetched once for each article the results reach. The status filter
// is on the article records (the statuses of their claims): it narrows
// the articles, and only their claims with that status are shown.

const siteRoot = new URL("../", import.meta.url);
const bundleUrl = new URL("pagefind/pagefind.js", siteRoot);
const PAGE_SIZE = 20; // results drawn at a time
const BATCH = 10;     // records whose data is loaded at once
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
const filterFold = box.querySelector(".search-filter-box");
const narrow = matchMedia("(max-width: 48rem)"); // as in search.css: the filters fold away above the results
const list = box.querySelector(".search-results");
const moreButton = box.querySelector(".search-more");
const headerInput = document.getElementById("site-search");

const state = readState();
let pagefind = null;
let generation = 0; // each new search bumps it, so late answers of old ones are dropped
let pending = [];   // records of the current search not shown yet
let shown = 0;      // results drawn for the current search
let query = null;   // what the current search asked for, to match claims against
let lastAsked = "";  // the current search's words, filters and order
const claimPages = new Map(); // article URL -> promise of its claims

start();

async function start() {
  input.value = state.q;
  if (headerInput) headerInput.value = state.q;
  sortSelect.value = state.sort in SORTS ? state.sort : "";
  bindEvents(); // before loading, so nothing typed meanwhile is lost
  unfoldFilters();
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
  moreButton.addEventListener("click", () => {
    if (moreButton.getAttribute("aria-disabled") !== "true") showMore(generation, true);
  });
  narrow.addEventListener("change", unfoldFilters);
}

// Wide screens show the filters beside the results; narrow ones fold them, so that the results come first.
function unfoldFilters() {
  if (filterFold) filterFold.open = !narrow.matches;
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
  writeState();
  if (!pagefind) return; // still loading: start() runs the search once it can
  const term = state.q.trim();
  const filters = activeFilters();
  const sort = SORTS[state.sort];
  // The same search again (typed while the index loaded, or a submit after typing) is the one shown.
  const asked = JSON.stringify([term, filters, state.sort]);
  if (asked === lastAsked) return;
  lastAsked = asked;
  const mine = ++generation;
  moreButton.hidden = true;
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
  shown = 0;
  query = wanted(term);
  list.replaceChildren();
  drawFilters(search.totalFilters);
  await showMore(mine);
}

// What to draw of each record: articles, claims, and how claims must match.
function wanted(term) {
  const kinds = state.filters.kind, statuses = state.filters.status;
  return {
    term,
    words: words(term),
    statuses,
    articles: kinds.has("article") || (kinds.size === 0 && statuses.size === 0), // a status is a claim's
    claims: kinds.size === 0 || kinds.has("claim"),
    // With no words, claims are listed only when a filter asks for claims.
    everyClaim: !term && (kinds.has("claim") || statuses.size > 0),
  };
}

function describe(count, term, more) {
  const found = count === 0 ? "No results" : count === 1 ? "1 result" : `${count} results`;
  return (term ? `${found} for “${term}”` : found) + (more ? ", more below" : "");
}

// Draw at least PAGE_SIZE more results (an article may give none, or many claims). While
// loading, the button is only aria-disabled: a disabled one would drop the focus to the page.
async function showMore(mine, pressed = false) {
  moreButton.setAttribute("aria-disabled", "true");
  const before = list.children.length;
  let drawn = 0;
  while (drawn < PAGE_SIZE && pending.length) {
    const batch = pending.slice(0, BATCH);
    pending = pending.slice(BATCH);
    const items = (await Promise.all(batch.map(resultItems))).flat();
    if (mine !== generation) return;
    list.append(...items);
    drawn += items.length;
  }
  shown += drawn;
  moreButton.removeAttribute("aria-disabled");
  moreButton.hidden = pending.length === 0;
  // Pressed: on to the first result drawn (none drawn and none left: the last one).
  const next = list.children[before] || (moreButton.hidden ? list.lastElementChild : null);
  if (pressed && next) next.querySelector(".result-title a").focus();
  // Of the search shown, not of what is typed meanwhile; last: the page is ready.
  statusLine.textContent = describe(shown, query.term, pending.length > 0);
}

// The results one record gives: itself (unless filtered out) and its matching claims.
async function resultItems(record) {
  const data = await record.data();
  const kind = (data.meta || {}).kind || "page";
  const items = kind !== "article" || query.articles ? [resultItem(data)] : [];
  if (query.claims && (data.filters.kind || []).includes("claim") && (query.words.length || query.everyClaim)) {
    for (const claim of await claimsOf(data.url)) {
      const hits = hitsIn(claim.id, data);
      if (claimMatches(claim, hits)) items.push(claimItem(claim, hits, data));
    }
  }
  return items;
}

function claimMatches(claim, hits) {
  if (query.statuses.size && !query.statuses.has(claim.status)) return false;
  if (query.everyClaim || hits.length) return true;
  const text = words([claim.claimant, ...claim.about, claim.note].join(" "));
  return query.words.length > 0 && query.words.every((w) => text.some((t) => t.startsWith(w)));
}

// The positions of the hits within a claim's quote: from its mark to its footnote reference.
function hitsIn(id, data) {
  const anchors = data.anchors || [];
  const start = anchors.find((a) => a.id === `claim-${id}`);
  if (!start) return [];
  const end = anchors.find((a) => a.id === `fnref-${id}`);
  const stop = end ? end.location : start.location + words(start.text || "").length;
  return (data.locations || []).filter((at) => at >= start.location && at < stop);
}

// The claims of an article, as its page's footnotes give them (fetched once).
function claimsOf(url) {
  if (!claimPages.has(url)) {
    claimPages.set(url, fetch(url)
      .then((response) => (response.ok ? response.text() : ""))
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        // Its text's language and direction, where they are not the site's: its quotes' too.
        const text = doc.querySelector(".body[lang]");
        const language = text ? { lang: text.lang, dir: text.getAttribute("dir") || "" } : {};
        return [...doc.querySelectorAll("li[data-search-claim]")]
          .map((li) => ({ id: li.id.replace(/^fn-/, ""), ...JSON.parse(li.dataset.searchClaim), ...language }));
      })
      .catch((error) => {
        console.warn("dossier search:", error);
        return [];
      }));
  }
  return claimPages.get(url);
}

function words(text) {
  return String(text).toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "").split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

// -- one result ---------------------------------------------------------------

function resultItem(result) {
  const meta = result.meta || {};
  const kind = meta.kind || "page";
  const head = element("p", "result-kind", KIND_SINGULAR[kind] || kind);
  if (kind === "entity" && meta.type) head.append(` · ${meta.type}`);
  const parts = [];
  if (kind === "article") {
    if (meta.publisher) parts.push(meta.publisher);
    if (meta.date) parts.push(dateElement(meta.date));
  }
  const excerpt = element("p", "result-excerpt");
  excerpt.innerHTML = result.excerpt; // Pagefind escapes the text and adds only <mark>
  return item(kind, head, meta.title || result.url, result.url, parts, excerpt);
}

// A claim found in an article: it leads to its mark; the hits in its quote are marked.
function claimItem(claim, hits, article) {
  const head = element("p", "result-kind", KIND_SINGULAR.claim);
  head.append(" ", element("span", `badge status-${claim.key || slug(claim.status)}`, claim.status));
  const parts = [claim.claimant ? `Claimed by ${claim.claimant}` : "Unattributed"];
  if (claim.date) parts.push(dateElement(claim.date));
  const source = element("a", "", `in “${(article.meta || {}).title || "its article"}”`);
  source.href = article.url;
  parts.push(source);
  const excerpt = element("p", "result-excerpt");
  if (hits.length) excerpt.append(...inLanguage(claim, quoteWithHits(article, claim.id, hits)));
  else if (claim.about.length) excerpt.append(`About ${claim.about.join(", ")}`);
  return item("claim", head, ["“", ...inLanguage(claim, [claim.quote]), "”"], `${article.url}#claim-${claim.id}`, parts, excerpt);
}

// A claim's quote is its article's words: in a <span> with their language and direction where
// they are not the site's (as its article's text says them), else as they are.
function inLanguage(claim, nodes) {
  if (!claim.lang) return nodes;
  const span = element("span", "");
  span.lang = claim.lang;
  if (claim.dir) span.dir = claim.dir;
  span.append(...nodes);
  return [span];
}

function item(kind, head, text, url, parts, excerpt) {
  const li = element("li", `search-result kind-${kind}`);
  const title = element("h2", "result-title");
  const link = element("a", "");
  link.append(...[].concat(text));
  link.href = url;
  title.append(link);
  li.append(head, title);
  if (parts.length) {
    const line = element("p", "result-meta");
    parts.forEach((part, i) => line.append(...(i ? [" · ", part] : [part])));
    li.append(line);
  }
  if (excerpt.childNodes.length) li.append(excerpt);
  return li;
}

// The words of the quote as Pagefind read them, each hit in a <mark>.
function quoteWithHits(article, id, hits) {
  const all = (article.content || "").split(/\s+/);
  const start = article.anchors.find((a) => a.id === `claim-${id}`).location;
  const end = article.anchors.find((a) => a.id === `fnref-${id}`);
  const nodes = [];
  for (let at = start; at < (end ? end.location : hits[hits.length - 1] + 1) && at < all.length; at++) {
    if (nodes.length) nodes.push(" ");
    nodes.push(hits.includes(at) ? element("mark", "", all[at]) : all[at]);
  }
  return nodes;
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
  const chosen = GROUPS.reduce((n, { key }) => n + state.filters[key].size, 0);
  const summary = filterFold && filterFold.querySelector("summary");
  if (summary) summary.textContent = chosen ? `Filters (${chosen} chosen)` : "Filters";
  const focused = document.activeElement && filterBox.contains(document.activeElement)
    ? document.activeElement.id : null;
  filterBox.replaceChildren(...groups);
  if (focused) document.getElementById(focused)?.focus();
}

function filterOption(key, value, count) {
  // The value itself, percent-encoded (valid in an id, and each value's own): slug() would give every
  // Cyrillic or CJK tag the same id, and a label would then tick the first of them.
  const id = `filter-${key}-${encodeURIComponent(value)}`;
  const label = element("label", "filter-option");
  const check = element("input", "");
  Object.assign(check, { type: "checkbox", name: key, value, id, checked: state.filters[key].has(value) });
  label.htmlFor = id;
  const name = key === "kind" ? KINDS[value] || value : value;
  // Claims are counted by the articles that hold them: their number is known only once drawn.
  const byArticle = key === "status" || (key === "kind" && value === "claim");
  const counted = byArticle ? `in ${count} article${count === 1 ? "" : "s"}` : `${count}`;
  label.append(check, ` ${name} `, element("span", "count", `(${counted})`));
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
