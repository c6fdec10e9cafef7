// Puts the server's wheel (the model included) into the extension: client-vscode/server/lenscribe-<version>-*.whl, which
// the .vsix carries and "Lenscribe: Install Server" installs into the extension's own environment.
//
//   node scripts/bundle-wheel.mjs          (npm run package runs it first)
//
// The wheel: $LENSCRIBE_WHEEL when set; else the repository's dist/lenscribe-<pyproject version>-*.whl; else built there
// with `<python> -m build` (an sdist, then the wheel from it: no build/ left in the checkout; python: $PYTHON, else the
// checkout's .venv/bin/python, else python3; without the `build` package, `<python> -m pip wheel --no-deps`, whose
// build/ and server/lenscribe.egg-info are removed after it when they were not there before). LENSCRIBE_REBUILD_WHEEL=1 builds it again even when dist/ has one;
// LENSCRIBE_NO_WHEEL=1 packages without a wheel (the extension then only finds a server you installed yourself).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.resolve(CLIENT, '..');
const DIST = path.join(REPO, 'dist');
const OUT = path.join(CLIENT, 'server');

const say = (msg) => console.log(`[bundle-wheel] ${msg}`);

function clearOut() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT)) {
    if (/^lenscribe-.*\.whl$/.test(f)) {
      fs.rmSync(path.join(OUT, f));
    }
  }
}

if (process.env.LENSCRIBE_NO_WHEEL === '1') {
  clearOut();
  say('LENSCRIBE_NO_WHEEL=1: packaging without the server wheel');
  process.exit(0);
}

const version = /^version\s*=\s*"([^"]+)"/m.exec(fs.readFileSync(path.join(REPO, 'pyproject.toml'), 'utf8'))?.[1];
if (!version) {
  throw new Error(`no version in ${path.join(REPO, 'pyproject.toml')}`);
}
const distWheels = () =>
  fs.existsSync(DIST) ? fs.readdirSync(DIST).filter((f) => f.startsWith(`lenscribe-${version}-`) && f.endsWith('.whl')) : [];

let wheel = process.env.LENSCRIBE_WHEEL;
if (!wheel) {
  if (process.env.LENSCRIBE_REBUILD_WHEEL === '1') {
    for (const f of distWheels()) {
      fs.rmSync(path.join(DIST, f));
    }
  }
  if (distWheels().length === 0) {
    const venvPython = path.join(REPO, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
    const given = process.env.PYTHON;
    // a relative PYTHON is relative to where npm was started, not to the repository root the build runs in
    const python = given ? (/[\\/]/.test(given) ? path.resolve(given) : given) : fs.existsSync(venvPython) ? venvPython : 'python3';
    let hasBuild = true;
    try {
      execFileSync(python, ['-c', 'import build'], { stdio: 'ignore' });
    } catch {
      hasBuild = false;
    }
    const args = hasBuild ? ['-m', 'build', '--outdir', DIST, REPO] : ['-m', 'pip', 'wheel', '--no-deps', '-w', DIST, REPO];
    const leftovers = [path.join(REPO, 'build'), path.join(REPO, 'server', 'lenscribe.egg-info')].filter((p) => !fs.existsSync(p));
    say(`no dist/lenscribe-${version}-*.whl: building it with ${python} ${args.join(' ')}`);
    try {
      execFileSync(python, args, { stdio: 'inherit', cwd: REPO });
    } finally {
      for (const p of leftovers) {
        fs.rmSync(p, { recursive: true, force: true });
      }
    }
  }
  const found = distWheels().sort();
  if (found.length === 0) {
    throw new Error(`building the wheel left no dist/lenscribe-${version}-*.whl`);
  }
  wheel = path.join(DIST, found[found.length - 1]);
}
clearOut();
const target = path.join(OUT, path.basename(wheel));
fs.copyFileSync(wheel, target);
say(`${path.relative(CLIENT, target)} (${(fs.statSync(target).size / 1e6).toFixed(1)} MB) from ${wheel}`);
