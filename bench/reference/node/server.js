'use strict';
/*
 * Second benchmark reference for hlsgate: the Node.js gateway a user would otherwise write.
 *
 * An idiomatic Node.js service on the AWS SDK for JavaScript v3: one S3Client for the process,
 * GetObjectCommand to fetch the playlist, getSignedUrl (@aws-sdk/s3-request-presigner) once per
 * media URI with all of a playlist's URIs signed concurrently through Promise.all, and Node's own
 * http server. Same routes, rewriting rules and configuration as the Python model
 * (bench/reference/app.py), so bench/run can measure the three side by side:
 *
 *   GET /hls/{key}      the object {S3_KEY_PREFIX}/{key}, rewritten line by line: media URIs (URI
 *                       lines, URI="..." attributes) -> SigV4 presigned URLs, playlist URIs
 *                       (.m3u8/.m3u, EXT-X-STREAM-INF variants, EXT-X-MEDIA) ->
 *                       {PUBLIC_BASE_URL}/hls/{key}
 *   GET /hls-seg/{key}  302 to a presigned URL (media extensions only)
 *   GET /healthz        "ok"
 *
 * Environment: S3_ENDPOINT, S3_BUCKET, S3_KEY_PREFIX, S3_REGION, S3_ACCESS_KEY_ID,
 * S3_SECRET_ACCESS_KEY, PRESIGN_EXPIRES_SECONDS, PUBLIC_BASE_URL (as hlsgate), and HOST / PORT
 * to listen on (default 127.0.0.1:8080). One process, as a default deployment runs.
 * Not deliberately slowed, not tuned either: no cache, the SDK's defaults.
 * Runs on Node.js 18 (Debian 12) and later; versions are pinned in package-lock.json.
 */
const http = require('http');
const path = require('path');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
const { getSignedUrl } = require('@aws-sdk/s3-request-presigner');

const env = process.env;
const BUCKET = env.S3_BUCKET;
const PREFIX = (env.S3_KEY_PREFIX || '').replace(/^\/+|\/+$/g, '');
const EXPIRES = parseInt(env.PRESIGN_EXPIRES_SECONDS || '7200', 10);
const PUBLIC_BASE_URL = (env.PUBLIC_BASE_URL || '').replace(/\/+$/, '');
const SEG_EXTENSIONS = new Set((env.SEG_EXTENSIONS ||
    'ts,m4s,mp4,m4a,m4v,aac,ac3,ec3,eac3,mp3,vtt,webvtt,srt,key,jpg,jpeg,png,cmfv,cmfa,m2ts,mts')
    .split(','));

if (!BUCKET || !env.S3_ENDPOINT || !env.S3_ACCESS_KEY_ID || !env.S3_SECRET_ACCESS_KEY) {
    console.error('S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required');
    process.exit(2);
}

const s3 = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION || 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
});

const PLAYLIST_CACHE = 'public, max-age=300';
const CORS = { 'Access-Control-Allow-Origin': '*' };
const URI_ATTR = /URI="([^"]*)"/g;
// Tags whose URI= attribute names another playlist rather than media.
const PLAYLIST_TAGS = ['#EXT-X-MEDIA:', '#EXT-X-I-FRAME-STREAM-INF:', '#EXT-X-IMAGE-STREAM-INF:',
    '#EXT-X-RENDITION-REPORT:'];
const MEDIA_TAGS = ['#EXT-X-MAP:', '#EXT-X-KEY:', '#EXT-X-SESSION-KEY:', '#EXT-X-PART:',
    '#EXT-X-PRELOAD-HINT:', '#EXT-X-SESSION-DATA:'];

const objectKey = (key) => (PREFIX ? PREFIX + '/' + key : key);

function presign(key) {
    return getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: objectKey(key) }),
        { expiresIn: EXPIRES });
}

// Percent-decoding that leaves a malformed escape as it is (as Python's unquote does).
function unquote(s) {
    try {
        return decodeURIComponent(s);
    } catch (e) {
        return s.replace(/(%[0-9A-Fa-f]{2})+/g, (m) => {
            try { return decodeURIComponent(m); } catch (e2) { return m; }
        });
    }
}

