"""The code snippets verify runs through PyTorch and ONNX: varied languages, lengths and styles.

They are a Python constant rather than a data file so they ship in every kind of install. ``--samples FILE`` replaces
them with a JSONL of ``{"code": ...}`` lines (e.g. snippets from your own code base).
"""

from __future__ import annotations

import json
from pathlib import Path

from lenscribe.modelbuild.errors import BuildError

DEFAULT_SAMPLES: tuple[str, ...] = (
    # Python
    '''def read_json(path, default=None):
    """Load a JSON file, or return default when it does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default''',
    """def chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]""",
    """class LRUCache:
    def __init__(self, capacity):
        self.capacity = capacity
        self.data = OrderedDict()

    def get(self, key):
        if key not in self.data:
            return None
        self.data.move_to_end(key)
        return self.data[key]""",
    # JavaScript / TypeScript
    """function debounce(fn, wait) {
  let timer = null;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), wait);
  };
}""",
    """export async function fetchUser(id: string): Promise<User> {
  const res = await fetch(`/api/users/${id}`);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as User;
}""",
    # Java
    """public static int binarySearch(int[] a, int key) {
    int lo = 0, hi = a.length - 1;
    while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        if (a[mid] < key) lo = mid + 1;
        else if (a[mid] > key) hi = mid - 1;
        else return mid;
    }
    return -(lo + 1);
}""",
    # Go
    """func ReverseString(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}""",
    # Rust
    """pub fn parse_port(s: &str) -> Result<u16, String> {
    s.trim().parse::<u16>().map_err(|e| format!("bad port {}: {}", s, e))
}""",
    # C
    """size_t strlcpy(char *dst, const char *src, size_t size) {
    size_t len = strlen(src);
    if (size) {
        size_t n = len >= size ? size - 1 : len;
        memcpy(dst, src, n);
        dst[n] = '\\0';
    }
    return len;
}""",
    # C++
    """template <typename T>
T clamp(T value, T lo, T hi) {
    return std::max(lo, std::min(value, hi));
}""",
    # Ruby
    """def word_counts(text)
  text.downcase.scan(/\\w+/).each_with_object(Hash.new(0)) { |w, h| h[w] += 1 }
end""",
    # PHP
    """function slugify(string $title): string {
    $slug = strtolower(trim($title));
    $slug = preg_replace('/[^a-z0-9]+/', '-', $slug);
    return trim($slug, '-');
}""",
)


def load_samples(path: Path | None) -> list[str]:
    """The verify snippets: ``path`` (JSONL of {"code": ...}) or the defaults."""
    if path is None:
        return list(DEFAULT_SAMPLES)
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BuildError(f"--samples {path}: {e}") from e
    codes: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            code = json.loads(line)["code"]
        except (ValueError, KeyError, TypeError) as e:
            raise BuildError(f'--samples {path}:{n}: expected a JSON object with a "code" string ({e})') from e
        if not isinstance(code, str) or not code.strip():
            raise BuildError(f'--samples {path}:{n}: "code" must be a non-empty string')
        codes.append(code)
    if not codes:
        raise BuildError(f"--samples {path}: no samples")
    return codes
