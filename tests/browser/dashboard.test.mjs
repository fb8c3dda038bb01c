// The dashboard in headless Chromium against a running cxsms: carriers with
// their recommendations, drawn charts, the admin token flow, the message
// search, hostile text, an outage, and screenshots at laptop and phone widths.
//
// scripts/test-browser.sh starts PostgreSQL and the service and runs this
// with CXSMS_URL, WEBHOOK_SECRET, ADMIN_TOKEN and ARTIFACTS_DIR set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  feed, simulate, carriers, expected, demoMessage, demoEvents, receiptMessage, longCarrier, rloMessage,
  roundingCarrier, bigCurrency, pendingCarrier, percentMessage, malformedMessage, feedLongHistory,
} from './feed.mjs';

const currencyOf = (code) => carriers.find((c) => c.code === code).currency;

const base = process.env.CXSMS_URL;
const secret = process.env.WEBHOOK_SECRET;
const adminToken = process.env.ADMIN_TOKEN;
const artifacts = process.env.ARTIFACTS_DIR || mkdtempSync(join(tmpdir(), 'cxsms-browser-artifacts-'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base || !secret || !adminToken) {
  throw new Error('set CXSMS_URL, WEBHOOK_SECRET and ADMIN_TOKEN (scripts/test-browser.sh does)');
}
mkdirSync(artifacts, { recursive: true });

let context;
let page;
let userDataDir;
let simulated = { used: false };
const problems = []; // console errors, page errors, failed requests
let outage = false; // while the test fakes failing answers

// expectedRefusal says which error answers the test itself provokes: a
// wrong admin token, a message that does not exist, and a faked outage.
function expectedRefusal(url, status) {
  const path = new URL(url).pathname;
  return (status === 401 && path === '/admin/projections') ||
    (status === 404 && path.startsWith('/messages/no-such-message')) ||
    (status === 503 && outage);
}

// cellsOutside lists the table cells drawn outside their panel: a long
// carrier code must not push the figures out of sight.
function cellsOutside() {
  return page.evaluate(() => {
    const out = [];
    document.querySelectorAll('table.data').forEach((t) => {
      const panel = t.closest('.panel').getBoundingClientRect();
      t.querySelectorAll('th, td').forEach((c) => {
        const r = c.getBoundingClientRect();
        if (r.width > 0 && (r.left < panel.left - 0.5 || r.right > panel.right + 0.5)) {
          out.push(`${t.id}: ${c.textContent.trim().slice(0, 30)}`);
        }
      });
    });
    return out;
  });
}

function watch(p) {
  p.on('console', (msg) => {
    // Chromium logs every non-2xx fetch as "Failed to load resource"; the
    // response handler below judges those.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push('console: ' + msg.text());
  });
  p.on('response', (res) => {
    if (res.status() >= 400 && !expectedRefusal(res.url(), res.status())) problems.push(`answer ${res.status()}: ${res.url()}`);
  });
  p.on('pageerror', (err) => problems.push('page error: ' + err.message));
  p.on('requestfailed', (req) => {
    // a refresh cut short by navigation or by closing the page is not a fault
    if (!/ERR_ABORTED/.test(req.failure()?.errorText || '')) problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
}

// apiGet reads a route as the dashboard does.
async function apiGet(path) {
  const res = await fetch(base + path);
  assert.equal(res.status, 200, path);
  return res.json();
}

// carrierRow is the dashboard's row for one carrier in one currency.
const carrierRow = (carrier, currency) => page.locator(`#carriers tbody tr[data-carrier="${carrier}"][data-currency="${currency}"]`);

// showAll presses a panel's "Show all" button unless every row shows.
async function showAll(button) {
  const more = page.locator(button);
  if (await more.isVisible() && /^Show all/.test(await more.textContent())) await more.click();
}

// contrastProblems lists the text under sel that reads below 4.5:1 against
// what is drawn behind it (backgrounds with alpha composited, as
// color-mix(... transparent) gives them), as axe-core judges normal text.
function contrastProblems(sel) {
  return page.evaluate((sel) => {
    // rgb(r, g, b), rgba(r, g, b, a), or color(srgb r g b / a) from color-mix
    const rgba = (c) => {
      const m = c.match(/[\d.]+/g).map(Number);
      const k = c.startsWith('color(srgb') ? 255 : 1;
      return { r: m[0] * k, g: m[1] * k, b: m[2] * k, a: m.length > 3 ? m[3] : 1 };
    };
    const over = (top, under) => ({
      r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
      b: top.b * top.a + under.b * (1 - top.a), a: 1,
    });
    const lum = (c) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const behind = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) layers.push(rgba(getComputedStyle(e).backgroundColor));
      return layers.reverse().reduce((under, top) => over(top, under), { r: 255, g: 255, b: 255, a: 1 });
    };
    const out = [];
    document.querySelectorAll(sel).forEach((el) => {
      if (!el.getClientRects().length || !el.textContent.trim()) return;
      const bg = behind(el);
      const fg = over(rgba(getComputedStyle(el).color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      if (ratio < 4.5) out.push(`${sel} "${el.textContent.trim().slice(0, 20)}": ${ratio.toFixed(2)}:1`);
    });
    return out;
  }, sel);
}

async function waitProjected() {
  const deadline = Date.now() + 60000;
  for (;;) {
    const res = await fetch(base + '/admin/projections', { headers: { Authorization: 'Bearer ' + adminToken } });
    const body = await res.json();
    if (res.ok && body.projections.length > 0 && body.projections.every((p) => p.lagEvents === 0)) return;
    if (Date.now() > deadline) throw new Error('projections did not catch up: ' + JSON.stringify(body));
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  const acked = await feed(base, secret);
  simulated = await simulate(base, 60, 'CA');
  console.log(`# fed ${acked} reports; simulator: ${simulated.used ? simulated.ids.length + ' messages' : 'not used (' + (simulated.status || simulated.error) + ')'}`);
  await waitProjected();

  // A fresh profile each run: nothing cached, nothing remembered.
  userDataDir = mkdtempSync(join(tmpdir(), 'cxsms-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1440, height: 1000 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
  });
  page = context.pages()[0] || (await context.newPage());
  watch(page);
});

after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  console.log(`# screenshots in ${artifacts}`);
});

test('the dashboard shows carriers with their recommendations', async () => {
  const res = await page.goto(base + '/', { waitUntil: 'load' });
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'] || '', /default-src 'self'/);
  await page.waitForSelector('#carriers tbody tr[data-carrier]');
  for (const [carrier, rec] of Object.entries(expected)) {
    const row = page.locator(`#carriers tbody tr[data-carrier="${carrier}"][data-currency="${currencyOf(carrier)}"]`);
    await row.waitFor();
    assert.equal(await row.locator('.badge').textContent(), rec, `${carrier}'s recommendation`);
    assert.match(await row.getAttribute('class'), new RegExp('rec-' + rec.toLowerCase()));
  }
  // REROUTE is red and WATCH amber, not just labelled so.
  // Found and read in one task: the 5 s refresh redraws the table, and a
  // badge it replaced between a locator's lookup and its evaluate has no
  // computed style left ('').
  const color = (carrier) => page.evaluate((sel) => getComputedStyle(document.querySelector(sel)).backgroundColor,
    `#carriers tr[data-carrier="${carrier}"][data-currency="USD"] .badge`);
  assert.equal(await color('VERIZON'), 'rgb(220, 38, 38)');
  assert.equal(await color('TMOBILE'), 'rgb(217, 119, 6)');
  if (simulated.used) {
    assert.ok(await page.locator('#carriers tbody tr[data-carrier]').count() > Object.keys(expected).length, 'simulated carriers appear too');
  }
  const kpi = await page.locator('#kpi-messages .kpi-value').textContent();
  assert.ok(Number(kpi.replace(/\D/g, '')) >= 160, `messages KPI ${kpi}`);
  // The longest carrier code wraps, and keeps the figures in the panel.
  await page.locator(`#carriers tr[data-carrier="${longCarrier}"]`).waitFor();
  assert.deepEqual(await cellsOutside(), [], 'cells outside their panel at 1440 px');
});

test('a carrier\'s rates agree with the reason beside them', async () => {
  await showAll('#carriers-more');
  const { carriers: rows } = await apiGet('/analytics/carriers');
  // 4 of 21 is 19.048 %: the answer and the reason say 19.05; the page
  // shows the answer's two decimals, rounded once from the counts.
  const orange = rows.find((c) => c.carrier === roundingCarrier.code && c.currency === roundingCarrier.currency);
  assert.equal(orange.failureRate, 19.05, 'the answer rounds to two decimals');
  assert.match(orange.reason, /19\.05% of 21 terminal messages failed/);
  const row = carrierRow(roundingCarrier.code, roundingCarrier.currency);
  await row.waitFor();
  assert.equal(await row.locator('td[data-label="Failed"]').textContent(), '19.05%');
  assert.equal(await row.locator('td.rate .value').textContent(), '80.95%');
  // Every carrier judged on its own figures: the rate rounds as the
  // reason's does, with two decimals or the reason's own when it has more,
  // and delivered and failed add up to 100.
  for (const c of rows) {
    const failed = await carrierRow(c.carrier, c.currency).locator('td[data-label="Failed"]').textContent();
    const delivered = await carrierRow(c.carrier, c.currency).locator('td.rate .value').textContent();
    const terminal = c.delivered + c.failed;
    if (!terminal) {
      assert.deepEqual([delivered, failed], ['–', '–'], `${c.carrier} ${c.currency} has no terminal messages`);
      continue;
    }
    const m = /^(\d+(?:\.(\d+))?)% of (\d+) terminal/.exec(c.reason);
    if (m && Number(m[3]) === terminal && !/^(0|100)%$/.test(failed)) { // (an exact 0 or 100 reads "0%", "100%")
      const k = (m[2] || '').length;
      const digits = (failed.match(/\.(\d+)%$/) || [, ''])[1].length;
      assert.ok(digits >= Math.max(2, k), `${c.carrier}: ${failed} beside ${c.reason}`);
      if (k >= 2) assert.equal(failed, m[1] + '%', `${c.carrier}: ${c.reason}`);
      else assert.ok(Math.abs(parseFloat(failed) - parseFloat(m[1])) <= 0.05 + 0.005 + 1e-9, `${c.carrier}: ${failed} beside ${c.reason}`);
    }
    assert.ok(Math.abs(parseFloat(delivered) + parseFloat(failed) - 100) < 1e-9, `${c.carrier} ${c.currency}: ${delivered} + ${failed}`);
  }
});

// Carrier rows the service gives for large counts, fed to the page in
// place of /analytics/carriers: rates on and next to the thresholds.
const thresholdRows = [
  // 599 of 4000 is 14.975 %: the answer and the reason say 14.98; one
  // decimal would read 15.0%, a REROUTE threshold, beside a WATCH.
  { carrier: 'EDGE', currency: 'USD', total: 4000, delivered: 3401, failed: 599, pending: 0, deliveryRate: 85.02, failureRate: 14.98,
    totalCost: 34, wastedCost: 5.09, costPerDelivered: 0.01, estimatedCosts: 0, recommendation: 'WATCH',
    reason: '14.98% of 4000 terminal messages failed, above the 5% WATCH threshold' },
  // 152 of 1013 is 15.005 %: two decimals would read 15.00%.
  { carrier: 'TIGHT', currency: 'USD', total: 1013, delivered: 861, failed: 152, pending: 0, deliveryRate: 85, failureRate: 15,
    totalCost: 8.6, wastedCost: 1.29, costPerDelivered: 0.01, estimatedCosts: 0, recommendation: 'REROUTE',
    reason: '15.005% of 1013 terminal messages failed, above the 15% REROUTE threshold' },
  { carrier: 'GROUPED', currency: 'USD', total: 10000, delivered: 8499, failed: 1501, pending: 0, deliveryRate: 84.99, failureRate: 15.01,
    totalCost: 85, wastedCost: 12.76, costPerDelivered: 0.01, estimatedCosts: 0, recommendation: 'WATCH',
    reason: '15.01% of 10000 terminal messages failed, above the 5.02% WATCH threshold' },
];

// withCarriers opens the dashboard in a new context of the given locale,
// its /analytics/carriers answering rows, and hands its page to fn.
async function withCarriers(locale, rows, fn) {
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const ctx = await browser.newContext({ locale, viewport: { width: 1440, height: 1000 } });
    await ctx.route('**/analytics/carriers', (route) => route.fulfill({
      status: 200, contentType: 'application/json', body: JSON.stringify({ rulesVersion: 'test', carriers: rows }),
    }));
    const p = await ctx.newPage();
    watch(p);
    await p.goto(base + '/', { waitUntil: 'load' });
    await p.waitForSelector(`#carriers tbody tr[data-carrier="${rows[0].carrier}"]`);
    await fn(p);
    await ctx.close();
  } finally {
    await browser.close();
  }
}

