// feed.mjs posts a known set of delivery reports through the real webhook,
// so the dashboard has something to show and the test knows what: four
// carriers (one to REROUTE, one to WATCH), latencies spread over the last
// 50 minutes, every payload format, sender-ID violations, two messages
// with a known history, a few hostile inputs (oddities below), and figures
// that a rounding or a currency can get wrong (awkward below).

// A small deterministic generator, so every run posts the same reports.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const carriers = [
  // failure share decides the recommendation: REROUTE above 15 %, WATCH above 5 %.
  { code: 'ATT', fail: 0.02, to: '+14155550100', price: '0.0085', currency: 'USD', sender: '12025550100', slow: 0.02 },
  { code: 'TMOBILE', fail: 0.1, to: '+12125550100', price: '0.0086', currency: 'USD', sender: '12025550101', slow: 0.05 },
  { code: 'VERIZON', fail: 0.28, to: '+13105550100', price: '0.0089', currency: 'USD', sender: '12025550102', slow: 0.12 },
  { code: 'VODAFONE', fail: 0.025, to: '+447700900100', price: '0.0320', currency: 'GBP', sender: 'ACMEUK', slow: 0.03 },
];

export const expected = { ATT: 'KEEP', TMOBILE: 'WATCH', VERIZON: 'REROUTE', VODAFONE: 'KEEP' };

// The message the test opens, and the events its history must show.
export const demoMessage = 'DEMO-0001';
export const demoEvents = 3;
export const receiptMessage = 'DEMO-RCPT-7F';

const failures = ['UNDELIVERED', 'FAILED', 'REJECTED', 'EXPIRED'];

function iso(ms) { return new Date(ms).toISOString(); }

// reports builds the JSON reports to post, in batches.
export function reports(now = Date.now()) {
  const rand = rng(20240506);
  const out = [];
  const perCarrier = 40;
  for (const c of carriers) {
    // exactly round(fail * n) failures per carrier, at drawn positions
    const nFail = Math.round(c.fail * perCarrier);
    const failAt = new Set();
    while (failAt.size < nFail) failAt.add(Math.floor(rand() * perCarrier));
    for (let i = 0; i < perCarrier; i++) {
      const id = `${c.code.slice(0, 3)}-${String(i).padStart(4, '0')}`;
      const sentAt = now - 50 * 60000 + Math.floor(rand() * 48 * 60000);
      let latency = 1500 + rand() * 12000;
      if (rand() < c.slow) latency = 45000 + rand() * 60000;
      const failed = failAt.has(i);
      // a few alphanumeric senders to US numbers: not allowed there
      const sender = c.currency === 'USD' && i % 13 === 5 ? 'PROMO' : c.sender;
      out.push({ messageId: id, eventId: id + '-sent', status: 'SENT', carrier: c.code, from: sender, to: c.to, timestamp: iso(sentAt) });
      if (i % 17 === 16) continue; // still in flight: pending
      const status = failed ? failures[i % failures.length] : 'DELIVERED';
      if (i % 9 === 4) {
        // the same report as a carrier gateway passes SMPP fields through
        out.push({
          receipted_message_id: id, id: id + '-final', message_state: failed ? 5 : 2, carrier: c.code,
          source_addr: sender, destination_addr: c.to.replace('+', ''), network_error_code: failed ? '030001' : '000',
          price: c.price, currency: c.currency, timestamp: iso(sentAt + latency),
        });
        continue;
      }
      out.push({
        messageId: id, eventId: id + '-final', status, errorCode: failed ? '30003' : null, carrier: c.code,
        from: sender, to: c.to, price: c.price, currency: c.currency, timestamp: iso(sentAt + latency),
      });
    }
  }
  // The demo message: queued, sent, delivered, each in the CXone envelope.
  const t0 = now - 6 * 60000;
  for (const [i, st] of ['QUEUED', 'SENT', 'DELIVERED'].entries()) {
    out.push({
      eventType: 'messaging.status.update', eventId: `demo-evt-${i + 1}`,
      payload: {
        messageId: demoMessage, status: st, carrier: 'ATT', from: '12025550100', to: '+14155550123',
        timestamp: iso(t0 + i * 2100), ...(st === 'DELIVERED' ? { price: '0.0085', currency: 'USD' } : {}),
      },
    });
  }
  return out;
}

