import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  CLIENT_ONLY_SETTINGS,
  RESTRICTED_SETTINGS,
  SERVER_SETTINGS,
  SettingInspection,
  expandPath,
  initializationOptions,
  needsRestart,
  toServerSettings,
  trustedSettingGetter,
} from '../../src/settings';

const getter = (values: Record<string, unknown>) => (key: string) => values[key];

describe('toServerSettings', () => {
  const all = {
    modelDir: '/models/tiny',
    workers: 2,
    batchSize: 4,
    debounceMs: 250,
    languages: ['python', 'go'],
    minChunkLines: 4,
    lenses: false,
    workspaceOnOpen: true,
    cacheDir: '/tmp/cache',
    hoverTimeoutMs: 1500,
    maxFileBytes: 4096,
    maxFileLines: 100,
    maxChunkChars: 2000,
    lensRefreshMs: 250,
    beams: 2,
    'backend.url': 'http://127.0.0.1:8080/v1',
    'backend.model': 'qwen2.5-coder-0.5b',
    'backend.maxConcurrent': 3,
  };

  it('maps every server setting with its type', () => {
    assert.deepEqual(toServerSettings(getter(all)), all);
  });

  it('sends blank paths and an empty language list as null: the server default', () => {
    assert.deepEqual(toServerSettings(getter({ modelDir: '   ', cacheDir: '', languages: [] })), { modelDir: null, cacheDir: null, languages: null });
    assert.deepEqual(toServerSettings(getter({ modelDir: null, languages: null })), { modelDir: null, languages: null });
  });

  it('leaves out unset and mistyped values, and workers 0 (automatic)', () => {
    const s = toServerSettings(getter({ modelDir: 3, workers: 'many', lenses: 'yes', languages: 42, hoverTimeoutMs: Number.NaN }));
    assert.deepEqual(s, {});
    assert.deepEqual(toServerSettings(getter({ workers: 0 })), {});
  });

  it('truncates numbers, clamps them into the server range and accepts numeric strings', () => {
    const s = toServerSettings(
      getter({ workers: 99, debounceMs: -5, minChunkLines: 2.9, maxFileBytes: '2048', hoverTimeoutMs: 10.5, maxChunkChars: 1, batchSize: 1000 }),
    );
    assert.deepEqual(s, { workers: 16, debounceMs: 0, minChunkLines: 2, maxFileBytes: 2048, hoverTimeoutMs: 10, maxChunkChars: 100, batchSize: 64 });
  });

  it('cleans the language list: trims, lower-cases, maps VS Code ids, drops blanks and duplicates', () => {
    assert.deepEqual(toServerSettings(getter({ languages: [' Python', '', 'python', 'rust', 3] })).languages, ['python', 'rust']);
    assert.deepEqual(toServerSettings(getter({ languages: ['typescriptreact', 'javascriptreact', 'javascript'] })).languages, ['tsx', 'javascript']);
    assert.deepEqual(toServerSettings(getter({ languages: 'python, go' })).languages, ['python', 'go']);
  });

  it('expands paths', () => {
    const s = toServerSettings(getter({ modelDir: '~/models/x', cacheDir: '${workspaceFolder}/.lenscribe' }), {
      home: '/home/u',
      workspaceFolder: '/w/proj',
    });
    assert.equal(s.modelDir, '/home/u/models/x');
    assert.equal(s.cacheDir, '/w/proj/.lenscribe');
  });

  it('never passes client-only settings to the server', () => {
    const s = toServerSettings(getter({ 'server.command': ['x'], 'server.pythonPath': '/p', 'outline.openAs': 'both', workers: 3 }));
    assert.deepEqual(s, { workers: 3 });
  });

  it('initializationOptions are the flat server settings', () => {
    assert.deepEqual(initializationOptions(getter({ workers: 2, lenses: true })), { workers: 2, lenses: true });
  });
});

