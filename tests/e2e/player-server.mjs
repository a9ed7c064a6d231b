// A tiny static server for the hls.js player page (player.html + hls.min.js) on 127.0.0.1.
// Used by play.mjs (the automated player test) and by scripts/demo.sh.
//
// CLI: node player-server.mjs PORT   (serves until killed)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Start the server on 127.0.0.1:port (0 = any free port); resolves to the http.Server. */
export async function startPlayerServer(port = 0) {
  const hlsJs = fs.readFileSync(path.join(here, 'node_modules/hls.js/dist/hls.min.js'));
  const page = fs.readFileSync(path.join(here, 'player.html'));
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/hls.min.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(hlsJs);
    } else if (req.url === '/' || req.url.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
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
  console.log(`player page on http://127.0.0.1:${server.address().port}/`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
