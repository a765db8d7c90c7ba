// Release-health driver: @sentry/node request sessions from its HTTP server integration.
// Usage: node send_sessions.js DSN
// Three requests to a local server of release node-health@1.0 (production), one of which
// captures an error; then flushes and prints {"ok": true}.
const Sentry = require('@sentry/node');
const http = require('node:http');

const dsn = process.argv[2];
Sentry.init({
  dsn,
  release: 'node-health@1.0',
  environment: 'production',
  integrations: [Sentry.httpIntegration({ sessionFlushingDelayMS: 200 })],
});

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
  });
}

(async () => {
  const srv = http.createServer((req, res) => {
    if (req.url === '/boom') {
      Sentry.captureException(new Error('request failed'));
    }
    res.end('ok');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await get(port, '/a');
  await get(port, '/b');
  await get(port, '/boom');
  await new Promise((r) => setTimeout(r, 800));
  srv.close();
  await Sentry.close(10000);
  console.log(JSON.stringify({ ok: true }));
})().catch((e) => { console.error(e); process.exit(1); });