test('a carrier\'s rates keep their decimals: none reads as a threshold it is not above', async () => {
  for (const [locale, want] of [
    ['en-US', { EDGE: ['14.98%', '85.02%'], TIGHT: ['15.005%', '84.995%'], GROUPED: ['15.01%', '84.99%'] }],
    ['de-DE', { EDGE: ['14,98%', '85,02%'], TIGHT: ['15,005%', '84,995%'], GROUPED: ['15,01%', '84,99%'] }],
  ]) {
    await withCarriers(locale, thresholdRows, async (p) => {
      for (const [carrier, [failed, delivered]] of Object.entries(want)) {
        const row = p.locator(`#carriers tbody tr[data-carrier="${carrier}"]`);
        assert.equal(await row.locator('td[data-label="Failed"]').textContent(), failed, `${locale} ${carrier} failed`);
        assert.equal(await row.locator('td.rate .value').textContent(), delivered, `${locale} ${carrier} delivered`);
      }
    });
  }
});

test('a carrier\'s reason is written in the page\'s locale, as the server sent it in its title', async () => {
  const raw = thresholdRows[2].reason;
  for (const [locale, want] of [
    ['de-DE', /^15,01% of 10\.000 terminal messages failed, above the 5,02% WATCH threshold$/],
    ['fr-FR', /^15,01% of 10[\u202f\u00a0 ]000 terminal messages failed, above the 5,02% WATCH threshold$/],
    ['en-US', null],
  ]) {
    await withCarriers(locale, thresholdRows, async (p) => {
      const reason = p.locator('#carriers tbody tr[data-carrier="GROUPED"] td.rec .cell-sub');
      if (want) {
        assert.match(await reason.textContent(), want, locale);
        assert.equal(await reason.getAttribute('title'), raw, `${locale}: the server's text in the title`);
        assert.match(await p.locator('#carriers tbody tr[data-carrier="EDGE"] td.rec .cell-sub').textContent(),
          /^14,98% of 4[.\u202f\u00a0 ]000 terminal messages failed, above the 5% WATCH threshold$/, locale);
      } else {
        assert.equal(await reason.textContent(), raw, 'en-US shows the text as sent');
        assert.equal(await reason.getAttribute('title'), null, 'en-US: no title');
      }
    });
  }
});

