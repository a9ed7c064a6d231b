// Play an HLS stream to its end with hls.js in Debian's headless Chromium (playwright-core), on
// the demo page (player.html).
//
// usage: node play.mjs MASTER_URL [--timeout-ms N] [--screenshot FILE] [--demo]
//                                 [--bucket B --prefix P]
//
// The page is served by this script from its own loopback port, a different origin from hlsgate
// and from the storage, so every playlist and segment request is a real cross-origin (CORS) fetch.
// With --bucket (and the storage credentials in the environment, RGW_*), the page server can
// presign the original playlists, and the page shows them next to the rewritten ones.
// With --demo, after the first run (presigned URLs) the page's "Replay with /hls-seg redirects"
// button is clicked and the second run is played to its end too; the numbers the page shows are
// read back from the page.
// Prints one JSON line with what happened and exits 0 only when playback reached the end (every
// run) with fragments loaded and no fatal error.
import { chromium } from 'playwright-core';
import { startPlayerServer } from './player-server.mjs';

const args = process.argv.slice(2);
const masterUrl = args[0];
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const timeoutMs = Number(opt('--timeout-ms', '90000'));
const screenshot = opt('--screenshot', null);
const demo = args.includes('--demo');
if (!masterUrl) {
  console.error('usage: node play.mjs MASTER_URL [--timeout-ms N] [--screenshot FILE] [--demo] [--bucket B --prefix P]');
  process.exit(2);
}

const server = await startPlayerServer(0, { bucket: opt('--bucket', ''), prefix: opt('--prefix', '') });
const pageOrigin = `http://127.0.0.1:${server.address().port}`;
const pageUrl = `${pageOrigin}/?src=${encodeURIComponent(masterUrl)}&rate=4`;

// --disable-audio-output: a fake audio sink. Without it Chromium's PulseAudio client makes a
// pulse-* folder in TMPDIR and a link to it in ~/.config/pulse on every machine without a
// running PulseAudio (a fresh one: scripts/test.sh then reports the folder as left behind).
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required', '--disable-audio-output'],
});
let result = { ok: false, error: 'timeout' };
const done = (mode) => (m) => window.hgResult && window.hgResult.mode === m && window.hgResult.done;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 780 } });
  const tab = await ctx.newPage();
  // No HTTP cache: the second run must fetch what the first one did, or the comparison of the
  // two runs would measure the cache.
  const cdp = await ctx.newCDPSession(tab);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let requests = [];
  tab.on('request', (r) => { if (!r.url().startsWith(pageOrigin)) requests.push(r.url()); });
  const pageErrors = [];
  tab.on('console', (m) => { if (m.type() === 'error') { pageErrors.push(m.text()); console.error('page console:', m.text()); } });
  tab.on('response', (r) => { if (r.url().startsWith(pageOrigin) && r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`); });
  await tab.goto(pageUrl);
  await tab.waitForFunction(done('direct'), 'direct', { timeout: timeoutMs }).catch(() => {});
  result = await tab.evaluate(() => window.hgResult || { done: false });
  result.requests = requests;
  result.ok = !!(result.done && result.ended && !result.fatal && result.fragsLoaded > 0);
  if (demo && result.ok) {
    // the numbers shown after the first run
    await tab.waitForFunction(() => window.hgResult.diffChanged > 0 && document.getElementById('sig-left').textContent !== '-',
      null, { timeout: 15000 }).catch(() => {});
    result.shown = await tab.evaluate(() => ({
      gateway: document.getElementById('n-gw').textContent, storage: document.getElementById('n-st').textContent,
      storageBytes: document.getElementById('b-st').textContent,
      sigLeft: document.getElementById('sig-left').textContent, rows: document.querySelectorAll('#reqs tr').length,
      chartBars: document.querySelectorAll('#chart rect').length, original: document.getElementById('pl-orig').textContent,
      rewritten: document.getElementById('pl-rew').textContent, highlighted: document.querySelectorAll('#pl-rew em').length,
      diffChanged: window.hgResult.diffChanged, diffLines: window.hgResult.diffLines, sigSecondsLeft: window.hgResult.sigSecondsLeft,
    }));
    requests = [];
    await tab.click('#play-redirect');
    await tab.waitForFunction(done('redirect'), 'redirect', { timeout: timeoutMs }).catch(() => {});
    const red = await tab.evaluate(() => window.hgResult);
    red.requests = requests;
    red.ok = !!(red.mode === 'redirect' && red.done && red.ended && !red.fatal && red.fragsLoaded > 0);
    result.redirect = red;
    result.saved = await tab.evaluate(() => window.hgSaved || null);
    result.shown.saved = await tab.evaluate(() => document.getElementById('saved').textContent);
    result.ok = result.ok && red.ok;
  }
  result.pageErrors = pageErrors;
  if (screenshot) await tab.screenshot({ path: screenshot, fullPage: true });
} catch (e) {
  result = { ok: false, error: String(e) };
} finally {
  await browser.close();
  server.close();
}
result.pageOrigin = pageOrigin;
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
