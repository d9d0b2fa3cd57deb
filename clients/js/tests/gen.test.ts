// The type generator: the committed file matches presets.toml, a changed table makes
// `gen:check` fail, and an on_join hook it does not know stops it.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { JOIN_RULES, LEAVE_RULES } from '@switchboard/client';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const presets = resolve(root, '..', '..', 'crates', 'switchboard', 'src', 'rules', 'presets.toml');
const tmp = mkdtempSync(join(tmpdir(), 'sb-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function gen(presetsPath: string) {
  return spawnSync(process.execPath, ['scripts/gen-types.mjs', '--check'], {
    cwd: root,
    env: { ...process.env, SWITCHBOARD_PRESETS: presetsPath },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('gen-types', () => {
  it('the committed generated.ts is current', () => {
    const r = gen(presets);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('knows every rule of presets.toml', () => {
    const events = [...readFileSync(presets, 'utf8').matchAll(/^event = "([^"]+)"/gm)].map((m) => m[1]);
    expect(events.length).toBeGreaterThan(10);
    expect([...Object.keys(JOIN_RULES), ...Object.keys(LEAVE_RULES)].sort()).toEqual([...events].sort());
    expect(JOIN_RULES['module:subscribe']).toMatchObject({ room: 'module:{id}', field: 'moduleKey', answers: 'kpi:update:{id}', leave: { event: 'module:unsubscribe', from: 'payload' } });
    expect(JOIN_RULES['joinServiceQueue'].leave).toEqual({ event: 'leaveRoom', from: 'room', field: 'room' });
    expect(JOIN_RULES['join:library'].leave).toBeNull();
  });

  it('fails the check when the rules changed', () => {
    const changed = join(tmp, 'changed.toml');
    writeFileSync(changed, readFileSync(presets, 'utf8') + '\n[[preset.booking]]\nevent = "join:floor"\naction = "join"\nroom = "floor:{id}"\npermission = "authenticated"\n');
    const r = gen(changed);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is stale');
  });

  it('refuses an on_join hook it cannot describe', () => {
    const unknown = join(tmp, 'unknown.toml');
    writeFileSync(unknown, '[[preset.x]]\nevent = "x:join"\naction = "join"\nroom = "x:{id}"\non_join = "mystery"\n');
    const r = gen(unknown);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('on_join "mystery"');
  });
});
