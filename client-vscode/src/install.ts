// The extension's own server: a private virtual environment in the extension's global storage, made with the user's
// Python (3.11+) and the lenscribe wheel the .vsix carries (server/lenscribe-*.whl; its dependencies come from the
// package index). Pure decisions only: which Python, which wheel, where the environment's files are, which commands
// install it and when to offer it. The process and file-system work is in extension.ts.

/** The oldest Python the server supports (pyproject's requires-python). */
export const MIN_PYTHON: readonly [number, number] = [3, 11];
/** The private environment's folder name under the extension's global storage. */
export const VENV_DIR = 'server-venv';
/** Written into the environment after a successful install: which wheel it holds. */
export const MARKER_FILE = 'lenscribe-install.json';
/** Prints "<major>.<minor>.<micro> <venv ok: 0|1>" (venv needs ensurepip: Debian's python3 lacks it without python3-venv). */
export const VERSION_PROBE_ARGS: readonly string[] = [
  '-I',
  '-c',
  'import sys, importlib.util as u; print("%d.%d.%d" % sys.version_info[:3], int(u.find_spec("venv") is not None and u.find_spec("ensurepip") is not None))',
];

export type Version = [number, number, number];

export interface PythonInfo {
  version?: Version;
  /** Whether `python -m venv` can make an environment with pip (venv and ensurepip importable). */
  venv?: boolean;
  /** Why the program could not be run or asked (not found, crashed...). */
  error?: string;
}

export interface InstallProbe {
  platform: string;
  /** The absolute path of an executable on PATH (or the path itself when it names an existing file), else undefined. */
  which(name: string): string | undefined;
  /** Runs `python VERSION_PROBE_ARGS` and parses the answer with parseProbeOutput. */
  pythonInfo(python: string): Promise<PythonInfo>;
}

/** "3.12.1 1" (VERSION_PROBE_ARGS' output) or "Python 3.12.1" as a version and whether venv works. */
export function parseProbeOutput(text: string): PythonInfo {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?\S*(?:\s+([01]))?/.exec(text.trim());
  if (m === null) {
    return { error: `unexpected answer ${JSON.stringify(text.trim().slice(0, 80))}` };
  }
  const info: PythonInfo = { version: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] };
  if (m[4] !== undefined) {
    info.venv = m[4] === '1';
  }
  return info;
}

export function formatVersion(v: readonly number[]): string {
  return v.join('.');
}

export function versionAtLeast(v: readonly number[], min: readonly number[] = MIN_PYTHON): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    if (a !== min[i]) {
      return a > min[i];
    }
  }
  return true;
}

/**
 * The Pythons to make the environment with, in order: the configured ones (`python.defaultInterpreterPath`, already
 * filtered for Restricted Mode by the caller; not `lenscribe.server.pythonPath`, which names the server's own Python and
 * would win over the installed one), then `python3` and `python` on PATH (Windows: `python`, then `py`). Never a
 * workspace's own `.venv`. Duplicates and blanks dropped.
 */
export function pythonCandidates(configured: unknown[], platform: string): string[] {
  const out: string[] = [];
  const names = platform === 'win32' ? ['python', 'py'] : ['python3', 'python'];
  for (const c of [...configured, ...names]) {
    const p = typeof c === 'string' ? c.trim() : '';
    if (p !== '' && !out.includes(p)) {
      out.push(p);
    }
  }
  return out;
}

export interface BasePython {
  python: string;
  version: Version;
}

export class NoPythonError extends Error {
  constructor(message: string, readonly tried: string[]) {
    super(message);
    this.name = 'NoPythonError';
  }
}

/**
 * The first candidate that runs, is Python >= 3.11 and can make a virtual environment with pip. Throws NoPythonError
 * naming every candidate and why it did not fit, with what to do.
 */
export async function findBasePython(candidates: string[], probe: InstallProbe): Promise<BasePython> {
  const reasons: string[] = [];
  const tried: string[] = [];
  let noVenv: string | undefined;
  for (const candidate of candidates) {
    const python = probe.which(candidate);
    tried.push(candidate);
    if (python === undefined) {
      reasons.push(`${candidate}: not found`);
      continue;
    }
    const info = await probe.pythonInfo(python);
    if (info.error !== undefined || info.version === undefined) {
      reasons.push(`${python}: ${info.error ?? 'no version'}`);
      continue;
    }
    if (!versionAtLeast(info.version)) {
      reasons.push(`${python}: Python ${formatVersion(info.version)} is older than ${formatVersion(MIN_PYTHON)}`);
      continue;
    }
    if (info.venv === false) {
      reasons.push(`${python}: Python ${formatVersion(info.version)} has no venv/ensurepip module`);
      noVenv = noVenv ?? python;
      continue;
    }
    return { python, version: info.version };
  }
  const hint =
    noVenv !== undefined
      ? `Install the venv module for ${noVenv} (Debian/Ubuntu: \`sudo apt install python3-venv\`) or `
      : probe.platform === 'win32'
        ? 'Install Python 3.11 or newer from python.org and '
        : 'Install Python 3.11 or newer (your package manager, pyenv or python.org) and ';
  throw new NoPythonError(
    `No Python ${formatVersion(MIN_PYTHON)}+ that can make a virtual environment was found (${reasons.join('; ')}). ` +
      `${hint}put it on PATH (or set \`python.defaultInterpreterPath\` to it), then run **Lenscribe: Install Server**.`,
    tried,
  );
}

