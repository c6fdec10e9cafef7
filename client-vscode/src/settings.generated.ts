// Generated from server/lenscribe/settings.py by `python -m lenscribe.settings_schema --write`: do not edit.
// The hand-written logic is in settings.ts.

/**
 * The server's configuration (section "lenscribe"), as sent in initializationOptions and
 * didChangeConfiguration. The server keeps its current value for a key that is absent, so "empty" settings
 * are sent as null (= the server's default) rather than left out.
 */
export interface ServerSettings {
  modelDir?: string | null;
  workers?: number;
  batchSize?: number;
  debounceMs?: number;
  languages?: string[] | null;
  minChunkLines?: number;
  lenses?: boolean;
  workspaceOnOpen?: boolean;
  workspaceMaxFiles?: number;
  workspaceMaxBytes?: number;
  workspaceMaxSeconds?: number;
  cacheDir?: string | null;
  hoverTimeoutMs?: number;
  maxFileBytes?: number;
  maxFileLines?: number;
  maxChunkChars?: number;
  lensRefreshMs?: number;
  beams?: number;
  preferDocstrings?: boolean;
  groundingCheck?: boolean;
  'backend.url'?: string | null;
  'backend.model'?: string | null;
  'backend.apiKeyEnv'?: string | null;
  'backend.maxConcurrent'?: number;
  'backend.timeoutMs'?: number;
  'backend.lenses'?: boolean;
  'backend.summarizeFile'?: boolean;
  'backend.workspace'?: boolean;
  'backend.workspaceMaxRequests'?: number;
  'backend.regenerate'?: boolean;
}

export type Kind = 'path' | 'int' | 'bool' | 'stringList' | 'string';

export interface SettingSpec {
  key: keyof ServerSettings;
  kind: Kind;
  /** Integer range the server accepts (values are clamped into it). */
  min?: number;
  max?: number;
  /** An integer value meaning "let the server decide" (left out of the payload). */
  auto?: number;
}

/** Every server setting, its type and range. Order = order in package.json. */
export const SERVER_SETTINGS: ReadonlyArray<SettingSpec> = [
  { key: 'modelDir', kind: 'path' },
  { key: 'workers', kind: 'int', min: 1, max: 16, auto: 0 },
  { key: 'batchSize', kind: 'int', min: 1, max: 64 },
  { key: 'debounceMs', kind: 'int', min: 0, max: 10_000 },
  { key: 'languages', kind: 'stringList' },
  { key: 'minChunkLines', kind: 'int', min: 1, max: 1000 },
  { key: 'lenses', kind: 'bool' },
  { key: 'workspaceOnOpen', kind: 'bool' },
  { key: 'workspaceMaxFiles', kind: 'int', min: 1, max: 10_000_000 },
  { key: 'workspaceMaxBytes', kind: 'int', min: 1, max: 1_099_511_627_776 },
  { key: 'workspaceMaxSeconds', kind: 'int', min: 1, max: 604_800 },
  { key: 'cacheDir', kind: 'path' },
  { key: 'hoverTimeoutMs', kind: 'int', min: 0, max: 120_000 },
  { key: 'maxFileBytes', kind: 'int', min: 1, max: 2_147_483_648 },
  { key: 'maxFileLines', kind: 'int', min: 1, max: 10_000_000 },
  { key: 'maxChunkChars', kind: 'int', min: 100, max: 1_000_000 },
  { key: 'lensRefreshMs', kind: 'int', min: 0, max: 60_000 },
  { key: 'beams', kind: 'int', min: 1, max: 8 },
  { key: 'preferDocstrings', kind: 'bool' },
  { key: 'groundingCheck', kind: 'bool' },
  { key: 'backend.url', kind: 'string' },
  { key: 'backend.model', kind: 'string' },
  { key: 'backend.apiKeyEnv', kind: 'string' },
  { key: 'backend.maxConcurrent', kind: 'int', min: 1, max: 64 },
  { key: 'backend.timeoutMs', kind: 'int', min: 100, max: 600_000 },
  { key: 'backend.lenses', kind: 'bool' },
  { key: 'backend.summarizeFile', kind: 'bool' },
  { key: 'backend.workspace', kind: 'bool' },
  { key: 'backend.workspaceMaxRequests', kind: 'int', min: 0, max: 10_000_000 },
  { key: 'backend.regenerate', kind: 'bool' },
];

/** The settings only the client reads (below `lenscribe.`). */
export const CLIENT_ONLY_SETTINGS: readonly string[] = [
  'server.command',
  'server.pythonPath',
  'outline.openAs',
  'trace.server',
];

/** The lenscribe settings that name a program or a path (package.json's restrictedConfigurations). */
export const RESTRICTED_LENSCRIBE_SETTINGS: readonly string[] = [
  'lenscribe.server.command',
  'lenscribe.server.pythonPath',
  'lenscribe.modelDir',
  'lenscribe.cacheDir',
  'lenscribe.backend.url',
  'lenscribe.backend.model',
  'lenscribe.backend.apiKeyEnv',
  'lenscribe.backend.maxConcurrent',
  'lenscribe.backend.timeoutMs',
  'lenscribe.backend.lenses',
  'lenscribe.backend.summarizeFile',
  'lenscribe.backend.workspace',
  'lenscribe.backend.workspaceMaxRequests',
  'lenscribe.backend.regenerate',
];
