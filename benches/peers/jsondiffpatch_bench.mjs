// The diff step of benches/merge.rs, done by jsondiffpatch (text diffs on, keyed lists by id).
// Usage: node jsondiffpatch_bench.mjs DATADIR RUNS  (run from a folder where jsondiffpatch is installed)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(join(process.cwd(), "package.json"));
const jsondiffpatch = await import(require.resolve("jsondiffpatch/with-text-diffs"));

const [dir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 7);
const differ = jsondiffpatch.create({
  objectHash: (item, index) => (item && item.id !== undefined ? item.id : `$$index:${index}`),
  arrays: { detectMove: true },
  textDiff: { minLength: 60 },
});

const load = (name) => JSON.parse(readFileSync(join(dir, name), "utf8"));
const diffAll = (base, local) => {
  let changed = 0;
  for (let i = 0; i < base.length; i++) {
    if (differ.diff(base[i].fields, local[i].fields) !== undefined) changed++;
  }
  return changed;
};
// The fastest run, as benches/merge.rs reports its own: on a shared machine other work only
// ever adds time to a run.
const fastest = (xs) => Math.min(...xs);
const time = (f) => {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

const base = load("base.json");
const local = load("local.json");
diffAll(base, local); // warm-up, as the Rust side runs once before measuring
const loadMs = fastest(Array.from({ length: runs }, () => time(() => [load("base.json"), load("local.json")])));
const diffMs = fastest(Array.from({ length: runs }, () => time(() => diffAll(base, local))));
const bothMs = fastest(Array.from({ length: runs }, () => time(() => diffAll(load("base.json"), load("local.json")))));
console.log(`RESULT load_ms=${loadMs.toFixed(2)} diff_ms=${diffMs.toFixed(2)} load_diff_ms=${bothMs.toFixed(2)}`);