test('"Show all" counts carriers, and every row shows the recommendation it was given', async () => {
  const { carriers: rows } = await apiGet('/analytics/carriers');
  const names = new Set(rows.map((c) => c.carrier)).size;
  assert.ok(names < rows.length, 'some carrier has rows in several currencies');
  const more = page.locator('#carriers-more');
  if (/^Show the first/.test(await more.textContent())) await more.click();
  assert.equal(await more.textContent(), `Show all ${names} carriers (${rows.length} rows)`);
  await more.click();
  assert.equal(await page.locator('#carriers tbody tr[data-carrier]').count(), rows.length);
  for (const c of rows) {
    const row = carrierRow(c.carrier, c.currency);
    assert.equal(await row.locator('.badge').textContent(), c.recommendation, `${c.carrier} ${c.currency}`);
    assert.equal(await row.locator('td.rec .cell-sub').textContent(), c.reason);
  }
  // A carrier with pending messages only is not judged...
  const pending = rows.find((c) => c.carrier === pendingCarrier);
  assert.equal(pending.recommendation, 'KEEP');
  assert.match(pending.reason, /^only 0 terminal messages/);
  assert.equal(await carrierRow(pendingCarrier, pending.currency).locator('.badge').textContent(), 'KEEP');
  // ...but a pending-only row of a judged carrier carries its verdict, as
  // the answer gives it, and says whose figures it is from.
  const orangePending = rows.find((c) => c.carrier === roundingCarrier.code && c.currency !== roundingCarrier.currency);
  assert.equal(orangePending.delivered + orangePending.failed, 0);
  assert.equal(orangePending.recommendation, 'REROUTE');
  assert.match(await carrierRow(roundingCarrier.code, orangePending.currency).locator('td.rec .cell-sub').textContent(), /^across its currencies/);
  await more.click();
  assert.match(await more.textContent(), /^Show all/);
});

