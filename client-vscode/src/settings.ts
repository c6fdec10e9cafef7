// Pure mapping from the extension's `lenscribe.*` settings to the server's configuration section.
// No `vscode` import here: the unit tests run this module under plain Node.
// The declarative part (setting names, types, ranges) is generated from server/lenscribe/settings.py into
// settings.generated.ts by `python -m lenscribe.settings_schema --write`.

import { RESTRICTED_LENSCRIBE_SETTINGS, SERVER_SETTINGS, ServerSettings, SettingSpec } from './settings.generated';

export { CLIENT_ONLY_SETTINGS, SERVER_SETTINGS } from './settings.generated';
export type { Kind, ServerSettings, SettingSpec } from './settings.generated';

/** Reads one setting below the `lenscribe` section, e.g. get("modelDir"); undefined when unset. */
export type SettingGetter = (key: string) => unknown;

export interface PathContext {
  /** The user's home directory, for a leading `~`. */
  home?: string;
  /** The first workspace folder's path, for `${workspaceFolder}`. */
  workspaceFolder?: string;
  /** Environment variables, for `${env:NAME}`. */
  env?: Record<string, string | undefined>;
}

/**
 * Settings that name a program or a path, as `section.key`: in Restricted Mode (an untrusted workspace) a workspace
 * could otherwise make the extension run its own program or read and write where it likes. The lenscribe ones are
 * package.json's `capabilities.untrustedWorkspaces.restrictedConfigurations` (both generated).
 */
export const RESTRICTED_SETTINGS: readonly string[] = [...RESTRICTED_LENSCRIBE_SETTINGS, 'python.defaultInterpreterPath'];

/** What `WorkspaceConfiguration.inspect(key)` answers (the parts used here). */
export interface SettingInspection {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * A getter for the settings below `section`. In a trusted workspace: `get` as it is. Otherwise the restricted settings
 * (RESTRICTED_SETTINGS) come from the user's own settings or the default only, never from the workspace or folder.
 */
export function trustedSettingGetter(
  get: SettingGetter,
  inspect: (key: string) => SettingInspection | undefined,
  trusted: boolean,
  section = 'lenscribe',
): SettingGetter {
  if (trusted) {
    return get;
  }
  return (key) => {
    if (!RESTRICTED_SETTINGS.includes(`${section}.${key}`)) {
      return get(key);
    }
    const i = inspect(key);
    return i?.globalValue !== undefined ? i.globalValue : i?.defaultValue;
  };
}

/** Settings that only the client reads: changing one of them needs a server restart. */
export const CLIENT_ONLY_PREFIXES = ['server.', 'outline.', 'trace.'];

/**
 * Expands `~`, `${workspaceFolder}`, `${userHome}` and `${env:NAME}` in a path setting.
 * Returns undefined for an empty or blank value (meaning: let the server use its default).
 */
export function expandPath(value: unknown, ctx: PathContext = {}): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  let p = value.trim();
  if (p === '') {
    return undefined;
  }
  p = p.replace(/\$\{(workspaceFolder|userHome|env:([A-Za-z_][A-Za-z0-9_]*))\}/g, (whole, name: string, envName?: string) => {
    if (envName !== undefined) {
      return ctx.env?.[envName] ?? '';
    }
    if (name === 'workspaceFolder') {
      return ctx.workspaceFolder ?? whole;
    }
    return ctx.home ?? whole;
  });
  if (ctx.home && (p === '~' || p.startsWith('~/') || p.startsWith('~\\'))) {
    p = ctx.home + p.slice(1);
  }
  return p;
}

function toInt(value: unknown, spec: SettingSpec): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    return undefined;
  }
  const i = Math.trunc(n);
  if (spec.auto !== undefined && i === spec.auto) {
    return undefined;
  }
  return Math.min(spec.max ?? i, Math.max(spec.min ?? i, i));
}

/** VS Code language ids (and common spellings) that the server knows under another name. */
export const LANGUAGE_ALIASES: Readonly<Record<string, string>> = {
  typescriptreact: 'tsx',
  javascriptreact: 'javascript',
  'c#': 'csharp',
  'c++': 'cpp',
};

function toStringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') {
    value = value.split(',');
  }
  if (!Array.isArray(value)) {
    return undefined;
  }
  const out: string[] = [];
  for (const item of value) {
    const name = typeof item === 'string' ? item.trim().toLowerCase() : '';
    const v = LANGUAGE_ALIASES[name] ?? name;
    if (v !== '' && !out.includes(v)) {
      out.push(v);
    }
  }
  return out;
}

/**
 * The server configuration from the extension's settings:
 * - a blank path, string or an empty language list is sent as null: the server's default (shipped model, user cache dir,
 *   every language);
 * - numbers are truncated to integers and clamped into the server's range; `workers: 0` (auto) is left out;
 * - a setting that is unset or of the wrong type is left out (the server keeps what it has);
 * - path settings are expanded (`~`, `${workspaceFolder}`, `${userHome}`, `${env:NAME}`).
 */
export function toServerSettings(get: SettingGetter, ctx: PathContext = {}): ServerSettings {
  const out: Record<string, unknown> = {};
  for (const spec of SERVER_SETTINGS) {
    const raw = get(spec.key);
    if (raw === undefined) {
      continue;
    }
    let value: unknown;
    switch (spec.kind) {
      case 'path':
        value = raw === null || typeof raw === 'string' ? (expandPath(raw, ctx) ?? null) : undefined;
        break;
      case 'int':
        value = toInt(raw, spec);
        break;
      case 'bool':
        value = typeof raw === 'boolean' ? raw : undefined;
        break;
      case 'string':
        value = raw === null ? null : typeof raw === 'string' ? (raw.trim() === '' ? null : raw.trim()) : undefined;
        break;
      case 'stringList': {
        const list = raw === null ? [] : toStringList(raw);
        value = list === undefined ? undefined : list.length === 0 ? null : list;
        break;
      }
    }
    if (value !== undefined) {
      out[spec.key] = value;
    }
  }
  return out;
}

/** Does a change to this setting (key below `lenscribe.`) need a server restart rather than didChangeConfiguration? */
export function needsRestart(key: string): boolean {
  return key.startsWith('server.') || key === 'server';
}

/** The initializationOptions for the server: its configuration section as a flat object. */
export function initializationOptions(get: SettingGetter, ctx: PathContext = {}): ServerSettings {
  return toServerSettings(get, ctx);
}