export interface VenvLayout {
  /** The environment's folder. */
  dir: string;
  /** Its Python (what the server runs with: `<python> -I -m lenscribe serve`). */
  python: string;
  /** The marker file that records the installed wheel. */
  marker: string;
}

/** Where the private environment's files are under `storageDir`, per platform (Windows: Scripts\python.exe). */
export function venvLayout(storageDir: string, platform: string): VenvLayout {
  const sep = platform === 'win32' ? '\\' : '/';
  const dir = [storageDir.replace(/[\\/]+$/, ''), VENV_DIR].join(sep);
  const python = platform === 'win32' ? [dir, 'Scripts', 'python.exe'].join(sep) : [dir, 'bin', 'python'].join(sep);
  return { dir, python, marker: [dir, MARKER_FILE].join(sep) };
}

/** A wheel's version from its file name (`lenscribe-0.1.0-py3-none-any.whl` -> [0, 1, 0]). */
export function wheelVersion(fileName: string): number[] | undefined {
  const m = /^lenscribe-(\d+(?:\.\d+)*)[^-]*-.*\.whl$/.exec(fileName);
  return m === null ? undefined : m[1].split('.').map(Number);
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}

/** The bundled wheel among a folder's file names: the newest `lenscribe-*.whl`, or undefined. */
export function pickWheel(fileNames: string[]): string | undefined {
  const wheels = fileNames.filter((f) => wheelVersion(f) !== undefined);
  wheels.sort((a, b) => compareVersions(wheelVersion(b) ?? [], wheelVersion(a) ?? []) || (a < b ? 1 : -1));
  return wheels[0];
}

export interface InstallStep {
  title: string;
  command: string;
  args: string[];
}

/** The commands that make the environment and install the wheel into it (its dependencies from the package index). */
export function installSteps(base: string, layout: VenvLayout, wheelPath: string): InstallStep[] {
  return [
    { title: 'creating a virtual environment', command: base, args: ['-I', '-m', 'venv', layout.dir] },
    {
      title: 'installing lenscribe and its dependencies (from the package index)',
      command: layout.python,
      args: ['-I', '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', wheelPath],
    },
    { title: 'checking the server', command: layout.python, args: ['-I', '-c', 'import lenscribe.cli'] },
  ];
}

export interface InstallMarker {
  wheel: string;
  python: string;
  pythonVersion: string;
  installedAt: string;
}

export function parseMarker(text: string | undefined): InstallMarker | undefined {
  if (text === undefined) {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<InstallMarker>;
    return typeof v.wheel === 'string' ? (v as InstallMarker) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the private environment holds an older wheel than the bundled one (the extension was updated). */
export function isOutdated(marker: InstallMarker | undefined, bundledWheel: string | undefined): boolean {
  if (marker === undefined || bundledWheel === undefined) {
    return false;
  }
  const have = wheelVersion(marker.wheel);
  const bundled = wheelVersion(bundledWheel);
  if (have === undefined || bundled === undefined) {
    return marker.wheel !== bundledWheel;
  }
  return compareVersions(bundled, have) > 0;
}

export type NoServerAction =
  /** Offer **Install Server** (nothing configured, a wheel is bundled). */
  | 'offer-install'
  /** The user's own setting is wrong: say so, do not install over their choice. */
  | 'report-setting'
  /** No wheel in this build (a development build): say how to install the server by hand. */
  | 'report-no-wheel';

/**
 * What to do when no server was found: offer to install one only when neither `lenscribe.server.command` nor
 * `lenscribe.server.pythonPath` is set (a set one that fails is the user's to fix; the error names it) and the .vsix
 * carries a wheel.
 */
export function noServerAction(opts: { command?: unknown; pythonPath?: unknown; wheel?: string }): NoServerAction {
  const set = (v: unknown): boolean =>
    (typeof v === 'string' && v.trim() !== '') || (Array.isArray(v) && v.some((a) => typeof a === 'string' && a.trim() !== ''));
  if (set(opts.command) || set(opts.pythonPath)) {
    return 'report-setting';
  }
  return opts.wheel === undefined ? 'report-no-wheel' : 'offer-install';
}