test('the spend KPI shows the currency most messages were priced in and flags waste per currency', async () => {
  const { carriers: rows } = await apiGet('/analytics/carriers');
  const spend = {};
  for (const c of rows.filter((c) => c.currency)) {
    const s = (spend[c.currency] ||= { cost: 0, wasted: 0, messages: 0, delivered: 0 });
    s.cost += c.totalCost; s.wasted += c.wastedCost; s.messages += c.total; s.delivered += c.delivered;
  }
  const currencies = Object.keys(spend).sort((a, b) =>
    spend[b].messages - spend[a].messages || spend[b].delivered - spend[a].delivered || (a < b ? -1 : 1));
  const main = currencies[0];
  assert.equal(main, 'USD', 'most messages are priced in USD');
  assert.ok(spend[bigCurrency.currency].cost > 1000 * spend.USD.cost, 'IDR has by far the largest amount');
  const over = currencies.filter((c) => spend[c].wasted / spend[c].cost > 0.15);
  assert.ok(over.includes(bigCurrency.currency) && !over.includes('USD'), `over 15 %: ${over}`);

  const kpi = page.locator('#kpi-cost');
  await page.waitForFunction(() => /currenc/.test(document.querySelector('#kpi-cost .kpi-note').textContent));
  const value = await kpi.locator('.kpi-value').textContent();
  assert.match(value, /^\$\d/, `the spend is in USD: ${value}`);
  const note = await kpi.locator('.kpi-note').textContent();
  assert.match(note, new RegExp(`\\+${currencies.length - 1} currencies`));
  assert.match(note, new RegExp(`over 15% wasted in ${over.join(', ')}$`));
  assert.match(await kpi.getAttribute('class'), /\bbad\b/, 'a currency wasting over 15 % is flagged');
  // Each currency's total is there to read.
  const title = await kpi.locator('.kpi-value').getAttribute('title');
  assert.equal(title.split('\n').length, currencies.length);
  assert.ok(title.startsWith(value + ' on '), title);
  assert.match(title, /IDR\s3,000,000,000\.00 on 3 messages/);
  assert.equal(await kpi.locator('.kpi-note').getAttribute('title'), title);
});

test('KPI figures fit whole, with their full text in a title', async () => {
  // An answer with a large amount, as a busy month in USD gives.
  const big = (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({
    rulesVersion: 'test', carriers: [{
      carrier: 'BIG', currency: 'USD', total: 123456789, delivered: 123456000, failed: 789, pending: 0, deliveryRate: 100, failureRate: 0,
      totalCost: 1234567.89, wastedCost: 12.5, costPerDelivered: 0.01, estimatedCosts: 0, recommendation: 'KEEP', reason: 'test',
    }] }) });
  await page.route('**/analytics/carriers', big);
  try {
    await page.waitForFunction(() => /1,234,567\.89/.test(document.querySelector('#kpi-cost .kpi-value').textContent), null, { timeout: 15000 });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(200);
      const kpis = await page.locator('.kpi .kpi-value').evaluateAll((els) => els.map((el) => ({
        text: el.textContent, title: el.title, cut: el.scrollWidth > el.clientWidth + 0.5 || el.getBoundingClientRect().right > el.closest('.kpi').getBoundingClientRect().right,
      })));
      for (const k of kpis) {
        assert.equal(k.cut, false, `${k.text} is cut at ${width} px`);
        assert.ok(k.title.startsWith(k.text), `title ${k.title} for ${k.text}`);
      }
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.locator('.kpis').screenshot({ path: join(artifacts, `kpis-long-${width}.png`) });
    }
  } finally {
    await page.unroute('**/analytics/carriers', big);
    await page.setViewportSize({ width: 1440, height: 1000 });
  }
  await page.waitForSelector(`#carriers tbody tr[data-carrier="${roundingCarrier.code}"]`, { timeout: 15000 });
});

test('text is readable: 4.5:1 in light and dark, one h1, a brand link named by its text', async () => {
  const sels = ['.badge', '#carriers .cell-sub', '#carriers td.num', '#carriers .ratebar .value', '.kpi-note', '.foot span',
    '.panel-head p', '#violations td', '#sla-carriers td'];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await showAll('#carriers-more');
    const problems = [];
    for (const sel of sels) problems.push(...await contrastProblems(sel));
    assert.deepEqual(problems, [], `contrast in the ${scheme} scheme`);
    await page.locator('#carriers-more').click();
  }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.equal(await page.locator('h1').count(), 1);
  const brand = page.locator('h1 a.brand');
  const label = await brand.getAttribute('aria-label');
  const text = (await brand.innerText()).replace(/\s+/g, ' ').trim();
  assert.ok(label === null || label.includes(text), `brand link "${label}" for "${text}"`);
});

test('the SLA and throughput charts are drawn', async () => {
  await page.waitForSelector('#sla-chart svg path.line.p99');
  const lines = await page.locator('#sla-chart svg path.line').evaluateAll((ps) => ps.map((p) => p.getAttribute('d')));
  assert.equal(lines.length, 3, 'p50, p90 and p99');
  for (const d of lines) assert.match(d, /^M[\d.]+ [\d.]+.*L[\d.]+ [\d.]+/, 'a line with several points');
  // Measured in one task, as the refresh may redraw the chart in between.
  const box = await page.evaluate(() => {
    const r = document.querySelector('#sla-chart svg path.line.p90').getBoundingClientRect();
    return { width: r.width, height: r.height };
  });
  // The line spans the chart; it may be flat when every minute's p90 falls
  // in the same latency bucket, so its height says nothing.
  assert.ok(box.width > 200, `p90 line spans ${box.width}x${box.height}`);
  assert.ok(await page.locator('#sla-chart svg circle.dot').count() >= 30, 'points per minute');
  assert.ok(await page.locator('#throughput-chart svg rect.bar').count() >= 1, 'throughput bars');
  // Hovering shows the minute's numbers.
  await page.locator('#sla-chart rect.hit').hover({ position: { x: 300, y: 60 } });
  assert.match(await page.locator('#tooltip').textContent(), /p90/);
  await page.mouse.move(0, 0);
  // Ingest latency is one click away.
  await page.click('.segmented button[data-kind="ingest"]');
  await page.waitForSelector('#sla-chart svg circle.dot.p50');
  assert.match(await page.locator('#sla-sub').textContent(), /Ingest latency/);
  await page.click('.segmented button[data-kind="delivery"]');
});

