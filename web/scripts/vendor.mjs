// The vendored copy of the Gov Design System in web/public/vendor/gov, made from the packages the lockfile pins
// (node_modules after `npm ci`), so that `cargo run` serves the client with no build step and no npm.
//
//   node scripts/vendor.mjs          # refresh the copy from node_modules (after a version change + npm ci)
//   node scripts/vendor.mjs --check  # fail when the copy differs from the locked packages (scripts/test.sh)
//
// What is copied: the styles package's HTML layer (CSS classes for native elements: tokens, base styles, layout,
// components), the Roboto web fonts and their @font-face sheet, the component icons (SVG); the licence texts
// (EUPL-1.2 for the three packages, Apache-2.0 for the Roboto typeface) from spdx-license-list; and VERSIONS.json,
// which records each package's version and the lockfile's integrity hash.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(web, 'node_modules');
const target = join(web, 'public', 'vendor', 'gov');
const lock = JSON.parse(readFileSync(join(web, 'package-lock.json'), 'utf8'));

const packages = {
  '@gov-design-system-ce/styles': {
    folder: 'styles',
    files: ['lib/html/tokens.css', 'lib/html/styles.css', 'lib/html/layout.css', 'lib/html/components.css'],
    licence: 'EUPL-1.2',
  },
  '@gov-design-system-ce/fonts': {
    folder: 'fonts',
    files: (dir) => ['lib/roboto.css', ...readdirSync(join(dir, 'lib')).filter((f) => f.endsWith('.woff2')).sort().map((f) => `lib/${f}`)],
    licence: 'EUPL-1.2',
  },
  '@gov-design-system-ce/icons': {
    folder: 'icons',
    files: (dir) => readdirSync(join(dir, 'lib/components')).filter((f) => f.endsWith('.svg')).sort().map((f) => `lib/components/${f}`),
    licence: 'EUPL-1.2',
  },
};
const licences = ['EUPL-1.2', 'Apache-2.0'];

/** Every file the copy should hold: relative path → bytes. */
function expected() {
  const out = new Map();
  const versions = {};
  for (const [name, spec] of Object.entries(packages)) {
    const dir = join(modules, ...name.split('/'));
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const locked = lock.packages[`node_modules/${name}`];
    if (!locked) throw new Error(`${name} is not in package-lock.json`);
    if (locked.version !== meta.version) {
      throw new Error(`${name}: node_modules has ${meta.version}, the lockfile ${locked.version}; run npm ci`);
    }
    versions[name] = { version: meta.version, integrity: locked.integrity, license: meta.license, spdx: spec.licence };
    const files = typeof spec.files === 'function' ? spec.files(dir) : spec.files;
    for (const file of files) {
      out.set(`${spec.folder}/${file.replace(/^lib\/(html\/)?/, '')}`, readFileSync(join(dir, file)));
    }
  }
  for (const id of licences) {
    const text = JSON.parse(readFileSync(join(modules, 'spdx-license-list', 'licenses', `${id}.json`), 'utf8')).licenseText;
    out.set(`LICENSES/${id}.txt`, Buffer.from(text.endsWith('\n') ? text : `${text}\n`));
  }
  out.set('VERSIONS.json', Buffer.from(`${JSON.stringify(versions, null, 2)}\n`));
  return out;
}

function present(dir, base = dir, out = new Map()) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) present(path, base, out);
    else out.set(relative(base, path).split('\\').join('/'), readFileSync(path));
  }
  return out;
}

const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');
const want = expected();
if (process.argv.includes('--check')) {
  const have = present(target);
  const problems = [];
  for (const [path, bytes] of want) {
    if (!have.has(path)) problems.push(`missing: ${path}`);
    else if (sha(have.get(path)) !== sha(bytes)) problems.push(`differs from the locked package: ${path}`);
  }
  for (const path of have.keys()) if (!want.has(path)) problems.push(`not from a locked package: ${path}`);
  if (problems.length) {
    console.error(`vendor: web/public/vendor/gov is not the lockfile's packages (run npm run vendor):\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`vendor: ${want.size} files equal the lockfile's packages`);
} else {
  rmSync(target, { recursive: true, force: true });
  for (const [path, bytes] of want) {
    mkdirSync(dirname(join(target, path)), { recursive: true });
    writeFileSync(join(target, path), bytes);
  }
  console.log(`vendor: wrote ${want.size} files to ${relative(web, target)}`);
}
