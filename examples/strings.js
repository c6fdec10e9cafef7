function capitalize(word) {
  if (!word) return "";
  return word[0].toUpperCase() + word.slice(1);
}

const slugify = (text) =>
  text.toLowerCase().trim().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

class Counter {
  constructor() {
    this.counts = new Map();
  }

  add(key) {
    this.counts.set(key, (this.counts.get(key) || 0) + 1);
    return this.counts.get(key);
  }
}
