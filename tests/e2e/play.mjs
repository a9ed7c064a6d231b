// Play an HLS stream to its end with hls.js in Debian's headless Chromium (playwright-core).
//
// usage: node play.mjs MASTER_URL [--timeout-ms N] [--screenshot FILE]
//
// The page is served by this script from its own loopback port, a different origin from hlsgate
// and from the storage, so every playlist and segment request is a real cross-origin (CORS) fetch.
// Prints one JSON line with what happened and exits 0 only when playback reached the end with
// fragments loaded and no fatal error.
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
if (!masterUrl) {
  console.error('usage: node play.mjs MASTER_URL [--timeout-ms N] [--screenshot FILE]');
  process.exit(2);
}

const server = await startPlayerServer(0);
const pageUrl = `http://127.0.0.1:${server.address().port}/?src=${encodeURIComponent(masterUrl)}&rate=4`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
let result = { ok: false, error: 'timeout' };
try {
  const ctx = await browser.newContext();
  const tab = await ctx.newPage();
  const requests = [];
  tab.on('request', (r) => requests.push(r.url()));
  tab.on('console', (m) => { if (m.type() === 'error') console.error('page console:', m.text()); });
  await tab.goto(pageUrl);
  await tab.waitForFunction(() => window.hgResult && window.hgResult.done, null, { timeout: timeoutMs })
    .catch(() => {});
  result = await tab.evaluate(() => window.hgResult || { done: false });
  result.pageOrigin = new URL(pageUrl).origin;
  result.requests = requests.filter((u) => !u.startsWith(result.pageOrigin));
  result.ok = !!(result.done && result.ended && !result.fatal && result.fragsLoaded > 0);
  if (screenshot) await tab.screenshot({ path: screenshot });
} catch (e) {
  result = { ok: false, error: String(e) };
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
