// cxsms dashboard: plain JavaScript, no build step, no third-party code.
// It reads the service's own JSON routes every few seconds and draws the
// charts as SVG by hand. Only the projections panel needs the admin token,
// which it asks for once and keeps in this tab's sessionStorage.
(function () {
  'use strict';

  var REFRESH_MS = 5000;
  var TIMEOUT_MS = 8000;
  var TOKEN_KEY = 'cxsms.adminToken';
  var SVG_NS = 'http://www.w3.org/2000/svg';

  var state = {
    paused: false,
    timer: 0,
    inflight: false,
    again: false, // a refresh was asked for while one was in flight
    kind: 'delivery', // which latency the SLA chart shows
    rangeMin: 60,
    sla: null, // the last /analytics/sla answer, for redraws on resize
    slaRange: null,
    slaMin: 0, // the range, in minutes, state.sla was asked for
    messageId: '',
    leaving: false, // a closed dialog's history.back() has not landed yet
    openNext: '', // a message asked for meanwhile
    showAllCarriers: false,
    showAllSLACarriers: false,
    showAllViolations: false,
    lastViolations: null, // the last good /compliance/violations answer
    lastCarriers: null, // the last good /analytics/carriers answer
    okAt: {}, // per route, when it last answered: "as of" for stale panels
    updatedAt: null // when every route last answered
  };

  var CARRIER_ROWS = 10; // carriers shown before "Show all"
  var SLA_CARRIER_ROWS = 8;
  var VIOLATION_ROWS = 12;

  // ------------------------------------------------------------ helpers

  function $(sel, root) { return (root || document).querySelector(sel); }

  // h builds an element: h('td', {class: 'num', text: '12'}, child...).
  function h(tag, attrs) {
    var el = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      var v = a[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }

  function svg(tag, attrs) {
    var el = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') el.textContent = attrs[k];
      else el.setAttribute(k, attrs[k]);
    });
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  // INVISIBLE matches characters that draw nothing or reorder what follows:
  // controls, zero-width characters, bidi marks, embeddings, overrides and
  // isolates. An RLO turns a carrier "\u202eTTA" into a second "ATT".
  var INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

  function escapeChar(c) { return '\\u' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0'); }

  // visible is untrusted text with its invisible characters written as
  // escapes, for attributes (titles) where no element can mark them.
  function visible(s) { return String(s).replace(INVISIBLE, escapeChar); }

  // visibleNodes is untrusted text as nodes, its invisible characters shown
  // as escapes in their own style so they cannot pass for the text.
  function visibleNodes(s) {
    s = String(s);
    var out = [], last = 0;
    s.replace(INVISIBLE, function (c, at) {
      if (at > last) out.push(s.slice(last, at));
      out.push(h('span', { class: 'invisible', title: 'an invisible character in the data', text: escapeChar(c) }));
      last = at + 1;
      return c;
    });
    if (last < s.length) out.push(s.slice(last));
    return out;
  }

  // shown puts untrusted text (IDs, carriers, senders, recipients, error
  // codes) in a <bdi>, so right-to-left text in it cannot reorder the text
  // around it, with its invisible characters made visible.
  function shown(s, attrs) {
    return h('bdi', attrs, visibleNodes(s));
  }

  // api GETs a route and never throws: {ok, status, data} or {ok: false, status, error}.
  // Every route answers a JSON object, so anything else (the dashboard's
  // own HTML, when a path was resolved elsewhere) is an error too.
  function api(path, token) {
    var ctrl = new AbortController();
    var timer = setTimeout(function () { ctrl.abort(); }, TIMEOUT_MS);
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(path, { headers: headers, signal: ctrl.signal, cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
          if (!res.ok) {
            return { ok: false, status: res.status, error: (body && body.error) || ('HTTP ' + res.status) };
          }
          if (!body || typeof body !== 'object') {
            return { ok: false, status: res.status, error: 'the service answered something other than JSON' };
          }
          return { ok: true, status: res.status, data: body };
        });
      })
      .catch(function (e) {
        return { ok: false, status: 0, error: e && e.name === 'AbortError' ? 'the service did not answer in time' : 'cannot reach the service' };
      })
      .finally(function () { clearTimeout(timer); });
  }

  // LOCALE is the one locale every number, date and time on the page is
  // written in: the browser's, resolved once, so a thousands separator and
  // a decimal separator never come from two different conventions.
  var LOCALE = new Intl.NumberFormat().resolvedOptions().locale;
  var intFmt = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
  var DECIMAL = (new Intl.NumberFormat(LOCALE).formatToParts(1.5).filter(function (p) { return p.type === 'decimal'; })[0] || { value: '.' }).value;
  function fmtInt(n) { return n === undefined || n === null ? '–' : intFmt.format(n); }

  // localNum writes a number already rounded to a fixed-point string
  // ("1234.50", as toFixed and exactFixed give it) in LOCALE: its digits
  // stay as rounded, its separators become the locale's.
  function localNum(s) {
    var m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
    if (!m) return s;
    return m[1] + intFmt.format(Number(m[2])) + (m[3] ? DECIMAL + m[3] : '');
  }

  // fmtPct shows a percentage the server rounded to two decimals (SLA
  // compliance, whose counts the answers do not carry) with one decimal,
  // rounded as Go's strconv rounds (an exact tie such as 6.25 goes to the
  // even digit, "6.2"). Where the counts are known, fmtShare rounds once
  // from them instead. A rate short of 100 never reads "100%".
  function fmtPct(p) {
    if (p === undefined || p === null || isNaN(p)) return '–';
    if (p === 0 || p === 100) return p + '%';
    var s = p.toFixed(1);
    var hundredths = Math.round(p * 100);
    if (hundredths % 50 === 25) { // x.25 or x.75: the only ties a double holds exactly
      var tenths = (hundredths - 5) / 10;
      s = ((tenths % 2 ? tenths + 1 : tenths) / 10).toFixed(1);
    }
    if (p < 100 && s === '100.0') s = p.toFixed(2);
    return localNum(s) + '%';
  }

  // fmtShare shows n of total as a percentage with prec decimals (one when
  // not given), rounded once from the exact share as the server's reason
  // texts round it, so a rate and the reason beside it agree. A rate the
  // server rounded to two decimals would round twice: 4 of 21 is 19.048%,
  // sent as 19.05, shown "19.1%" beside a reason that says "19.0%". A share
  // short of 100 never reads "100.0%".
  function fmtShare(n, total, prec) {
    var s = shareFixed(n, total, prec);
    return s === '–' ? s : localNum(s) + '%';
  }

  // shareFixed is fmtShare's figure before the locale writes it: "19.0".
  // A share above 0 never reads "0.0" either.
  function shareFixed(n, total, prec) {
    if (!total) return '–';
    if (n === 0 || n === total) return n ? '100' : '0';
    prec = prec || 1;
    var s = exactFixed(n, total, prec);
    while ((s === (100).toFixed(prec) || s === (0).toFixed(prec)) && prec < 6) s = exactFixed(n, total, ++prec);
    return s;
  }

  // exactFixed is n of total as a percentage with prec decimals, rounded
  // half up from the exact fraction, as the server rounds its rates and
  // reasons (599 of 4000 is 14.98).
  function exactFixed(n, total, prec) {
    var scale = BigInt(Math.pow(10, prec));
    var v = (BigInt(n) * 200n * scale + BigInt(total)) / (2n * BigInt(total));
    var str = v.toString().padStart(prec + 1, '0');
    return str.slice(0, -prec) + '.' + str.slice(-prec);
  }

  // complementFixed is 100 minus a fixed-point share, to the same digits
  // ("14.98" gives "85.02"): the other rate of a row, so the two add up to
  // 100 where rounding each on its own gives 14.98 and 85.03 (599 and 3401
  // of 4000, both ties rounded up).
  function complementFixed(s) {
    if (s === '–') return s;
    if (s === '0' || s === '100') return s === '0' ? '100' : '0';
    var m = /^(\d+)\.(\d+)$/.exec(s);
    if (!m) return s;
    var p = m[2].length;
    var r = String(100 * Math.pow(10, p) - parseInt(m[1] + m[2], 10)).padStart(p + 1, '0');
    return r.slice(0, -p) + '.' + r.slice(-p);
  }

  // RATE_DECIMALS is how many decimals the carriers' rates have at least:
  // the answer's two. One decimal rounds a rate onto a threshold it is
  // under (599 of 4000, 14.975 %, read "15.0%" beside a WATCH under a 15%
  // REROUTE threshold).
  var RATE_DECIMALS = 2;

  // failurePrecision is how many decimals a failure rate takes so that it
  // reads as the reason beside it does: two, as many as the reason gives
  // its rate when that is more, and more still when the rate would read as
  // equal to the threshold it is above ("15.005%" beside "above the 15%
  // REROUTE threshold").
  function failurePrecision(failed, terminal, reason) {
    var prec = RATE_DECIMALS;
    if (!terminal) return prec;
    var r = /^(?:across its currencies: )?\d+(?:\.(\d+))?% of (\d+) terminal/.exec(reason || '');
    if (r && Number(r[2]) === terminal && r[1]) prec = Math.max(prec, r[1].length);
    var m = /the (\d+(?:\.\d+)?)% (?:REROUTE|WATCH) threshold/.exec(reason || '');
    if (!m) return prec;
    var threshold = parseFloat(m[1]);
    while (prec < 4 && failed / terminal > threshold / 100 && shareFixed(failed, terminal, prec) === threshold.toFixed(prec)) prec++;
    return prec;
  }

  // localText writes the numbers of a server's English sentence (a
  // carrier's reason) as the rest of the page writes them: "15.01% of
  // 10000" reads "15,01% of 10.000" in de-DE, each with its own digits. In
  // a locale whose decimal separator is the point the text stays as sent,
  // as it always read there.
  function localText(s) {
    s = String(s);
    if (DECIMAL === '.') return s;
    return s.replace(/\d+(?:\.\d+)?/g, localNum);
  }

  function fmtMs(ms) {
    if (ms === undefined || ms === null || isNaN(ms)) return '–';
    // Each unit up to where its rounding would reach the next: 999.6 ms
    // showed as "1000 ms" beside a "1.00 s" in the next row.
    if (ms < 0.995) return localNum(ms.toFixed(2)) + ' ms';
    if (ms < 9.95) return localNum(ms.toFixed(1)) + ' ms';
    if (ms < 999.5) return Math.round(ms) + ' ms';
    if (ms < 59950) return localNum((ms / 1000).toFixed(ms < 9995 ? 2 : 1)) + ' s';
    if (ms < 3597000) return localNum((ms / 60000).toFixed(1)) + ' min';
    return localNum((ms / 3600000).toFixed(1)) + ' h';
  }

  // fmtMsAxis is fmtMs with fewer digits, for axis labels.
  function fmtMsAxis(ms) {
    if (ms === 0) return '0';
    if (ms < 1000) return localNum(trimZero(ms.toFixed(ms < 10 ? 1 : 0))) + ' ms';
    if (ms < 60000) return localNum(trimZero((ms / 1000).toFixed(1))) + ' s';
    return localNum(trimZero((ms / 60000).toFixed(1))) + ' min';
  }

  function trimZero(s) { return s.replace(/\.0$/, ''); }

  function fmtSeconds(s) {
    if (s === undefined || s === null) return '–';
    if (s < 1) return s < 0.01 ? '0 s' : localNum(s.toFixed(2)) + ' s';
    return fmtMs(s * 1000);
  }

  // fmtMoney shows sub-unit amounts (SMS prices) to 4 decimals; compact
  // keeps totals to cents.
  function fmtMoney(v, currency, compact) {
    if (v === undefined || v === null || isNaN(v)) return '–';
    var digits = !compact && Math.abs(v) > 0 && Math.abs(v) < 1 ? 4 : 2;
    if (currency) {
      try {
        return new Intl.NumberFormat(LOCALE, {
          style: 'currency', currency: currency, minimumFractionDigits: digits, maximumFractionDigits: digits
        }).format(v);
      } catch (e) { /* not an ISO currency: plain number below */ }
    }
    return localNum(v.toFixed(digits)) + (currency ? ' ' + currency : '');
  }

  // Times are the browser's zone, on a 24-hour clock everywhere; the zone
  // is named in the header (zoneNote) and on the dialog's full times. The
  // formatters are built once: building one per call cost milliseconds
  // each, which a history of thousands of reports paid twice per report.
  var CLOCK = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  var clockFmt = new Intl.DateTimeFormat(LOCALE, Object.assign({ second: '2-digit' }, CLOCK));
  var hmFmt = new Intl.DateTimeFormat(LOCALE, CLOCK);
  var FULL = Object.assign({ month: 'short', day: 'numeric', second: '2-digit', fractionalSecondDigits: 3, timeZoneName: 'short' }, CLOCK);
  var dateTimeFmt = new Intl.DateTimeFormat(LOCALE, FULL);
  var dateTimeYearFmt = new Intl.DateTimeFormat(LOCALE, Object.assign({ year: 'numeric' }, FULL));

  function fmtClock(d) { return clockFmt.format(d); }

  function fmtHM(d) { return hmFmt.format(d); }

  // fmtDateTime shows a time to the millisecond with its zone, and the
  // date (with the year only when it is not this year).
  function fmtDateTime(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    return (d.getFullYear() === new Date().getFullYear() ? dateTimeFmt : dateTimeYearFmt).format(d);
  }

  // utcTitle is a time as the API writes it, in UTC, for a title: the
  // zone the ranges and days of the API are in.
  function utcTitle(iso) {
    var d = new Date(iso);
    return iso && !isNaN(d) ? d.toISOString() + ' (UTC)' : null;
  }

  // zoneNote names the zone the page's times are in: "Asia/Kolkata
  // (UTC+5:30)", or "UTC".
  function zoneNote() {
    var off = -new Date().getTimezoneOffset();
    var name = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    var utc = 'UTC' + (off === 0 ? '' : (off > 0 ? '+' : '\u2212') + Math.floor(Math.abs(off) / 60) +
      (Math.abs(off) % 60 ? ':' + String(Math.abs(off) % 60).padStart(2, '0') : ''));
    return { short: utc, long: name && name !== 'UTC' && name !== 'Etc/UTC' ? name + ' (' + utc + ')' : utc };
  }

  function fmtAgo(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return '–';
    var s = (Date.now() - d.getTime()) / 1000;
    if (s < 45) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  function setPanelError(panel, msg) {
    var box = $('.panel-error', panel);
    if (!box) return;
    box.hidden = !msg;
    box.textContent = msg || '';
  }

  // setFreshness says whether a panel shows what its route just answered. A
  // failed refresh leaves the last figures in place, dimmed and dated, so an
  // outage does not pass for a quiet minute; the next good answer clears it.
  function setFreshness(panel, r, key, label) {
    var at = state.okAt[key];
    var stale = !r.ok && !!at;
    panel.classList.toggle('stale', stale);
    setPanelError(panel, r.ok ? '' : label + ': ' + r.error + (stale ? '. Showing the figures as of ' + fmtClock(at) + '.' : ''));
  }

  function emptyRow(tbody, cols, text) {
    clear(tbody).appendChild(h('tr', null, h('td', { class: 'empty', colspan: String(cols), text: text })));
  }

  var FAILED = { UNDELIVERED: 1, FAILED: 1, REJECTED: 1, EXPIRED: 1, DELETED: 1 };

  function statusClass(status) {
    if (status === 'DELIVERED') return 'ok';
    if (FAILED[status]) return 'bad';
    return 'wait';
  }

  // ------------------------------------------------------------ refresh loop

  function schedule() {
    clearTimeout(state.timer);
    if (!state.paused && !document.hidden) state.timer = setTimeout(refresh, REFRESH_MS);
  }

  // A browser sends a header only if it is Latin-1, and the service compares
  // bytes against its UTF-8 ADMIN_TOKEN, so only printable ASCII can match.
  var SENDABLE_TOKEN = /^[\x20-\x7e]+$/;
  var UNSENDABLE_TOKEN = 'That token holds characters a browser cannot send in a header (only printable ASCII can be sent), so it was not kept. Enter the ADMIN_TOKEN the service runs with.';

  // storedToken is the tab's admin token, dropping one that cannot be sent
  // (kept by an older dashboard) rather than failing every refresh with it.
  function storedToken() {
    var token = sessionStorage.getItem(TOKEN_KEY) || '';
    if (token && !SENDABLE_TOKEN.test(token)) {
      sessionStorage.removeItem(TOKEN_KEY);
      refuseToken(UNSENDABLE_TOKEN);
      return '';
    }
    return token;
  }

  function refuseToken(text) {
    var msg = $('#token-message');
    msg.classList.add('error');
    msg.textContent = text;
  }

  function slaRange() {
    var to = Math.ceil((Date.now() + 1) / 60000) * 60000;
    return { from: new Date(to - state.rangeMin * 60000), to: new Date(to) };
  }

  function refresh() {
    if (state.inflight) { state.again = true; return; } // once this one is done
    state.inflight = true;
    state.again = false;
    var rangeMin = state.rangeMin;
    var range = slaRange();
    var token = storedToken();
    var slaPath = '/analytics/sla?from=' + encodeURIComponent(range.from.toISOString()) +
      '&to=' + encodeURIComponent(range.to.toISOString());
    Promise.all([
      api('/readyz'),
      api('/analytics/carriers'),
      api(slaPath),
      api('/analytics/delivery'),
      api('/compliance/violations'),
      token ? api('/admin/projections', token) : Promise.resolve(null)
    ]).then(function (r) {
      var now = new Date();
      var keys = ['carriers', 'sla', 'delivery', 'violations', 'projections'];
      var allOk = true;
      keys.forEach(function (k, i) {
        var a = r[i + 1];
        if (a && a.ok) state.okAt[k] = now;
        else if (a && a.status !== 401) allOk = false; // a refused token is the token form's business
      });
      renderReady(r[0]);
      renderCarriers(r[1]);
      // An answer for a range changed while it was on its way is not
      // drawn under the new range's name; the refresh the change asked
      // for follows at once. What is drawn is named by its own range.
      if (r[2].ok && rangeMin === state.rangeMin) { state.sla = r[2].data; state.slaRange = range; state.slaMin = rangeMin; }
      renderSLA(r[2]);
      renderKPIs(r[1], r[2], r[3], rangeMin);
      renderViolations(r[4]);
      renderProjections(r[5], token);
      var version = (r[1].ok && r[1].data.rulesVersion) || (r[2].ok && r[2].data.rulesVersion);
      if (version) $('#rules-version').textContent = 'Rules version ' + version;
      // "Updated" moves only when the figures did.
      if (allOk) state.updatedAt = now;
      var updated = $('#updated');
      updated.classList.toggle('stale-note', !allOk);
      updated.textContent = (state.updatedAt ? 'Updated ' + fmtClock(state.updatedAt) : 'Not loaded yet') +
        (allOk ? '' : ' · refresh failed at ' + fmtClock(now));
    }).catch(function (e) {
      // A rendering bug must not stop the refresh loop.
      if (window.console) console.error('cxsms dashboard:', e);
    }).finally(function () {
      state.inflight = false;
      if (state.again) refreshNow();
      else schedule();
    });
  }

  // ------------------------------------------------------------ ready pill

  function renderReady(r) {
    var pill = $('#ready');
    if (state.paused) {
      pill.className = 'pill pill-paused';
      pill.textContent = 'Paused';
      pill.title = 'Not refreshing; press Resume';
      return;
    }
    if (r.ok) {
      pill.className = 'pill pill-ok';
      pill.textContent = 'Live';
      pill.title = 'Ready; refreshing every ' + REFRESH_MS / 1000 + ' s';
    } else if (r.status === 0) {
      pill.className = 'pill pill-bad';
      pill.textContent = 'Offline';
      pill.title = r.error;
    } else {
      pill.className = 'pill pill-bad';
      pill.textContent = 'Not ready';
      pill.title = r.error;
    }
  }

  // ------------------------------------------------------------ KPIs

  // setKPI shows a figure whole: a long one (a large amount) is set
  // smaller, and wraps rather than being cut, and the title holds its full
  // text (with more, such as other currencies' totals, when given).
  function setKPI(id, value, note, level, unit, title) {
    var el = document.getElementById(id);
    var v = $('.kpi-value', el);
    clear(v);
    append(v, value);
    if (unit) append(v, h('small', { text: ' ' + unit }));
    var len = v.textContent.length;
    v.classList.toggle('long', len > 9 && len <= 14);
    v.classList.toggle('longer', len > 14);
    v.title = title || v.textContent;
    $('.kpi-note', el).textContent = note || '\u00a0';
    $('.kpi-note', el).removeAttribute('title');
    el.classList.remove('good', 'warn', 'bad', 'stale');
    el.removeAttribute('title');
    if (level) el.classList.add(level);
  }

  // staleKPI keeps a figure whose route failed but dims it and dates it.
  function staleKPI(id, r, key) {
    var at = state.okAt[key];
    if (!at) { setKPI(id, '–', r.error); return; }
    var el = document.getElementById(id);
    el.classList.add('stale');
    el.title = r.error;
    $('.kpi-note', el).textContent = 'as of ' + fmtClock(at) + ': ' + r.error;
  }

  function levelOf(p, good, warn) {
    if (p === undefined || p === null) return '';
    return p >= good ? 'good' : p >= warn ? 'warn' : 'bad';
  }

  function renderKPIs(carriers, sla, delivery, slaMin) {
    if (delivery.ok) {
      setKPI('kpi-throughput', fmtInt(delivery.data.throughput), 'reports in the last minute', '', '/min');
    } else {
      staleKPI('kpi-throughput', delivery, 'delivery');
    }
    if (carriers.ok) {
      var t = { total: 0, delivered: 0, failed: 0, pending: 0 };
      var spend = {};
      carriers.data.carriers.forEach(function (c) {
        t.total += c.total; t.delivered += c.delivered; t.failed += c.failed; t.pending += c.pending;
        if (!c.currency) return; // unpriced: no report or rate card price
        var s = spend[c.currency] || (spend[c.currency] = { cost: 0, wasted: 0, messages: 0, delivered: 0 });
        s.cost += c.totalCost; s.wasted += c.wastedCost; s.messages += c.total; s.delivered += c.delivered;
      });
      setKPI('kpi-messages', fmtInt(t.total), fmtInt(t.pending) + ' pending · ' + fmtInt(t.failed) + ' failed');
      var terminal = t.delivered + t.failed;
      if (terminal > 0) {
        var rate = 100 * t.delivered / terminal;
        setKPI('kpi-delivery', fmtShare(t.delivered, terminal), fmtInt(t.delivered) + ' delivered of ' + fmtInt(terminal) + ' terminal', levelOf(rate, 95, 85));
      } else {
        setKPI('kpi-delivery', '–', 'no terminal reports yet');
      }
      renderSpend(spend);
    } else {
      ['kpi-messages', 'kpi-delivery', 'kpi-cost'].forEach(function (id) { staleKPI(id, carriers, 'carriers'); });
    }
    if (sla.ok) {
      var d = sla.data.delivery, i = sla.data.ingest;
      if (d.count > 0) {
        setKPI('kpi-delivery-sla', fmtMs(d.p90), fmtPct(d.compliance) + ' within ' + fmtMsAxis(d.thresholdMs) + ', last ' + rangeLabel(slaMin), levelOf(d.compliance, 99, 95));
      } else {
        setKPI('kpi-delivery-sla', '–', 'no deliveries in the last ' + rangeLabel(slaMin));
      }
      if (i.count > 0) {
        setKPI('kpi-ingest-sla', fmtMs(i.p99), fmtPct(i.compliance) + ' within ' + fmtMsAxis(i.thresholdMs) + ', last ' + rangeLabel(slaMin), levelOf(i.compliance, 99, 95));
      } else {
        setKPI('kpi-ingest-sla', '–', 'no reports in the last ' + rangeLabel(slaMin));
      }
    } else {
      ['kpi-delivery-sla', 'kpi-ingest-sla'].forEach(function (id) { staleKPI(id, sla, 'sla'); });
    }
  }

  var WASTE_WARN = 0.15; // a currency with more of its spend wasted on failures is flagged

  // renderSpend shows the currency most messages were priced in (then the
  // one with most delivered): amounts in different currencies cannot be
  // compared without exchange rates, so the largest amount means nothing.
  // The others are counted and their totals are in the title; the wasted
  // share is judged per currency, naming each one over WASTE_WARN.
  function renderSpend(spend) {
    var currencies = Object.keys(spend).sort(function (a, b) {
      return spend[b].messages - spend[a].messages || spend[b].delivered - spend[a].delivered || (a < b ? -1 : 1);
    });
    if (!currencies.length) { setKPI('kpi-cost', '–', 'no priced messages yet'); return; }
    var main = currencies[0], m = spend[main];
    var over = currencies.filter(function (c) { return spend[c].cost > 0 && spend[c].wasted / spend[c].cost > WASTE_WARN; });
    var note = fmtMoney(m.wasted, main, true) + ' wasted' + (currencies.length > 1 ? '' : ' on failures');
    if (currencies.length > 1) note += ' · +' + (currencies.length - 1) + ' currenc' + (currencies.length > 2 ? 'ies' : 'y');
    if (over.length && currencies.length > 1) note += ' · over ' + WASTE_WARN * 100 + '% wasted in ' + over.join(', ');
    var title = currencies.map(function (c) {
      var s = spend[c];
      return fmtMoney(s.cost, c, true) + ' on ' + fmtInt(s.messages) + ' message' + (s.messages === 1 ? '' : 's') +
        ', ' + fmtMoney(s.wasted, c, true) + ' wasted' + (s.cost > 0 ? ' (' + localNum((100 * s.wasted / s.cost).toFixed(1)) + '%)' : '');
    }).join('\n');
    setKPI('kpi-cost', fmtMoney(m.cost, main, true), note, over.length ? 'bad' : '', null, title);
    $('#kpi-cost .kpi-note').title = title;
  }

  // rangeLabel names a range of m minutes; by default that of the SLA
  // figures on the page, which lag a change of range by one answer.
  function rangeLabel(m) {
    m = m || state.slaMin || state.rangeMin;
    return m < 60 ? m + ' min' : m === 60 ? 'hour' : (m / 60) + ' h';
  }

  // ------------------------------------------------------------ carriers

  var SEVERITY = { REROUTE: 0, WATCH: 1, KEEP: 2 };

  // renderCarriers lists the carriers to act on first, then by volume, and
  // the first CARRIER_ROWS of them unless asked for all.
  function renderCarriers(r) {
    var panel = $('#carriers-panel');
    var tbody = $('#carriers tbody');
    var more = $('#carriers-more');
    if (r) {
      setFreshness(panel, r, 'carriers', 'Carriers');
      if (r.ok) state.lastCarriers = r;
    }
    r = state.lastCarriers;
    if (!r) return;
    var list = r.data.carriers.slice().sort(function (a, b) {
      var sa = SEVERITY[a.recommendation], sb = SEVERITY[b.recommendation];
      if (sa !== sb) return (sa === undefined ? 3 : sa) - (sb === undefined ? 3 : sb);
      return b.total - a.total || b.failureRate - a.failureRate || (a.carrier < b.carrier ? -1 : 1);
    });
    // A row is a carrier in one currency; the button counts carriers, and
    // the rows too when they differ.
    var names = Object.keys(list.reduce(function (seen, c) { seen[c.carrier] = true; return seen; }, Object.create(null))).length;
    more.hidden = list.length <= CARRIER_ROWS;
    more.textContent = state.showAllCarriers ? 'Show the first ' + CARRIER_ROWS + ' rows' :
      'Show all ' + names + ' carrier' + (names === 1 ? '' : 's') + (names === list.length ? '' : ' (' + list.length + ' rows)');
    if (!list.length) {
      emptyRow(tbody, 11, 'No delivery reports yet. They appear here as CXone posts them to /webhooks/cxone/sms.');
      return;
    }
    clear(tbody);
    (state.showAllCarriers ? list : list.slice(0, CARRIER_ROWS)).forEach(function (c) {
      var rec = (c.recommendation || 'KEEP').toLowerCase();
      // The rates are the row's counts, rounded once as the reason rounds
      // them (the answer's rates are rounded already), to at least the
      // answer's two decimals and to the reason's own when it has more. The
      // delivery rate is what the failure rate leaves of 100, so the two
      // add up.
      var terminal = c.delivered + c.failed;
      var prec = failurePrecision(c.failed, terminal, c.reason);
      var failedRate = shareFixed(c.failed, terminal, prec);
      var deliveredRate = complementFixed(failedRate);
      var pct = function (s) { return s === '–' ? s : localNum(s) + '%'; };
      var reason = c.reason === undefined || c.reason === null ? '' : String(c.reason);
      var localReason = localText(reason);
      var bar = h('div', { class: 'ratebar' },
        h('div', { class: 'track' }, h('div', { class: 'fill' })),
        h('span', { class: 'value', text: pct(deliveredRate) }));
      $('.fill', bar).style.width = (terminal ? 100 * c.delivered / terminal : 0) + '%';
      var failClass = rec === 'reroute' ? 'num fail-high' : rec === 'watch' ? 'num fail-mid' : 'num';
      var sub = c.currency || '';
      if (c.estimatedCosts) sub += ' · ' + fmtInt(c.estimatedCosts) + ' estimated';
      tbody.appendChild(h('tr', { class: 'rec-' + rec, 'data-carrier': c.carrier, 'data-currency': c.currency },
        h('td', { class: 'name' }, shown(c.carrier, { class: 'cell-main', title: visible(c.carrier) }),
          sub ? h('span', { class: 'cell-sub', text: sub,
            title: c.estimatedCosts ? fmtInt(c.estimatedCosts) + ' messages priced from the rate card: their reports carried no price' : null }) : null),
        h('td', { class: 'num', 'data-label': 'Messages', text: fmtInt(c.total) }),
        h('td', { class: 'num opt', text: fmtInt(c.delivered) }),
        h('td', { class: 'num', text: fmtInt(c.failed) }),
        h('td', { class: 'num opt', text: fmtInt(c.pending) }),
        h('td', { class: 'rate', 'data-label': 'Delivered' }, bar),
        h('td', { class: failClass, 'data-label': 'Failed', text: pct(failedRate) }),
        h('td', { class: 'num opt cost', 'data-label': 'Cost', text: fmtMoney(c.totalCost, c.currency) }),
        h('td', { class: 'num opt cost', 'data-label': 'Wasted', text: fmtMoney(c.wastedCost, c.currency) }),
        h('td', { class: 'num opt cost', 'data-label': 'Per delivered', text: c.delivered ? fmtMoney(c.costPerDelivered, c.currency) : '–' }),
        h('td', { class: 'rec' },
          h('span', { class: 'badge badge-' + rec, text: c.recommendation }),
          h('span', { class: 'cell-sub', text: localReason, title: localReason !== reason ? reason : null }))
      ));
    });
  }

  // ------------------------------------------------------------ charts

  // niceTicks returns about n round tick values from 0 to at least max.
  function niceTicks(max, n, integer) {
    if (!(max > 0)) max = 1;
    var raw = max / n;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; }) || 10 * mag;
    if (integer) step = Math.max(1, Math.ceil(step));
    var ticks = [];
    for (var v = 0; v < max + step * 0.999; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
    return ticks;
  }

  // msTicks returns round durations (1-2-5 ms, then seconds and minutes
  // people read easily) from 0 to at least max.
  var MS_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 15000, 20000, 30000,
    60000, 120000, 300000, 600000, 900000, 1800000, 3600000];
  function msTicks(max, n) {
    if (!(max > 0)) max = 1;
    var step = MS_STEPS.find(function (s) { return max / s <= n; }) || 3600000 * Math.ceil(max / n / 3600000);
    var ticks = [];
    for (var v = 0; v < max + step * 0.999; v += step) ticks.push(Math.round(v * 1e3) / 1e3);
    return ticks;
  }

  // timeTicks picks minute-aligned x ticks that fit the width.
  function timeTicks(from, to, width) {
    var spanMin = (to - from) / 60000;
    var fit = Math.max(2, Math.floor(width / 72));
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720];
    var step = steps.find(function (s) { return spanMin / s <= fit; }) || 1440;
    var ms = step * 60000;
    var offset = new Date(from).getTimezoneOffset() * 60000;
    var first = Math.ceil((from.getTime() - offset) / ms) * ms + offset;
    var out = [];
    for (var t = first; t <= to.getTime(); t += ms) out.push(new Date(t));
    return out;
  }

  function frame(el) {
    var w = Math.max(260, Math.round(el.clientWidth || 600));
    var hgt = Math.max(160, Math.round(el.clientHeight || 240));
    var m = { l: 56, r: 14, t: 14, b: 26 };
    return { w: w, h: hgt, m: m, pw: w - m.l - m.r, ph: hgt - m.t - m.b };
  }

  function emptyChart(el, text) {
    clear(el).appendChild(h('div', { class: 'empty-chart', text: text }));
  }

  function axes(root, f, yTicks, yScale, yFmt, xTicks, xScale) {
    var g = svg('g', { class: 'axis' });
    yTicks.forEach(function (v) {
      var y = yScale(v);
      g.appendChild(svg('line', { class: 'gridline', x1: f.m.l, x2: f.w - f.m.r, y1: y, y2: y }));
      g.appendChild(svg('text', { x: f.m.l - 8, y: y + 4, 'text-anchor': 'end', text: yFmt(v) }));
    });
    xTicks.forEach(function (t) {
      var x = xScale(t.getTime());
      g.appendChild(svg('text', { x: x, y: f.h - 6, 'text-anchor': 'middle', text: fmtHM(t) }));
    });
    root.appendChild(g);
  }

  var tooltip = null;
  function showTooltip(evt, rows, title) {
    tooltip = tooltip || $('#tooltip');
    clear(tooltip);
    tooltip.appendChild(h('b', { text: title }));
    rows.forEach(function (r) {
      tooltip.appendChild(h('div', { class: 't-row' }, h('span', { text: r[0] }), h('span', { text: r[1] })));
    });
    tooltip.hidden = false;
    var x = evt.clientX + 14, y = evt.clientY + 14;
    var bw = tooltip.offsetWidth, bh = tooltip.offsetHeight;
    if (x + bw > window.innerWidth - 8) x = evt.clientX - bw - 14;
    if (y + bh > window.innerHeight - 8) y = evt.clientY - bh - 14;
    tooltip.style.left = Math.max(4, x) + 'px';
    tooltip.style.top = Math.max(4, y) + 'px';
  }
  function hideTooltip() { if (tooltip) tooltip.hidden = true; }

  function renderSLA(r) {
    setFreshness($('#sla-panel'), r, 'sla', 'SLA');
    setFreshness($('#throughput-panel'), r, 'sla', 'Throughput');
    setFreshness($('#sla-carriers-panel'), r, 'sla', 'Latency by carrier');
    drawSLAChart();
    drawThroughput();
    renderSLACarriers();
  }

  function drawSLAChart() {
    var el = $('#sla-chart');
    var data = state.sla, range = state.slaRange;
    var kind = state.kind;
    var threshold = data ? data[kind].thresholdMs : 0;
    $('#sla-sub').textContent = (kind === 'delivery'
      ? 'Delivery latency (first QUEUED, PENDING or SENT report to the terminal one, carrier time)'
      : 'Ingest latency (accepted to projected)') + ', per minute, last ' + rangeLabel() + '.';
    if (!data) { emptyChart(el, 'No SLA data.'); return; }
    var overall = data[kind];
    $('#sla-threshold-label').textContent = 'SLA ' + fmtMsAxis(threshold) + ' · ' +
      (overall.count ? fmtPct(overall.compliance) + ' within' : 'no data');
    var pts = data.windows
      .filter(function (w) { return w[kind].count > 0; })
      .map(function (w) { return { t: new Date(w.minute).getTime(), p: w[kind], n: w.throughput }; });
    if (!pts.length) {
      emptyChart(el, kind === 'delivery'
        ? 'No message reached a terminal status in the last ' + rangeLabel() + '.'
        : 'No reports projected in the last ' + rangeLabel() + '.');
      return;
    }
    var f = frame(el);
    var dataMax = 0;
    pts.forEach(function (p) { dataMax = Math.max(dataMax, p.p.p99, p.p.p90, p.p.p50); });
    var showThreshold = threshold > 0 && threshold <= Math.max(dataMax, 1) * 3;
    var yTop = Math.max(dataMax * 1.12, showThreshold ? threshold * 1.08 : 0, 1);
    var yTicks = msTicks(yTop, 4);
    var yMax = yTicks[yTicks.length - 1];
    var x0 = range.from.getTime(), x1 = range.to.getTime();
    var xScale = function (t) { return f.m.l + (t + 30000 - x0) / (x1 - x0) * f.pw; };
    var yScale = function (v) { return f.m.t + f.ph - v / yMax * f.ph; };

    var root = svg('svg', { viewBox: '0 0 ' + f.w + ' ' + f.h, role: 'img', preserveAspectRatio: 'none',
      'aria-label': (kind === 'delivery' ? 'Delivery' : 'Ingest') + ' latency p50, p90 and p99 per minute; overall p90 ' + fmtMs(overall.p90) });
    axes(root, f, yTicks, yScale, fmtMsAxis, timeTicks(range.from, range.to, f.pw), xScale);
    if (showThreshold) {
      var ty = yScale(threshold);
      root.appendChild(svg('line', { class: 'threshold', x1: f.m.l, x2: f.w - f.m.r, y1: ty, y2: ty }));
      root.appendChild(svg('text', { class: 'threshold-label', x: f.w - f.m.r - 4, y: ty - 5, 'text-anchor': 'end', text: 'SLA ' + fmtMsAxis(threshold) }));
    } else if (threshold > 0) {
      root.appendChild(svg('text', { class: 'threshold-label', x: f.w - f.m.r - 4, y: f.m.t + 2, 'text-anchor': 'end', text: 'SLA ' + fmtMsAxis(threshold) + ' ↑ (off scale)' }));
    }
    ['p50', 'p90', 'p99'].forEach(function (q) {
      var d = '', prev = null;
      pts.forEach(function (p) {
        var x = xScale(p.t).toFixed(1), y = yScale(p.p[q]).toFixed(1);
        d += (prev !== null && p.t - prev <= 60000 ? 'L' : 'M') + x + ' ' + y;
        prev = p.t;
      });
      root.appendChild(svg('path', { class: 'line ' + q, d: d }));
      if (pts.length <= 90) {
        pts.forEach(function (p) {
          root.appendChild(svg('circle', { class: 'dot ' + q, cx: xScale(p.t), cy: yScale(p.p[q]), r: pts.length > 40 ? 2 : 3 }));
        });
      }
    });
    var cursor = svg('line', { class: 'cursor', y1: f.m.t, y2: f.m.t + f.ph, x1: 0, x2: 0, visibility: 'hidden' });
    root.appendChild(cursor);
    var hit = svg('rect', { class: 'hit', x: f.m.l, y: f.m.t, width: f.pw, height: f.ph });
    hit.addEventListener('pointermove', function (evt) {
      var box = root.getBoundingClientRect();
      var x = (evt.clientX - box.left) * f.w / box.width;
      var best = null, bestD = Infinity;
      pts.forEach(function (p) { var dd = Math.abs(xScale(p.t) - x); if (dd < bestD) { bestD = dd; best = p; } });
      if (!best) return;
      var cx = xScale(best.t);
      cursor.setAttribute('x1', cx); cursor.setAttribute('x2', cx); cursor.setAttribute('visibility', 'visible');
      showTooltip(evt, [
        ['p50', fmtMs(best.p.p50)], ['p90', fmtMs(best.p.p90)], ['p99', fmtMs(best.p.p99)],
        ['within SLA', fmtPct(best.p.compliance)], [kind === 'delivery' ? 'messages' : 'reports', fmtInt(best.p.count)]
      ], fmtHM(new Date(best.t)));
    });
    hit.addEventListener('pointerleave', function () {
      cursor.setAttribute('visibility', 'hidden'); hideTooltip();
    });
    root.appendChild(hit);
    clear(el).appendChild(root);
  }

  function drawThroughput() {
    var el = $('#throughput-chart');
    var data = state.sla, range = state.slaRange;
    if (!data) { emptyChart(el, 'No throughput data.'); return; }
    var binMin = Math.max(1, Math.ceil((state.slaMin || state.rangeMin) / 90));
    var binMs = binMin * 60000;
    var x0 = range.from.getTime(), x1 = range.to.getTime();
    var n = Math.ceil((x1 - x0) / binMs);
    var bins = new Array(n).fill(0);
    data.windows.forEach(function (w) {
      var i = Math.floor((new Date(w.minute).getTime() - x0) / binMs);
      if (i >= 0 && i < n) bins[i] += w.throughput;
    });
    $('#throughput-sub').textContent = fmtInt(data.throughput) + ' reports accepted in the last ' + rangeLabel() +
      ', per ' + (binMin === 1 ? 'minute' : binMin + ' minutes') + '.';
    var max = Math.max.apply(null, bins);
    var peakAt = bins.indexOf(max);
    var perBin = binMin === 1 ? '/min' : '/' + binMin + ' min';
    // The newest bin is still filling: "Now" beside the top figure's
    // reports in the last 60 s read as two answers to one question.
    $('#tp-now-label').textContent = binMin === 1 ? 'This minute so far' : 'These ' + binMin + ' min so far';
    setStat('#tp-now', fmtInt(bins[n - 1] || 0), perBin);
    setStat('#tp-peak', max ? fmtInt(max) : '–', max ? perBin + ' at ' + fmtHM(new Date(x0 + peakAt * binMs)) : '');
    setStat('#tp-total', fmtInt(data.throughput), 'reports');
    if (max === 0) { emptyChart(el, 'No reports accepted in the last ' + rangeLabel() + '.'); return; }
    var f = frame(el);
    var yTicks = niceTicks(max * 1.1, 4, true);
    var yMax = yTicks[yTicks.length - 1];
    var xScale = function (t) { return f.m.l + (t - x0) / (x1 - x0) * f.pw; };
    var yScale = function (v) { return f.m.t + f.ph - v / yMax * f.ph; };
    var root = svg('svg', { viewBox: '0 0 ' + f.w + ' ' + f.h, role: 'img', preserveAspectRatio: 'none',
      'aria-label': 'Reports accepted per ' + (binMin === 1 ? 'minute' : binMin + ' minutes') + '; peak ' + fmtInt(max) });
    axes(root, f, yTicks, yScale, function (v) { return fmtInt(v); }, timeTicks(range.from, range.to, f.pw), xScale);
    var bw = f.pw / n;
    var gap = bw > 6 ? Math.min(4, bw * 0.2) : 0.5;
    bins.forEach(function (v, i) {
      if (!v) return;
      var t = x0 + i * binMs;
      var bar = svg('rect', { class: 'bar', x: xScale(t) + gap / 2, y: yScale(v), width: Math.max(1, bw - gap), height: f.m.t + f.ph - yScale(v), rx: bw > 6 ? 2 : 0 });
      bar.addEventListener('pointermove', function (evt) {
        showTooltip(evt, [['reports', fmtInt(v)]], fmtHM(new Date(t)) + (binMin > 1 ? '–' + fmtHM(new Date(t + binMs)) : ''));
      });
      bar.addEventListener('pointerleave', hideTooltip);
      root.appendChild(bar);
    });
    clear(el).appendChild(root);
  }

  function setStat(sel, value, unit) {
    var dd = clear($(sel));
    append(dd, value);
    if (unit) append(dd, h('small', { text: ' ' + unit }));
  }

  function renderSLACarriers() {
    var tbody = $('#sla-carriers tbody');
    var more = $('#sla-carriers-more');
    var data = state.sla;
    $('#sla-carriers-sub').textContent = 'Busiest first, last ' + rangeLabel() + '.';
    if (!data) { emptyRow(tbody, 6, 'No data.'); more.hidden = true; return; }
    var list = data.carriers.slice().sort(function (a, b) { return b.reports - a.reports || (a.carrier < b.carrier ? -1 : 1); });
    more.hidden = list.length <= SLA_CARRIER_ROWS;
    more.textContent = state.showAllSLACarriers ? 'Show the first ' + SLA_CARRIER_ROWS : 'Show all ' + list.length + ' carriers';
    if (!list.length) { emptyRow(tbody, 6, 'No reports in the last ' + rangeLabel() + '.'); return; }
    clear(tbody);
    (state.showAllSLACarriers ? list : list.slice(0, SLA_CARRIER_ROWS)).forEach(function (c) {
      var d = c.delivery;
      var compClass = d.count ? (d.compliance >= 99 ? 'num' : d.compliance >= 95 ? 'num fail-mid' : 'num fail-high') : 'num';
      tbody.appendChild(h('tr', { 'data-carrier': c.carrier },
        h('td', { class: 'name' }, shown(c.carrier, { class: 'cell-main', title: visible(c.carrier) })),
        h('td', { class: 'num', text: fmtInt(c.reports) }),
        h('td', { class: 'num opt', text: d.count ? fmtMs(d.p50) : '–' }),
        h('td', { class: 'num', text: d.count ? fmtMs(d.p90) : '–' }),
        h('td', { class: compClass, text: d.count ? fmtPct(d.compliance) : '–' }),
        h('td', { class: 'num opt', text: c.ingest.count ? fmtMs(c.ingest.p99) : '–' })));
    });
  }

  // ------------------------------------------------------------ projections

  function renderProjections(r, token) {
    var panel = $('#projections-panel');
    var form = $('#token-form');
    var msg = $('#token-message');
    var wrap = $('#projections-wrap');
    var forget = $('#forget-token');
    if (!token) {
      setPanelError(panel, '');
      panel.classList.remove('stale');
      form.hidden = false; wrap.hidden = true; forget.hidden = true;
      if (!msg.classList.contains('error')) {
        msg.textContent = 'This panel needs the admin token (ADMIN_TOKEN). It is kept in this browser tab only.';
      }
      return;
    }
    if (!r.ok && r.status === 401) {
      setPanelError(panel, '');
      panel.classList.remove('stale');
      sessionStorage.removeItem(TOKEN_KEY);
      form.hidden = false; wrap.hidden = true; forget.hidden = true;
      msg.classList.add('error');
      msg.textContent = 'The admin token was refused (' + r.error + '). Enter the ADMIN_TOKEN the service runs with.';
      $('#token-input').value = '';
      return;
    }
    form.hidden = true; forget.hidden = false;
    msg.classList.remove('error');
    setFreshness(panel, r, 'projections', 'Projections');
    if (!r.ok) {
      // The old rows stay, dimmed, but no state is claimed for now: a
      // projection that was live may have stopped since.
      Array.prototype.forEach.call(document.querySelectorAll('#projections tbody .badge'), function (b) {
        if (b.textContent !== 'unknown') b.title = 'was ' + b.textContent + ' as of ' + fmtClock(state.okAt.projections);
        b.className = 'badge badge-unknown';
        b.textContent = 'unknown';
      });
      return;
    }
    wrap.hidden = false;
    var tbody = $('#projections tbody');
    var list = r.data.projections;
    if (!list.length) { emptyRow(tbody, 6, 'No projections.'); return; }
    clear(tbody);
    list.forEach(function (p) {
      var sub = p.lastError ? h('span', { class: 'cell-sub fail-high', text: p.lastError }) :
        p.rebuiltAt ? h('span', { class: 'cell-sub', text: 'rebuilt ' + fmtAgo(p.rebuiltAt) + (p.rulesVersion ? ' · rules ' + p.rulesVersion : '') }) : null;
      tbody.appendChild(h('tr', { 'data-projection': p.name },
        h('td', { class: 'name' }, h('span', { class: 'cell-main mono', text: p.name }), sub),
        h('td', null, h('span', { class: 'badge badge-' + p.state, text: p.state })),
        h('td', { class: 'num' + (p.lagEvents > 0 ? ' fail-mid' : ''), text: fmtInt(p.lagEvents) }),
        h('td', { class: 'num', text: fmtSeconds(p.lagSeconds) }),
        h('td', { class: 'num' + (p.deadLetters > 0 ? ' fail-high' : ''), text: fmtInt(p.deadLetters) }),
        h('td', { class: 'num mono muted opt', text: p.position })));
    });
  }

  // ------------------------------------------------------------ violations

  // renderViolations lists the most recent first, the first VIOLATION_ROWS
  // of them unless asked for all; without an answer it redraws the last one.
  function renderViolations(r) {
    var panel = $('#violations-panel');
    var tbody = $('#violations tbody');
    var more = $('#violations-more');
    if (r) {
      setFreshness(panel, r, 'violations', 'Violations');
      if (r.ok) state.lastViolations = r;
    }
    r = state.lastViolations;
    if (!r) return;
    var list = r.data.violations.slice().sort(function (a, b) { return new Date(b.lastSeen) - new Date(a.lastSeen); });
    var total = list.reduce(function (n, v) { return n + v.count; }, 0);
    // A sender ID breaking rules in several regions is one sender ID.
    var senders = list.reduce(function (seen, v) { seen[v.senderId] = true; return seen; }, Object.create(null));
    var nSenders = Object.keys(senders).length;
    $('#violations-sub').textContent = list.length
      ? fmtInt(nSenders) + ' sender ID' + (nSenders === 1 ? '' : 's') + ' breaking rules in ' + fmtInt(total) +
        ' message' + (total === 1 ? '' : 's') + ', most recent first.'
      : 'Sender IDs breaking the destination country\u2019s rules, most recent first.';
    more.hidden = list.length <= VIOLATION_ROWS;
    more.textContent = state.showAllViolations ? 'Show the first ' + VIOLATION_ROWS : 'Show all ' + list.length + ' violations';
    if (!list.length) { emptyRow(tbody, 6, 'No violations under rules ' + r.data.rulesVersion + '.'); return; }
    clear(tbody);
    (state.showAllViolations ? list : list.slice(0, VIOLATION_ROWS)).forEach(function (v) {
      tbody.appendChild(h('tr', { 'data-sender': v.senderId },
        h('td', { class: 'name' }, shown(v.senderId, { class: 'cell-main mono', title: visible(v.senderId) }),
          h('span', { class: 'cell-sub phone-only', title: v.rule }, 'to ', shown(v.region))),
        h('td', { class: 'opt' }, shown(v.region)),
        h('td', { class: 'opt' }, h('code', { class: 'rule', text: v.rule })),
        h('td', { class: 'reason', text: v.reason }),
        h('td', { class: 'num', text: fmtInt(v.count) }),
        h('td', { class: 'num muted opt', title: fmtDateTime(v.lastSeen) + (utcTitle(v.lastSeen) ? '\n' + utcTitle(v.lastSeen) : ''), text: fmtAgo(v.lastSeen) })));
    });
  }

  // ------------------------------------------------------------ message history

  // The dialog follows the URL: #message=ID shows that message, any other
  // URL shows none. Opening a message adds a history entry, so Back closes
  // the dialog or shows the message before; closing it goes back to the
  // URL without #message=.

  // openMessage opens a message from the search box, as a new history entry.
  function openMessage(id) {
    id = (id || '').trim();
    if (!id) return;
    if (state.leaving) { state.openNext = id; return; } // once the Back of a close has landed
    var hash = '#message=' + encodeURIComponent(id);
    if (location.hash !== hash) history.pushState({ cxsmsPushed: PAGE_ID }, '', location.pathname + location.search + hash);
    followURL();
  }

  // PAGE_ID tells this page's history entries from those of an earlier
  // load of it (a reload keeps history.state): only back to one of its own
  // does a closed dialog go.
  var PAGE_ID = String(Date.now()) + Math.random();

  // hashMessage is the message the URL names, or ''. It reads the ID
  // leniently: a link typed or pasted by hand may hold a raw "%"
  // ("#message=100%") or a broken escape, which decodeURIComponent
  // refuses; such an ID is taken as written.
  function hashMessage() {
    if (location.hash.indexOf('#message=') !== 0) return '';
    var raw = location.hash.slice(9), id;
    try { id = decodeURIComponent(raw); } catch (e) { id = raw; }
    return id.trim();
  }

  // followURL makes the dialog show what the URL names: at start, on Back
  // and Forward, and when a #message= link is pasted into an open dashboard.
  function followURL() {
    if (state.leaving) {
      state.leaving = false;
      if (state.openNext) {
        var next = state.openNext;
        state.openNext = '';
        openMessage(next);
        return;
      }
    }
    var id = hashMessage();
    var dlg = $('#message');
    if (!id) {
      if (dlg.open) dlg.close();
      return;
    }
    if (id === state.messageId && dlg.open) return;
    state.messageId = id;
    clear($('#message-title')).appendChild(shown(id));
    clear($('#message-body')).appendChild(h('p', { class: 'muted', text: 'Loading…' }));
    if (!dlg.open) dlg.showModal();
    // A link written by hand is kept in its canonical form.
    var hash = '#message=' + encodeURIComponent(id);
    if (location.hash !== hash) history.replaceState(history.state, '', location.pathname + location.search + hash);
    loadMessage(id);
  }

  // closeMessage closes the dialog as the reader asked (Close, Escape, the
  // backdrop) and mends the URL at once, not on the close event: that event
  // comes a task later, on a busy machine after the next message was opened
  // from the search box, whose entry its Back would then leave.
  function closeMessage() {
    var dlg = $('#message');
    if (dlg.open) dlg.close();
    closedMessage();
  }

  // closedMessage takes #message= out of the URL once the dialog closed:
  // back to the entry before when this page added it, else the same entry
  // without it, so closing never leaves the dashboard. It also runs on every
  // close event, for closes closeMessage did not see, so it must be a no-op
  // when it comes late: after a quick Back and Forward, Forward may have
  // opened the dialog again before the close of Back arrives, and a close
  // already handled is still on its way back.
  // outsideOf reports whether a pointer event fell outside el's box: on a
  // modal dialog, on its backdrop.
  function outsideOf(el, evt) {
    var r = el.getBoundingClientRect();
    return evt.clientX < r.left || evt.clientX > r.right || evt.clientY < r.top || evt.clientY > r.bottom;
  }

  function closedMessage() {
    if ($('#message').open || state.leaving) return;
    state.messageId = '';
    if (location.hash.indexOf('#message=') !== 0) return; // the URL closed it
    if (history.state && history.state.cxsmsPushed === PAGE_ID) {
      state.leaving = true;
      history.back();
    } else {
      history.replaceState(null, '', location.pathname + location.search);
    }
  }

  function loadMessage(id) {
    if (id === '.' || id === '..') {
      // A browser reads /messages/.. as "up one level", escaped (%2E%2E) or
      // not, so it cannot ask for these IDs; say so instead of asking.
      clear($('#message-body')).appendChild(h('div', { class: 'notice error' },
        'A browser cannot ask for the message \u201c' + id + '\u201d: it reads /messages/' + id +
        ' as a path step. Ask the API directly, e.g. curl \'' + location.origin + '/messages/' +
        id.replace(/\./g, '%2E') + '\'.'));
      return;
    }
    var enc = encodeURIComponent(id);
    Promise.all([api('/messages/' + enc), api('/messages/' + enc + '/history')]).then(function (r) {
      if (state.messageId !== id) return;
      renderMessage(id, r[0], r[1]);
    });
  }

  function fact(label, value) {
    return h('div', null, h('dt', { text: label }), h('dd', null, value === '' || value === undefined || value === null ? '–' : value));
  }

  function renderMessage(id, st, hist) {
    var body = clear($('#message-body'));
    if (!st.ok && st.status === 404 && !hist.ok && hist.status === 404) {
      body.appendChild(h('div', { class: 'notice error' }, 'No message with ID \u201c', shown(id), '\u201d in the log.'));
      return;
    }
    if (st.ok) {
      var m = st.data;
      body.appendChild(h('dl', { class: 'facts' },
        fact('Status', h('span', { class: 'badge badge-status ' + statusClass(m.status), text: m.status })),
        fact('Carrier', m.carrierCode && shown(m.carrierCode)),
        fact('Sender ID', m.senderId && shown(m.senderId)),
        fact('Recipient', m.recipient && shown(m.recipient)),
        fact('Region', m.region && shown(m.region)),
        fact('Error code', m.errorCode && shown(m.errorCode)),
        fact('Reports', fmtInt(m.eventCount)),
        fact('Price', m.price !== undefined ? fmtMoney(m.price, m.currency) : ''),
        fact('Updated', h('span', { text: fmtDateTime(m.updatedAt), title: utcTitle(m.updatedAt) }))));
    } else if (st.status === 404) {
      body.appendChild(h('div', { class: 'notice', text: 'Not in the current-status read model yet: the projection may still be catching up with the log.' }));
    } else {
      body.appendChild(h('div', { class: 'notice error', text: 'Current status: ' + st.error }));
    }
    if (!hist.ok) {
      body.appendChild(h('div', { class: 'notice error', text: 'History: ' + hist.error }));
      return;
    }
    var events = hist.data.events;
    body.appendChild(h('h3', { class: 'history-title', text: 'History · ' + fmtInt(events.length) + ' report' + (events.length === 1 ? '' : 's') + ' in log order' }));
    var list = h('ol', { class: 'timeline' });
    var more = h('button', { type: 'button', class: 'ghost small more', id: 'history-more' });
    var done = 0;
    // showEvents adds the next HISTORY_ROWS events at once: a long history
    // is drawn a page at a time, never all in one task.
    var showEvents = function () {
      var frag = document.createDocumentFragment();
      var end = Math.min(events.length, done + HISTORY_ROWS);
      for (; done < end; done++) frag.appendChild(eventItem(events[done], done, events.length));
      list.appendChild(frag);
      var left = events.length - done;
      more.hidden = left === 0;
      more.textContent = 'Show ' + fmtInt(Math.min(left, HISTORY_ROWS)) + ' more (' + fmtInt(left) + ' not shown)';
    };
    more.addEventListener('click', showEvents);
    showEvents();
    body.appendChild(list);
    body.appendChild(more);
  }

  var HISTORY_ROWS = 200; // history events drawn at a time

  // eventItem is one report of a history. Its raw payload is written into
  // the page when first opened: most stay closed, and a long history's
  // payloads are most of its text.
  function eventItem(e, i, n) {
    var pre = h('pre', { class: 'raw', dir: 'ltr' });
    var details = h('details', { class: 'payload', open: n <= 4 || i === n - 1 },
      h('summary', { text: 'Raw payload' + (e.format === 'smpp_receipt' ? ' (receipt text)' : '') }), pre);
    var fill = function () {
      if (pre.firstChild) return;
      var payload = typeof e.payload === 'string' ? e.payload : JSON.stringify(e.payload, null, 2);
      append(pre, visibleNodes(payload));
    };
    if (details.open) fill();
    else details.addEventListener('toggle', fill);
    return h('li', { class: statusClass(e.status), 'data-event': e.eventId },
      h('div', { class: 'event-head' },
        h('span', { class: 'badge badge-status ' + statusClass(e.status), text: e.status }),
        e.rawStatus && e.rawStatus !== e.status ? h('code', { class: 'muted' }, shown(e.rawStatus)) : null,
        h('span', { class: 'muted small', text: e.format })),
      h('div', { class: 'event-meta' },
        h('span', null, 'Occurred ', h('b', { text: fmtDateTime(e.occurredAt), title: utcTitle(e.occurredAt) })),
        h('span', null, 'Received ', h('b', { text: fmtDateTime(e.receivedAt), title: utcTitle(e.receivedAt) })),
        e.carrierCode ? h('span', null, 'Carrier ', h('b', null, shown(e.carrierCode))) : null,
        e.errorCode ? h('span', null, 'Error ', h('b', null, shown(e.errorCode))) : null,
        h('span', null, 'Event ', h('b', { class: 'mono' }, shown(e.eventId)))),
      details);
  }

  // ------------------------------------------------------------ wiring

  function init() {
    $('#search').addEventListener('submit', function (evt) {
      evt.preventDefault();
      openMessage($('#search-input').value);
    });
    $('#message-close').addEventListener('click', closeMessage);
    $('#message').addEventListener('cancel', function (evt) { // Escape
      evt.preventDefault();
      closeMessage();
    });
    $('#message-reload').addEventListener('click', function () {
      if (!state.messageId) return;
      clear($('#message-body')).appendChild(h('p', { class: 'muted', text: 'Loading…' }));
      loadMessage(state.messageId);
    });
    $('#message').addEventListener('close', closedMessage);
    // A click on the backdrop closes the dialog; one that only ends there
    // does not. A drag that selects text across the dialog's parts is a
    // click on the dialog itself, their common ancestor, and closed it.
    var pressedOutside = false;
    $('#message').addEventListener('pointerdown', function (evt) { pressedOutside = outsideOf(evt.currentTarget, evt); });
    $('#message').addEventListener('click', function (evt) {
      if (evt.target === evt.currentTarget && pressedOutside && outsideOf(evt.currentTarget, evt)) closeMessage();
      pressedOutside = false;
    });

    $('#token-form').addEventListener('submit', function (evt) {
      evt.preventDefault();
      var v = $('#token-input').value.trim();
      if (!v) return;
      if (!SENDABLE_TOKEN.test(v)) { refuseToken(UNSENDABLE_TOKEN); return; }
      sessionStorage.setItem(TOKEN_KEY, v);
      $('#token-input').value = '';
      $('#token-message').classList.remove('error');
      $('#token-message').textContent = 'Checking the token…';
      refreshNow();
    });
    $('#forget-token').addEventListener('click', function () {
      sessionStorage.removeItem(TOKEN_KEY);
      $('#token-message').classList.remove('error');
      renderProjections(null, '');
    });

    $('#carriers-more').addEventListener('click', function () {
      state.showAllCarriers = !state.showAllCarriers;
      renderCarriers();
    });
    $('#violations-more').addEventListener('click', function () {
      state.showAllViolations = !state.showAllViolations;
      renderViolations();
    });
    $('#sla-carriers-more').addEventListener('click', function () {
      state.showAllSLACarriers = !state.showAllSLACarriers;
      renderSLACarriers();
    });

    $('#pause').addEventListener('click', function () {
      state.paused = !state.paused;
      var b = $('#pause');
      b.textContent = state.paused ? 'Resume' : 'Pause';
      b.setAttribute('aria-pressed', String(state.paused));
      if (state.paused) {
        clearTimeout(state.timer);
        renderReady({ ok: true });
      } else {
        refreshNow();
      }
    });

    Array.prototype.forEach.call(document.querySelectorAll('.segmented button'), function (b) {
      b.addEventListener('click', function () {
        state.kind = b.getAttribute('data-kind');
        Array.prototype.forEach.call(document.querySelectorAll('.segmented button'), function (o) {
          o.setAttribute('aria-pressed', String(o === b));
        });
        drawSLAChart();
      });
    });
    // The range is kept in the query (?range=6h), so a reload or a shared
    // link shows the same one.
    takeRange();
    $('#range').addEventListener('change', function (evt) {
      state.rangeMin = parseInt(evt.target.value, 10) || 60;
      var q = new URLSearchParams(location.search);
      if (state.rangeMin === 60) q.delete('range');
      else q.set('range', rangeParam(state.rangeMin));
      var search = q.toString();
      history.replaceState(history.state, '', location.pathname + (search ? '?' + search : '') + location.hash);
      refreshNow();
    });

    // "Times in Asia/Kolkata (UTC+5:30)"; a phone shows the offset only.
    var zone = zoneNote();
    var z = $('#zone');
    var named = zone.long !== zone.short;
    append(clear(z), [h('span', { class: 'zone-long', text: 'Times in ' + (named ? zone.long.slice(0, -zone.short.length - 1) : '') }),
      zone.short, named ? h('span', { class: 'zone-long', text: ')' }) : null]);
    z.title = 'Times on this page are in ' + zone.long + ', on a 24-hour clock; the API\u2019s ranges and days are UTC.';

    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && !state.paused) refreshNow();
    });

    var redraw = 0;
    window.addEventListener('resize', function () {
      clearTimeout(redraw);
      redraw = setTimeout(function () { drawSLAChart(); drawThroughput(); }, 120);
    });

    // A #message= link opens its message at start; Back, Forward and a
    // link pasted into the open dashboard move the dialog with the URL.
    followURL();
    window.addEventListener('hashchange', followURL);
    window.addEventListener('popstate', function () {
      if (takeRange()) refreshNow();
      followURL();
    });
    refreshNow();
  }

  // takeRange takes the SLA range from the URL (?range=6h; none is an
  // hour), at start and on Back and Forward: a change of range rewrites
  // only the history entry it was made on. It says whether it changed.
  function takeRange() {
    var m = RANGES[new URLSearchParams(location.search).get('range')] || 60;
    if (m === state.rangeMin) return false;
    state.rangeMin = m;
    $('#range').value = String(m);
    return true;
  }

  // RANGES are the SLA ranges a URL can name, in minutes.
  var RANGES = { '15m': 15, '1h': 60, '6h': 360, '24h': 1440 };

  function rangeParam(min) { return min < 60 ? min + 'm' : (min / 60) + 'h'; }

  function refreshNow() {
    clearTimeout(state.timer);
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
