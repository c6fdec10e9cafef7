import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LaunchError, NOT_FOUND, PROBE_ARGS, Probe, SERVE_ARGS, formatCommand, parseCommand, resolveServerLaunch } from '../../src/serverCommand';

/** A fake machine: files that exist, executables on PATH, and Pythons that can import lenscribe. */
function fakeProbe(opts: { files?: string[]; path?: Record<string, string>; good?: string[]; platform?: string; missing?: string[] }): Probe & {
  probed: string[];
} {
  const probed: string[] = [];
  return {
    platform: opts.platform ?? 'linux',
    probed,
    isFile: (p) => (opts.files ?? []).includes(p),
    which: (name) => opts.path?.[name],
    importError: (python) => {
      probed.push(python);
      if ((opts.missing ?? []).includes(python)) {
        return Promise.resolve(NOT_FOUND);
      }
      return Promise.resolve((opts.good ?? []).includes(python) ? undefined : "No module named 'lenscribe'");
    },
  };
}

describe('parseCommand', () => {
  it('accepts an argv array or a command string with quotes', () => {
    assert.deepEqual(parseCommand(['/x/lenscribe', ' serve ', '', 3]), ['/x/lenscribe', 'serve']);
    assert.deepEqual(parseCommand('/x/lenscribe serve'), ['/x/lenscribe', 'serve']);
    assert.deepEqual(parseCommand('"/my dir/python" -m lenscribe serve'), ['/my dir/python', '-m', 'lenscribe', 'serve']);
    assert.deepEqual(parseCommand(''), []);
    assert.deepEqual(parseCommand(undefined), []);
  });
});

describe('resolveServerLaunch', () => {
  it('uses lenscribe.server.command as is, without probing', async () => {
    const probe = fakeProbe({});
    const launch = await resolveServerLaunch({ command: ['/opt/cs/bin/lenscribe', 'serve', '-v'], pythonPath: '/ignored' }, probe);
    assert.deepEqual(launch, { command: '/opt/cs/bin/lenscribe', args: ['serve', '-v'], source: 'lenscribe.server.command' });
    assert.deepEqual(probe.probed, []);
  });

  it('runs lenscribe.server.pythonPath -m lenscribe serve when it can import lenscribe', async () => {
    const launch = await resolveServerLaunch({ pythonPath: ' /venv/bin/python ' }, fakeProbe({ good: ['/venv/bin/python'] }));
    assert.deepEqual(launch, { command: '/venv/bin/python', args: ['-I', '-m', 'lenscribe', 'serve'], source: 'lenscribe.server.pythonPath' });
  });

  it('explains a pythonPath that cannot import lenscribe', async () => {
    await assert.rejects(
      resolveServerLaunch({ pythonPath: '/usr/bin/python3' }, fakeProbe({})),
      (e: unknown) => e instanceof LaunchError && /pythonPath is "\/usr\/bin\/python3"/.test(e.message) && /No module named 'lenscribe'/.test(e.message),
    );
  });

  it('says so when lenscribe.server.pythonPath does not exist', async () => {
    await assert.rejects(
      resolveServerLaunch({ pythonPath: '/nonexistent/bin/python' }, fakeProbe({ missing: ['/nonexistent/bin/python'] })),
      (e: unknown) => e instanceof LaunchError && /"\/nonexistent\/bin\/python", but there is no such program/.test(e.message),
    );
  });

  it('prefers the workspace virtual environment that has lenscribe', async () => {
    const probe = fakeProbe({
      files: ['/w/.venv/bin/python', '/w/venv/bin/python'],
      path: { lenscribe: '/usr/local/bin/lenscribe', python3: '/usr/bin/python3' },
      good: ['/w/venv/bin/python', '/usr/bin/python3'],
    });
    const launch = await resolveServerLaunch({ workspaceFolders: ['/w/'] }, probe);
    assert.equal(launch.command, '/w/venv/bin/python');
    assert.deepEqual(launch.args, ['-I', '-m', 'lenscribe', 'serve']);
    assert.deepEqual(probe.probed, ['/w/.venv/bin/python', '/w/venv/bin/python']);
  });

  it('never runs a workspace interpreter in an untrusted workspace (Restricted Mode)', async () => {
    const probe = fakeProbe({
      files: ['/w/.venv/bin/python', '/w/venv/bin/python'],
      path: { python3: '/usr/bin/python3' },
      good: ['/w/.venv/bin/python', '/w/venv/bin/python', '/usr/bin/python3'],
    });
    const launch = await resolveServerLaunch({ workspaceFolders: ['/w'], trusted: false }, probe);
    assert.deepEqual(launch, { command: '/usr/bin/python3', args: ['-I', '-m', 'lenscribe', 'serve'], source: 'python3 on PATH' });
    assert.deepEqual(probe.probed, ['/usr/bin/python3'], 'the workspace Pythons were not even probed');
    const trusted = await resolveServerLaunch({ workspaceFolders: ['/w'], trusted: true }, probe);
    assert.equal(trusted.command, '/w/.venv/bin/python');
  });

  it('starts the server and the probe in isolated mode: the working directory (the workspace) is not on sys.path', () => {
    assert.deepEqual(SERVE_ARGS, ['-I', '-m', 'lenscribe', 'serve']);
    assert.deepEqual(PROBE_ARGS, ['-I', '-c', 'import lenscribe.cli']);
  });

  it('then interpreter hints, then lenscribe on PATH, then python3 on PATH', async () => {
    const hint = await resolveServerLaunch(
      { interpreterHints: ['/conda/bin/python'] },
      fakeProbe({ files: ['/conda/bin/python'], good: ['/conda/bin/python'], path: { lenscribe: '/bin/lenscribe' } }),
    );
    assert.equal(hint.command, '/conda/bin/python');

    const exe = await resolveServerLaunch({ interpreterHints: ['/conda/bin/python'] }, fakeProbe({ files: ['/conda/bin/python'], path: { lenscribe: '/bin/lenscribe' } }));
    assert.deepEqual(exe, { command: '/bin/lenscribe', args: ['serve'], source: 'lenscribe on PATH' });

    const py = await resolveServerLaunch({}, fakeProbe({ path: { python3: '/usr/bin/python3', python: '/usr/bin/python' }, good: ['/usr/bin/python'] }));
    assert.deepEqual(py, { command: '/usr/bin/python', args: ['-I', '-m', 'lenscribe', 'serve'], source: 'python on PATH' });
  });

  it('uses Windows layouts on win32', async () => {
    const launch = await resolveServerLaunch(
      { workspaceFolders: ['C:\\w'] },
      fakeProbe({ platform: 'win32', files: ['C:\\w\\.venv\\Scripts\\python.exe'], good: ['C:\\w\\.venv\\Scripts\\python.exe'] }),
    );
    assert.equal(launch.command, 'C:\\w\\.venv\\Scripts\\python.exe');
  });

  it('fails with every reason and the settings to fix it when nothing fits', async () => {
    await assert.rejects(
      resolveServerLaunch({ workspaceFolders: ['/w'] }, fakeProbe({ path: { python3: '/usr/bin/python3' } })),
      (e: unknown) => {
        assert.ok(e instanceof LaunchError);
        assert.match(e.message, /No Python with the lenscribe package was found/);
        assert.match(e.message, /\/usr\/bin\/python3: No module named 'lenscribe'/);
        assert.match(e.message, /lenscribe: not on PATH/);
        assert.match(e.message, /python: not on PATH/);
        assert.match(e.message, /lenscribe\.server\.pythonPath/);
        assert.match(e.message, /lenscribe\.server\.command/);
        assert.deepEqual(e.tried, ['lenscribe', '/usr/bin/python3', 'python']);
        return true;
      },
    );
  });
});

