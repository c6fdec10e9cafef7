import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  InstallProbe,
  MARKER_FILE,
  NoPythonError,
  PythonInfo,
  VERSION_PROBE_ARGS,
  findBasePython,
  installSteps,
  isOutdated,
  noServerAction,
  parseMarker,
  parseProbeOutput,
  pickWheel,
  pythonCandidates,
  venvLayout,
  versionAtLeast,
  wheelVersion,
} from '../../src/install';

/** A fake machine: programs on PATH (name -> path) and what each Python answers. */
function fakeProbe(opts: { path?: Record<string, string>; files?: string[]; pythons?: Record<string, PythonInfo>; platform?: string }): InstallProbe & {
  asked: string[];
} {
  const asked: string[] = [];
  return {
    platform: opts.platform ?? 'linux',
    asked,
    which: (name) => opts.path?.[name] ?? ((opts.files ?? []).includes(name) ? name : undefined),
    pythonInfo: (python) => {
      asked.push(python);
      return Promise.resolve(opts.pythons?.[python] ?? { error: 'crashed' });
    },
  };
}

describe('parseProbeOutput', () => {
  it('reads the version probe and python --version', () => {
    assert.deepEqual(parseProbeOutput('3.12.1 1\n'), { version: [3, 12, 1], venv: true });
    assert.deepEqual(parseProbeOutput('3.11.7 0'), { version: [3, 11, 7], venv: false });
    assert.deepEqual(parseProbeOutput('Python 3.13.0rc1'), { version: [3, 13, 0] });
    assert.ok(parseProbeOutput('garbage').error);
  });

  it('probes in isolated mode for the version and the venv/ensurepip modules', () => {
    assert.equal(VERSION_PROBE_ARGS[0], '-I');
    assert.match(VERSION_PROBE_ARGS[2], /ensurepip/);
  });
});

describe('versionAtLeast', () => {
  it('needs 3.11 or newer', () => {
    assert.ok(versionAtLeast([3, 11, 0]));
    assert.ok(versionAtLeast([3, 13, 2]));
    assert.ok(versionAtLeast([4, 0, 0]));
    assert.ok(!versionAtLeast([3, 10, 14]));
    assert.ok(!versionAtLeast([2, 7, 18]));
  });
});

describe('pythonCandidates', () => {
  it('tries the configured interpreter, then python3 and python on PATH', () => {
    assert.deepEqual(pythonCandidates(['/opt/py312/bin/python3'], 'linux'), ['/opt/py312/bin/python3', 'python3', 'python']);
    assert.deepEqual(pythonCandidates(['', undefined, 7, ' python3 '], 'darwin'), ['python3', 'python']);
  });

  it('uses python and the py launcher on Windows', () => {
    assert.deepEqual(pythonCandidates([], 'win32'), ['python', 'py']);
  });
});

describe('findBasePython', () => {
  it('takes the first Python that is 3.11+ and can make a venv', async () => {
    const probe = fakeProbe({
      path: { python3: '/usr/bin/python3', python: '/usr/local/bin/python' },
      pythons: { '/usr/bin/python3': { version: [3, 10, 12], venv: true }, '/usr/local/bin/python': { version: [3, 12, 3], venv: true } },
    });
    assert.deepEqual(await findBasePython(['python3', 'python'], probe), { python: '/usr/local/bin/python', version: [3, 12, 3] });
    assert.deepEqual(probe.asked, ['/usr/bin/python3', '/usr/local/bin/python']);
  });

  it('prefers a configured interpreter given as a path', async () => {
    const probe = fakeProbe({
      files: ['/opt/py/bin/python3.13'],
      path: { python3: '/usr/bin/python3' },
      pythons: { '/opt/py/bin/python3.13': { version: [3, 13, 0], venv: true }, '/usr/bin/python3': { version: [3, 12, 0], venv: true } },
    });
    assert.equal((await findBasePython(['/opt/py/bin/python3.13', 'python3'], probe)).python, '/opt/py/bin/python3.13');
  });

  it('explains why no Python fits: too old, missing, crashing', async () => {
    const probe = fakeProbe({ path: { python3: '/usr/bin/python3' }, pythons: { '/usr/bin/python3': { version: [3, 9, 2], venv: true } } });
    await assert.rejects(findBasePython(['/nope/python', 'python3', 'python'], probe), (e: unknown) => {
      assert.ok(e instanceof NoPythonError);
      assert.match(e.message, /No Python 3\.11\+/);
      assert.match(e.message, /\/nope\/python: not found/);
      assert.match(e.message, /\/usr\/bin\/python3: Python 3\.9\.2 is older than 3\.11/);
      assert.match(e.message, /python: not found/);
      assert.match(e.message, /Install Python 3\.11 or newer/);
      assert.deepEqual(e.tried, ['/nope/python', 'python3', 'python']);
      return true;
    });
  });

  it('says to install python3-venv when the only fitting Python lacks ensurepip', async () => {
    const probe = fakeProbe({ path: { python3: '/usr/bin/python3' }, pythons: { '/usr/bin/python3': { version: [3, 11, 2], venv: false } } });
    await assert.rejects(findBasePython(['python3'], probe), /python3-venv/);
  });

  it('reports a Python that cannot be run', async () => {
    const probe = fakeProbe({ path: { python3: '/usr/bin/python3' }, pythons: { '/usr/bin/python3': { error: 'Permission denied' } } });
    await assert.rejects(findBasePython(['python3'], probe), /\/usr\/bin\/python3: Permission denied/);
  });
});

