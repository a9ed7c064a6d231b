// The CDN stand-in's own check of Akamai EdgeAuth v2 tokens (njs, nginx's JavaScript module),
// written for tests/e2e/test_cdn_e2e.py independently of hlsgate's signer.
//
// A request passes when its query carries NAME=exp=N~acl=ACL~hmac=HEX (NAME from the variable
// $edgeauth_name, default __token__) such that
//   - hmac is HMAC-SHA256, keyed with the hex-decoded $edgeauth_key, over "exp=N~acl=ACL"
//     (the token up to "~hmac="), compared in constant time;
//   - N is in the future;
//   - the request's raw path (as sent, before decoding) matches one of the '!'-separated ACL
//     globs, where '*' matches any run of characters, and the path has no "." or ".." segment.
//
//   js_set $edgeauth  edgeauth.verify;   "ok", or why the request is refused
//   js_set $edgeauth_path edgeauth.path; the raw path without the query (what goes to the origin)
import crypto from 'crypto';

function rawPath(r) {
    const u = r.variables.request_uri || '';
    const q = u.indexOf('?');
    return q < 0 ? u : u.substring(0, q);
}

function token(r, name) {
    const args = r.variables.args || '';
    const kvs = args.split('&');
    for (let i = 0; i < kvs.length; i++) {
        if (kvs[i].startsWith(name + '=')) return kvs[i].substring(name.length + 1);
    }
    return null;
}

function globMatch(glob, s) {
    const re = '^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$';
    return new RegExp(re).test(s);
}

function sameText(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return d === 0;
}

function verify(r) {
    const name = r.variables.edgeauth_name || '__token__';
    const key = r.variables.edgeauth_key || '';
    const tok = token(r, name);
    if (tok === null) return 'no-token';
    const at = tok.lastIndexOf('~hmac=');
    if (at < 0) return 'no-hmac';
    const signed = tok.substring(0, at);
    const mac = tok.substring(at + 6).toLowerCase();
    let exp = null, acl = null;
    const fields = signed.split('~');
    for (let i = 0; i < fields.length; i++) {
        const f = fields[i];
        if (f.startsWith('exp=')) exp = f.substring(4);
        else if (f.startsWith('acl=')) acl = f.substring(4);
    }
    if (exp === null || !/^[0-9]+$/.test(exp) || acl === null) return 'bad-fields';
    const want = crypto.createHmac('sha256', Buffer.from(key, 'hex')).update(signed).digest('hex');
    if (!sameText(want, mac)) return 'bad-hmac';
    if (Number(exp) <= Date.now() / 1000) return 'expired';
    const path = rawPath(r);
    let plain;
    try {
        plain = decodeURIComponent(path);
    } catch (e) {
        return 'bad-path';
    }
    if (/(^|\/)\.\.?(\/|$)/.test(plain)) return 'dot-segment';
    if (!acl.split('!').some((g) => globMatch(g, path))) return 'acl';
    return 'ok';
}

function path(r) {
    return rawPath(r);
}

export default { verify, path };