describe('formatCommand', () => {
  it('quotes arguments with spaces', () => {
    assert.equal(formatCommand({ command: '/my dir/python', args: ['-m', 'lenscribe', 'serve'] }), '"/my dir/python" -m lenscribe serve');
  });
});

describe("the extension's own server environment", () => {
  const managed = '/gs/server-venv/bin/python';

  it('is used after the workspace and interpreter hints, before PATH', async () => {
    const probe = fakeProbe({ files: [managed], path: { lenscribe: '/usr/bin/lenscribe' }, good: [managed] });
    const launch = await resolveServerLaunch({ managedPython: managed, interpreterHints: ['/other/python'] }, probe);
    assert.deepEqual(launch, { command: managed, args: [...SERVE_ARGS], source: "the extension's own server environment" });
  });

  it('loses to a workspace venv that has lenscribe', async () => {
    const venv = '/ws/.venv/bin/python';
    const probe = fakeProbe({ files: [managed, venv], good: [managed, venv] });
    const launch = await resolveServerLaunch({ managedPython: managed, workspaceFolders: ['/ws'] }, probe);
    assert.equal(launch.command, venv);
  });

  it('is skipped when missing or broken', async () => {
    const probe = fakeProbe({ files: [managed], path: { lenscribe: '/usr/bin/lenscribe' } });
    assert.equal((await resolveServerLaunch({ managedPython: managed }, probe)).command, '/usr/bin/lenscribe');
    const none = fakeProbe({ path: { lenscribe: '/usr/bin/lenscribe' } });
    assert.equal((await resolveServerLaunch({ managedPython: managed }, none)).command, '/usr/bin/lenscribe');
    assert.deepEqual(none.probed, []);
  });
});