// Percent-encode all but unreserved characters and '/' (Python's quote(key)).
const quote = (s) => encodeURIComponent(s).replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

// Namespace key for a relative URI, or null when it must stay as it is.
function resolve(baseDir, uri) {
    if (uri.includes('://') || uri.startsWith('//') || uri.startsWith('data:') || uri.includes('{$')) {
        return null;
    }
    const p = unquote(uri.split('#', 1)[0].split('?', 1)[0]);
    const joined = p.startsWith('/') ? p.replace(/^\/+/, '') : path.posix.join(baseDir, p);
    let key = path.posix.normalize(joined);
    if (key.length > 1 && key.endsWith('/')) key = key.slice(0, -1);
    if (key.startsWith('..') || key === '.' || key === '') return null;
    return key;
}

// The rewritten URI: a string, or a promise of the presigned URL.
function rewriteUri(baseDir, uri, host, playlist) {
    const key = resolve(baseDir, uri);
    if (key === null) return uri;
    if (playlist || key.endsWith('.m3u8') || key.endsWith('.m3u')) {
        return (PUBLIC_BASE_URL || 'http://' + host) + '/hls/' + quote(key);
    }
    return presign(key);
}

async function rewrite(text, baseDir, host) {
    const lines = text.split(/\r\n|\r|\n/);
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    const out = [];
    let nextIsVariant = false;
    for (const line of lines) {
        const s = line.trim();
        if (!s) {
            out.push(line);
        } else if (s.startsWith('#')) {
            if (s.startsWith('#EXT-X-STREAM-INF')) nextIsVariant = true;
            const isPl = PLAYLIST_TAGS.some((t) => s.startsWith(t));
            if (s.includes('URI="') && (isPl || MEDIA_TAGS.some((t) => s.startsWith(t)))) {
                const parts = [];
                let last = 0;
                for (const m of line.matchAll(URI_ATTR)) {
                    parts.push(line.slice(last, m.index) + 'URI="',
                        rewriteUri(baseDir, m[1], host, isPl), '"');
                    last = m.index + m[0].length;
                }
                parts.push(line.slice(last));
                out.push(Promise.all(parts).then((p) => p.join('')));
            } else {
                out.push(line);
            }
        } else {
            out.push(rewriteUri(baseDir, s, host, nextIsVariant));
            nextIsVariant = false;
        }
    }
    return (await Promise.all(out)).join('\n') + '\n';
}

function send(res, status, body, headers) {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(body);
}

async function playlist(req, res, key) {
    let text;
    try {
        const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: objectKey(key) }));
        text = await obj.Body.transformToString('utf-8');
    } catch (e) {
        const code = e.name || (e.Code || '');
        const status = e.$metadata && e.$metadata.httpStatusCode;
        if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) {
            return send(res, 404, 'no such playlist\n');
        }
        return send(res, 502, 'origin error\n');
    }
    if (!text.startsWith('#EXTM3U')) return send(res, 502, 'not a playlist\n');
    const body = await rewrite(text, path.posix.dirname(key), req.headers.host || 'localhost');
    res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl',
        'Cache-Control': PLAYLIST_CACHE, ...CORS });
    res.end(body);
}

async function segment(res, key) {
    const name = key.split('/').pop();
    const ext = name.includes('.') ? key.split('.').pop() : '';
    if (!SEG_EXTENSIONS.has(ext) || resolve('', key) === null) {
        return send(res, 403, 'extension not allowed\n');
    }
    const url = await presign(key);
    res.writeHead(302, { Location: url, 'Cache-Control': 'private, max-age=60', ...CORS });
    res.end();
}

async function handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const p = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    if (p === '/healthz') return send(res, 200, 'ok\n');
    if (p.startsWith('/hls/')) return playlist(req, res, unquote(p.slice(5)));
    if (p.startsWith('/hls-seg/')) return segment(res, unquote(p.slice(9)));
    return send(res, 404, 'not found\n');
}

const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
        console.error(e);
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
    });
});
server.keepAliveTimeout = 120000;
server.listen(parseInt(env.PORT || '8080', 10), env.HOST || '127.0.0.1');
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