test('compliance violations are listed', async () => {
  await page.waitForSelector('#violations tbody tr[data-sender]');
  const senders = await page.locator('#violations tbody .cell-main').allTextContents();
  assert.ok(senders.includes('PROMO'), `violations: ${senders}`);
  // Each violation counts messages, not reports.
  assert.equal((await page.locator('#violations thead th.num').first().textContent()).trim(), 'Messages');
  assert.match(await page.locator('#violations-sub').textContent(), / in \d+ messages?, /);
  // A sender ID breaking rules in several regions counts once.
  const distinct = await page.evaluate(async () => {
    const r = await fetch('/compliance/violations');
    return new Set((await r.json()).violations.map((v) => v.senderId)).size;
  });
  assert.match(await page.locator('#violations-sub').textContent(), new RegExp('^' + distinct + ' sender ID'));
  // The first twelve, and all of them a click away.
  const all = (await apiGet('/compliance/violations')).violations.length;
  assert.ok(all > 12, `${all} violations`);
  assert.equal(await page.locator('#violations tbody tr[data-sender]').count(), 12);
  assert.equal(await page.locator('#violations-more').textContent(), `Show all ${all} violations`);
  await page.click('#violations-more');
  assert.equal(await page.locator('#violations tbody tr[data-sender]').count(), all);
  await page.click('#violations-more');
  assert.equal(await page.locator('#violations tbody tr[data-sender]').count(), 12);
});

test('the projections panel asks for the admin token once', async () => {
  const form = page.locator('#token-form');
  await form.waitFor({ state: 'visible' });
  assert.match(await page.locator('#token-message').textContent(), /admin token/i);

  // A browser cannot send this one in a header: refused at once, not kept.
  await page.fill('#token-input', 'key\u{1F511}');
  await page.click('#token-form button[type="submit"]');
  await page.waitForSelector('#token-message.error');
  assert.match(await page.locator('#token-message').textContent(), /cannot send/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cxsms.adminToken')), null, 'an unsendable token is not kept');

  await page.fill('#token-input', 'not-the-token');
  await page.click('#token-form button[type="submit"]');
  await page.waitForFunction(() => /refused/.test(document.querySelector('#token-message.error')?.textContent));
  assert.match(await page.locator('#token-message').textContent(), /refused/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cxsms.adminToken')), null, 'a refused token is not kept');

  await page.fill('#token-input', adminToken);
  await page.click('#token-form button[type="submit"]');
  await page.waitForSelector('#projections tbody tr[data-projection]');
  const names = await page.locator('#projections tbody tr[data-projection]').evaluateAll((rs) => rs.map((r) => r.dataset.projection));
  assert.ok(names.length >= 4, `projections: ${names}`);
  assert.ok(names.some((n) => n.startsWith('current_status')), `projections: ${names}`);
  assert.equal(await page.locator('#projections .badge-live').count(), names.length, 'every projection live');
  assert.ok(await form.isHidden());

  // Kept for the tab: a reload does not ask again.
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#projections tbody tr[data-projection]');
  assert.ok(await page.locator('#token-form').isHidden());
  await page.waitForSelector('#sla-chart svg path.line.p99');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(artifacts, 'dashboard-laptop.png'), fullPage: true });
});