describe('expandPath', () => {
  const ctx = { home: '/home/u', workspaceFolder: '/w', env: { MODELS: '/srv/models' } };
  it('expands ~, ${userHome}, ${workspaceFolder} and ${env:NAME}', () => {
    assert.equal(expandPath('~', ctx), '/home/u');
    assert.equal(expandPath('~/a', ctx), '/home/u/a');
    assert.equal(expandPath('${userHome}/a', ctx), '/home/u/a');
    assert.equal(expandPath('${workspaceFolder}/m', ctx), '/w/m');
    assert.equal(expandPath('${env:MODELS}/tiny', ctx), '/srv/models/tiny');
    assert.equal(expandPath('${env:NOPE}/tiny', ctx), '/tiny');
  });
  it('keeps what it cannot expand and paths without variables', () => {
    assert.equal(expandPath('${workspaceFolder}/m', {}), '${workspaceFolder}/m');
    assert.equal(expandPath('/abs/~x', ctx), '/abs/~x');
    assert.equal(expandPath('rel/dir', ctx), 'rel/dir');
  });
  it('is undefined for blank or non-string values', () => {
    assert.equal(expandPath('', ctx), undefined);
    assert.equal(expandPath('  ', ctx), undefined);
    assert.equal(expandPath(3, ctx), undefined);
  });
});

describe('needsRestart', () => {
  it('is true for server launch settings only', () => {
    assert.equal(needsRestart('server.pythonPath'), true);
    assert.equal(needsRestart('server.command'), true);
    assert.equal(needsRestart('modelDir'), false);
    assert.equal(needsRestart('workers'), false);
  });
});

describe('trustedSettingGetter', () => {
  const values: Record<string, SettingInspection> = {
    'server.command': { defaultValue: [], workspaceValue: ['/w/evil', 'serve'] },
    'server.pythonPath': { defaultValue: '', globalValue: '/home/me/py/bin/python', workspaceFolderValue: '/w/.venv/bin/python' },
    modelDir: { defaultValue: '', workspaceValue: '${workspaceFolder}/model' },
    cacheDir: { defaultValue: '', globalValue: '~/cache', workspaceValue: '/w/cache' },
    workers: { defaultValue: 0, workspaceValue: 2 },
  };
  // What WorkspaceConfiguration.get answers: the most specific value.
  const get = (key: string) => {
    const i = values[key];
    return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue ?? i?.defaultValue;
  };
  const inspect = (key: string) => values[key];

  it("ignores the workspace's program and path settings in an untrusted workspace", () => {
    const g = trustedSettingGetter(get, inspect, false);
    assert.deepEqual(g('server.command'), []);
    assert.equal(g('server.pythonPath'), '/home/me/py/bin/python');
    assert.equal(g('modelDir'), '');
    assert.equal(g('cacheDir'), '~/cache');
    assert.equal(g('workers'), 2, 'other settings keep their workspace value');
    assert.deepEqual(toServerSettings(g), { modelDir: null, workers: 2, cacheDir: '~/cache' });
    const python = trustedSettingGetter((k) => (k === 'defaultInterpreterPath' ? '/w/bin/python' : undefined),
      () => ({ defaultValue: 'python', workspaceValue: '/w/bin/python' }), false, 'python');
    assert.equal(python('defaultInterpreterPath'), 'python');
  });

  it('uses every value in a trusted workspace', () => {
    const g = trustedSettingGetter(get, inspect, true);
    assert.deepEqual(g('server.command'), ['/w/evil', 'serve']);
    assert.equal(g('server.pythonPath'), '/w/.venv/bin/python');
    assert.equal(g('cacheDir'), '/w/cache');
  });
});

