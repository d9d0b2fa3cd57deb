// The packages as published: built dist/ (ESM, CJS, .d.ts), versions = the server's, and
// what `npm pack` would put in the tarball. Run after `npm run build`.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(root, '..', '..');
const serverVersion = /^version\s*=\s*"([^"]+)"/m.exec(readFileSync(join(repo, 'crates', 'switchboard', 'Cargo.toml'), 'utf8'))![1];
const require = createRequire(import.meta.url);

const packages = [
  { name: '@switchboard/client', dir: 'packages/client', exports: ['connect', 'SwitchboardClient', 'SwitchboardError', 'JOIN_RULES'] },
  {
    name: '@switchboard/react',
    dir: 'packages/react',
    exports: ['SwitchboardProvider', 'useSocket', 'useSocketEvent', 'useSocketEmit', 'useRealTimeKPIs', 'useRealTimeNotifications', 'useRealtimeDashboard', 'useSystemAlerts', 'useRoom', 'usePresence'],
  },
];

describe.each(packages)('$name', ({ name, dir, exports }) => {
  const pkgDir = join(root, dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

  it('has the server version', () => {
    expect(pkg.name).toBe(name);
    expect(pkg.version).toBe(serverVersion);
  });

  it('is built to ESM, CJS and .d.ts', async () => {
    for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']) {
      expect(existsSync(join(pkgDir, f)), `${dir}/${f} (run npm run build)`).toBe(true);
    }
    const cjs = require(join(pkgDir, 'dist/index.cjs'));
    const esm = await import(pathToFileURL(join(pkgDir, 'dist/index.js')).href);
    for (const e of exports) {
      expect(cjs[e], `CJS export ${e}`).toBeDefined();
      expect(esm[e], `ESM export ${e}`).toBeDefined();
    }
    const dts = readFileSync(join(pkgDir, 'dist/index.d.ts'), 'utf8');
    for (const e of exports) expect(dts).toContain(e);
  });

  it('packs dist/ and package.json only', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkgDir, encoding: 'utf8', timeout: 60_000 });
    const [info] = JSON.parse(out) as Array<{ name: string; version: string; files: Array<{ path: string }> }>;
    expect(info.name).toBe(name);
    expect(info.version).toBe(serverVersion);
    const files = info.files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts']));
    expect(files.filter((f) => !f.startsWith('dist/') && f !== 'package.json' && f !== 'README.md')).toEqual([]);
  });
});
