'use strict';
// `npm test`: runs every *.test.js under the suite directories that exist (sio/, switchboard/,
// pages/ — the built-in web pages in Chromium),
// one file at a time, with Node's built-in test runner. Explicit file paths work the same on
// every Node version (directory arguments and globs do not), and a suite directory that does
// not exist yet, or has no tests yet, is skipped instead of failing the run.
//
//   npm test                      # everything
//   npm test -- sio/recovery.test.js   # only these files / directories
//   npm test -- --test-reporter=spec   # extra node --test options

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const E2E = path.resolve(__dirname, '..');
const SUITES = ['sio', 'switchboard', 'pages', 'cluster'];

function testFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  if (fs.statSync(dir).isFile()) return [dir];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (/\.test\.[cm]?js$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

const argv = process.argv.slice(2);
const options = argv.filter((a) => a.startsWith('-'));
const targets = argv.filter((a) => !a.startsWith('-'));
for (const t of targets) {
  if (!fs.existsSync(path.resolve(E2E, t))) {
    console.error(`no such test file or directory: ${t}`);
    process.exit(2);
  }
}
const roots = targets.length ? targets : SUITES;
const files = roots.flatMap((r) => testFiles(path.resolve(E2E, r))).map((f) => path.relative(E2E, f));
if (files.length === 0) {
  console.error(`no *.test.js files under ${roots.join(', ')}`);
  process.exit(1);
}

const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...options, ...files], {
  cwd: E2E,
  stdio: 'inherit',
});
process.exit(r.status === null ? 1 : r.status);