describe('package.json', () => {
  // out/test/unit/ -> the extension's root
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: {
      configuration: { properties: Record<string, { type: string | string[]; default?: unknown; minimum?: number; maximum?: number }> };
      commands: Array<{ command: string; title: string; category?: string }> };
    main: string;
  };
  const props = pkg.contributes.configuration.properties;

  it('declares limited support in untrusted workspaces, restricting every program and path setting', () => {
    const untrusted = (pkg as unknown as { capabilities: { untrustedWorkspaces: { supported: unknown; restrictedConfigurations: string[] } } })
      .capabilities.untrustedWorkspaces;
    assert.equal(untrusted.supported, 'limited');
    assert.deepEqual(untrusted.restrictedConfigurations, RESTRICTED_SETTINGS.filter((k) => k.startsWith('lenscribe.')));
    for (const [key, prop] of Object.entries(props)) {
      // ... and every backend setting: a repository must not choose where its code is sent
      const namesProgramOrPath = key.startsWith('lenscribe.server.') || key.startsWith('lenscribe.backend.')
        || (prop.type === 'string' && /Dir$|Path$/.test(key));
      assert.equal(untrusted.restrictedConfigurations.includes(key), namesProgramOrPath, key);
    }
  });

  it('contributes a setting for every server setting, with a matching type', () => {
    const expected: Record<string, string> = {
      path: 'string', int: 'integer', bool: 'boolean', stringList: 'array', string: 'string',
    };
    for (const { key, kind } of SERVER_SETTINGS) {
      const prop = props[`lenscribe.${key}`];
      assert.ok(prop, `lenscribe.${key} is contributed`);
      assert.equal(prop.type, expected[kind], `lenscribe.${key} type`);
      // The contributed default maps to the server's default: itself, or null / left out for "server decides".
      const mapped = toServerSettings((k) => (k === key ? prop.default : undefined));
      if (kind === 'path' || kind === 'stringList' || kind === 'string') {
        assert.deepEqual(prop.default, kind === 'stringList' ? [] : '', `lenscribe.${key} defaults to empty (server default)`);
        assert.deepEqual(mapped, { [key]: null });
      } else if (key === 'workers') {
        assert.equal(prop.default, 0);
        assert.deepEqual(mapped, {});
      } else {
        assert.deepEqual(mapped, { [key]: prop.default }, `lenscribe.${key} default maps to itself`);
      }
      if (kind === 'int') {
        const spec = SERVER_SETTINGS.find((s) => s.key === key)!;
        assert.equal(prop.minimum, spec.auto ?? spec.min, `lenscribe.${key} minimum`);
        assert.equal(prop.maximum, spec.max, `lenscribe.${key} maximum`);
      }
    }
  });

  it("has the server's defaults (server/lenscribe/settings.py)", (t) => {
    const repo = path.join(__dirname, '..', '..', '..', '..');
    const python = process.env.LENSCRIBE_PYTHON ?? path.join(repo, '.venv', 'bin', 'python');
    const script = [
      'import json, dataclasses',
      'from lenscribe.settings import SERVER_SETTINGS, Settings',
      's = Settings()',
      'print(json.dumps({x.key: getattr(s, x.field) for x in SERVER_SETTINGS}))',
    ].join('\n');
    const run = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    if (run.error || run.status !== 0) {
      t.skip(`no Python with lenscribe.settings (${python}): ${run.error?.message ?? run.stderr.trim().split('\n').pop()}`);
      return;
    }
    const server = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(server).sort(), SERVER_SETTINGS.map((s) => s.key).sort(), 'the same setting names');
    for (const { key } of SERVER_SETTINGS) {
      const prop = props[`lenscribe.${key}`];
      if (key === 'workers') {
        continue; // the server's default depends on the core count: the extension's 0 means "the server decides"
      }
      const clientDefault = toServerSettings((k) => (k === key ? prop.default : undefined))[key];
      assert.deepEqual(clientDefault, server[key], `lenscribe.${key}: the extension's default is the server's`);
    }
  });

  it('contributes only known settings', () => {
    const known = [...SERVER_SETTINGS.map((s) => s.key), ...CLIENT_ONLY_SETTINGS].map((k) => `lenscribe.${k}`);
    assert.deepEqual(new Set(Object.keys(props)), new Set(known));
    for (const key of ['server.command', 'server.pythonPath', 'outline.openAs', 'trace.server']) {
      assert.ok(CLIENT_ONLY_SETTINGS.includes(key), `lenscribe.${key} is client-only`);
    }
  });

  it('contributes the three commands under the Lenscribe category', () => {
    const titles = pkg.contributes.commands.map((c) => `${c.category}: ${c.title}`);
    for (const t of ['Lenscribe: Summarize File', 'Lenscribe: Summarize Workspace', 'Lenscribe: Restart Server']) {
      assert.ok(titles.includes(t), t);
    }
    for (const c of pkg.contributes.commands) {
      // vscode-languageclient registers the server's command ids itself: ours must differ.
      assert.ok(!['lenscribe.summarizeFile', 'lenscribe.summarizeWorkspace'].includes(c.command), c.command);
    }
  });
});