async function post(base, secret, body, contentType = 'application/json', extra = {}) {
  const res = await fetch(base + '/webhooks/cxone/sms', {
    method: 'POST',
    headers: { 'Content-Type': contentType, 'X-Webhook-Secret': secret, ...extra },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

// Hostile but valid input: a carrier code as long as the service accepts
// (100 characters) that fails often enough to be listed among the first,
// and a message whose carrier and error code begin with a right-to-left
// override, which would show "\u202eTTA" as "ATT".
export const longCarrier = 'LONG_' + 'W'.repeat(95);
export const rloMessage = 'ODD-RLO-1';

function oddities(now = Date.now()) {
  const out = [];
  for (let i = 0; i < 24; i++) {
    const id = `LONG-${String(i).padStart(4, '0')}`;
    const t = now - 30 * 60000 + i * 60000;
    out.push({ messageId: id, eventId: id + '-sent', status: 'SENT', carrier: longCarrier, from: '12025550103', to: '+14155550177', timestamp: iso(t) });
    out.push({ messageId: id, eventId: id + '-final', status: i % 4 ? 'DELIVERED' : 'UNDELIVERED', carrier: longCarrier,
      from: '12025550103', to: '+14155550177', price: '0.0090', currency: 'USD', timestamp: iso(t + 4000) });
  }
  out.push({ messageId: rloMessage, eventId: rloMessage + '-final', status: 'UNDELIVERED', carrier: '\u202eTTA', errorCode: '\u202e123',
    from: '12025550103', to: '+14155550178', timestamp: iso(now - 2 * 60000) });
  return out;
}

// Figures a dashboard can get wrong. ORANGE fails 4 of 21 terminal
// messages, 19.048 %: the answer rounds its rate to 19.05 and its reason
// says 19.0%, so rounding the rounded rate shows 19.1%. Its two pending
// messages carry no price, so the rate card prices them in USD: a row with
// pending messages only, of a carrier judged REROUTE across its currencies.
// TELKOMSEL is priced in IDR, the largest amounts by far on the fewest
// messages, and one of its three failed: a third of its spend wasted.
// NEWCO has pending messages only, one of them with a raw "%" in its ID and
// one with a broken escape, as a hand-written #message= link holds them,
// and twelve from alphanumeric senders to the US: more violations than the
// panel lists at first (posted first, so they are the oldest).
export const roundingCarrier = { code: 'ORANGE', currency: 'EUR', terminal: 21, failed: 4 };
export const bigCurrency = { code: 'TELKOMSEL', currency: 'IDR', price: '1000000000', total: 3, failed: 1 };
export const pendingCarrier = 'NEWCO';
export const percentMessage = '100%';
export const malformedMessage = '%E0%A4%A';
const extraViolations = 12;

function awkward(now = Date.now()) {
  const out = [];
  const o = roundingCarrier;
  for (let i = 0; i < o.terminal + 2; i++) {
    const id = `ORA-${String(i).padStart(4, '0')}`;
    const t = now - 40 * 60000 + i * 60000;
    out.push({ messageId: id, eventId: id + '-sent', status: 'SENT', carrier: o.code, from: 'ORANGEFR', to: '+33612345678', timestamp: iso(t) });
    if (i >= o.terminal) continue; // pending
    out.push({ messageId: id, eventId: id + '-final', status: i < o.failed ? 'UNDELIVERED' : 'DELIVERED', carrier: o.code,
      from: 'ORANGEFR', to: '+33612345678', price: '0.0650', currency: o.currency, timestamp: iso(t + 3000) });
  }
  const b = bigCurrency;
  for (let i = 0; i < b.total; i++) {
    const id = `TKS-${String(i).padStart(4, '0')}`;
    const t = now - 20 * 60000 + i * 60000;
    out.push({ messageId: id, eventId: id + '-final', status: i < b.failed ? 'FAILED' : 'DELIVERED', carrier: b.code,
      from: '6281100000001', to: '+6281234567890', price: b.price, currency: b.currency, timestamp: iso(t) });
  }
  for (const id of [percentMessage, malformedMessage]) {
    out.push({ messageId: id, eventId: id + '-sent', status: 'SENT', carrier: pendingCarrier, from: '12025550104', to: '+14155550179',
      timestamp: iso(now - 5 * 60000) });
  }
  for (let i = 1; i <= extraViolations; i++) {
    const id = `OFFER-${String(i).padStart(4, '0')}`;
    out.push({ messageId: id, eventId: id + '-sent', status: 'SENT', carrier: pendingCarrier, from: 'OFFER' + String(i).padStart(2, '0'),
      to: '+14155550180', timestamp: iso(now - 58 * 60000 + i * 1000) });
  }
  return out;
}

// feed posts everything and returns how many reports were acknowledged.
export async function feed(base, secret) {
  const all = reports();
  // First, so that the violations it adds are the oldest ones.
  const awk = await post(base, secret, JSON.stringify({ events: awkward() }));
  let acked = awk.results.length;
  for (let i = 0; i < all.length; i += 40) {
    const ans = await post(base, secret, JSON.stringify({ events: all.slice(i, i + 40) }));
    acked += ans.results.length;
  }
  // A redelivery of the demo message's last report: a duplicate, no new event.
  const dup = await post(base, secret, JSON.stringify(all[all.length - 1]));
  if (!dup.results[0].duplicate) throw new Error('the redelivered report was not a duplicate');
  // An SMPP delivery receipt as text.
  const d = new Date(Date.now() - 3 * 60000);
  const p = (n) => String(n).padStart(2, '0');
  const stamp = `${String(d.getUTCFullYear()).slice(2)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
  await post(base, secret, `id:${receiptMessage} sub:001 dlvrd:001 submit date:${stamp} done date:${stamp} stat:DELIVRD err:000 text:Your code is 4821`,
    'text/plain', { 'X-CXone-Event-Id': 'rcpt-evt-1' });
  acked += 1;
  const odd = await post(base, secret, JSON.stringify({ events: oddities() }));
  acked += odd.results.length;
  return acked;
}

// simulate asks POST /simulator/sms for extra traffic when the service has
// it, in a region whose carriers are not the ones above, so the expected
// recommendations hold; it is optional, so a 404 (or the simulator being
// off) is fine.
export async function simulate(base, count, region) {
  try {
    const res = await fetch(base + '/simulator/sms', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ count, region }),
    });
    if (res.status !== 200) return { used: false, status: res.status };
    const ans = await res.json();
    return { used: true, ids: ans.simulatedMessageIds || [] };
  } catch (e) {
    return { used: false, error: String(e) };
  }
}

// feedLongHistory posts n reports of one message, as a chatty gateway
// resending a status gives it: SENT again and again, then DELIVERED, 10 ms
// apart, for a carrier of its own so the other carriers' figures hold.
export const longHistoryCarrier = 'CHATTY';
export async function feedLongHistory(base, secret, id, n) {
  const t0 = Date.now() - 20 * 60000;
  const events = [];
  for (let i = 0; i < n; i++) {
    events.push({ messageId: id, eventId: `${id}-${i}`, status: i === n - 1 ? 'DELIVERED' : 'SENT', carrier: longHistoryCarrier,
      from: '12025550105', to: '+14155550181', timestamp: iso(t0 + i * 10) });
  }
  for (let i = 0; i < n; i += 100) await post(base, secret, JSON.stringify({ events: events.slice(i, i + 100) }));
}