test('the search box opens a message and its history with raw payloads', async () => {
  await page.fill('#search-input', demoMessage);
  await page.press('#search-input', 'Enter');
  const dialog = page.locator('dialog#message');
  await dialog.waitFor({ state: 'visible' });
  await page.waitForSelector('#message-body .timeline li');
  assert.equal(await page.locator('#message-title').textContent(), demoMessage);
  const statuses = await page.locator('#message-body .timeline li .event-head .badge').allTextContents();
  assert.deepEqual(statuses, ['QUEUED', 'SENT', 'DELIVERED'], 'events in log order');
  assert.equal(statuses.length, demoEvents);
  assert.equal(await page.locator('#message-body .facts .badge').textContent(), 'DELIVERED');
  const raw = await page.locator('#message-body pre.raw').first().textContent();
  const payload = JSON.parse(raw);
  assert.equal(payload.payload.messageId, demoMessage, 'the payload as received, envelope and all');
  assert.ok(page.url().endsWith('#message=' + demoMessage), 'the URL names the message');
  await page.screenshot({ path: join(artifacts, 'message-history.png') });

  // A receipt's payload is its text; an unknown ID says so.
  await page.click('#message-close');
  await page.fill('#search-input', receiptMessage);
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#message-body .timeline li');
  assert.match(await page.locator('#message-body pre.raw').first().textContent(), /stat:DELIVRD/);
  await page.click('#message-close');
  await page.fill('#search-input', 'no-such-message');
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#message-body .notice.error');
  assert.match(await page.locator('#message-body .notice.error').textContent(), /No message/);
  await page.click('#message-close');
  await dialog.waitFor({ state: 'hidden' });

  // A browser resolves /messages/.. to /, escaped or not: said, not a page error.
  await page.fill('#search-input', '..');
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#message-body .notice.error');
  assert.match(await page.locator('#message-body .notice.error').textContent(), /cannot ask for the message/);
  await page.click('#message-close');

  // A right-to-left override in a payload shows as an escape, not as
  // reversed text.
  await page.fill('#search-input', rloMessage);
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#message-body pre.raw');
  assert.equal(await page.locator('#message-body pre.raw .invisible').first().textContent(), '\\u202E');
  assert.doesNotMatch(await page.locator('#message-body').textContent(), /\u202e/, 'no override reaches the page');
  await page.click('#message-close');
  await dialog.waitFor({ state: 'hidden' });

  // A #message= link pasted into the open dashboard opens its message, and
  // another one replaces it.
  await page.evaluate((id) => { location.hash = '#message=' + encodeURIComponent(id); }, demoMessage);
  await dialog.waitFor({ state: 'visible' });
  await page.waitForFunction((id) => document.querySelector('#message-title').textContent === id, demoMessage);
  await page.evaluate((id) => { location.hash = '#message=' + encodeURIComponent(id); }, receiptMessage);
  await page.waitForFunction((id) => document.querySelector('#message-title').textContent === id, receiptMessage);
  await page.waitForSelector('#message-body pre.raw');
  assert.match(await page.locator('#message-body pre.raw').first().textContent(), /stat:DELIVRD/);
  await page.click('#message-close');
  await dialog.waitFor({ state: 'hidden' });

  // A link written by hand, with a raw "%" or a broken escape, opens the
  // message named as written.
  for (const [hash, id] of [['100%', percentMessage], ['%E0%A4%A', malformedMessage]]) {
    await page.evaluate((hash) => { location.hash = '#message=' + hash; }, hash);
    await dialog.waitFor({ state: 'visible' });
    await page.waitForFunction((id) => document.querySelector('#message-title').textContent === id, id);
    await page.waitForSelector('#message-body .timeline li');
    assert.equal(await page.locator('#message-body .facts .badge').textContent(), 'SENT', `message ${id}`);
    assert.ok(page.url().endsWith('#message=' + encodeURIComponent(id)), `the URL names ${id}: ${page.url()}`);
    await page.click('#message-close');
    await dialog.waitFor({ state: 'hidden' });
  }
});

test('the message dialog follows Back and Forward, and closing it stays on the dashboard', async () => {
  const dialog = page.locator('dialog#message');
  const title = () => page.locator('#message-title').textContent();
  const hashIs = (h) => page.waitForFunction((h) => location.hash === h, h);
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForSelector('#carriers tbody tr[data-carrier]');

  // Two links one after the other, then Back twice: the first message, then none.
  await page.evaluate((id) => { location.hash = '#message=' + encodeURIComponent(id); }, demoMessage);
  await page.waitForFunction((id) => document.querySelector('#message-title').textContent === id, demoMessage);
  await page.evaluate((id) => { location.hash = '#message=' + encodeURIComponent(id); }, receiptMessage);
  await page.waitForFunction((id) => document.querySelector('#message-title').textContent === id, receiptMessage);
  await page.evaluate(() => history.back());
  await page.waitForFunction((id) => document.querySelector('#message-title').textContent === id, demoMessage);
  assert.ok(await dialog.isVisible(), 'Back shows the message before');
  await page.evaluate(() => history.back());
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(page.url(), base + '/');
  // Forward opens it again.
  await page.evaluate(() => history.forward());
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await title(), demoMessage);
  // The close event of Back's close comes a task later, and on a busy
  // machine after Forward opened the dialog again: that late close must
  // neither close the dialog nor take #message= out of the URL.
  await page.evaluate(() => document.querySelector('dialog#message').dispatchEvent(new Event('close')));
  await page.waitForTimeout(200);
  assert.ok(await dialog.isVisible(), 'a late close event leaves the dialog open');
  assert.ok(page.url().endsWith('#message=' + demoMessage), `a late close event keeps the URL: ${page.url()}`);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await hashIs('');

  // The search box adds an entry: Back closes the dialog and stays here.
  await page.fill('#search-input', demoMessage);
  await page.press('#search-input', 'Enter');
  await dialog.waitFor({ state: 'visible' });
  await hashIs('#message=' + demoMessage);
  await page.evaluate(() => history.back());
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(page.url(), base + '/', 'still on the dashboard');
  assert.equal(await page.locator('#carriers tbody tr[data-carrier]').count() > 0, true);

  // Text selected by a drag across the dialog's parts, or from outside
  // it, does not close it: only a click on the backdrop does.
  await page.fill('#search-input', receiptMessage);
  await page.press('#search-input', 'Enter');
  await dialog.waitFor({ state: 'visible' });
  await page.waitForSelector('#message-body .facts dd');
  const centre = async (sel) => {
    const b = await page.evaluate((sel) => {
      const r = document.querySelector(sel).getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    }, sel);
    return b;
  };
  const from = await centre('#message-body .facts dd'), to = await centre('#message-title');
  for (const [a, b] of [[from, to], [{ x: 5, y: 5 }, from], [from, { x: 5, y: 5 }]]) {
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 5 });
    await page.mouse.up();
    await page.waitForTimeout(100);
    assert.ok(await dialog.isVisible(), `a drag from ${JSON.stringify(a)} to ${JSON.stringify(b)} closed the dialog`);
  }
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await hashIs('');

  // Escape, Close and the backdrop take #message= out of the URL without
  // leaving the page, and a message opened right after a close still opens.
  for (const close of [() => page.keyboard.press('Escape'), () => page.click('#message-close'), () => page.mouse.click(5, 5)]) {
    await page.fill('#search-input', receiptMessage);
    await page.press('#search-input', 'Enter');
    await dialog.waitFor({ state: 'visible' });
    await close();
    await dialog.waitFor({ state: 'hidden' });
    await hashIs('');
    assert.equal(page.url(), base + '/');
  }
  // Close and a search in the same task: the close event then comes after
  // the next message opened, as it can on a busy machine.
  await page.fill('#search-input', demoMessage);
  await page.press('#search-input', 'Enter');
  await dialog.waitFor({ state: 'visible' });
  await page.evaluate((id) => {
    document.querySelector('#message-close').click();
    document.querySelector('#search-input').value = id;
    document.querySelector('#search').requestSubmit();
  }, receiptMessage);
  await page.waitForFunction((id) => document.querySelector('#message-title').textContent === id, receiptMessage);
  await hashIs('#message=' + receiptMessage);
  await page.waitForTimeout(200);
  assert.ok(await dialog.isVisible(), 'opened right after a close');
  await page.click('#message-close');
  await hashIs('');
  assert.equal(page.url(), base + '/', 'the close after it leaves the dashboard as it was');

  // A link opened at start and closed stays on the dashboard too.
  await page.goto(base + '/#message=' + demoMessage, { waitUntil: 'load' });
  await dialog.waitFor({ state: 'visible' });
  await page.click('#message-close');
  await hashIs('');
  assert.equal(page.url(), base + '/');
});

