#!/usr/bin/env node
// Send events to a Sextant server with the official Node SDK (@sentry/node 11.12.0).
//
// Usage: node send_event.js DSN SCENARIO
//
// Scenarios:
//   handled   TypeError caught and sent with captureException; user, tags, breadcrumbs,
//             release, environment.
//   uncaught  RangeError thrown from a timer and never caught: the SDK's
//             onUncaughtException integration sends it (level fatal, handled=false),
//             flushes and exits the process.
//   large     handled error with a 40 KiB extra value: the body exceeds 32 KiB, so the
//             SDK gzips it (Node always sends chunked, without Content-Length).
//
// Environment: SENTRY_RELEASE (default node-app@2.0.0), SENTRY_ENVIRONMENT (default
// production).
//
// Prints one JSON line when the process exits:
//   {"event_id": first id, "event_ids": [...], "statuses": [HTTP status per envelope]}
// and exits 0 only if at least one envelope was sent and every response was 2xx, else 3
// (this also replaces the exit status 1 of the deliberately uncaught exception).
'use strict';

const Sentry = require('@sentry/node');

const [dsn, scenario] = process.argv.slice(2);
if (!dsn || !scenario) {
  console.error('usage: node send_event.js DSN SCENARIO');
  process.exit(2);
}

const eventIds = [];
const statuses = [];

// The SDK's own Node transport, recording the status of every response.
function recordingTransport(options) {
  const inner = Sentry.makeNodeTransport(options);
  return {
    send: async (envelope) => {
      try {
        const response = await inner.send(envelope);
        statuses.push(response.statusCode);
        if (!(response.statusCode >= 200 && response.statusCode < 300)) {
          console.error(`send_event.js: server answered ${response.statusCode}`);
        }
        return response;
      } catch (err) {
        console.error(`send_event.js: sending failed: ${err}`);
        throw err;
      }
    },
    flush: (timeout) => inner.flush(timeout),
  };
}

process.on('exit', () => {
  process.stdout.write(
    JSON.stringify({ event_id: eventIds[0] ?? null, event_ids: eventIds, statuses }) + '\n',
  );
  const ok = statuses.length > 0 && statuses.every((s) => s >= 200 && s < 300);
  process.exitCode = ok ? 0 : 3;
});

Sentry.init({
  dsn,
  release: process.env.SENTRY_RELEASE || 'node-app@2.0.0',
  environment: process.env.SENTRY_ENVIRONMENT || 'production',
  serverName: 'sdk-test-host',
  transport: recordingTransport,
  shutdownTimeout: 10000,
  beforeSend(event) {
    eventIds.push(event.event_id);
    return event;
  },
});

function scopeSetup() {
  Sentry.setUser({ id: 'n-2002', email: 'linus@example.com' });
  Sentry.setTag('feature', 'inventory');
  Sentry.setTag('region', 'eu-west');
  Sentry.addBreadcrumb({ category: 'queue', message: 'job picked up', level: 'info' });
  Sentry.addBreadcrumb({ category: 'db', message: 'SELECT stock FROM items', level: 'debug' });
}

function reserveStock(items, warehouse) {
  const available = warehouse.shelves.length; // TypeError: warehouse.shelves is undefined
  return items.length <= available;
}

function allocateSlots(count) {
  return new Array(count); // RangeError for a negative count
}

async function main() {
  switch (scenario) {
    case 'handled': {
      scopeSetup();
      try {
        reserveStock(['sku-1', 'sku-2'], {});
      } catch (e) {
        Sentry.captureException(e);
      }
      break;
    }
    case 'uncaught': {
      scopeSetup();
      // Not caught by anyone: onUncaughtException captures, flushes, exits.
      setTimeout(() => allocateSlots(-1), 1);
      // Keep the event loop alive; the SDK ends the process.
      await new Promise((resolve) => setTimeout(resolve, 30000));
      console.error('send_event.js: the SDK did not end the process');
      break;
    }
    case 'large': {
      scopeSetup();
      Sentry.setExtra('blob', 'x'.repeat(40 * 1024));
      try {
        reserveStock(['sku-3'], {});
      } catch (e) {
        Sentry.captureException(e);
      }
      break;
    }
    default:
      console.error(`unknown scenario ${scenario}`);
      process.exit(2);
  }
  await Sentry.close(10000);
}

main();
