// build.mjs: bundles the pages for mosquitto's http_dir (mosquitto.conf).
// mosquitto sends no Content-Type, so module scripts and stylesheets would
// be refused: each page's code is one classic script (an IIFE, minified),
// and its CSS is inlined into the HTML. Writes DIR (default dist/) with
// owner/kitchen/platform .html and .js, and sizes.json (bytes, gzip bytes).
// usage: node build.mjs [DIR]
import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, 'dist'));
const PAGES = ['owner', 'kitchen', 'platform'];

await mkdir(out, { recursive: true });
const css = await readFile(path.join(here, 'pages', 'style.css'), 'utf8');
const uplotCss = await readFile(path.join(here, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), 'utf8');
const sizes = {};
for (const page of PAGES) {
  const result = await build({
    entryPoints: [path.join(here, 'src', 'pages', `${page}.js`)],
    bundle: true, minify: true, format: 'iife', platform: 'browser', target: ['es2020'],
    legalComments: 'none', write: false, logLevel: 'warning',
  });
  const js = result.outputFiles[0].contents;
  const html = (await readFile(path.join(here, 'pages', `${page}.html`), 'utf8'))
    .replace('<!-- style -->', `<style>${page === 'owner' ? uplotCss : ''}${css}</style>`);
  await writeFile(path.join(out, `${page}.js`), js);
  await writeFile(path.join(out, `${page}.html`), html);
  sizes[page] = {
    js_bytes: js.length, js_gzip_bytes: gzipSync(js, { level: 9 }).length,
    html_bytes: Buffer.byteLength(html), html_gzip_bytes: gzipSync(html, { level: 9 }).length,
  };
}
await writeFile(path.join(out, 'sizes.json'), `${JSON.stringify(sizes, null, 2)}\n`);
for (const [page, s] of Object.entries(sizes)) {
  console.log(`${page}: ${(s.js_gzip_bytes / 1024).toFixed(1)} KiB gzip js (${(s.js_bytes / 1024).toFixed(0)} KiB), ${(s.html_gzip_bytes / 1024).toFixed(1)} KiB gzip html`);
}
