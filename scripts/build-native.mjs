#!/usr/bin/env node
// Compiles the optional native UDP data plane (native/dataplane.c) into dist/native/dataplane.node
// with the system C compiler and the Node headers. It is optional: when gcc or the headers are
// missing this prints why and exits 0, and turnkit runs on the JavaScript data plane.
// Usage: node scripts/build-native.mjs [--required]  (--required: a failure exits 1)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'native', 'dataplane.c');
const OUT = join(ROOT, 'dist', 'native', 'dataplane.node');
const required = process.argv.includes('--required');

function skip(why) {
  console.error(`native data plane not built: ${why}; turnkit uses the JavaScript data plane`);
  process.exit(required ? 1 : 0);
}

if (process.platform !== 'linux') skip('it is Linux-only (epoll, recvmmsg)');
const headers = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) =>
  existsSync(join(d, 'node_api.h')),
);
if (!headers) skip('the Node headers (node_api.h) are not installed');
const cc = process.env.CC ?? 'cc';
if (existsSync(OUT) && statSync(OUT).mtimeMs > statSync(SRC).mtimeMs) process.exit(0);
mkdirSync(dirname(OUT), { recursive: true });
// Built beside and renamed over: a process that has the old addon loaded keeps its (unlinked) copy.
const tmp = `${OUT}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-shared', '-fPIC', '-pthread', `-I${headers}`, '-DNODE_GYP_MODULE_NAME=dataplane', '-o', tmp, SRC], {
    stdio: 'inherit',
  });
  renameSync(tmp, OUT);
} catch (err) {
  rmSync(tmp, { force: true });
  skip(`${cc} failed (${err.message.split('\n')[0]})`);
}