test('the SLA range is kept in the URL', async () => {
  await page.selectOption('#range', '360');
  await page.waitForFunction(() => location.search === '?range=6h');
  await page.reload({ waitUntil: 'load' });
  assert.equal(await page.locator('#range').inputValue(), '360');
  await page.waitForFunction(() => /last 6 h/.test(document.querySelector('#sla-sub').textContent));
  await page.selectOption('#range', '60');
  await page.waitForFunction(() => location.search === '');
  assert.equal(page.url(), base + '/');
});

test('the SLA range follows Back and Forward', async () => {
  await page.goto(base + '/?range=6h', { waitUntil: 'load' });
  await page.fill('#search-input', demoMessage);
  await page.press('#search-input', 'Enter');
  await page.waitForFunction((id) => location.hash === '#message=' + id, demoMessage);
  await page.evaluate(() => history.back());
  await page.locator('dialog#message').waitFor({ state: 'hidden' });
  await page.selectOption('#range', '15');
  await page.waitForFunction(() => location.search === '?range=15m');
  await page.evaluate(() => history.forward());
  await page.waitForFunction(() => location.search === '?range=6h');
  await page.waitForFunction(() => document.querySelector('#range').value === '360');
  await page.waitForFunction(() => /last 6 h/.test(document.querySelector('#sla-sub').textContent));
  await page.keyboard.press('Escape');
  await page.goto(base + '/', { waitUntil: 'load' });
});

test('an SLA answer for a range no longer chosen is not drawn under the new one', async () => {
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => /last hour/.test(document.querySelector('#throughput-sub').textContent));
  // Hold every SLA request until the test lets it go.
  const held = [];
  await page.route('**/analytics/sla?*', (route) => { held.push(route); });
  const minutesOf = (route) => {
    const q = new URL(route.request().url()).searchParams;
    return (Date.parse(q.get('to')) - Date.parse(q.get('from'))) / 60000;
  };
  const next = async () => {
    for (let deadline = Date.now() + 20000; !held.length; await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > deadline) throw new Error('no SLA request within 20 s');
    }
    return held.shift();
  };
  try {
    let route = await next();
    while (minutesOf(route) !== 60) { await route.continue(); route = await next(); }
    await page.selectOption('#range', '15'); // while the hour's answer is on its way
    await route.continue();
    const after = await next(); // the refresh the change asked for
    assert.equal(minutesOf(after), 15);
    await page.waitForTimeout(300);
    const sub = await page.locator('#throughput-sub').textContent();
    assert.match(sub, /last hour/, 'the hour\'s answer is not named as 15 minutes');
    await after.continue();
    await page.waitForFunction(() => /last 15 min/.test(document.querySelector('#throughput-sub').textContent));
  } finally {
    await page.unroute('**/analytics/sla?*');
    for (const r of held) await r.continue().catch(() => {});
  }
  await page.selectOption('#range', '60');
  await page.waitForFunction(() => location.search === '');
});

test('a long history is drawn a page at a time, each raw payload still a click away', async () => {
  const id = 'CHATTY-0001';
  await feedLongHistory(base, secret, id, 1000);
  await waitProjected();
  const dialog = page.locator('dialog#message');
  const started = Date.now();
  await page.evaluate((id) => { location.hash = '#message=' + id; }, id);
  await page.waitForSelector('#message-body .timeline li');
  const took = Date.now() - started;
  assert.ok(took < 5000, `1,000 reports took ${took} ms to show`);
  const items = page.locator('#message-body .timeline > li');
  assert.equal(await items.count(), 200, 'the first 200 reports');
  assert.match(await page.locator('.history-title').textContent(), /1,000 reports/);
  const more = page.locator('#history-more');
  assert.equal(await more.textContent(), 'Show 200 more (800 not shown)');
  for (let shownNow = 400; shownNow <= 1000; shownNow += 200) {
    await more.click();
    assert.equal(await items.count(), shownNow);
  }
  assert.ok(await more.isHidden(), 'no button once all show');
  // A closed payload is written when opened.
  const first = items.first();
  assert.equal(await first.locator('details').getAttribute('open'), null);
  await first.locator('summary').click();
  assert.equal(JSON.parse(await first.locator('pre.raw').textContent()).eventId, id + '-0');
  assert.equal(JSON.parse(await items.last().locator('pre.raw').textContent()).status, 'DELIVERED', 'the last one is open');
  await page.click('#message-close');
  await dialog.waitFor({ state: 'hidden' });
});