describe('venvLayout', () => {
  it('puts the environment in the global storage, bin/python on POSIX', () => {
    assert.deepEqual(venvLayout('/home/u/.config/Code/User/globalStorage/lenscribe.lenscribe/', 'linux'), {
      dir: '/home/u/.config/Code/User/globalStorage/lenscribe.lenscribe/server-venv',
      python: '/home/u/.config/Code/User/globalStorage/lenscribe.lenscribe/server-venv/bin/python',
      marker: `/home/u/.config/Code/User/globalStorage/lenscribe.lenscribe/server-venv/${MARKER_FILE}`,
    });
    assert.equal(venvLayout('/Users/u/gs', 'darwin').python, '/Users/u/gs/server-venv/bin/python');
  });

  it('uses Scripts\\python.exe on Windows', () => {
    assert.deepEqual(venvLayout('C:\\Users\\u\\gs', 'win32'), {
      dir: 'C:\\Users\\u\\gs\\server-venv',
      python: 'C:\\Users\\u\\gs\\server-venv\\Scripts\\python.exe',
      marker: `C:\\Users\\u\\gs\\server-venv\\${MARKER_FILE}`,
    });
  });
});

describe('the bundled wheel', () => {
  it('reads versions from wheel names and picks the newest', () => {
    assert.deepEqual(wheelVersion('lenscribe-0.1.0-py3-none-any.whl'), [0, 1, 0]);
    assert.equal(wheelVersion('lenscribe-0.1.0.tar.gz'), undefined);
    assert.equal(wheelVersion('other-1.0-py3-none-any.whl'), undefined);
    assert.equal(
      pickWheel(['README', 'lenscribe-0.9.0-py3-none-any.whl', 'lenscribe-0.10.0-py3-none-any.whl', 'x.whl']),
      'lenscribe-0.10.0-py3-none-any.whl',
    );
    assert.equal(pickWheel([]), undefined);
  });

  it('installs it into a fresh venv with the venv Python in isolated mode, then checks the import', () => {
    const layout = venvLayout('/gs', 'linux');
    const steps = installSteps('/usr/bin/python3', layout, '/ext/server/lenscribe-0.1.0-py3-none-any.whl');
    assert.deepEqual(
      steps.map((s) => [s.command, ...s.args]),
      [
        ['/usr/bin/python3', '-I', '-m', 'venv', '/gs/server-venv'],
        ['/gs/server-venv/bin/python', '-I', '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '/ext/server/lenscribe-0.1.0-py3-none-any.whl'],
        ['/gs/server-venv/bin/python', '-I', '-c', 'import lenscribe.cli'],
      ],
    );
    assert.ok(steps.every((s) => s.title !== ''));
  });
});

describe('the install marker', () => {
  const marker = { wheel: 'lenscribe-0.1.0-py3-none-any.whl', python: '/usr/bin/python3', pythonVersion: '3.11.7', installedAt: 'x' };

  it('parses only a valid marker', () => {
    assert.deepEqual(parseMarker(JSON.stringify(marker)), marker);
    assert.equal(parseMarker('{'), undefined);
    assert.equal(parseMarker('{}'), undefined);
    assert.equal(parseMarker(undefined), undefined);
  });

  it('is outdated when the extension carries a newer wheel', () => {
    assert.ok(isOutdated(marker, 'lenscribe-0.2.0-py3-none-any.whl'));
    assert.ok(!isOutdated(marker, 'lenscribe-0.1.0-py3-none-any.whl'));
    assert.ok(!isOutdated(marker, 'lenscribe-0.0.9-py3-none-any.whl'));
    assert.ok(!isOutdated(undefined, 'lenscribe-0.2.0-py3-none-any.whl'));
    assert.ok(!isOutdated(marker, undefined));
  });
});

describe('noServerAction', () => {
  const wheel = 'lenscribe-0.1.0-py3-none-any.whl';

  it('offers to install when nothing is configured and a wheel is bundled', () => {
    assert.equal(noServerAction({ command: [], pythonPath: '', wheel }), 'offer-install');
    assert.equal(noServerAction({ wheel }), 'offer-install');
    assert.equal(noServerAction({ command: [' '], pythonPath: '  ', wheel }), 'offer-install');
  });

  it("never installs over the user's own server setting", () => {
    assert.equal(noServerAction({ pythonPath: '/venv/bin/python', wheel }), 'report-setting');
    assert.equal(noServerAction({ command: ['/x/lenscribe', 'serve'], wheel }), 'report-setting');
    assert.equal(noServerAction({ command: '/x/lenscribe serve', wheel }), 'report-setting');
  });

  it('reports how to install by hand in a build without a wheel', () => {
    assert.equal(noServerAction({}), 'report-no-wheel');
  });
});
