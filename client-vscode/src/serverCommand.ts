// Which command starts the lenscribe language server. Pure: the file system and process probes are injected,
// so the unit tests can run every branch under plain Node.

export interface ServerLaunch {
  command: string;
  args: string[];
  /** Which setting or guess produced it, for the log and error messages. */
  source: string;
}

export interface LaunchSettings {
  /** `lenscribe.server.command`: the full command line (executable first); wins over everything else. */
  command?: unknown;
  /** `lenscribe.server.pythonPath`: a Python whose environment has the lenscribe package. */
  pythonPath?: unknown;
  /** Interpreters other settings point at (e.g. `python.defaultInterpreterPath`), tried before PATH. */
  interpreterHints?: string[];
  /** Workspace folder paths: their `.venv` / `venv` interpreters are tried first. */
  workspaceFolders?: string[];
  /** False in Restricted Mode (an untrusted workspace): the workspace's own interpreters are never run. */
  trusted?: boolean;
  /** The Python of the extension's own environment (install.ts; in its global storage), tried after the interpreter
   * hints and before PATH. */
  managedPython?: string;
}

export interface Probe {
  platform: string;
  isFile(path: string): boolean;
  /** The absolute path of an executable on PATH, or undefined. */
  which(name: string): string | undefined;
  /** Resolves to undefined when `python -I -c "import lenscribe.cli"` (PROBE_ARGS) succeeds, else to a one-line reason (NOT_FOUND when
   * there is no such program). */
  importError(python: string): Promise<string | undefined>;
}

export class LaunchError extends Error {
  constructor(message: string, readonly tried: string[]) {
    super(message);
    this.name = 'LaunchError';
  }
}

// -I (isolated mode): neither the working directory (the workspace) nor PYTHON* variables reach sys.path, so a
// workspace's argparse.py or platformdirs.py is never imported by the probe or the server.
export const SERVE_ARGS: readonly string[] = ['-I', '-m', 'lenscribe', 'serve'];
export const PROBE_ARGS: readonly string[] = ['-I', '-c', 'import lenscribe.cli'];

/** What Probe.importError answers for a program that does not exist. */
export const NOT_FOUND = 'not found';

/** A command setting as an argv array: an array of strings, or a string split on whitespace (quotes respected). */
export function parseCommand(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.filter((a): a is string => typeof a === 'string').map((a) => a.trim()).filter((a) => a !== '');
  }
  if (typeof value !== 'string') {
    return [];
  }
  const argv: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    argv.push(m[1] ?? m[2] ?? m[3]);
  }
  return argv;
}

function venvPythons(folder: string, platform: string): string[] {
  const sep = platform === 'win32' ? '\\' : '/';
  const rel = platform === 'win32' ? ['Scripts', 'python.exe'] : ['bin', 'python'];
  return ['.venv', 'venv'].map((dir) => [folder.replace(/[\\/]+$/, ''), dir, ...rel].join(sep));
}

/** Quote an argv for display. */
export function formatCommand(launch: { command: string; args: string[] }): string {
  return [launch.command, ...launch.args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/**
 * Resolves the server's command line:
 * 1. `lenscribe.server.command` when set;
 * 2. `lenscribe.server.pythonPath -m lenscribe serve` when set (checked: it must import lenscribe);
 * 3. the first of: the workspace's `.venv`/`venv` Python (only in a trusted workspace), the interpreter hints, that
 *    imports lenscribe;
 *    then the extension's own environment (Lenscribe: Install Server) when it imports lenscribe; then a `lenscribe` executable on PATH; then `python3`/`python` on PATH that imports lenscribe.
 * Throws LaunchError with a message a user can act on when nothing fits.
 */
export async function resolveServerLaunch(settings: LaunchSettings, probe: Probe): Promise<ServerLaunch> {
  const argv = parseCommand(settings.command);
  if (argv.length > 0) {
    return { command: argv[0], args: argv.slice(1), source: 'lenscribe.server.command' };
  }
  const pythonPath = typeof settings.pythonPath === 'string' ? settings.pythonPath.trim() : '';
  if (pythonPath !== '') {
    const why = await probe.importError(pythonPath);
    if (why === NOT_FOUND) {
      throw new LaunchError(
        `lenscribe.server.pythonPath is "${pythonPath}", but there is no such program. ` +
          'Set it to a Python that has the lenscribe package, or clear it to let the extension look for one.',
        [pythonPath],
      );
    }
    if (why !== undefined) {
      throw new LaunchError(
        `lenscribe.server.pythonPath is "${pythonPath}", but that Python cannot run lenscribe: ${why}. ` +
          `Install lenscribe into it (\`${pythonPath} -m pip install lenscribe\`) or change the setting.`,
        [pythonPath],
      );
    }
    return { command: pythonPath, args: [...SERVE_ARGS], source: 'lenscribe.server.pythonPath' };
  }

  const tried: string[] = [];
  const reasons: string[] = [];
  const tryPython = async (python: string, source: string): Promise<ServerLaunch | undefined> => {
    if (tried.includes(python)) {
      return undefined;
    }
    tried.push(python);
    const why = await probe.importError(python);
    if (why === undefined) {
      return { command: python, args: [...SERVE_ARGS], source };
    }
    reasons.push(`${python}: ${why}`);
    return undefined;
  };

  for (const folder of settings.trusted === false ? [] : (settings.workspaceFolders ?? [])) {
    for (const python of venvPythons(folder, probe.platform)) {
      if (probe.isFile(python)) {
        const found = await tryPython(python, `virtual environment ${python}`);
        if (found) {
          return found;
        }
      }
    }
  }
  for (const hint of settings.interpreterHints ?? []) {
    const python = hint.trim();
    if (python !== '' && (probe.isFile(python) || probe.which(python) !== undefined)) {
      const found = await tryPython(python, `interpreter setting ${python}`);
      if (found) {
        return found;
      }
    }
  }
  const managed = settings.managedPython;
  if (managed !== undefined && managed !== '' && probe.isFile(managed)) {
    const found = await tryPython(managed, 'the extension\'s own server environment');
    if (found) {
      return found;
    }
  }
  const exe = probe.which('lenscribe');
  if (exe !== undefined) {
    return { command: exe, args: ['serve'], source: 'lenscribe on PATH' };
  }
  tried.push('lenscribe');
  reasons.push('lenscribe: not on PATH');
  for (const name of probe.platform === 'win32' ? ['python', 'py'] : ['python3', 'python']) {
    const python = probe.which(name);
    if (python === undefined) {
      tried.push(name);
      reasons.push(`${name}: not on PATH`);
      continue;
    }
    const found = await tryPython(python, `${name} on PATH`);
    if (found) {
      return found;
    }
  }
  throw new LaunchError(
    'No Python with the lenscribe package was found (' +
      reasons.join('; ') +
      '). Install it (`pip install lenscribe`, or `pip install -e .` in a checkout) or set ' +
      '`lenscribe.server.pythonPath` (a Python that has lenscribe) or `lenscribe.server.command`.',
    tried,
  );
}