test('every table that can overflow scrolls from the keyboard', async () => {
  const wraps = await page.locator('.table-wrap').evaluateAll((els) => els.map((el) => ({
    table: el.querySelector('table').id, tabindex: el.getAttribute('tabindex'), role: el.getAttribute('role'), label: el.getAttribute('aria-label'),
  })));
  assert.ok(wraps.some((w) => w.table === 'violations') && wraps.some((w) => w.table === 'sla-carriers'));
  for (const w of wraps) {
    assert.deepEqual([w.tabindex, w.role, Boolean(w.label)], ['0', 'region', true], `${w.table}'s scroll box`);
  }
});

test('times name their zone on a 24-hour clock; numbers use one locale', async () => {
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    for (const [locale, timezoneId, zone] of [
      ['de-DE', 'Asia/Kolkata', /^Times in Asia\/(Kolkata|Calcutta) \(UTC\+5:30\)$/],
      ['en-US', 'America/New_York', /^Times in America\/New_York \(UTC\u2212[45]\)$/],
    ]) {
      const ctx = await browser.newContext({ locale, timezoneId, viewport: { width: 1440, height: 1000 } });
      const p = await ctx.newPage();
      watch(p);
      await p.goto(base + '/', { waitUntil: 'load' });
      await p.waitForSelector('#carriers tbody tr[data-carrier]');
      await p.waitForSelector('#sla-chart svg path.line');
      await p.waitForFunction(() => /^Updated /.test(document.querySelector('#updated').textContent));
      assert.match(await p.locator('#zone').textContent(), zone, locale);
      assert.match(await p.locator('#updated').textContent(), /^Updated \d\d:\d\d:\d\d$/, `${locale}: a 24-hour clock`);
      const axis = await p.locator('#sla-chart svg .axis text[text-anchor="middle"]').allTextContents();
      assert.ok(axis.length && axis.every((t) => /^\d\d:\d\d$/.test(t)), `${locale} axis: ${axis}`);

      // The history's times carry their zone, and the UTC time in a title.
      await p.evaluate((id) => { location.hash = '#message=' + id; }, demoMessage);
      await p.waitForSelector('#message-body .timeline li');
      const occurred = p.locator('#message-body .event-meta b').first();
      assert.match(await occurred.textContent(), locale === 'de-DE' ? /\d\d:\d\d:\d\d,\d{3} GMT\+5:30$/ : /\d\d:\d\d:\d\d\.\d{3} (EST|EDT)$/);
      const sent = JSON.parse(await p.locator('#message-body pre.raw').first().textContent()).payload.timestamp;
      assert.equal(await occurred.getAttribute('title'), new Date(sent).toISOString() + ' (UTC)');
      await p.click('#message-close');

      // Every figure the page writes uses the locale's decimal separator.
      const figures = await p.locator('.kpi-value, .kpi-note, #carriers td.num, #carriers .ratebar .value, #sla-carriers td.num, ' +
        '#sla-chart .axis text, #sla-threshold-label, #throughput-stats dd').allTextContents();
      const [decimal, other] = locale === 'de-DE' ? [/\d,\d/, /\d\.\d{1,2}(?!\d)/] : [/\d\.\d/, /\d,\d{1,2}(?!\d)/];
      assert.ok(figures.some((t) => decimal.test(t)), `${locale}: some decimals`);
      assert.deepEqual(figures.filter((t) => other.test(t)), [], `${locale}: another locale's decimal separator`);
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
});

test('the page fits a phone', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(400); // the charts redraw for the new width
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  assert.deepEqual(await cellsOutside(), [], 'cells outside their panel at 390 px');
  // Each carrier's cost shows too, not only its rates: which carriers
  // cost too much is half of what the page is for.
  const costs = await page.evaluate(() => [...document.querySelectorAll('#carriers tbody tr[data-carrier]')].slice(0, 3).map((tr) =>
    [...tr.querySelectorAll('td.cost')].filter((td) => td.getBoundingClientRect().width > 0).map((td) => td.dataset.label)));
  assert.ok(costs.length > 0, 'carrier rows at 390 px');
  for (const c of costs) assert.deepEqual(c, ['Cost', 'Wasted', 'Per delivered'], 'cost figures on each carrier card');
  await page.waitForSelector('#sla-chart svg path.line');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1440, height: 1000 });
});

test('the page refreshes itself', async () => {
  const first = await page.locator('#updated').textContent();
  await page.waitForFunction((prev) => document.querySelector('#updated').textContent !== prev, first, { timeout: 15000 });
  assert.equal(await page.locator('#ready').textContent(), 'Live');
});

test('a failed refresh dims and dates the figures; the next good one clears it', async () => {
  outage = true;
  const fail = (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"test outage"}' });
  const routes = ['**/analytics/**', '**/compliance/**', '**/admin/projections'];
  for (const r of routes) await page.route(r, fail);
  try {
    await page.waitForSelector('#carriers-panel.stale', { timeout: 15000 });
    assert.match(await page.locator('#carriers-panel .panel-error').textContent(), /test outage.*as of/);
    assert.match(await page.locator('#updated').textContent(), /refresh failed/);
    assert.ok(await page.locator('#kpi-messages.stale').count(), 'the KPI is marked stale');
    assert.equal(await page.locator('#projections .badge-live').count(), 0, 'no projection claimed live');
  } finally {
    for (const r of routes) await page.unroute(r, fail);
  }
  await page.waitForFunction(() => !document.querySelector('.stale') && document.querySelector('#projections .badge-live'), null, { timeout: 15000 });
  outage = false;
  assert.equal(await page.locator('.stale').count(), 0, 'recovered by itself');
  assert.doesNotMatch(await page.locator('#updated').textContent(), /failed/);
});

test('no errors in the console or the network', () => {
  assert.deepEqual(problems, []);
});
