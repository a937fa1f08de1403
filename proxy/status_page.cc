#include "proxy/status_page.h"

#include <openssl/evp.h>

#include "core/text_codecs.h"

namespace xfr {
namespace {

// Kept to ASCII: the CSP hashes these exact bytes, and the page must not
// depend on how a browser decodes anything else.
constexpr std::string_view kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
.meta { color: #555; margin-bottom: 1em; }
.stale { color: #b00; font-weight: bold; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { text-align: left; padding: .25em .7em; border-bottom: 1px solid #ddd; }
td { white-space: nowrap; }
td.error { white-space: normal; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.zone { cursor: pointer; }
tr.zone:hover { background: #f8f8ff; }
tr.peers > td { background: #fafafa; padding-left: 2.5em; }
.h-ok, .p-in-sync { color: #176317; }
.h-degraded, .p-notified, .p-lagging { color: #9a6300; }
.h-expired, .h-no-data, .p-unreachable { color: #b00; font-weight: bold; }
#plot { border: 1px solid #ddd; background: #fff; }
#plot rect { fill: #4a7bd0; }
#plot text { font-size: 10px; fill: #555; }
.none { color: #777; }
)css";

constexpr std::string_view kScript = R"js(
'use strict';
const SVG = 'http://www.w3.org/2000/svg';
// Zones whose peers are shown; kept across redraws.
const expanded = new Set();

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function dur(s) {
  if (s === null || s === undefined) return '-';
  s = Math.max(0, Math.floor(s));
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), x = s % 60;
  if (d) return d + 'd' + h + 'h';
  if (h) return h + 'h' + m + 'm';
  if (m) return m + 'm' + x + 's';
  return x + 's';
}

function relative(t, now) {
  if (!t) return '-';
  const s = (Date.parse(t) - Date.parse(now)) / 1000;
  return s >= 0 ? 'in ' + dur(s) : dur(-s) + ' ago';
}

// A class from a word of the document, only if it is one we style.
function word(prefix, w, known) {
  return known.includes(w) ? prefix + w : '';
}

function lastTransfer(z) {
  const t = z.last_transfer;
  if (!t) return z.file ? '- (file zone)' : '- (none since start)';
  return t.kind + ' from ' + t.from + ', ' + dur(t.seconds_ago) + ' ago';
}

function expiry(z) {
  if (z.file) return 'never';
  const e = z.expire_seconds_remaining;
  if (e === null || e === undefined) return '-';
  return e === 0 ? 'EXPIRED' : 'in ' + dur(e);
}

function cell(row, text, cls) {
  row.appendChild(el('td', cls, text === null || text === undefined ? '-' : text));
}

function peersRow(z, columns) {
  const tr = el('tr', 'peers');
  const td = el('td');
  td.colSpan = columns;
  if (!z.peers.length) {
    td.appendChild(el('span', 'none', 'no secondaries configured'));
  } else {
    const t = el('table');
    const head = el('tr');
    for (const h of ['Peer', 'State', 'Serial', 'Serials behind', 'Behind for',
                     'Last seen', 'Last error']) {
      head.appendChild(el('th', '', h));
    }
    t.appendChild(head);
    for (const p of z.peers) {
      const r = el('tr', 'peer');
      r.dataset.peer = p.address;
      cell(r, p.address + (p.shared_address ? ' (shared IP)' : ''));
      cell(r, p.state, word('p-', p.state,
                            ['in-sync', 'notified', 'lagging', 'unreachable']));
      cell(r, p.serial, 'num');
      cell(r, p.serials_behind, 'num');
      cell(r, p.seconds_behind > 0 ? dur(p.seconds_behind) : '-', 'num');
      cell(r, p.seen_seconds_ago === null ? '-' : dur(p.seen_seconds_ago) + ' ago');
      cell(r, p.last_error || '-', 'error');
      t.appendChild(r);
    }
    td.appendChild(t);
  }
  tr.appendChild(td);
  return tr;
}

function renderZones(doc) {
  const body = document.getElementById('zones');
  const columns = 10;
  const rows = [];
  for (const z of doc.zones) {
    const tr = el('tr', 'zone');
    tr.dataset.zone = z.name;
    tr.title = 'show or hide the peers';
    cell(tr, (expanded.has(z.name) ? '\u25be ' : '\u25b8 ') + z.name);
    cell(tr, z.serial, 'num serial');
    cell(tr, dur(z.age_seconds), 'num');
    cell(tr, z.health, word('h-', z.health, ['ok', 'degraded', 'expired', 'no-data']));
    cell(tr, lastTransfer(z));
    cell(tr, z.file ? 'on reload' : relative(z.next_refresh, doc.now));
    cell(tr, expiry(z));
    cell(tr, z.journal_diffs, 'num');
    cell(tr, z.peers_total ? z.peers_in_sync + '/' + z.peers_total : '-', 'num');
    cell(tr, z.last_error || '-', 'error');
    tr.addEventListener('click', () => {
      if (expanded.has(z.name)) expanded.delete(z.name); else expanded.add(z.name);
      renderZones(doc);
    });
    rows.push(tr);
    if (expanded.has(z.name)) rows.push(peersRow(z, columns));
  }
  if (!rows.length) {
    const tr = el('tr');
    const td = el('td', 'none', 'no zones configured');
    td.colSpan = columns;
    tr.appendChild(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function renderPlot(counts) {
  const plot = document.getElementById('plot');
  const W = 620, H = 130, left = 36, bottom = 16, top = 8;
  const max = Math.max(1, ...counts);
  const bw = (W - left) / counts.length;
  const parts = [];
  counts.forEach((c, i) => {
    const h = (H - bottom - top) * c / max;
    const r = svg('rect', {x: left + i * bw + 1, y: H - bottom - h,
                           width: Math.max(1, bw - 2), height: h});
    const ago = counts.length - 1 - i;
    r.appendChild(svg('title', {}, c + ' transfers, ' +
                      (ago ? ago + ' min ago' : 'this minute')));
    parts.push(r);
  });
  parts.push(svg('text', {x: 2, y: top + 8}, max));
  parts.push(svg('text', {x: 2, y: H - bottom}, 0));
  parts.push(svg('text', {x: left, y: H - 3}, '-60 min'));
  parts.push(svg('text', {x: W - 40, y: H - 3}, 'now'));
  plot.replaceChildren(...parts);
  const total = counts.reduce((a, b) => a + b, 0);
  document.getElementById('plot-total').textContent =
      total + ' in the last hour, ' + counts[counts.length - 1] + ' this minute';
}

function render(doc) {
  document.getElementById('version').textContent = doc.version;
  document.getElementById('uptime').textContent = dur(doc.uptime_seconds);
  renderZones(doc);
  renderPlot(doc.transfers_per_minute);
}

function state(text, stale) {
  const s = document.getElementById('state');
  s.textContent = text;
  s.className = stale ? 'stale' : '';
}

async function refresh() {
  try {
    const r = await fetch('status.json', {cache: 'no-store'});
    const doc = await r.json();
    if (!r.ok) throw new Error(doc.error || 'HTTP ' + r.status);
    render(doc);
    state('updated ' + new Date().toLocaleTimeString(), false);
  } catch (e) {
    state('not updated: ' + e.message, true);
  } finally {
    setTimeout(refresh, 2000);
  }
}

refresh();
)js";

constexpr std::string_view kHead = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xfrproxy status</title>
<style>)html";

constexpr std::string_view kBody = R"html(</style>
</head>
<body>
<h1>xfrproxy <span id="version"></span></h1>
<div class="meta">up <span id="uptime">-</span> &middot; <span id="state">loading</span>
&middot; <a href="status.json">status.json</a> &middot; <a href="metrics">metrics</a></div>
<table>
<thead><tr><th>Zone</th><th>Serial</th><th>Age</th><th>Health</th><th>Last transfer</th>
<th>Next refresh</th><th>Expiry</th><th>Journal</th><th>Peers in sync</th>
<th>Last error</th></tr></thead>
<tbody id="zones"></tbody>
</table>
<h2>Transfers served per minute</h2>
<svg id="plot" width="620" height="130" viewBox="0 0 620 130" role="img"
 aria-label="transfers per minute, last hour"></svg>
<div class="meta" id="plot-total"></div>
<script>)html";

constexpr std::string_view kTail = R"html(</script>
</body>
</html>
)html";

// 'sha256-<base64>' of an inline element's text (CSP Level 2 §4.2.4).
std::string Sha256Source(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string out = "'sha256-";
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) == 1) {
    AppendBase64(Bytes(md, len), out);
  }
  return out + "'";
}

}  // namespace

std::string_view StatusPageHtml() {
  static const std::string* page = new std::string(
      std::string(kHead) + std::string(kStyle) + std::string(kBody) + std::string(kScript) +
      std::string(kTail));
  return *page;
}

const std::string& StatusPageCsp() {
  static const std::string* csp = new std::string(
      "default-src 'none'; style-src " + Sha256Source(kStyle) + "; script-src " +
      Sha256Source(kScript) + "; connect-src 'self'; base-uri 'none'; form-action 'none'; "
      "frame-ancestors 'none'");
  return *csp;
}

}  // namespace xfr
