// A tiny server for the demo page (player.html + hls.min.js) on 127.0.0.1.
// Used by play.mjs (the automated player tests) and by scripts/demo.sh.
//
//   GET /                the page        GET /hls.min.js   hls.js      GET /favicon.ico   204
//   GET /config          {"bucket", "prefix", "presign"}: where the stream lives in storage
//   GET /presign?key=K   {"url"}: a presigned GET URL (10 minutes) for playlist K in the bucket,
//                        so the page can show the original playlist next to the rewritten one.
//                        Only keys under the prefix that end in .m3u8; signed by
//                        scripts/s3util.py with the storage credentials from the environment
//                        (RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY, RGW_REGION).
//
// The bucket and prefix come from HG_DEMO_BUCKET and HG_DEMO_PREFIX (or the options below);
// without a bucket, /presign answers 404 and the page says the original is not available.
//
// CLI: node player-server.mjs PORT   (serves until killed)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const s3util = path.join(here, '..', '..', 'scripts', 's3util.py');

function json(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(obj));
}

/** Start the server on 127.0.0.1:port (0 = any free port); resolves to the http.Server.
 *  opts: { bucket, prefix } (default: HG_DEMO_BUCKET, HG_DEMO_PREFIX). */
export async function startPlayerServer(port = 0, opts = {}) {
  const hlsJs = fs.readFileSync(path.join(here, 'node_modules/hls.js/dist/hls.min.js'));
  const page = fs.readFileSync(path.join(here, 'player.html'));
  const bucket = opts.bucket ?? process.env.HG_DEMO_BUCKET ?? '';
  const prefix = (opts.prefix ?? process.env.HG_DEMO_PREFIX ?? '').replace(/^\/+|\/+$/g, '');
  const canSign = !!(bucket && (process.env.RGW_ENDPOINT || process.env.S3_ENDPOINT));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/hls.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(hlsJs);
    } else if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    } else if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else if (url.pathname === '/config') {
      json(res, 200, { bucket, prefix, presign: canSign });
    } else if (url.pathname === '/presign') {
      const key = url.searchParams.get('key') || '';
      const inside = !prefix || key.startsWith(prefix + '/');
      if (!canSign || !inside || !key.endsWith('.m3u8') || key.includes('..') || key.length > 1024) {
        json(res, 404, { error: 'not a playlist of this demo' });
        return;
      }
      execFile('/usr/bin/python3', [s3util, 'presign', bucket, key, '600'], { timeout: 10000 }, (err, out, errOut) => {
        if (err) json(res, 502, { error: String(errOut || err).trim().slice(0, 300) });
        else json(res, 200, { url: out.trim() });
      });
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startPlayerServer(Number(process.argv[2] || 0));
  console.log(`demo page on http://127.0.0.1:${server.address().port}/`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
