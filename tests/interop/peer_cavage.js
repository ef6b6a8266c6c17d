// draft-cavage peer built on Joyent's `http-signature` (installed by
// setup.sh). Reads {"cmd","request","key","keyId"} JSON on stdin.
//   sign:   adds host, date, digest and a Signature header (rsa-sha256 over
//           "(request-target) host date digest content-type"); prints the request.
//   verify: prints {"verified": bool, "keyId": …}.
'use strict';
const crypto = require('crypto');
const path = require('path');
const httpSignature = require(path.join(process.argv[2], 'node_modules', 'http-signature'));

let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const msg = JSON.parse(input);
  const req = msg.request;
  const url = new URL(req.url);
  const target = url.pathname + url.search;
  const headers = {};
  for (const [k, v] of Object.entries(req.headers || {})) headers[k.toLowerCase()] = v;
  const body = req.body || '';
  if (msg.cmd === 'sign') {
    headers.host = url.host;
    headers.date = new Date().toUTCString();
    headers.digest = 'SHA-256=' + crypto.createHash('sha256').update(body).digest('base64');
    const fake = {
      method: req.method,
      path: target,
      getHeader: (n) => headers[n.toLowerCase()],
      setHeader: (n, v) => { headers[n.toLowerCase()] = v; },
    };
    httpSignature.signRequest(fake, {
      key: msg.key,
      keyId: msg.keyId,
      algorithm: 'rsa-sha256',
      headers: ['(request-target)', 'host', 'date', 'digest', 'content-type'],
      authorizationHeaderName: 'Signature',
    });
    process.stdout.write(JSON.stringify({ ...req, headers }));
  } else {
    const parsed = httpSignature.parseRequest(
      { method: req.method, url: target, headers, httpVersion: '1.1' },
      { headers: ['(request-target)', 'host', 'date', 'digest'] },
    );
    const digestOk = headers.digest ===
      'SHA-256=' + crypto.createHash('sha256').update(body).digest('base64');
    const ok = digestOk && httpSignature.verifySignature(parsed, msg.key);
    process.stdout.write(JSON.stringify({ verified: ok, keyId: parsed.keyId }));
  }
});
