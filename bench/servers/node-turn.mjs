#!/usr/bin/env node
// node-turn 0.0.6 (npm devDependency) as a bench peer: long-term auth with a static user test/test,
// realm example.org, listening and relaying on 127.0.0.1 only.
// Usage: node bench/servers/node-turn.mjs PORT MIN_RELAY_PORT MAX_RELAY_PORT
import Turn from 'node-turn';

const [port, minPort, maxPort] = process.argv.slice(2).map(Number);
if (!port || !minPort || !maxPort) {
  console.error('usage: node-turn.mjs PORT MIN_RELAY_PORT MAX_RELAY_PORT');
  process.exit(2);
}
const server = new Turn({
  listeningPort: port,
  listeningIps: ['127.0.0.1'],
  relayIps: ['127.0.0.1'],
  minPort,
  maxPort,
  authMech: 'long-term',
  credentials: { test: 'test' },
  realm: 'example.org',
  debugLevel: 'FATAL',
});
server.start();
process.on('SIGTERM', () => process.exit(0));
